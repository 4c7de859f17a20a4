"""Numerical gradients by central differences, and checks of analytic gradients
(first and second order) against them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .tensor import Tensor, _to_array, _wrap, no_grad
from .transforms import vjp

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "numerical_grad"]


class GradcheckError(RuntimeError):
    """An analytic gradient disagrees with central differences.

    Examples
    --------
    >>> import chainrule as cr
    >>> class Wrong(cr.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 2
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x * g
    ...
    >>> try:
    ...     cr.gradcheck(lambda t: Wrong.apply(t).sum(), [cr.tensor([1.0, 2.0])])
    ... except cr.GradcheckError as e:
    ...     print(type(e).__name__)
    ...
    GradcheckError
    """


def _float64_inputs(inputs: Any) -> list[Any]:
    if isinstance(inputs, (Tensor, np.ndarray, float, int)):
        inputs = (inputs,)
    out = []
    for x in inputs:
        arr = x.data if isinstance(x, Tensor) else x
        if isinstance(arr, (np.ndarray, np.generic, float, int, list)):
            arr = _to_array(arr)
            if arr.dtype.kind in "fc":
                out.append(
                    np.array(arr, dtype=np.complex128 if arr.dtype.kind == "c" else np.float64)
                )
                continue
        out.append(arr)  # non-float inputs are passed through unchanged
    return out


def _flat_outputs(out: Any) -> np.ndarray:
    if isinstance(out, (tuple, list)):
        return np.concatenate([np.ravel(np.asarray(o)) for o in out])
    return np.ravel(np.asarray(out))


def _eval(f: Callable, values: list[Any]) -> np.ndarray:
    with no_grad():
        args = [_wrap(v) if isinstance(v, np.ndarray) else v for v in values]
        return _flat_outputs(f(*args)).astype(np.float64)


def _numerical_jacobian(f: Callable, values: list[Any], i: int, eps: float) -> np.ndarray:
    """Columns d out / d values[i][j], by central differences: shape (n_out, n_in)."""
    x = values[i]
    cols = []
    for j in range(x.size):
        flat = x.reshape(-1)
        old = flat[j]
        flat[j] = old + eps
        plus = _eval(f, values)
        flat[j] = old - eps
        minus = _eval(f, values)
        flat[j] = old
        cols.append((plus - minus) / (2 * eps))
    n_out = _eval(f, values).size
    return np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))


def numerical_grad(f: Callable, *inputs: Any, eps: float = 1e-6) -> tuple[np.ndarray, ...]:
    """Gradient of a one-element-output ``f`` by central differences, one array per input
    (float64).

    Examples
    --------
    >>> import chainrule as cr
    >>> g, = cr.numerical_grad(lambda x: (x ** 2).sum(), cr.tensor([1.0, 2.0]))
    >>> g.round(6)
    array([2., 4.])
    """
    values = _float64_inputs(inputs)
    if _eval(f, values).size != 1:
        raise ValueError("numerical_grad: f must return a one-element tensor")
    grads = []
    for i, v in enumerate(values):
        if isinstance(v, np.ndarray) and v.dtype.kind in "fc":
            grads.append(_numerical_jacobian(f, values, i, eps)[0].reshape(v.shape))
        else:
            grads.append(None)
    return tuple(grads)


def _of_diff_args(f: Callable, args: list[Any], diff: list[int]) -> Callable:
    """``f`` as a function of the arguments at positions ``diff`` only (others fixed)."""

    def partial(*xs: Any) -> Any:
        full = list(args)
        for k, x in zip(diff, xs):
            full[k] = x
        return f(*full)

    return partial


def _analytic_jacobian(f: Callable, values: list[Any], diff: list[int]) -> list[np.ndarray]:
    args = [_wrap(v.copy()) if isinstance(v, np.ndarray) else v for v in values]
    out, vjp_fn = vjp(_of_diff_args(f, args, diff), *[args[k] for k in diff])
    outs = list(out) if isinstance(out, tuple) else [out]
    sizes = [o.size for o in outs]
    rows: list[list[np.ndarray]] = [[] for _ in diff]
    for k in range(sum(sizes)):
        seeds, offset = [], 0
        for o, n in zip(outs, sizes):
            s = np.zeros(n, dtype=o.dtype)
            if offset <= k < offset + n:
                s[k - offset] = 1
            seeds.append(s.reshape(o.shape))
            offset += n
        grads = vjp_fn(seeds[0] if not isinstance(out, tuple) else tuple(seeds))
        for r, g in zip(rows, grads):
            r.append(np.ravel(g.data))
    return [np.stack(r, axis=0) if r else np.zeros((0, values[k].size)) for r, k in zip(rows, diff)]


def gradcheck(
    f: Callable,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare reverse-mode gradients of ``f`` with central differences.

    Every floating input is converted to float64 and differentiated; ``f`` may return a
    Tensor or a tuple of Tensors of any shape (the whole Jacobian is compared). Returns
    ``True`` when all entries satisfy ``|analytic - numerical| <= atol + rtol *
    |numerical|``; otherwise raises ``GradcheckError`` naming the input, the worst index,
    both values and the error (or returns ``False`` with ``raise_exception=False``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.gradcheck(lambda x: (x.tanh() * x).sum(), [cr.tensor([0.5, -1.0])])
    True
    """
    values = _float64_inputs(inputs)
    diff = [i for i, v in enumerate(values) if isinstance(v, np.ndarray) and v.dtype.kind in "fc"]
    if not diff:
        raise ValueError("gradcheck: no floating-point input to check")
    analytic = _analytic_jacobian(f, values, diff)
    for k, i in enumerate(diff):
        numeric = _numerical_jacobian(f, values, i, eps)
        a = analytic[k]
        if a.shape != numeric.shape:
            raise GradcheckError(
                f"gradcheck: input {i}: analytic Jacobian has shape {a.shape}, numerical "
                f"{numeric.shape}"
            )
        excess = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        bad = ~(excess <= 0)  # also catches NaN
        if bad.any():
            if not raise_exception:
                return False
            flat = int(np.nanargmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)))
            out_k, in_j = np.unravel_index(flat, a.shape)
            index = np.unravel_index(in_j, values[i].shape)
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {values[i].shape}) at index "
                f"{tuple(int(t) for t in index)}, output element {int(out_k)}: analytic "
                f"{a[out_k, in_j]:.8g}, numerical {numeric[out_k, in_j]:.8g}, error "
                f"{abs(a[out_k, in_j] - numeric[out_k, in_j]):.3g} (atol={atol}, rtol={rtol})"
            )
    return True


