"""The ``chainrule train`` command: train an MLP (or the lectures' linear classifier), a CNN,
an LSTM or a Transformer (``--model``, architectures in ``nn/models.py``) on a dataset with a
live progress bar, then save the weights, the metrics and PNG plots.

``train(config)`` does the work and can be called from Python; ``run(args)`` is the CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cli import (
    COMMANDS,
    RunError,
    UsageError,
    add_threads_argument,
    auto_threads,
    blas_threads,
    parse_threads,
)

__all__ = ["TrainConfig", "boundary_figure", "curves_figure", "train"]

LOSSES = ("softmax", "svm")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "step", "none")

#: Limits that keep a typo (``--samples 1000000000``, ``--hidden 100000000``) from
#: allocating gigabytes: one line instead of an out-of-memory crash minutes later.
MAX_SAMPLES = 10_000_000
MAX_HIDDEN = 1_000_000
MAX_PARAMETERS = 50_000_000


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved to ``metrics.json``).

    Examples
    --------
    >>> from chainrule.train_cli import TrainConfig
    >>> config = TrainConfig(dataset='moons', hidden=[16], epochs=3)
    >>> config.learning_rate, str(config.out_dir)
    (0.05, 'runs/moons')
    """

    dataset: str = "digits"
    model: str = "mlp"  # mlp, cnn, lstm, transformer (see chainrule.nn.models)
    hidden: list[int] = field(default_factory=lambda: [128])
    activation: str = "relu"
    loss: str = "softmax"
    optimizer: str = "sgd"
    lr: float | None = None  # None: 0.05 for SGD, 0.001 for Adam
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    batch_size: int = 64
    epochs: int = 100
    seed: int = 0
    test_size: float = 0.2
    samples: int = 1000
    noise: float | None = None
    standardize: bool = True
    data_dir: str | None = None
    dtype: str = "float32"
    out: str | None = None  # None: runs/<dataset>
    plots: bool = True
    compile: bool = False
    progress: str = "auto"  # auto (rich on a terminal), rich, plain, none
    threads: int | None = None  # BLAS threads; None: auto (1 for small matrices)
    distributed: bool = False  # data-parallel over the ranks of an MPI job (mpirun)

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 0.05 if self.optimizer == "sgd" else 1e-3

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.dataset


# ---------------------------------------------------------------------- the CLI


class _DefaultStr(str):
    """A default the user did not type (so a model's or task's own default may apply)."""


class _DefaultInt(int):
    """As _DefaultStr, for integer defaults."""


class _DefaultFloat(float):
    """As _DefaultStr, for float defaults."""


