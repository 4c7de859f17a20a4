"""One training step of an MLP 784-512-256-10 (ReLU, softmax cross-entropy, SGD, float32)
against the same step written by hand in NumPy, at batch 128 and batch 32.

Targets (shared/TARGETS.md): at most 1.05x the hand-written step at batch 128 and 1.15x at
batch 32. Run: python bench/bench_mlp_step.py
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from _timing import interleaved, table

SIZES = (784, 512, 256, 10)
LR = np.float32(0.01)


def make_params(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        w = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2 / fan_in)
        params += [w.astype(np.float32), np.zeros(fan_out, dtype=np.float32)]
    return params


def make_batch(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 784)).astype(np.float32), rng.integers(0, 10, n)


class NumpyMLP:
    """The hand-written step: forward, softmax cross-entropy, backward, SGD in place."""

    def __init__(self) -> None:
        self.W1, self.b1, self.W2, self.b2, self.W3, self.b3 = make_params()

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        W1, b1, W2, b2, W3, b3 = self.W1, self.b1, self.W2, self.b2, self.W3, self.b3
        n = X.shape[0]
        h1 = X @ W1.T
        h1 += b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ W2.T
        h2 += b2
        a2 = np.maximum(h2, 0)
        s = a2 @ W3.T
        s += b3
        s -= s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        rows = np.arange(n)
        loss = -logp[rows, y].mean()
        ds = np.exp(logp)
        ds[rows, y] -= 1
        ds /= n
        dW3 = ds.T @ a2
        db3 = ds.sum(axis=0)
        da2 = ds @ W3
        da2 *= h2 > 0
        dW2 = da2.T @ a1
        db2 = da2.sum(axis=0)
        da1 = da2 @ W2
        da1 *= h1 > 0
        dW1 = da1.T @ X
        db1 = da1.sum(axis=0)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            p -= LR * g
        return float(loss)


class ChainruleRawMLP:
    """The same step with chainrule tensors and ops (no nn/optim layer)."""

    def __init__(self) -> None:
        self.params = [cr.tensor(p, requires_grad=True) for p in make_params()]

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        W1, b1, W2, b2, W3, b3 = self.params
        h = cr.relu(cr.linear(X, W1, b1))
        h = cr.relu(cr.linear(h, W2, b2))
        logp = cr.log_softmax(cr.linear(h, W3, b3), axis=1)
        loss = -cr.take_along_axis(logp, y[:, None], axis=1).mean()
        loss.backward()
        for p in self.params:
            p.data -= LR * p.grad.data
            p.grad = None
        return loss.item()


class ChainruleNNMLP:
    """The same step with cr.nn and cr.optim, as a user would write it."""

    def __init__(self) -> None:
        nn = cr.nn
        self.model = nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)
        )
        for p, value in zip(self.model.parameters(), make_params()):
            p.data[...] = value
        self.opt = cr.optim.SGD(self.model.parameters(), lr=float(LR))

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        self.opt.zero_grad()
        loss = cr.nn.functional.cross_entropy(self.model(cr.tensor(X)), y)
        loss.backward()
        self.opt.step()
        return loss.item()


class TorchMLP:  # pragma: no cover - optional peer
    def __init__(self) -> None:
        import torch

        torch.set_num_threads(2)
        self.torch = torch
        self.params = [torch.tensor(p, requires_grad=True) for p in make_params()]

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        torch = self.torch
        W1, b1, W2, b2, W3, b3 = self.params
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        h = torch.relu(torch.nn.functional.linear(Xt, W1, b1))
        h = torch.relu(torch.nn.functional.linear(h, W2, b2))
        loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h, W3, b3), yt)
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p -= float(LR) * p.grad
                p.grad = None
        return loss.item()


def check_same_step() -> None:
    assert all(p.dtype == np.float32 for p in make_params())
    X, y = make_batch(64)
    a, b = NumpyMLP(), ChainruleRawMLP()
    for _ in range(3):
        la, lb = a.step(X, y), b.step(X, y)
        assert abs(la - lb) < 1e-4, (la, lb)
    for p, q in zip([a.W1, a.b1, a.W2, a.b2, a.W3, a.b3], b.params):
        np.testing.assert_allclose(q.data, p, rtol=1e-4, atol=1e-6)


def main() -> None:
    check_same_step()
    for batch, target in ((128, 1.05), (32, 1.15)):
        X, y = make_batch(batch)
        impls = {"hand-written NumPy": NumpyMLP(), "chainrule (raw tensors)": ChainruleRawMLP()}
        try:
            impls["chainrule (nn + optim)"] = ChainruleNNMLP()
        except (ImportError, AttributeError):
            pass
        try:
            impls["PyTorch (raw tensors)"] = TorchMLP()
        except ImportError:
            pass
        fns = {name: (lambda m=m, X=X, y=y: m.step(X, y)) for name, m in impls.items()}
        times = interleaved(fns, repeats=11, number=20 if batch == 128 else 50)
        base = times["hand-written NumPy"]
        rows = [(name, t, "ms") for name, t in times.items()]
        print(table(f"\nMLP 784-512-256-10 training step, float32, batch {batch}", rows, base))
        print(f"target: chainrule <= {target:.2f}x")


if __name__ == "__main__":
    main()
