"""cr.vmap against hand-written batched NumPy, side by side in one run (interleaved,
medians): per-example gradients of the digits MLP, the Jacobian of a tanh layer and the
Hessian of a logistic-regression loss. PyTorch (torch.func) and JAX are timed as peers when
installed.

Targets (shared/TARGETS.md, issue 12):
- per-example gradients, digits MLP 64-128-10, batch 64 float32, vmap(grad(loss)):
  <= 1.5x the hand-written einsum gradients, >= 10x faster than a Python loop of cr.grad;
- Jacobian of a 256 -> 256 tanh layer: <= 2x hand-written, >= 5x faster than the row loop
  cr.jacobian used before (one reverse pass per output element);
- Hessian of a 100-parameter logistic-regression loss: <= 2x hand-written.

BLAS runs on one thread for every contender: on this shared 2-core machine a threaded BLAS
makes the medians of every side erratic. Each section prints wall-time medians and, below
them, CPU-time ratios (this process's time): under load a timed block longer than the
scheduler's slice is preempted by other tenants, which moves wall medians by up to 3x
between two runs of the same program and leaves CPU time where it was.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
from _timing import interleaved, table  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402

rng = np.random.default_rng(0)


def _cpu_line(cpu: dict, base: str) -> str:
    """The CPU-time ratios (this process's time): steadier than wall time on a loaded
    machine, where a timed block that outlasts the scheduler's slice is preempted."""
    parts = [f"{name} {t / cpu[base]:.2f}x" for name, t in cpu.items() if name != base]
    return "cpu time vs " + base + ": " + "; ".join(parts)


def _peer(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


torch = _peer("torch")
jax = _peer("jax")


# --------------------------------------------------------------------------- 1. per-example grads


def digits_batch(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    try:
        X, y = cr.data.digits()
    except ImportError:  # scikit-learn (extra "data") missing: same shapes, random values
        X = rng.random((n, 64)).astype(np.float32)
        y = rng.integers(0, 10, n)
    return X[:n].astype(np.float32), y[:n]


X, y = digits_batch()
lin1 = cr.nn.Linear(64, 128, seed=0)
lin2 = cr.nn.Linear(128, 10, seed=1)
params = {"W1": lin1.weight, "b1": lin1.bias, "W2": lin2.weight, "b2": lin2.bias}
params = {k: cr.tensor(v.numpy()) for k, v in params.items()}  # plain tensors, no grad
Xt, yt = cr.tensor(X), cr.tensor(y)


def loss(p: dict, x: cr.Tensor, t: cr.Tensor) -> cr.Tensor:
    """The loss of ONE example (x: 64 pixels, t: its label)."""
    h = cr.relu(cr.linear(x, p["W1"], p["b1"]))
    return F.cross_entropy(cr.linear(h, p["W2"], p["b2"])[None], t[None])


per_example = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))


def numpy_per_example() -> dict:
    W1, b1, W2, b2 = (params[k].numpy() for k in ("W1", "b1", "W2", "b2"))
    h = np.maximum(X @ W1.T + b1, 0)
    z = h @ W2.T + b2
    g = np.exp(z - z.max(axis=1, keepdims=True))
    g /= g.sum(axis=1, keepdims=True)
    g[np.arange(len(y)), y] -= 1  # each example's own d loss / d logits
    dh = (g @ W2) * (h > 0)
    return {
        "W1": np.einsum("bi,bj->bij", dh, X),
        "b1": dh,
        "W2": np.einsum("bi,bj->bij", g, h),
        "b2": g,
    }


def chainrule_vmap() -> dict:
    return per_example(params, Xt, yt)


def chainrule_loop() -> list:
    g = cr.grad(loss)
    return [g(params, Xt[i], yt[i]) for i in range(len(y))]


def torch_per_example():  # pragma: no cover - optional peer
    from torch.func import grad, vmap

    tp = {k: torch.from_numpy(v.numpy()) for k, v in params.items()}
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)

    def tloss(p, x, t):
        h = torch.relu(x @ p["W1"].T + p["b1"])
        z = h @ p["W2"].T + p["b2"]
        return torch.nn.functional.cross_entropy(z[None], t[None])

    f = vmap(grad(tloss), in_dims=(None, 0, 0))
    return lambda: f(tp, tX, ty)