def _given(value: Any) -> bool:
    return value is not None and not isinstance(value, (_DefaultStr, _DefaultInt, _DefaultFloat))


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument(
        "--dataset",
        default=d.dataset,
        help="digits (default; needs scikit-learn), moons, circles, spirals, "
        "mnist (IDX files in --data-dir), or adding (the adding problem, a sequence "
        "regression task)",
    )
    p.add_argument(
        "--model",
        default=d.model,
        help="mlp (default), cnn (image data), lstm or transformer (sequences; images "
        "are read row by row)",
    )
    p.add_argument(
        "--hidden",
        default=_DefaultStr("128"),
        help="hidden layer sizes, comma-separated (default 128); 'none' trains "
        "the lectures' linear classifier; for lstm and transformer the width (default 64)",
    )
    p.add_argument("--activation", default=d.activation, help="relu (default), tanh, sigmoid")
    p.add_argument(
        "--loss",
        default=d.loss,
        help="softmax (cross-entropy, default) or svm (multiclass hinge loss)",
    )
    p.add_argument(
        "--optimizer",
        default=_DefaultStr(d.optimizer),
        help="sgd (default for mlp and cnn) or adam (default for lstm, transformer and the "
        "adding task)",
    )
    p.add_argument(
        "--lr",
        default=None,
        help="learning rate (default 0.05 for sgd, 0.001 for adam; lstm: 0.003)",
    )
    p.add_argument(
        "--momentum",
        default=d.momentum,
        help="SGD momentum (default 0.9; 0 for plain SGD)",
    )
    p.add_argument("--nesterov", action="store_true", help="Nesterov momentum (SGD)")
    p.add_argument(
        "--weight-decay",
        default=_DefaultFloat(d.weight_decay),
        help="L2 weight decay (default 1e-4; 0 for lstm and transformer)",
    )
    p.add_argument(
        "--schedule",
        default=d.schedule,
        help="learning-rate schedule: cosine (default), step, none",
    )
    p.add_argument("--batch-size", default=d.batch_size, help="default 64")
    p.add_argument(
        "--epochs",
        default=_DefaultInt(d.epochs),
        help="default 100 (--model cnn, lstm, transformer: 30; the adding task: 20)",
    )
    p.add_argument(
        "--seed",
        default=d.seed,
        help="seed for data, split, initialisation and shuffling (default 0)",
    )
    p.add_argument(
        "--test-size",
        default=d.test_size,
        help="held-out fraction (default 0.2; mnist uses its own test set)",
    )
    p.add_argument(
        "--samples",
        default=_DefaultInt(d.samples),
        help="samples in a generated dataset (default 1000; adding: 10000 sequences)",
    )
    p.add_argument(
        "--noise",
        default=None,
        help="noise of a generated dataset (default: the dataset's own)",
    )
    p.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        help="do not rescale features to zero mean and unit variance",
    )
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files")
    p.add_argument("--dtype", default=d.dtype, help="float32 (default) or float64")
    p.add_argument("--out", default=None, help="output folder (default runs/<dataset>)")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNGs")
    p.add_argument(
        "--jit",
        "--compile",
        dest="compile",
        action="store_true",
        help="run the loss and its gradient as code generated by cr.jit (cr.nn.CompiledLoss, "
        "traced once per batch shape; training accuracy is then measured at each epoch's end; "
        "--compile is the older name)",
    )
    p.add_argument(
        "--progress",
        default=d.progress,
        help="auto (default: a live bar on a terminal, else one line per "
        "epoch), rich, plain or none",
    )
    add_threads_argument(p)
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel training over the processes of an MPI job (mpirun -n N chainrule "
        "train --distributed ...): the global --batch-size is split over the ranks, rank 0 "
        "prints and writes the outputs (needs chainrule[mpi])",
    )


def _choice(option: str, value: str, allowed: Any) -> str:
    value = str(value).lower()
    if value not in allowed:
        raise UsageError(f"{option}: unknown value {value!r}; choose one of {', '.join(allowed)}")
    return value


def _number(option: str, value: Any, kind: type) -> Any:
    """``value`` (a string from the command line, or a default) as ``kind``."""
    if value is None or isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise UsageError(f"{option}: expected {what}, got {value!r}") from None


