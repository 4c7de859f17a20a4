"""cr.jit against the same computations written by hand in NumPy, side by side in one run:
the MLP 784-512-256-10 training step (value_and_grad + SGD, and through the object API),
the 1,000-op elementwise chain, micrograd's scalar MLP, the HVP, and compile times.
JAX (jit) and PyTorch (eager) run as peers when they are installed.

Targets (shared/TARGETS.md): MLP step <= 1.01x (b128) / 1.02x (b32), object API <= 1.03x;
chain <= 1.0 us/op; HVP <= 1.6x one NumPy gradient; compile <= 0.5 s.
Run: python bench/bench_jit.py [--only mlp|chain|micrograd|hvp]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from _timing import interleaved, table
from bench_chain import N_OPS, c, d, numpy_chain, x0
from bench_hvp import X, numpy_grad, v0, w0
from bench_micrograd import ChainruleScalarMLP, count_micrograd_nodes, micrograd_model
from bench_mlp_step import LR, NumpyMLP, make_batch, make_params


def mlp_loss(params, X, y):
    W1, b1, W2, b2, W3, b3 = params
    h = cr.relu(cr.linear(X, W1, b1))
    h = cr.relu(cr.linear(h, W2, b2))
    return cr.softmax_cross_entropy(cr.linear(h, W3, b3), y)


@cr.jit
def jit_step(params, X, y):
    loss, grads = cr.value_and_grad(mlp_loss)(params, X, y)
    return loss, [p - LR * g for p, g in zip(params, grads)]


class JitMLP:
    """value_and_grad + the SGD update, jitted: the parameters go in and come out."""

    def __init__(self) -> None:
        self.params = make_params()

    def step(self, X, y) -> float:
        loss, self.params = jit_step(self.params, X, y)
        return float(loss)


class JitObjectMLP:
    """The object API: cr.jit(model), a loss, backward() and optim.SGD."""

    def __init__(self) -> None:
        nn = cr.nn
        self.model = nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)
        )
        for p, value in zip(self.model.parameters(), make_params()):
            p.data[...] = value
        self.forward = cr.jit(self.model)
        self.opt = cr.optim.SGD(self.model.parameters(), lr=float(LR))

    def step(self, X, y) -> float:
        self.opt.zero_grad()
        loss = cr.nn.functional.cross_entropy(self.forward(X), y)
        loss.backward()
        self.opt.step()
        return loss.item()


def jax_mlp_step():  # pragma: no cover - optional peer
    import jax
    import jax.numpy as jnp

    def loss(params, X, y):
        W1, b1, W2, b2, W3, b3 = params
        h = jax.nn.relu(X @ W1.T + b1)
        h = jax.nn.relu(h @ W2.T + b2)
        s = h @ W3.T + b3
        logp = jax.nn.log_softmax(s, axis=1)
        return -jnp.mean(logp[jnp.arange(X.shape[0]), y])

    @jax.jit
    def step(params, X, y):
        value, grads = jax.value_and_grad(loss)(params, X, y)
        return value, [p - LR * g for p, g in zip(params, grads)]

    class Peer:
        def __init__(self) -> None:
            self.params = [jnp.asarray(p) for p in make_params()]

        def step(self, X, y) -> float:
            value, self.params = step(self.params, X, y)
            value.block_until_ready()
            return float(value)

    return Peer()


def bench_mlp() -> None:
    for batch, target in ((128, 1.01), (32, 1.02)):
        X, y = make_batch(batch)
        impls = {"hand-written NumPy": NumpyMLP(), "cr.jit (value_and_grad + SGD)": JitMLP()}
        impls["cr.jit (object API)"] = JitObjectMLP()
        try:
            impls["JAX jit"] = jax_mlp_step()
        except ImportError:
            pass
        for name, m in impls.items():  # the same numbers before timing
            if name not in ("hand-written NumPy", "JAX jit"):
                ref = NumpyMLP()
                for _ in range(2):
                    a, b = m.step(X, y), ref.step(X, y)
                    assert abs(a - b) < 1e-4, (name, a, b)
        fns = {name: (lambda m=m, X=X, y=y: m.step(X, y)) for name, m in impls.items()}
        times = interleaved(fns, repeats=11, number=20 if batch == 128 else 50)
        base = times["hand-written NumPy"]
        rows = [(name, t, "ms") for name, t in times.items()]
        print(table(f"\nMLP 784-512-256-10 training step, float32, batch {batch}", rows, base))
        print(f"target: <= {target:.2f}x (value_and_grad + SGD), <= 1.03x (object API)")


def chain(x):
    h = x
    for i in range(N_OPS):
        k = i % 3
        if k == 0:
            h = h * c
        elif k == 1:
            h = h + d
        else:
            h = h.tanh()
    return h.sum()


def bench_chain() -> None:
    t0 = time.perf_counter()
    grad_chain = cr.jit(cr.grad(chain))
    np.testing.assert_allclose(grad_chain(x0).numpy(), numpy_chain(), rtol=1e-12)
    compile_s = time.perf_counter() - t0
    fns = {"hand-written NumPy": numpy_chain, "cr.jit": lambda: grad_chain(x0)}
    times = interleaved(fns, repeats=9, number=5)
    rows = [(name, t / N_OPS, "us") for name, t in times.items()]
    print(
        table(
            f"\nchain of {N_OPS} ops on 16 float64, forward + backward, per op",
            rows,
            times["hand-written NumPy"] / N_OPS,
        )
    )
    print(
        f"cr.jit: {times['cr.jit'] / N_OPS * 1e6:.2f} us/op (target <= 1.0), "
        f"compile {compile_s:.2f} s"
    )


def bench_hvp() -> None:
    Xt = cr.tensor(X)

    def f(w):
        return (cr.tanh(Xt @ w) ** 2).sum()

    hvp = cr.jit(lambda w, v: cr.hvp(f, (w,), (v,))[1])
    from bench_hvp import numpy_hvp

    np.testing.assert_allclose(hvp(w0, v0).numpy(), numpy_hvp(), rtol=1e-9)
    fns = {"hand-written NumPy gradient": numpy_grad, "cr.jit hvp": lambda: hvp(w0, v0)}
    times = interleaved(fns, repeats=11, number=20)
    rows = [(name, t, "ms") for name, t in times.items()]
    print(
        table(
            "\nHVP of sum(tanh(X @ w)^2), X 256x1000 float64",
            rows,
            times["hand-written NumPy gradient"],
        )
    )
    print("target: cr.jit hvp <= 1.6x one NumPy gradient")


def bench_micrograd() -> None:
    ours = ChainruleScalarMLP()
    params = ours.parameters()
    x = [0.5, -1.2]

    def loss(ps, xs):
        with cr.substitute(zip(params, ps)):
            return ours(xs)

    step = cr.jit(cr.value_and_grad(loss))
    values = [p.numpy() for p in params]
    xs = [np.float64(v) for v in x]
    step(values, xs)
    fns = {"cr.jit": lambda: step(values, xs)}
    try:
        mg = micrograd_model()

        def micrograd_sample():
            mg.zero_grad()
            mg(x).backward()

        fns = {"micrograd (Python floats)": micrograd_sample, **fns}
    except ImportError:
        print("micrograd is not installed (pip install micrograd): cr.jit only")
    nodes = count_micrograd_nodes()
    times = interleaved(fns, repeats=11, number=50)
    base = times.get("micrograd (Python floats)", times["cr.jit"])
    rows = [(name, t / nodes, "us") for name, t in times.items()]
    print(table(f"\nmicrograd's MLP 2-16-16-1, per node ({nodes} nodes)", rows, base / nodes))
    print("target: cr.jit <= 0.05x micrograd")


def bench_compile() -> None:
    X, y = make_batch(128)
    t0 = time.perf_counter()
    fresh = cr.jit(lambda ps, X, y: cr.value_and_grad(mlp_loss)(ps, X, y))
    fresh(make_params(), X, y)
    print(
        f"\ncompile time of the MLP step (numpy backend): {time.perf_counter() - t0:.3f} s "
        f"(target <= 0.5 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["mlp", "chain", "micrograd", "hvp", "compile"])
    only = parser.parse_args().only
    for name, fn in [
        ("mlp", bench_mlp),
        ("chain", bench_chain),
        ("hvp", bench_hvp),
        ("micrograd", bench_micrograd),
        ("compile", bench_compile),
    ]:
        if only in (None, name):
            fn()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
