"""Hessian-vector product of f(w) = sum(tanh(X @ w)^2), X 256x1000 float64, against one
hand-written NumPy gradient of f.

Target (shared/TARGETS.md): cr.hvp at most 2.5x the hand-written gradient.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from _timing import interleaved, table

rng = np.random.default_rng(0)
X = rng.standard_normal((256, 1000)) / np.sqrt(1000)
w0 = rng.standard_normal(1000)
v0 = rng.standard_normal(1000)
Xt = cr.tensor(X)


def numpy_grad() -> np.ndarray:
    t = np.tanh(X @ w0)
    return X.T @ (2 * t * (1 - t * t))


def numpy_hvp() -> np.ndarray:
    """Hand-derived H v: H = X^T diag(2 (1 - t^2)(1 - 3 t^2)) X."""
    t = np.tanh(X @ w0)
    return X.T @ (2 * (1 - t * t) * (1 - 3 * t * t) * (X @ v0))


def f(w: cr.Tensor) -> cr.Tensor:
    return (cr.tanh(Xt @ w) ** 2).sum()


def chainrule_hvp() -> cr.Tensor:
    return cr.hvp(f, (w0,), (v0,))[1]


def chainrule_grad() -> cr.Tensor:
    return cr.grad(f)(w0)


def torch_hvp():  # pragma: no cover - optional peer
    import torch

    Xt_ = torch.from_numpy(X)
    w = torch.tensor(w0, requires_grad=True)
    (g,) = torch.autograd.grad((torch.tanh(Xt_ @ w) ** 2).sum(), w, create_graph=True)
    (hv,) = torch.autograd.grad(g, w, torch.from_numpy(v0))
    return hv


def main() -> None:
    np.testing.assert_allclose(chainrule_hvp().numpy(), numpy_hvp(), rtol=1e-9)
    np.testing.assert_allclose(chainrule_grad().numpy(), numpy_grad(), rtol=1e-9)
    fns = {
        "hand-written NumPy gradient": numpy_grad,
        "hand-derived NumPy H v": numpy_hvp,
        "chainrule grad": chainrule_grad,
        "chainrule hvp": chainrule_hvp,
    }
    try:
        import torch  # noqa: F401

        fns["PyTorch double backward hvp"] = torch_hvp
    except ImportError:
        pass
    times = interleaved(fns, repeats=11, number=50)
    base = times["hand-written NumPy gradient"]
    rows = [(name, t, "us") for name, t in times.items()]
    print(
        table(
            "f(w) = sum(tanh(X @ w)^2), X 256x1000 float64 (ratio to one NumPy gradient)",
            rows,
            base,
        )
    )
    print(f"target: chainrule hvp <= 2.5x (measured {times['chainrule hvp'] / base:.2f}x)")


if __name__ == "__main__":
    main()