def _parse_hidden(text: str) -> list[int]:
    """``--hidden``: comma-separated positive sizes, or ``none`` for a linear classifier."""
    text = text.strip().lower()
    if text in ("none", "linear"):
        return []
    hint = "give sizes like 256,128, or 'none' for a linear classifier"
    if not text:
        raise UsageError(f"--hidden: no sizes given ({hint})")
    sizes = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            raise UsageError(f"--hidden: {text!r} has an empty size between commas ({hint})")
        try:
            size = int(part)
        except ValueError:
            size = 0
        if size <= 0 or str(size) != part.lstrip("+"):
            raise UsageError(f"--hidden: {part!r} is not a positive integer ({hint})")
        if size > MAX_HIDDEN:
            raise UsageError(f"--hidden: {size} is too large (at most {MAX_HIDDEN:,} a layer)")
        sizes.append(size)
    return sizes


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Validate the parsed options; every problem is a one-line ``UsageError``."""
    from .data import DATASETS
    from .nn import ACTIVATIONS, models

    def positive(option: str, value: float, allow_zero: bool = False) -> None:
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            need = ">= 0" if allow_zero else "> 0"
            raise UsageError(f"{option}: must be {need}, got {value}")

    dataset = _choice("--dataset", args.dataset, list(DATASETS) + list(models.SEQUENCE_TASKS))
    model = _choice("--model", getattr(args, "model", "mlp"), models.MODELS)
    # A model's and a task's own defaults (the CNN's epochs, Adam for the recurrent models
    # and the adding problem) for the options not typed.
    for option, value in models.defaults_for(model, dataset).items():
        if not _given(getattr(args, option)):
            setattr(args, option, value)
    config = TrainConfig(
        dataset=dataset,
        model=model,
        hidden=_parse_hidden(args.hidden),
        activation=_choice("--activation", args.activation, list(ACTIVATIONS)),
        loss=_choice("--loss", args.loss, LOSSES),
        optimizer=_choice("--optimizer", args.optimizer, OPTIMIZERS),
        lr=_number("--lr", args.lr, float),
        momentum=_number("--momentum", args.momentum, float),
        nesterov=args.nesterov,
        weight_decay=_number("--weight-decay", args.weight_decay, float),
        schedule=_choice("--schedule", args.schedule, SCHEDULES),
        batch_size=_number("--batch-size", args.batch_size, int),
        epochs=_number("--epochs", args.epochs, int),
        seed=_number("--seed", args.seed, int),
        test_size=_number("--test-size", args.test_size, float),
        samples=_number("--samples", args.samples, int),
        noise=_number("--noise", args.noise, float),
        standardize=args.standardize,
        data_dir=args.data_dir,
        dtype=_choice("--dtype", args.dtype, ("float32", "float64")),
        out=args.out,
        plots=args.plots,
        compile=args.compile,
        progress=_choice("--progress", args.progress, ("auto", "rich", "plain", "none")),
        threads=parse_threads(getattr(args, "threads", None)),
        distributed=getattr(args, "distributed", False),
    )
    if config.lr is not None:
        positive("--lr", config.lr)
    if not (0.0 <= config.momentum < 1.0):
        raise UsageError(f"--momentum: must be in [0, 1), got {config.momentum}")
    if config.nesterov and (config.optimizer != "sgd" or config.momentum == 0):
        raise UsageError("--nesterov: needs --optimizer sgd and --momentum > 0")
    positive("--weight-decay", config.weight_decay, allow_zero=True)
    if config.batch_size < 1:
        raise UsageError(f"--batch-size: must be >= 1, got {config.batch_size}")
    if config.seed < 0:
        raise UsageError(f"--seed: must be >= 0, got {config.seed}")
    if config.epochs < 1:
        raise UsageError(f"--epochs: must be >= 1, got {config.epochs}")
    if not 0.0 < config.test_size < 1.0:
        raise UsageError(f"--test-size: must be between 0 and 1, got {config.test_size}")
    if not 10 <= config.samples <= MAX_SAMPLES:
        raise UsageError(f"--samples: must be between 10 and {MAX_SAMPLES:,}, got {config.samples}")
    if config.noise is not None:
        positive("--noise", config.noise, allow_zero=True)
    problem = models.check_names(config.model, config.dataset)
    if problem:
        raise UsageError(problem)
    if config.compile and config.model != "mlp":
        raise UsageError("--jit: only for --model mlp (CompiledLoss compiles MLPs)")
    if config.dataset in models.SEQUENCE_TASKS and config.loss != "softmax":
        raise UsageError(f"--loss: the {config.dataset} task is a regression (mean squared error)")
    if config.dataset in models.SEQUENCE_TASKS and config.distributed:
        raise UsageError(
            f"--distributed: reports accuracy across ranks; the {config.dataset} task is a "
            f"regression (train it in one process)"
        )
    if config.dataset == "mnist" and not config.data_dir:
        raise UsageError("--dataset mnist: needs --data-dir, the folder with the IDX files")
    if config.out_dir.exists() and not config.out_dir.is_dir():
        raise UsageError(f"--out: '{config.out_dir}' exists and is not a folder")
    if config.progress == "rich" and not _has_rich():
        raise UsageError(
            "--progress rich: rich is not installed (pip install 'chainrule[progress]')"
        )
    return config


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if config.distributed:  # every rank of the MPI job runs this
        from .distributed.training import run_train

        return run_train(lambda: train(config, explicit_threads=config.threads is not None))
    train(config, explicit_threads=config.threads is not None)
    return 0


COMMANDS["train"] = (
    "train an MLP (or a linear classifier) and save weights, metrics and plots",
    add_arguments,
    run,
)


# ---------------------------------------------------------------------- progress


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class _Reporter:
    """Plain progress: one line per epoch (every k-th epoch for long runs)."""

    def __init__(self, config: TrainConfig, n_batches: int, write: Callable[[str], Any]):
        self.epochs = config.epochs
        self.every = max(1, math.ceil(config.epochs / 20))
        self.write = write

    def __enter__(self) -> _Reporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def batch(self) -> None:
        pass

    def epoch(self, row: dict[str, Any]) -> None:
        e = row["epoch"]
        if e % self.every == 0 or e == self.epochs or e == 1:
            self.write(_epoch_line(row, self.epochs))


class _Silent(_Reporter):
    def epoch(self, row: dict[str, Any]) -> None:
        pass


class _RichReporter(_Reporter):
    """A live bar over all batches, with the last epoch's loss, accuracy and speed."""

    def __init__(self, config: TrainConfig, n_batches: int, write: Callable[[str], Any]):
        super().__init__(config, n_batches, write)
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"),
        )
        self.task = self.progress.add_task(
            "train", total=config.epochs * n_batches, epoch=1, epochs=config.epochs, stats=""
        )

    def __enter__(self) -> _RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def batch(self) -> None:
        self.progress.advance(self.task)

    def epoch(self, row: dict[str, Any]) -> None:
        if "train_mse" in row:  # a regression task
            scores = f"train mse {row['train_mse']:.4f}  test mse {row['test_mse']:.4f}"
        else:
            scores = f"train {100 * row['train_acc']:.1f}%  test {100 * row['test_acc']:.1f}%"
        stats = f"loss {row['loss']:.4f}  {scores}  {row['samples_per_s']:,.0f} samples/s"
        self.progress.update(self.task, epoch=min(row["epoch"] + 1, self.epochs), stats=stats)


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    width = len(str(epochs))
    if "train_mse" in row:  # a regression task
        scores = f"train mse {row['train_mse']:.4f}  test mse {row['test_mse']:.4f}"
    else:
        scores = f"train acc {100 * row['train_acc']:5.1f}%  test acc {100 * row['test_acc']:5.1f}%"
    return (
        f"epoch {row['epoch']:>{width}}/{epochs}  loss {row['loss']:.4f}  {scores}  "
        f"{row['samples_per_s']:>9,.0f} samples/s"
    )


