"""One training epoch (shuffle, batch gathering, forward, backward, SGD with momentum) with
chainrule's nn/optim/data stack against the same loop written by hand in NumPy.

Two settings: digits (MLP 64-128-10, batch 64) and a synthetic MNIST-sized set
(60,000 x 784, MLP 784-512-256-10, batch 128), float32, ReLU, softmax cross-entropy.
Target (shared/TARGETS.md): at most 1.10x the hand-written loop per epoch, data loading
included. Run: python bench/bench_train_epoch.py [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

import chainrule as cr
from _timing import interleaved

F = cr.nn.functional
LR = 0.05
MOMENTUM = 0.9


# ---------------------------------------------------------------------- the data


def digits_data() -> tuple[np.ndarray, np.ndarray, str]:
    """The CLI's digits training split, standardised; synthetic stand-in without sklearn."""
    try:
        split = cr.data.load_dataset("digits", seed=0)
        X = split.X_train
        X = ((X - X.mean(axis=0)) / (X.std(axis=0) + 1e-2)).astype(np.float32)
        return X, split.y_train, "digits"
    except cr.data.MissingDependencyError:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((1438, 64)).astype(np.float32)
        return X, rng.integers(0, 10, 1438), "digits-shaped (no scikit-learn)"


def mnist_sized_data(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(1)
    X = rng.random((n, 784), dtype=np.float32)
    return X, rng.integers(0, 10, n), f"synthetic {n:,} x 784"


def init_params(sizes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    """He-initialised (W, b) pairs, W of shape (out, in): shared by both implementations."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
        params += [w.astype(np.float32), np.zeros(fan_out, dtype=np.float32)]
    return params


# ---------------------------------------------------------------------- hand-written NumPy


class NumpyTrainer:
    """The loop written by hand: forward, softmax cross-entropy, backward, torch-style SGD
    momentum (buf = mu * buf + g; p -= lr * buf), all in NumPy, in place where natural."""

    def __init__(self, X: np.ndarray, y: np.ndarray, sizes: tuple[int, ...], batch: int):
        self.X, self.y, self.batch = X, y, batch
        self.params = init_params(sizes)
        self.bufs: list[np.ndarray | None] = [None] * len(self.params)
        self.rng = np.random.default_rng(0)

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        params = self.params
        n_layers = len(params) // 2
        # forward, keeping each layer's input and pre-activation
        inputs, pres = [], []
        h = xb
        for i in range(n_layers):
            W, b = params[2 * i], params[2 * i + 1]
            inputs.append(h)
            z = h @ W.T
            z += b
            if i < n_layers - 1:
                pres.append(z)
                h = np.maximum(z, 0)
            else:
                h = z
        n = len(yb)
        rows = np.arange(n)
        shifted = h - h.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -logp[rows, yb].sum() / n
        # backward: (softmax - one_hot) / n, then layer by layer
        g = np.exp(logp)
        g[rows, yb] -= 1
        g /= n
        grads: list[np.ndarray] = [None] * len(params)  # type: ignore[list-item]
        for i in reversed(range(n_layers)):
            W = params[2 * i]
            grads[2 * i] = g.T @ inputs[i]
            grads[2 * i + 1] = g.sum(axis=0)
            if i > 0:
                g = g @ W
                g *= pres[i - 1] > 0
        # SGD with momentum, in place
        for k, (p, dp) in enumerate(zip(params, grads)):
            buf = self.bufs[k]
            if buf is None:
                buf = self.bufs[k] = dp.copy()
            else:
                buf *= MOMENTUM
                buf += dp
            p -= LR * buf
        return float(loss)

    def epoch(self) -> None:
        order = self.rng.permutation(len(self.y))
        for start in range(0, len(order), self.batch):
            idx = order[start : start + self.batch]
            self.step(self.X[idx], self.y[idx])


# ---------------------------------------------------------------------- chainrule


class ChainruleTrainer:
    """The same loop as users write it: DataLoader, nn.Sequential, F.cross_entropy,
    optim.SGD."""

    def __init__(self, X: np.ndarray, y: np.ndarray, sizes: tuple[int, ...], batch: int):
        layers: list[cr.nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [cr.nn.Linear(fan_in, fan_out), cr.nn.ReLU()]
        self.model = cr.nn.Sequential(*layers[:-1])
        for p, value in zip(self.model.parameters(), init_params(sizes)):
            p.data = value.copy()
        self.opt = cr.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.loader = cr.data.DataLoader((X, y), batch_size=batch, shuffle=True, seed=0)

    def step(self, xb: cr.Tensor, yb: cr.Tensor) -> float:
        loss = F.cross_entropy(self.model(xb), yb)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def epoch(self) -> None:
        model, opt = self.model, self.opt
        for xb, yb in self.loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()


class CompiledChainruleTrainer(ChainruleTrainer):
    """The same nn/optim/data loop as ``chainrule train --jit`` runs it: the loss, its
    gradient and the SGD update as one generated NumPy function per batch shape
    (``cr.nn.CompiledLoss(model, optimizer=opt)``)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, sizes: tuple[int, ...], batch: int):
        super().__init__(X, y, sizes, batch)
        self.compiled = cr.nn.CompiledLoss(self.model, optimizer=self.opt)

    def epoch(self) -> None:
        compiled = self.compiled
        for xb, yb in self.loader:
            compiled(xb, yb)  # the loss, the gradients (.grad) and opt's update


class RawChainruleTrainer:
    """The same loop with chainrule tensors and ops only (NumPy batching, the momentum
    update by hand): the difference to ``ChainruleTrainer`` is what nn/optim/data cost."""

    def __init__(self, X: np.ndarray, y: np.ndarray, sizes: tuple[int, ...], batch: int):
        self.X, self.y, self.batch = X, y, batch
        self.params = [cr.tensor(p, requires_grad=True) for p in init_params(sizes)]
        self.bufs: list[np.ndarray | None] = [None] * len(self.params)
        self.rng = np.random.default_rng(0)

    def epoch(self) -> None:
        params, bufs = self.params, self.bufs
        n_layers = len(params) // 2
        order = self.rng.permutation(len(self.y))
        for start in range(0, len(order), self.batch):
            idx = order[start : start + self.batch]
            h = cr.tensor(self.X[idx])
            yb = self.y[idx]
            for i in range(n_layers):
                h = cr.linear(h, params[2 * i], params[2 * i + 1])
                if i < n_layers - 1:
                    h = cr.relu(h)
            logp = cr.log_softmax(h, axis=1)
            loss = logp[np.arange(len(yb)), yb].sum() * (-1.0 / len(yb))
            loss.backward()
            for k, p in enumerate(params):
                g = p.grad.data
                p.grad = None
                if bufs[k] is None:
                    bufs[k] = g.copy()
                else:
                    bufs[k] *= MOMENTUM
                    bufs[k] += g
                p.data -= LR * bufs[k]


# ---------------------------------------------------------------------- measuring


def check_same_computation(X: np.ndarray, y: np.ndarray, sizes: tuple[int, ...]) -> None:
    """Two steps of each on the same batches give the same losses and parameters."""
    a = NumpyTrainer(X, y, sizes, 32)
    b = ChainruleTrainer(X, y, sizes, 32)
    for rows in (slice(0, 32), slice(32, 64)):
        la = a.step(X[rows], y[rows])
        lb = b.step(cr.tensor(X[rows]), cr.tensor(y[rows]))
        assert abs(la - lb) < 1e-4 * max(1.0, abs(la)), (la, lb)
    for p, q in zip(a.params, b.model.parameters()):
        np.testing.assert_allclose(p, q.numpy(), rtol=2e-4, atol=2e-5)


def bench(
    title: str,
    X: np.ndarray,
    y: np.ndarray,
    sizes: tuple[int, ...],
    batch: int,
    repeats: int,
    epochs: int = 1,
) -> float:
    check_same_computation(X, y, sizes)
    numpy_loop = NumpyTrainer(X, y, sizes, batch)
    raw_loop = RawChainruleTrainer(X, y, sizes, batch)
    chainrule_loop = ChainruleTrainer(X, y, sizes, batch)
    compiled_loop = CompiledChainruleTrainer(X, y, sizes, batch)
    fns = {
        "numpy": numpy_loop.epoch,
        "raw": raw_loop.epoch,
        "chainrule": chainrule_loop.epoch,
        "compiled": compiled_loop.epoch,
    }
    # ``epochs`` epochs back to back per sample (training runs many in a row, so a sample
    # should not be one short epoch right after a pause), a 0.1 s pause between samples
    times = interleaved(fns, repeats=repeats, number=epochs, pause=0.1)
    steps = -(-len(y) // batch)
    base = times["numpy"]
    arch = "-".join(map(str, sizes))
    print(
        f"\n{title}: MLP {arch}, batch {batch}, {len(y):,} samples ({steps} steps/epoch), "
        f"median of {repeats} samples of {epochs} epoch{'s' if epochs > 1 else ''}"
    )
    print(f"{'implementation':<28}{'epoch':>12}{'per step':>12}{'ratio':>9}")
    labels = {
        "numpy": "hand-written NumPy",
        "raw": "chainrule raw ops",
        "chainrule": "chainrule nn/optim/data",
        "compiled": "  ... jitted (CompiledLoss = train --jit)",
    }
    for name, label in labels.items():
        t = times[name]
        print(f"{label:<28}{t * 1e3:>9.1f} ms{t / steps * 1e6:>9.0f} us{t / base:>8.2f}x")
    return {k: times[k] / base for k in ("chainrule", "compiled")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10,000 MNIST-sized samples and fewer repeats (a smoke run)",
    )
    parser.add_argument("--only", choices=("digits", "mnist"), help="run one of the two settings")
    args = parser.parse_args()
    ratios = {}
    if args.only != "mnist":
        X, y, name = digits_data()
        ratios["digits"] = bench(name, X, y, (64, 128, 10), 64, 5 if args.quick else 21, epochs=10)
    if args.only != "digits":
        n = 10_000 if args.quick else 60_000
        X, y, name = mnist_sized_data(n)
        ratios["mnist"] = bench(name, X, y, (784, 512, 256, 10), 128, 3 if args.quick else 5)
    print("\ntarget: <= 1.10x per epoch eagerly, <= 1.03x jitted (chainrule train --jit)")
    for data, by_loop in ratios.items():
        for loop, v in by_loop.items():
            bound = 1.03 if loop == "compiled" else 1.10
            print(f"  {data:<7} {loop:<10} {v:.2f}x {'ok' if v <= bound else 'OVER'}")


if __name__ == "__main__":
    main()
