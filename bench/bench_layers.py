"""Layers against hand-written NumPy and PyTorch eager, side by side in one run:

1. a training step of PyTorch's MNIST example network (Conv2d 1->32 3x3, ReLU, Conv2d
   32->64 3x3, ReLU, MaxPool 2, Flatten, Linear 9216->128, ReLU, Linear 128->10,
   cross-entropy, SGD) at batch 64, float32;
2. an LSTM (input 32, hidden 128, sequence 50, batch 32, float32) forward + backward;
3. the conv step's peak extra RSS at batch 256 (fresh processes, VmHWM).

Targets (shared/TARGETS.md): conv step <= 1.10x the hand-written NumPy step (im2col + BLAS,
below), PyTorch reported (goal <= 1.5x); LSTM <= 1.15x the hand-written NumPy LSTM, PyTorch
reported; memory within 1.2x of the hand-written step.
Run: python bench/bench_layers.py [--only conv|lstm|memory] [--threads N]

``--threads`` (default 1) sets the BLAS and PyTorch thread counts for every
implementation alike: on this shared 2-core machine two BLAS threads contending with
other sessions make every figure erratic (a conv step varies 3x between runs), so the
default compares single-threaded runs; pass ``--threads 2`` on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def _threads_argument(argv: list[str]) -> int:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


# The thread counts must be in the environment before NumPy (and its BLAS) is imported.
THREADS = _threads_argument(sys.argv) if __name__ == "__main__" else None
if THREADS is not None:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(THREADS)

import gc  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from _timing import table  # noqa: E402


def _interleaved(fns: dict, repeats: int, number: int, pause: float) -> tuple[dict, dict]:
    """Seconds per call of each function, timed in alternation (as ``_timing.interleaved``):
    the median of the blocks, and the best block (on a loaded shared machine the best is
    the least disturbed measure of what each implementation costs)."""
    for fn in fns.values():
        fn()
    gc.collect()
    gc.freeze()
    samples: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(pause)
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    gc.unfreeze()
    return (
        {k: statistics.median(v) for k, v in samples.items()},
        {k: min(v) for k, v in samples.items()},
    )


def _report(title: str, times: dict, best: dict, base: str, ours: str, peer: str) -> None:
    rows = [(name, t, "ms") for name, t in times.items()]
    print(table(title, rows, times[base]))
    print(f"best blocks: {ours} {best[ours] / best[base]:.2f}x the hand-written one", end="")
    if peer in times:
        print(
            f"; chainrule / PyTorch eager: median {times[ours] / times[peer]:.2f}x, "
            f"best {best[ours] / best[peer]:.2f}x",
            end="",
        )
    print()


HERE = Path(__file__).resolve().parent
LR = np.float32(0.01)

# --------------------------------------------------------------------------- the conv net


def conv_params(seed: int = 0) -> list[np.ndarray]:
    """W1, b1, W2, b2, W3, b3, W4, b4 of the MNIST example network (PyTorch's init)."""
    rng = np.random.default_rng(seed)
    shapes = [((32, 1, 3, 3), 9), ((64, 32, 3, 3), 288), ((128, 9216), 9216), ((10, 128), 128)]
    params = []
    for shape, fan_in in shapes:
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, shape).astype(np.float32))
        params.append(rng.uniform(-bound, bound, shape[:1]).astype(np.float32))
    return params


def conv_batch(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, n)


def _im2col(x: np.ndarray, k: int) -> np.ndarray:
    """(C, N, H, W) -> (C*k*k, N*OH*OW) (cs231n's layout): the windows as a strided view,
    copied once, so each convolution and both its gradients are one matmul."""
    c, n, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    s = x.strides
    view = np.lib.stride_tricks.as_strided(
        x, (c, k, k, n, oh, ow), (s[0], s[2], s[3], s[1], s[2], s[3]), writeable=False
    )
    return view.reshape(c * k * k, n * oh * ow)


def _col2im(cols: np.ndarray, shape: tuple, k: int) -> np.ndarray:
    """The transpose of _im2col: every window element added back to its pixel."""
    c, n, h, w = shape
    oh, ow = h - k + 1, w - k + 1
    cols = cols.reshape(c, k, k, n, oh, ow)
    out = np.zeros(shape, dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i : i + oh, j : j + ow] += cols[:, i, j]
    return out