def jax_per_example():  # pragma: no cover - optional peer
    import jax.numpy as jnp

    jp = {k: jnp.asarray(v.numpy()) for k, v in params.items()}
    jX, jy = jnp.asarray(X), jnp.asarray(y)

    def jloss(p, x, t):
        h = jnp.maximum(p["W1"] @ x + p["b1"], 0)
        z = p["W2"] @ h + p["b2"]
        return jax.nn.logsumexp(z) - z[t]

    f = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
    return lambda: jax.block_until_ready(f(jp, jX, jy))


def bench_per_example() -> dict:
    got, want = chainrule_vmap(), numpy_per_example()
    for k in want:
        np.testing.assert_allclose(got[k].numpy(), want[k], rtol=1e-4, atol=1e-6)
    fns = {
        "hand-written NumPy (einsum)": numpy_per_example,
        "cr.vmap(cr.grad(loss))": chainrule_vmap,
        "Python loop of cr.grad": chainrule_loop,
    }
    if torch is not None:
        fns["torch.func vmap(grad)"] = torch_per_example()
    if jax is not None:
        fns["JAX jit(vmap(grad))"] = jax_per_example()
    cpu: dict = {}
    times = interleaved(fns, repeats=9, number=20, cpu=cpu)
    base = times["hand-written NumPy (einsum)"]
    print(
        table(
            "per-example gradients, digits MLP 64-128-10, batch 64 float32",
            [(n, t, "us") for n, t in times.items()],
            base,
        )
    )
    print(_cpu_line(cpu, "hand-written NumPy (einsum)"))
    ratio = times["cr.vmap(cr.grad(loss))"] / base
    cpu_ratio = cpu["cr.vmap(cr.grad(loss))"] / cpu["hand-written NumPy (einsum)"]
    speedup = times["Python loop of cr.grad"] / times["cr.vmap(cr.grad(loss))"]
    cpu_speedup = cpu["Python loop of cr.grad"] / cpu["cr.vmap(cr.grad(loss))"]
    print(
        f"target: <= 1.5x hand-written (measured {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu);"
        f" >= 10x faster than the loop (measured {speedup:.1f}x wall, {cpu_speedup:.1f}x cpu)\n"
    )
    return {
        "per_example_ratio": ratio,
        "per_example_cpu_ratio": cpu_ratio,
        "per_example_speedup": speedup,
    }


# --------------------------------------------------------------------------- 2. Jacobian


n = 256
W = rng.standard_normal((n, n)) / np.sqrt(n)
b = rng.standard_normal(n)
x0 = rng.standard_normal(n)
Wt, bt = cr.tensor(W), cr.tensor(b)


def layer(x: cr.Tensor) -> cr.Tensor:
    return cr.tanh(Wt @ x + bt)


def numpy_jacobian() -> np.ndarray:
    y_ = np.tanh(W @ x0 + b)
    return (1 - y_ * y_)[:, None] * W


jac = {mode: cr.jacobian(layer, mode=mode) for mode in ("rev", "fwd", "auto")}


def row_loop_jacobian() -> cr.Tensor:
    """The algorithm cr.jacobian had before vmap: one reverse pass per output element."""
    _, vjp_fn = cr.vjp(layer, x0)
    eye = np.eye(n)
    return cr.stack([vjp_fn(eye[k])[0] for k in range(n)])


def torch_jacobian():  # pragma: no cover - optional peer
    from torch.func import jacrev

    tW, tb, tx = (torch.from_numpy(a) for a in (W, b, x0))
    f = jacrev(lambda x: torch.tanh(tW @ x + tb))
    return lambda: f(tx)


def jax_jacobian():  # pragma: no cover - optional peer
    import jax.numpy as jnp

    jW, jb, jx = (jnp.asarray(a) for a in (W, b, x0))
    f = jax.jit(jax.jacrev(lambda x: jnp.tanh(jW @ x + jb)))
    return lambda: jax.block_until_ready(f(jx))