def _reporter(
    config: TrainConfig, n_batches: int, write: Callable[[str], Any], dist: Any = None
) -> _Reporter:
    if dist is not None:
        return dist.reporter(_reporter(config, n_batches, write))
    mode = config.progress
    if mode == "auto":
        mode = "rich" if sys.stdout.isatty() and _has_rich() else "plain"
    if mode == "none":
        return _Silent(config, n_batches, write)
    if mode == "rich":
        return _RichReporter(config, n_batches, write)
    return _Reporter(config, n_batches, write)


# ---------------------------------------------------------------------- training


def _load(config: TrainConfig) -> Any:
    from .data import IDXError, MissingDependencyError, load_dataset
    from .nn import models

    if config.dataset in models.SEQUENCE_TASKS:
        return models.load_task(
            config.dataset, config.samples, config.seed, config.test_size, np.dtype(config.dtype)
        )
    try:
        return load_dataset(
            config.dataset,
            seed=config.seed,
            test_size=config.test_size,
            n_samples=config.samples,
            noise=config.noise,
            data_dir=config.data_dir,
            dtype=np.dtype(config.dtype),
        )
    except (MissingDependencyError, FileNotFoundError, IDXError) as e:
        raise UsageError(str(e)) from None
    except ValueError as e:
        raise UsageError(f"--dataset {config.dataset}: {e}") from None


def _evaluate(model: Any, X: np.ndarray, y: np.ndarray, batch: int = 4096) -> float:
    import chainrule as cr

    if y.dtype.kind == "f":  # a regression task: the mean squared error
        with cr.no_grad():
            total = sum(
                float(np.sum((model(cr.as_tensor(X[i : i + batch])).data - y[i : i + batch]) ** 2))
                for i in range(0, len(y), batch)
            )
        return total / max(y.size, 1)
    correct = 0
    with cr.no_grad():
        for start in range(0, len(y), batch):
            scores = model(cr.as_tensor(X[start : start + batch])).data
            correct += int(np.sum(np.argmax(scores, axis=1) == y[start : start + batch]))
    return correct / max(len(y), 1)


def _check_out_dir(out: Path) -> None:
    """Fail before training, not after it, when the output folder cannot be written:
    probe the folder, or the nearest existing folder above it, with a temporary file."""
    probe = out
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"--out: cannot create '{out}': '{probe}' is not a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=".tmp-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as e:
        raise UsageError(f"--out: cannot write to '{probe}': {e.strerror or e}") from None


