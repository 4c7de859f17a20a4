"""The gradient checker behind the per-primitive table: reverse mode, forward mode and
their compositions (second order) against float64 central differences along random
directions (the approach of HIPS autograd's ``check_grads``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr

EPS = 1e-6
RTOL = 1e-4
ATOL = 1e-6


def _flat(out: Any) -> cr.Tensor:
    """One flat Tensor from a Tensor or a tuple of Tensors (keeps the graph)."""
    if isinstance(out, (tuple, list)):
        return cr.concatenate([cr.reshape(o, -1) for o in out])
    return cr.reshape(out, -1)


def _value(f: Callable, args: list[np.ndarray]) -> np.ndarray:
    with cr.no_grad():
        return np.asarray(_flat(f(*[cr.tensor(a) for a in args])).data, dtype=np.float64)


def numeric_directional(f: Callable, args: list[np.ndarray], dirs: list[np.ndarray]) -> np.ndarray:
    """(f(x + eps v) - f(x - eps v)) / 2 eps: the exact J v up to O(eps^2)."""
    plus = _value(f, [a + EPS * d for a, d in zip(args, dirs)])
    minus = _value(f, [a - EPS * d for a, d in zip(args, dirs)])
    return (plus - minus) / (2 * EPS)


def _close(name: str, analytic: Any, numeric: Any) -> None:
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if not np.allclose(analytic, numeric, rtol=RTOL, atol=ATOL):
        err = np.max(np.abs(analytic - numeric))
        raise AssertionError(
            f"{name}: analytic {analytic.ravel()[:6]} != numerical {numeric.ravel()[:6]} "
            f"(max abs error {err:.3g})"
        )


def check_grads(
    f: Callable, args: list[np.ndarray], order: int = 2, seed: int = 0, label: str = "f"
) -> None:
    """Check forward and reverse mode of ``f`` at ``args`` (float64 arrays), and, for
    ``order`` >= 2, the same for the functions that compute its JVP and its VJP."""
    rng = np.random.default_rng(seed)
    dirs = [rng.standard_normal(np.shape(a)) for a in args]
    expected = numeric_directional(f, args, dirs)

    # forward mode: J v
    _, tangent = cr.jvp(
        lambda *xs: _flat(f(*xs)), [cr.tensor(a) for a in args], [cr.tensor(d) for d in dirs]
    )
    _close(f"{label}: forward mode (JVP)", tangent.data, expected)

    # reverse mode: u . (J v) == (J^T u) . v
    out = _value(f, args)
    u = rng.standard_normal(out.shape)
    _, vjp_fn = cr.vjp(lambda *xs: _flat(f(*xs)), *[cr.tensor(a) for a in args])
    grads = vjp_fn(cr.tensor(u))
    lhs = sum(float(np.sum(g.data * d)) for g, d in zip(grads, dirs))
    _close(f"{label}: reverse mode (VJP)", lhs, float(np.dot(u, expected)))

    if order > 1:
        u_fixed, v_fixed = cr.tensor(u), [cr.tensor(d) for d in dirs]

        def vjp_of_f(*xs: Any) -> Any:
            return cr.vjp(lambda *ys: _flat(f(*ys)), *xs)[1](u_fixed)

        def jvp_of_f(*xs: Any) -> Any:
            return cr.jvp(lambda *ys: _flat(f(*ys)), xs, v_fixed)[1]

        check_grads(vjp_of_f, args, order - 1, seed + 1, f"{label} (VJP of it)")
        check_grads(jvp_of_f, args, order - 1, seed + 2, f"{label} (JVP of it)")


# --------------------------------------------------------------------------- complex


def _cvalue(f: Callable, args: list[np.ndarray]) -> np.ndarray:
    with cr.no_grad():
        return np.asarray(_flat(f(*[cr.tensor(a) for a in args])).data)


def check_grads_complex(
    f: Callable, args: list[np.ndarray], order: int = 2, seed: int = 0, label: str = "f"
) -> None:
    """Complex inputs, PyTorch's convention: for a real loss L(z) = Re(sum(conj(u) f(z)))
    the gradient is G = dL/dx + i dL/dy, so the derivative along a direction d is
    Re(sum(conj(G) d)); forward mode gives J d. Both against central differences, and
    (for ``order`` >= 2) the same for the functions computing the VJP and the JVP."""
    rng = np.random.default_rng(seed)

    def draw(shape: tuple, like: np.ndarray) -> np.ndarray:
        real = rng.standard_normal(shape)
        if np.iscomplexobj(like):
            return real + 1j * rng.standard_normal(shape)
        return real

    dirs = [draw(np.shape(a), a) for a in args]
    plus = _cvalue(f, [a + EPS * d for a, d in zip(args, dirs)])
    minus = _cvalue(f, [a - EPS * d for a, d in zip(args, dirs)])
    expected = (plus - minus) / (2 * EPS)

    _, tangent = cr.jvp(
        lambda *xs: _flat(f(*xs)), [cr.tensor(a) for a in args], [cr.tensor(d) for d in dirs]
    )
    _close_c(f"{label}: forward mode (JVP)", tangent.data, expected)

    out = _cvalue(f, args)
    u = draw(out.shape, out)
    _, vjp_fn = cr.vjp(lambda *xs: _flat(f(*xs)), *[cr.tensor(a) for a in args])
    grads = vjp_fn(cr.tensor(u))
    lhs = sum(float(np.real(np.sum(np.conj(g.data) * d))) for g, d in zip(grads, dirs))
    rhs = float(np.real(np.sum(np.conj(u) * expected)))
    _close_c(f"{label}: reverse mode (VJP)", lhs, rhs)

    if order > 1:
        u_fixed, v_fixed = cr.tensor(u), [cr.tensor(d) for d in dirs]

        def vjp_of_f(*xs: Any) -> Any:
            return cr.vjp(lambda *ys: _flat(f(*ys)), *xs)[1](u_fixed)

        def jvp_of_f(*xs: Any) -> Any:
            return cr.jvp(lambda *ys: _flat(f(*ys)), xs, v_fixed)[1]

        check_grads_complex(vjp_of_f, args, order - 1, seed + 1, f"{label} (VJP of it)")
        check_grads_complex(jvp_of_f, args, order - 1, seed + 2, f"{label} (JVP of it)")


def _close_c(name: str, analytic: Any, numeric: Any) -> None:
    analytic = np.asarray(analytic, dtype=np.complex128)
    numeric = np.asarray(numeric, dtype=np.complex128)
    if not np.allclose(analytic, numeric, rtol=RTOL, atol=ATOL):
        err = np.max(np.abs(analytic - numeric))
        raise AssertionError(
            f"{name}: analytic {analytic.ravel()[:4]} != numerical {numeric.ravel()[:4]} "
            f"(max abs error {err:.3g})"
        )