def bench_jacobian() -> dict:
    for f in (*jac.values(), row_loop_jacobian):
        got = f(x0) if f is not row_loop_jacobian else f()
        np.testing.assert_allclose(got.numpy(), numpy_jacobian(), rtol=1e-12, atol=1e-14)
    fns = {
        "hand-written NumPy": numpy_jacobian,
        'cr.jacobian(mode="rev")': lambda: jac["rev"](x0),
        'cr.jacobian(mode="fwd")': lambda: jac["fwd"](x0),
        'cr.jacobian(mode="auto")': lambda: jac["auto"](x0),
        "row loop (cr.jacobian before)": row_loop_jacobian,
    }
    if torch is not None:
        fns["torch.func jacrev"] = torch_jacobian()
    if jax is not None:
        fns["JAX jit(jacrev)"] = jax_jacobian()
    cpu: dict = {}
    times = interleaved(fns, repeats=9, number=20, cpu=cpu)
    base = times["hand-written NumPy"]
    print(
        table(
            "Jacobian of tanh(W x + b), 256 -> 256 float64",
            [(name, t, "us") for name, t in times.items()],
            base,
        )
    )
    print(_cpu_line(cpu, "hand-written NumPy"))
    auto = times['cr.jacobian(mode="auto")']
    ratio, speedup = auto / base, times["row loop (cr.jacobian before)"] / auto
    cpu_ratio = cpu['cr.jacobian(mode="auto")'] / cpu["hand-written NumPy"]
    cpu_speedup = cpu["row loop (cr.jacobian before)"] / cpu['cr.jacobian(mode="auto")']
    print(
        f"target: <= 2x hand-written (measured {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu, mode"
        f" auto); >= 5x faster than the row loop (measured {speedup:.1f}x wall,"
        f" {cpu_speedup:.1f}x cpu)\n"
    )
    return {"jacobian_ratio": ratio, "jacobian_cpu_ratio": cpu_ratio, "jacobian_speedup": speedup}


# --------------------------------------------------------------------------- 3. Hessian


N, d = 1000, 100
Xl = rng.standard_normal((N, d))
yl = (rng.random(N) < 0.5).astype(np.float64)
w0 = rng.standard_normal(d) * 0.1
Xlt, ylt = cr.tensor(Xl), cr.tensor(yl)


def logistic(w: cr.Tensor) -> cr.Tensor:
    """Mean logistic loss, log(1 + exp(-z)) + (1 - y) z with z = X w."""
    z = Xlt @ w
    return (cr.log(1 + cr.exp(-z)) + (1 - ylt) * z).mean()


hess = cr.hessian(logistic)


def numpy_hessian() -> np.ndarray:
    p = 1 / (1 + np.exp(-(Xl @ w0)))
    return (Xl.T * (p * (1 - p))) @ Xl / N


def torch_hessian():  # pragma: no cover - optional peer
    from torch.func import hessian

    tX, ty, tw = (torch.from_numpy(a) for a in (Xl, yl, w0))
    f = hessian(lambda w: (torch.log1p(torch.exp(-(tX @ w))) + (1 - ty) * (tX @ w)).mean())
    return lambda: f(tw)


def jax_hessian():  # pragma: no cover - optional peer
    import jax.numpy as jnp

    jX, jy, jw = (jnp.asarray(a) for a in (Xl, yl, w0))
    f = jax.jit(jax.hessian(lambda w: (jnp.log1p(jnp.exp(-(jX @ w))) + (1 - jy) * (jX @ w)).mean()))
    return lambda: jax.block_until_ready(f(jw))


def bench_hessian() -> dict:
    np.testing.assert_allclose(hess(w0).numpy(), numpy_hessian(), rtol=1e-10, atol=1e-14)
    fns = {"hand-written NumPy": numpy_hessian, "cr.hessian": lambda: hess(w0)}
    if torch is not None:
        fns["torch.func hessian"] = torch_hessian()
    if jax is not None:
        fns["JAX jit(hessian)"] = jax_hessian()
    cpu: dict = {}
    times = interleaved(fns, repeats=9, number=10, cpu=cpu)
    base = times["hand-written NumPy"]
    print(
        table(
            "Hessian of a logistic-regression loss, 100 parameters, 1000 samples float64",
            [(name, t, "us") for name, t in times.items()],
            base,
        )
    )
    print(_cpu_line(cpu, "hand-written NumPy"))
    ratio = times["cr.hessian"] / base
    cpu_ratio = cpu["cr.hessian"] / cpu["hand-written NumPy"]
    print(f"target: <= 2x hand-written (measured {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu)\n")
    return {"hessian_ratio": ratio, "hessian_cpu_ratio": cpu_ratio}


def main() -> None:
    results = {}
    results.update(bench_per_example())
    results.update(bench_jacobian())
    results.update(bench_hessian())
    print("summary: " + ", ".join(f"{k} {v:.2f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