class NumpyConvNet:
    """The hand-written step: im2col + BLAS (one matmul per convolution and per gradient,
    activations kept channel-major (C, N, H, W) throughout), backward and SGD, in place
    where a careful hand would do it. Each layer's saved values are released once its
    backward is done; ``free_columns`` also drops conv2's im2col columns as soon as its
    weight gradient is computed, before its input gradient (a memory-minded hand's order;
    an engine that keeps a node's saved inputs until both its gradients are made cannot)."""

    def __init__(self, free_columns: bool = False) -> None:
        self.params = conv_params()
        self.free_columns = free_columns

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        W1, b1, W2, b2, W3, b3, W4, b4 = self.params
        n = X.shape[0]
        c1 = _im2col(X.transpose(1, 0, 2, 3), 3)  # (9, N*676)
        h1 = W1.reshape(32, 9) @ c1
        h1 += b1[:, None]
        a1 = np.maximum(h1, 0).reshape(32, n, 26, 26)
        c2 = _im2col(a1, 3)  # (288, N*576)
        h2 = W2.reshape(64, 288) @ c2
        h2 += b2[:, None]
        a2 = np.maximum(h2, 0).reshape(64, n, 12, 2, 12, 2)
        # 2x2 max pooling as the maximum of the windows' four corners: three elementwise
        # passes (a reduction over the small strided axes is ten times slower)
        pooled = np.maximum(
            np.maximum(a2[:, :, :, 0, :, 0], a2[:, :, :, 0, :, 1]),
            np.maximum(a2[:, :, :, 1, :, 0], a2[:, :, :, 1, :, 1]),
        )  # (64, N, 12, 12)
        f = pooled.transpose(1, 0, 2, 3).reshape(n, 9216)
        h3 = f @ W3.T
        h3 += b3
        a3 = np.maximum(h3, 0)
        s = a3 @ W4.T
        s += b4
        s -= s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        rows = np.arange(n)
        loss = -logp[rows, y].mean()
        ds = np.exp(logp)
        ds[rows, y] -= 1
        ds /= n
        dW4 = ds.T @ a3
        db4 = ds.sum(axis=0)
        da3 = ds @ W4
        da3 *= h3 > 0
        dW3 = da3.T @ f
        db3 = da3.sum(axis=0)
        dp = (da3 @ W3).reshape(n, 64, 12, 12).transpose(1, 0, 2, 3)
        del f, h3, a3, s, logp, ds, da3
        # max pool: the gradient goes to the maxima of each 2x2 window
        hit = a2 == pooled[:, :, :, None, :, None]
        dh2 = (hit * dp[:, :, :, None, :, None]).reshape(64, n * 576)
        del hit, dp, a2, pooled
        dh2 *= h2 > 0
        del h2
        dW2 = (dh2 @ c2.T).reshape(W2.shape)
        db2 = dh2.sum(axis=1)
        if self.free_columns:
            del c2
        dc2 = W2.reshape(64, 288).T @ dh2
        del dh2
        da1 = _col2im(dc2, (32, n, 26, 26), 3)
        del dc2
        if not self.free_columns:
            del c2  # conv2's backward is done: its saved columns go
        dh1 = da1.reshape(32, n * 676)
        dh1 *= h1 > 0
        dW1 = (dh1 @ c1.T).reshape(W1.shape)
        db1 = dh1.sum(axis=1)
        for p, g in zip(self.params, (dW1, db1, dW2, db2, dW3, db3, dW4, db4)):
            p -= LR * g
        return float(loss)


class ChainruleConvNet:
    """The same network with cr.nn layers and cr.optim.SGD, as a user writes it."""

    def __init__(self) -> None:
        import chainrule as cr

        nn = cr.nn
        self.cr = cr
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 3, 1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, 1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(9216, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
        for p, value in zip(self.model.parameters(), conv_params()):
            p.data = value.copy()
        self.opt = cr.optim.SGD(self.model.parameters(), lr=float(LR))

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        self.opt.zero_grad()
        loss = self.cr.nn.functional.cross_entropy(self.model(self.cr.as_tensor(X)), y)
        loss.backward()
        self.opt.step()
        return loss.item()


class TorchConvNet:  # pragma: no cover - optional peer
    def __init__(self) -> None:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        nn = torch.nn
        self.torch = torch
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 3, 1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, 1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(9216, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
        with torch.no_grad():
            for p, value in zip(self.model.parameters(), conv_params()):
                p.copy_(torch.from_numpy(value))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=float(LR))

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        torch = self.torch
        self.opt.zero_grad()
        out = self.model(torch.from_numpy(X))
        loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(y))
        loss.backward()
        self.opt.step()
        return loss.item()


