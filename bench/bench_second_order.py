"""Newton-CG (Hessian-free, cr.hvp only) against SGD with momentum on L2-regularized
multinomial logistic regression of the digits data: loss against passes over the data.

A *pass* is one evaluation over the whole training set: for SGD one epoch; for Newton-CG
each loss evaluation (line search), each gradient and each Hessian-vector product counts
as one. Writes ONE PNG with both curves and prints the numbers.

    python bench/bench_second_order.py [--epochs 200] [--out runs/second_order.png]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import chainrule as cr

F = cr.nn.functional


def digits_problem(l2: float = 1e-3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Standardized digits training features (float64), labels and the L2 weight."""
    split = cr.data.load_dataset("digits", seed=seed, test_size=0.2, dtype=np.float64)
    X = split.X_train
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-2)
    return X, split.y_train, l2


def full_loss(X: cr.Tensor, y: np.ndarray, W: cr.Tensor, b: cr.Tensor, l2: float) -> cr.Tensor:
    """Mean cross-entropy of ``X @ W + b`` plus ``l2 * ||W||^2`` (biases not penalized)."""
    return F.cross_entropy(X @ W + b, y) + l2 * (W * W).sum()


def run_newton_cg(
    X: np.ndarray, y: np.ndarray, l2: float, max_iter: int = 30, tol: float = 1e-8
) -> tuple[list[tuple[int, float]], float, cr.optim.OptimizeResult]:
    """Newton-CG from zero weights; returns (passes, loss) history, seconds, result."""
    Xt = cr.tensor(X)
    d, c = X.shape[1], int(y.max()) + 1

    def f(wb: cr.Tensor) -> cr.Tensor:
        return full_loss(Xt, y, wb[: d * c].reshape(d, c), wb[d * c :], l2)

    t0 = time.perf_counter()
    result = cr.optim.minimize(
        f, np.zeros(d * c + c), method="newton-cg", tol=tol, max_iter=max_iter
    )
    return result.history, time.perf_counter() - t0, result


def run_sgd(
    X: np.ndarray,
    y: np.ndarray,
    l2: float,
    epochs: int,
    lr: float = 0.1,
    momentum: float = 0.9,
    batch_size: int = 64,
    seed: int = 0,
) -> tuple[list[tuple[int, float]], float]:
    """Minibatch SGD with momentum from zero weights; full-data loss after every epoch."""
    Xt = cr.tensor(X)
    d, c = X.shape[1], int(y.max()) + 1
    W = cr.zeros(d, c, dtype=np.float64).requires_grad_(True)
    b = cr.zeros(c, dtype=np.float64).requires_grad_(True)
    opt = cr.optim.SGD([W, b], lr=lr, momentum=momentum)
    loader = cr.data.DataLoader((X, y), batch_size=batch_size, shuffle=True, seed=seed)
    with cr.no_grad():
        history = [(0, full_loss(Xt, y, W, b, l2).item())]
    seconds = 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        for xb, yb in loader:
            loss = full_loss(xb, yb.numpy(), W, b, l2)
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds += time.perf_counter() - t0
        with cr.no_grad():
            history.append((epoch, full_loss(Xt, y, W, b, l2).item()))
    return history, seconds


def first_pass_below(history: list[tuple[int, float]], level: float) -> int | None:
    """Passes needed to get strictly below ``level`` (None: never)."""
    for passes, loss in history:
        if loss < level:
            return passes
    return None


def plot(
    sgd: list[tuple[int, float]], ncg: list[tuple[int, float]], optimum: float, path: Path
) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.subplots()
    floor = 1e-12  # the gap reaches 0 at convergence; keep the log axis finite
    ax.plot(
        [p for p, _ in sgd],
        [max(v - optimum, floor) for _, v in sgd],
        label="SGD (momentum 0.9, lr 0.1, batch 64): one pass = one epoch",
    )
    ax.plot(
        [p for p, _ in ncg],
        [max(v - optimum, floor) for _, v in ncg],
        marker="o",
        label="Newton-CG (cr.hvp only): pass = loss, gradient or H v",
    )
    ax.set_yscale("log")
    ax.set(
        xlabel="passes over the training data",
        ylabel="loss - best loss found",
        title="digits, L2-regularized multinomial logistic regression (650 parameters)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200, help="SGD epochs (default 200)")
    parser.add_argument("--out", default="runs/second_order.png", help="the PNG to write")
    args = parser.parse_args(argv)
    X, y, l2 = digits_problem()
    ncg, ncg_seconds, result = run_newton_cg(X, y, l2)
    sgd, sgd_seconds = run_sgd(X, y, l2, args.epochs)
    optimum = min(min(v for _, v in ncg), min(v for _, v in sgd))
    sgd_final = sgd[-1][1]
    sgd_best = min(v for _, v in sgd)
    needed = first_pass_below(ncg, sgd_best)
    print(f"digits logistic regression, {X.shape[0]} samples, {X.shape[1] * 10 + 10} parameters")
    print(f"{'method':<10} {'passes':>7} {'final loss':>14} {'seconds':>8}")
    print(f"{'SGD':<10} {sgd[-1][0]:>7} {sgd_final:>14.10f} {sgd_seconds:>8.2f}")
    print(f"{'Newton-CG':<10} {result.passes:>7} {result.fun:>14.10f} {ncg_seconds:>8.2f}")
    print(
        f"Newton-CG: {result.n_iter} iterations, {result.n_grad} gradients, {result.n_hvp} "
        f"Hessian-vector products, {result.n_fev} line-search evaluations, "
        f"max |gradient| {result.grad_norm:.1e}"
    )
    print(
        f"Newton-CG gets below SGD's best loss over {args.epochs} epochs ({sgd_best:.10f}) "
        f"after {needed} passes"
    )
    path = Path(args.out)
    plot(sgd, ncg, optimum, path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