def gradgradcheck(
    f: Callable,
    inputs: Any,
    grad_outputs: Sequence[Any] | Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: ``gradcheck`` on the function
    ``inputs -> vjp(f, *inputs)(grad_outputs)`` (random fixed cotangents by default).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.gradgradcheck(lambda x: (x.sin() * x).sum(), [cr.tensor([0.5, -1.0])])
    True
    """
    values = _float64_inputs(inputs)
    args = [_wrap(v) if isinstance(v, np.ndarray) else v for v in values]
    with no_grad():
        out = f(*args)
    outs = list(out) if isinstance(out, tuple) else [out]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        cts = [rng.standard_normal(np.shape(o.data)) for o in outs]
    else:
        cts = [
            np.asarray(getattr(c, "data", c), dtype=np.float64)
            for c in (grad_outputs if isinstance(grad_outputs, (tuple, list)) else [grad_outputs])
        ]
    diff = [i for i, v in enumerate(values) if isinstance(v, np.ndarray) and v.dtype.kind in "fc"]

    def first_order(*xs: Any) -> tuple:
        _, vjp_fn = vjp(_of_diff_args(f, list(xs), diff), *[xs[k] for k in diff])
        ct = [_wrap(c) for c in cts]
        return vjp_fn(ct[0] if not isinstance(out, tuple) else tuple(ct))

    return gradcheck(
        first_order, values, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception
    )