def check_same_conv_step() -> None:
    X, y = conv_batch(16)
    a, b = NumpyConvNet(), ChainruleConvNet()
    for _ in range(3):
        la, lb = a.step(X, y), b.step(X, y)
        assert abs(la - lb) < 1e-4, (la, lb)
    for p, q in zip(a.params, b.model.parameters()):
        np.testing.assert_allclose(q.data, p, rtol=1e-3, atol=1e-5)


# --------------------------------------------------------------------------- the LSTM

T, N, D_IN, H = 50, 32, 32, 128


def lstm_params(seed: int = 2) -> list[np.ndarray]:
    """weight_ih (4H, D), weight_hh (4H, H), bias_ih, bias_hh (PyTorch's layout and init)."""
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(H)
    shapes = [(4 * H, D_IN), (4 * H, H), (4 * H,), (4 * H,)]
    return [rng.uniform(-bound, bound, s).astype(np.float32) for s in shapes]


def lstm_data(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The input sequence and a fixed upstream gradient for the outputs (loss = sum(out * R))."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, D_IN)).astype(np.float32)
    r = rng.standard_normal((T, N, H)).astype(np.float32)
    return x, r


def _sigmoid(a: np.ndarray) -> None:
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


class NumpyLSTM:
    """A hand-written LSTM layer: one input projection for all steps, the recurrence, and
    backpropagation through time; weight gradients as two matmuls over all steps."""

    def __init__(self) -> None:
        self.params = lstm_params()

    def step(self, x: np.ndarray, r: np.ndarray) -> float:
        w_ih, w_hh, b_ih, b_hh = self.params
        steps, n, _ = x.shape
        xw = (x.reshape(-1, D_IN) @ w_ih.T + (b_ih + b_hh)).reshape(steps, n, 4 * H)
        hs = np.empty((steps, n, H), np.float32)
        cs = np.empty((steps, n, H), np.float32)
        acts = np.empty((steps, n, 4 * H), np.float32)
        tcs = np.empty((steps, n, H), np.float32)
        h = np.zeros((n, H), np.float32)
        c = np.zeros((n, H), np.float32)
        for t in range(steps):
            a = acts[t]
            np.matmul(h, w_hh.T, out=a)
            a += xw[t]
            _sigmoid(a[:, : 2 * H])
            _sigmoid(a[:, 3 * H :])
            np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])
            np.multiply(a[:, H : 2 * H], c, out=cs[t])
            cs[t] += a[:, :H] * a[:, 2 * H : 3 * H]
            np.tanh(cs[t], out=tcs[t])
            np.multiply(a[:, 3 * H :], tcs[t], out=hs[t])
            h, c = hs[t], cs[t]
        loss = float(np.sum(hs * r))
        dxw = np.empty_like(acts)
        dh = np.zeros((n, H), np.float32)
        dc = np.zeros((n, H), np.float32)
        for t in range(steps - 1, -1, -1):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c_prev = cs[t - 1] if t else np.zeros((n, H), np.float32)
            dh += r[t]
            da = dxw[t]
            np.multiply(dh, tcs[t], out=da[:, 3 * H :])
            dc += dh * o * (1 - tcs[t] * tcs[t])
            da[:, 3 * H :] *= o * (1 - o)
            np.multiply(dc, g * i * (1 - i), out=da[:, :H])
            np.multiply(dc, c_prev * f * (1 - f), out=da[:, H : 2 * H])
            np.multiply(dc, i * (1 - g * g), out=da[:, 2 * H : 3 * H])
            dc *= f
            dh = da @ w_hh
        flat = dxw.reshape(-1, 4 * H)
        d_w_ih = flat.T @ x.reshape(-1, D_IN)
        d_w_hh = dxw[1:].reshape(-1, 4 * H).T @ hs[:-1].reshape(-1, H)  # h_0 = 0: no term
        d_b = flat.sum(axis=0)
        self.grads = (d_w_ih, d_w_hh, d_b, d_b)
        return loss


class ChainruleLSTM:
    def __init__(self) -> None:
        import chainrule as cr

        self.cr = cr
        self.model = cr.nn.LSTM(D_IN, H)
        for p, value in zip(self.model.parameters(), lstm_params()):
            p.data = value.copy()

    def step(self, x: np.ndarray, r: np.ndarray) -> float:
        self.model.zero_grad()
        out, _ = self.model(self.cr.as_tensor(x))
        loss = (out * r).sum()
        loss.backward()
        return loss.item()