def _check_split(config: TrainConfig, split: Any) -> None:
    """Both parts of the split must hold samples (``--test-size 0.999`` leaves none to
    train on; the loss would be a division by zero)."""
    n_train, n_test = len(split.y_train), len(split.y_test)
    if n_train == 0 or n_test == 0:
        part = "training" if n_train == 0 else "test"
        raise UsageError(
            f"--test-size {config.test_size:g} leaves no {part} samples (of "
            f"{n_train + n_test}); choose a fraction nearer 0.2"
        )


def _check_size(sizes: list[int]) -> int:
    """The parameter count of the MLP, refused when it would not fit a CLI run."""
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if n_params > MAX_PARAMETERS:
        arch = "-".join(str(s) for s in sizes)
        raise UsageError(
            f"--hidden: an MLP {arch} has {n_params:,} parameters, more than the "
            f"{MAX_PARAMETERS:,} chainrule train allows (use smaller layers, or the Python API)"
        )
    return n_params


def _temporary_beside(path: Path) -> tuple[int, str]:
    """A new ``.tmp-*`` file in ``path``'s folder, with the permissions ``cr.save`` uses."""
    from .serialization import _create_temporary

    return _create_temporary(path.parent, path)


def _write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, as ``cr.save``
    writes ``model.npz``: readers see the old file or the new one, never half of one."""
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def train(
    config: TrainConfig, write: Callable[[str], Any] = print, explicit_threads: bool = False
) -> dict[str, Any]:
    """Train as ``config`` says; write ``model.npz``, ``metrics.json`` and the PNGs into
    ``config.out_dir``; return the metrics (also what ``metrics.json`` holds).

    ``model.npz`` holds the state dict and, as its metadata, the settings that built the
    model (``chainrule.serialization.load_metadata``), so the weights describe themselves
    even if ``metrics.json`` beside them is from another run. Ctrl-C or SIGTERM stop the
    run with a ``KeyboardInterrupt`` whose message says what was saved.

    Examples
    --------
    >>> from chainrule.train_cli import TrainConfig, train
    >>> result = train(TrainConfig(dataset="moons", epochs=5, plots=False, progress="none",
    ...                            out="/tmp/chainrule-doctest"), write=lambda s: None)
    >>> result["final"]["test_acc"] > 0.8
    True
    """
    from chainrule import nn, optim
    from chainrule.data import DataLoader

    F = nn.functional
    dist = None
    if config.distributed:
        from .distributed.training import DistributedRun

        dist = DistributedRun()
        write = dist.writer(write)
    _check_out_dir(config.out_dir)
    split = _load(config)
    _check_split(config, split)
    X_train, X_test = split.X_train, split.X_test
    regression = split.y_train.dtype.kind == "f"  # the sequence tasks
    metric = "mse" if regression else "acc"
    mean = std = None
    if config.standardize and not regression:
        # Statistics of the training part only; the test part is scaled the same way.
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0) + 1e-2  # + 1e-2: constant pixels (digits' borders)
        if config.model == "mlp":  # (other models standardise inside, with buffers)
            X_train = ((X_train - mean) / std).astype(config.dtype)
            X_test = ((X_test - mean) / std).astype(config.dtype)

    outputs = split.y_train.shape[1] if regression else split.n_classes
    sizes = [split.n_features, *config.hidden, outputs]
    if config.model == "mlp":
        _check_size(sizes)
    model = nn.models.build(
        config.model,
        config.dataset,
        X_train.shape[1:],
        outputs,
        hidden=config.hidden,
        activation=config.activation,
        mean=None if config.model == "mlp" else mean,
        std=None if config.model == "mlp" else std,
        dtype=config.dtype,
        seed=config.seed,
    )
    if dist is not None:
        dist.wrap_model(model)  # rank 0's weights everywhere; backward averages the gradients
    if regression:
        loss_fn: Any = F.mse_loss
    else:
        loss_fn = F.cross_entropy if config.loss == "softmax" else F.svm_loss
    if config.optimizer == "sgd":
        opt: Any = optim.SGD(
            model.parameters(),
            lr=config.learning_rate,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
        )
    else:
        opt = optim.Adam(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
    if config.schedule == "cosine":
        scheduler: Any = optim.CosineAnnealingLR(opt, T_max=config.epochs)
    elif config.schedule == "step":
        scheduler = optim.StepLR(opt, step_size=max(1, config.epochs // 3), gamma=0.1)
    else:
        scheduler = None
    loader = DataLoader(
        (X_train, split.y_train), batch_size=config.batch_size, shuffle=True, seed=config.seed
    )
    if dist is not None:
        loader = dist.loader(loader)  # this rank's part of each global batch

    n_params = sum(p.size for p in model.parameters())
    arch = "-".join(str(s) for s in sizes)
    kind = "linear classifier" if not config.hidden else f"MLP ({config.activation})"
    if config.model != "mlp":
        arch = nn.models.describe(model)
        kind = {"cnn": "CNN", "lstm": "LSTM", "transformer": "Transformer"}[config.model]
    write(
        f"chainrule train: {split.name} ({len(split.y_train)} train / {len(split.y_test)} "
        f"test), {kind} {arch} ({n_params:,} parameters), "
        f"{'mse' if regression else config.loss} loss, "
        f"{config.optimizer} lr {config.learning_rate:g}, {config.epochs} epochs"
        + (", jitted steps (cr.jit via CompiledLoss)" if config.compile else "")
    )
    compiled = None
    if config.compile and dist is None:
        # the loss, its gradient and the optimizer's update as one generated function
        compiled = nn.CompiledLoss(model, loss=config.loss, optimizer=opt)
    elif config.compile:  # gradients all-reduced between the two: the update stays apart
        compiled = dist.compiled(nn.CompiledLoss(model, loss=config.loss))
    history: list[dict[str, Any]] = []
    started = time.perf_counter()
    train_seconds = 0.0
    run = _Run(config, history)
    with (
        run.stopping("training"),
        blas_threads(auto_threads(config.threads, sizes, config.batch_size), explicit_threads),
        _reporter(config, len(loader), write, dist) as reporter,
    ):
        for epoch in range(1, config.epochs + 1):
            model.train()
            lr = opt.param_groups[0]["lr"]
            total_loss = 0.0
            correct = 0
            seen = 0
            t0 = time.perf_counter()
            for xb, yb in loader:
                n = len(yb.data)
                if compiled is not None:
                    total_loss += compiled(xb, yb) * n  # sets the gradients
                    if dist is not None:
                        opt.step()
                else:
                    scores = model(xb)
                    loss = loss_fn(scores, yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total_loss += loss.item() * n
                    if regression:  # summed squared error, averaged at the epoch's end
                        correct += float(np.sum((scores.data - yb.data) ** 2))
                    else:
                        correct += int(np.sum(np.argmax(scores.data, axis=1) == yb.data))
                seen += n
                reporter.batch()
            seconds = time.perf_counter() - t0
            train_seconds += seconds
            if scheduler is not None:
                scheduler.step()
            model.eval()
            if compiled is not None:  # no per-batch scores: accuracy at the epoch's end
                correct = round(_evaluate(model, X_train, split.y_train) * seen)
            per_target = seen * (split.y_train.shape[1] if regression else 1)
            row = {
                "epoch": epoch,
                "loss": total_loss / seen,
                f"train_{metric}": correct / per_target,
                f"test_{metric}": _evaluate(model, X_test, split.y_test),
                "lr": lr,
                "seconds": seconds,
                "samples_per_s": seen / seconds if seconds > 0 else float("inf"),
            }
            if not math.isfinite(row["loss"]):
                raise UsageError(
                    f"the loss became {row['loss']} at epoch {epoch}; lower --lr "
                    f"(now {config.learning_rate:g})"
                )
            history.append(row)
            reporter.epoch(row)
    final = {
        f"train_{metric}": _evaluate(model, X_train, split.y_train),
        f"test_{metric}": _evaluate(model, X_test, split.y_test),
        "seconds": time.perf_counter() - started,
        "train_seconds": train_seconds,
        "samples_per_s": len(split.y_train) * config.epochs / train_seconds,
    }
    if regression:
        scores_text = (
            f"train mean squared error {final['train_mse']:.5f}, test mean squared error "
            f"{final['test_mse']:.5f}"
        )
    else:
        scores_text = (
            f"train accuracy {100 * final['train_acc']:.2f}%, test accuracy "
            f"{100 * final['test_acc']:.2f}%"
        )
    write(
        f"final: {scores_text} ({final['seconds']:.1f} s, {final['samples_per_s']:,.0f} samples/s)"
    )
    if dist is not None and not dist.done():  # rank 0 alone writes, once every rank is done
        return {"config": asdict(config), "history": history, "final": final}
    out = config.out_dir
    result = {
        "config": asdict(config)
        | {"lr": config.learning_rate, "sizes": sizes if config.model == "mlp" else arch},
        "history": history,
        "final": final,
    }
    with run.stopping("writing the files"):
        # The saved weights take raw features: the standardisation is folded into layer 0
        # (an MLP) or kept in the model's Standardize buffers (the other models).
        state = _export_state(model, mean if config.model == "mlp" else None, std)
        _save_run(out, state, result, run.saved)
        write(f"saved weights to {out / 'model.npz'} and metrics to {out / 'metrics.json'}")
        if config.plots:
            for path in _plots(model, split, X_train, X_test, history, out, config, run.saved):
                write(f"wrote {path}")
    return result


class _Run:
    """How far a run got, for the one line printed when Ctrl-C or SIGTERM stops it."""

    def __init__(self, config: TrainConfig, history: list) -> None:
        self.config = config
        self.history = history
        self.saved: list[str] = []

    @contextlib.contextmanager
    def stopping(self, stage: str) -> Iterator[None]:
        """Re-raise an interrupt inside the block with a message saying where it hit and
        what was saved (the atomic writes leave no ``.tmp-*`` file behind)."""
        try:
            yield
        except KeyboardInterrupt as e:
            why = e.args[0] if e.args else "interrupted (Ctrl-C)"
            if stage == "training":
                stage = f"at epoch {len(self.history) + 1} of {self.config.epochs}"
            else:
                stage = f"while {stage}"
            kept = f"saved only {', '.join(self.saved)}" if self.saved else "nothing was saved"
            e.args = (f"{why} {stage}; {kept}",)
            raise


def _save_run(out: Path, state: dict[str, Any], result: dict[str, Any], saved: list) -> None:
    """Write ``model.npz`` (with the run's settings inside, so attack and visualize never
    pair new weights with an old ``metrics.json``) and then ``metrics.json``, each
    atomically; ``saved`` collects what was written. A full disk is a ``RunError``."""
    import chainrule as cr

    path = out
    try:
        out.mkdir(parents=True, exist_ok=True)
        path = out / "model.npz"
        cr.save(state, path, metadata={"config": result["config"]})
        saved.append(str(path))
        path = out / "metrics.json"
        _write_text_atomically(path, json.dumps(result, indent=2) + "\n")
        saved.append(str(path))
    except OSError as e:
        raise RunError(f"cannot write '{path}': {e.strerror or e}") from None


def _export_state(model: Any, mean: Any, std: Any) -> dict[str, np.ndarray]:
    """The model's state dict for raw inputs: W' = W / std, b' = b - W' @ mean."""
    state = {name: np.array(t.data, copy=True) for name, t in model.state_dict().items()}
    if mean is None:
        return state
    w, b = state["0.weight"], state["0.bias"]
    w_raw = (w / std).astype(w.dtype)
    state["0.weight"] = w_raw
    state["0.bias"] = (b - w_raw @ mean).astype(b.dtype)
    return state


# ---------------------------------------------------------------------- plots


def _plots(
    model: Any,
    split: Any,
    X_train: np.ndarray,
    X_test: np.ndarray,
    history: list[dict[str, Any]],
    out: Path,
    config: TrainConfig,
    saved: list,
) -> list[Path]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(
            "note: matplotlib is not installed, so no plots were drawn "
            "(pip install 'chainrule[viz]')",
            file=sys.stderr,
        )
        return []
    written = [_plot_curves(Figure, history, out / "curves.png", config)]
    saved.append(str(written[-1]))
    if split.n_features == 2 and split.X_train.ndim == 2:
        written.append(_plot_boundary(Figure, model, split, X_train, X_test, out / "boundary.png"))
        saved.append(str(written[-1]))
    return written


def _savefig(fig: Any, path: Path) -> None:
    """``fig.savefig`` through a temporary file and a rename (never half a PNG)."""
    try:
        fd, tmp = _temporary_beside(path)
        try:
            with os.fdopen(fd, "wb") as f:
                fig.savefig(f, format="png", dpi=100)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise RunError(f"cannot write '{path}': {e.strerror or e}") from None


def _plot_curves(
    Figure: Any, history: list[dict[str, Any]], path: Path, config: TrainConfig
) -> Path:
    _savefig(curves_figure(Figure, history, config), path)
    return path


def curves_figure(Figure: Any, history: list[dict[str, Any]], config: TrainConfig) -> Any:
    """Loss and accuracy per epoch, in colour-blind-safe colours, each panel with a legend.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from chainrule.train_cli import TrainConfig, curves_figure
    >>> row = {'loss': 0.5, 'train_acc': 0.9, 'test_acc': 0.8}
    >>> history = [dict(row, epoch=e) for e in (1, 2, 3)]
    >>> fig = curves_figure(Figure, history, TrainConfig())
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy']
    """
    from ._plots import CLASS_COLORS

    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, [r["loss"] for r in history], color=CLASS_COLORS[0], label="training loss")
    ax_loss.set(xlabel="epoch", ylabel=f"training loss ({config.loss})", title="loss")
    if all(r["loss"] > 0 for r in history):  # the SVM loss can reach exactly 0
        ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    if "train_mse" in history[0]:  # a regression task
        train, test, label = "train_mse", "test_mse", "mean squared error"
        scale = 1.0
    else:
        train, test, label = "train_acc", "test_acc", "accuracy"
        scale = 100.0
    ax_acc.plot(epochs, [scale * r[train] for r in history], color=CLASS_COLORS[0], label="train")
    ax_acc.plot(
        epochs,
        [scale * r[test] for r in history],
        color=CLASS_COLORS[1],
        linestyle="--",
        label="test",
    )
    if scale == 1.0:
        ax_acc.set(xlabel="epoch", ylabel=label, title=label)
        ax_acc.set_yscale("log")
    else:
        ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_acc.legend()
    ax_acc.grid(alpha=0.3)
    fig.suptitle(f"chainrule train: {config.dataset}")
    return fig


def _plot_boundary(
    Figure: Any, model: Any, split: Any, X_train: np.ndarray, X_test: np.ndarray, path: Path
) -> Path:
    _savefig(boundary_figure(Figure, model, split, X_train, X_test), path)
    return path


def boundary_figure(
    Figure: Any, model: Any, split: Any, X_train: np.ndarray, X_test: np.ndarray
) -> Any:
    """Predicted class over the plane and the samples, one Okabe-Ito colour per class (no
    class is grey on grey), with a legend naming the classes and the train/test markers.

    Examples
    --------
    >>> import chainrule as cr
    >>> from matplotlib.figure import Figure
    >>> from chainrule.train_cli import boundary_figure
    >>> split = cr.data.load_dataset('spirals', seed=0)
    >>> fig = boundary_figure(Figure, cr.nn.mlp([2, 8, 3]), split, split.X_train, split.X_test)
    >>> fig.axes[0].get_title()
    'decision boundary: spirals'
    """
    import chainrule as cr

    from ._plots import class_cmap

    # The grid lives in the standardised space the model sees; axes show those units.
    both = np.concatenate([X_train, X_test])
    lo, hi = both.min(axis=0) - 0.5, both.max(axis=0) + 0.5
    xs, ys = np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(X_train.dtype)
    with cr.no_grad():
        pred = np.argmax(model(cr.as_tensor(grid)).data, axis=1).reshape(gx.shape)
    n = split.n_classes
    cmap = class_cmap(n)
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    ax = fig.subplots()
    ax.contourf(gx, gy, pred, levels=np.arange(n + 1) - 0.5, cmap=cmap, alpha=0.22)
    ax.contour(gx, gy, pred, levels=np.arange(n) + 0.5, colors="#444444", linewidths=0.6)
    ax.scatter(
        X_train[:, 0],
        X_train[:, 1],
        c=split.y_train,
        cmap=cmap,
        vmin=-0.5,
        vmax=n - 0.5,
        s=9,
        edgecolors="none",
    )
    ax.scatter(
        X_test[:, 0],
        X_test[:, 1],
        c=split.y_test,
        cmap=cmap,
        vmin=-0.5,
        vmax=n - 0.5,
        s=20,
        marker="^",
        edgecolors="k",
        linewidths=0.4,
    )
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", color=cmap(i), label=f"class {i}")
        for i in range(n)
    ]
    handles += [
        Line2D([], [], marker="o", linestyle="", color="#777777", markersize=4, label="train"),
        Line2D(
            [], [], marker="^", linestyle="", color="#777777", markeredgecolor="k", label="test"
        ),
    ]
    ax.set(
        title=f"decision boundary: {split.name}",
        xlabel="x1 (standardised)",
        ylabel="x2 (standardised)",
    )
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    return fig