class TorchLSTM:  # pragma: no cover - optional peer
    def __init__(self) -> None:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        self.torch = torch
        self.model = torch.nn.LSTM(D_IN, H)
        with torch.no_grad():
            for p, value in zip(self.model.parameters(), lstm_params()):
                p.copy_(torch.from_numpy(value))

    def step(self, x: np.ndarray, r: np.ndarray) -> float:
        torch = self.torch
        self.model.zero_grad()
        out, _ = self.model(torch.from_numpy(x))
        loss = (out * torch.from_numpy(r)).sum()
        loss.backward()
        return loss.item()


def check_same_lstm() -> None:
    x, r = lstm_data()
    a, b = NumpyLSTM(), ChainruleLSTM()
    la, lb = a.step(x, r), b.step(x, r)
    assert abs(la - lb) <= 1e-3 * abs(la), (la, lb)
    for g, p in zip(a.grads, b.model.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=2e-3, atol=2e-3)


# --------------------------------------------------------------------------- memory

MEMORY_SCRIPT = r"""
import gc, sys
sys.path.insert(0, {here!r})
from bench_layers import conv_batch, NumpyConvNet, ChainruleConvNet, TorchConvNet

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
impl = {{"numpy": NumpyConvNet, "numpy-early": lambda: NumpyConvNet(free_columns=True),
         "chainrule": ChainruleConvNet, "torch": TorchConvNet}}[{which!r}]()
X, y = conv_batch(256)
impl.step(X[:8], y[:8])  # imports and first-call allocations are not the step's
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak-RSS counter
base = status("VmRSS:")
for _ in range(3):
    impl.step(X, y)
print(status("VmHWM:") - base)
"""


def peak_rss(which: str) -> float:
    script = MEMORY_SCRIPT.format(here=str(HERE), which=which)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def bench_conv() -> None:
    check_same_conv_step()
    X, y = conv_batch(64)
    impls = {"hand-written NumPy": NumpyConvNet(), "chainrule (nn + optim)": ChainruleConvNet()}
    if _torch_available():
        impls["PyTorch eager (nn + optim)"] = TorchConvNet()
    fns = {name: (lambda m=m: m.step(X, y)) for name, m in impls.items()}
    times, best = _interleaved(fns, repeats=9, number=3, pause=0.1)
    _report(
        "\nMNIST example net, training step, float32, batch 64",
        times,
        best,
        "hand-written NumPy",
        "chainrule (nn + optim)",
        "PyTorch eager (nn + optim)",
    )
    print("target: chainrule <= 1.10x hand-written; goal <= 1.5x PyTorch eager")


def bench_lstm() -> None:
    check_same_lstm()
    x, r = lstm_data()
    impls = {"hand-written NumPy": NumpyLSTM(), "chainrule (nn.LSTM)": ChainruleLSTM()}
    if _torch_available():
        impls["PyTorch eager (nn.LSTM)"] = TorchLSTM()
    fns = {name: (lambda m=m: m.step(x, r)) for name, m in impls.items()}
    times, best = _interleaved(fns, repeats=9, number=5, pause=0.1)
    _report(
        f"\nLSTM in {D_IN} / hidden {H} / seq {T} / batch {N}, float32, forward + backward",
        times,
        best,
        "hand-written NumPy",
        "chainrule (nn.LSTM)",
        "PyTorch eager (nn.LSTM)",
    )
    print("target: chainrule <= 1.15x hand-written")


def bench_memory() -> None:
    print(
        "\nconv step, batch 256 float32: extra peak RSS over the RSS after setup (MiB), "
        "median of 3 fresh processes"
    )
    which = [
        ("numpy", "hand-written NumPy"),
        ("numpy-early", "hand-written, columns freed early"),
        ("chainrule", "chainrule (nn + optim)"),
    ]
    if _torch_available():
        which.append(("torch", "PyTorch eager (nn + optim)"))
    results = {}
    for key, label in which:
        runs = sorted(peak_rss(key) for _ in range(3))
        results[key] = runs[1]
        print(f"  {label:<36}{runs[1]:8.1f} MiB  (runs: {', '.join(f'{r:.1f}' for r in runs)})")
    print(
        f"chainrule / hand-written: {results['chainrule'] / results['numpy']:.2f}x "
        f"(target <= 1.2x); / the early-freeing hand-written: "
        f"{results['chainrule'] / results['numpy-early']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["conv", "lstm", "memory"], default=None)
    parser.add_argument("--threads", type=int, default=1, help="BLAS / PyTorch threads")
    args = parser.parse_args()
    print(f"threads: {args.threads} (BLAS and PyTorch, every implementation)")
    if args.only in (None, "conv"):
        bench_conv()
    if args.only in (None, "lstm"):
        bench_lstm()
    if args.only in (None, "memory"):
        bench_memory()


if __name__ == "__main__":
    main()
