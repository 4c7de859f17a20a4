"""A model's training loss and gradients compiled to flat NumPy code, once per batch shape.

The eager engine records a graph at every step; for small networks that bookkeeping costs
more than the arithmetic. CompiledLoss traces the loss once (``cr.trace``), generates the
lectures' flat forward/backward code for it (``graph.compile_flat``) and runs that code.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

from .. import ops
from ..ops import first_bad_label
from ..tensor import Tensor, no_grad, set_grads, substitute
from .layers import Dropout
from .module import Module

__all__ = ["CompiledLoss"]

LOSSES = ("softmax", "svm")


class CompiledLoss:
    """The mean softmax cross-entropy (or multiclass SVM) loss of ``model`` on a batch and
    its gradient, run as generated flat NumPy code.

    Calling it on ``(X, y)`` returns the loss (a float) and sets every parameter's
    ``.grad``, as ``loss.backward()`` would (it replaces, not accumulates), so an
    optimizer's ``step()`` follows as usual. The first call for each batch shape and
    dtype traces the model once and compiles the generated code; later calls read the
    parameters' current values and run the code, with no graph recorded. Labels enter the
    code as an input (integer labels for softmax, one-hot rows for the SVM), so nothing
    about a batch but its shape is compiled in.

    The model must compute the same operations for every batch of a shape: no branches on
    values and no randomness (a ``Dropout`` in training mode is refused). On its first call
    for a shape the compiled result is checked against the eager engine.

    Parameters
    ----------
    model:
        A ``cr.nn.Module`` mapping (N, features) inputs to (N, classes) scores.
    loss:
        ``"softmax"`` (cross-entropy) or ``"svm"`` (the lectures' multiclass hinge loss,
        ``margin`` 1).
    cache_size:
        How many batch shapes stay compiled (least recently used ones are dropped). A
        ``RuntimeWarning`` says so, once, when shapes start being compiled again: vary
        the batch shape less (``DataLoader(..., drop_last=True)``) or raise the size.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> nn = cr.nn
    >>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 3, seed=1))
    >>> step = cr.nn.CompiledLoss(model)
    >>> X = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    >>> y = np.array([0, 1, 2, 1, 0])
    >>> loss = step(X, y)
    >>> eager = cr.nn.functional.cross_entropy(model(cr.tensor(X)), y).item()
    >>> bool(abs(loss - eager) < 1e-5), model[0].weight.grad.shape
    (True, (8, 4))
    >>> print(step.source(X.shape).splitlines()[-1].strip())
    return out, (dparams0, dparams1, dparams2, dparams3)
    """

    def __init__(
        self, model: Module, loss: str = "softmax", margin: float = 1.0, cache_size: int = 8
    ) -> None:
        if not isinstance(model, Module):
            raise TypeError(
                f"CompiledLoss: model must be a cr.nn.Module, got {type(model).__name__}"
            )
        if loss not in LOSSES:
            raise ValueError(f"CompiledLoss: loss must be one of {LOSSES}, got {loss!r}")
        self.model = model
        self.loss = loss
        self.margin = float(margin)
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"CompiledLoss: cache_size must be an int >= 1, got {cache_size!r}")
        self.params = list(model.parameters())
        # (shape, dtype) -> compiled entry, least recently used first; bounded, so batches
        # of ever new shapes cannot grow it without end.
        self._compiled: OrderedDict[tuple, Any] = OrderedDict()
        self._sources: OrderedDict[tuple, str] = OrderedDict()
        self._cache_size = cache_size
        self._evicted = 0

    def _loss_of_scores(self, scores: Tensor, targets: Tensor) -> Tensor:
        """The loss from (N, C) scores and the targets: integer labels for softmax (one
        fused primitive, gradient (softmax - onehot) / n), one-hot rows for the SVM."""
        if self.loss == "softmax":
            return ops.softmax_cross_entropy(scores, targets)
        # the lectures' SVM: sum over j != y of max(0, s_j - s_y + margin), averaged
        correct = (scores * targets).sum(axis=1, keepdims=True)
        hinge = ops.relu(scores - correct + self.margin) * (1 - targets)
        return hinge.sum() / scores.shape[0]

    def _traced_loss(self, X: Any, y: Any, *params: Any) -> Tensor:
        with substitute(zip(self.params, params)):
            return self._loss_of_scores(self.model(X), y)

    def _compile(self, X: np.ndarray, targets: np.ndarray) -> Any:
        from ..tracing import trace

        for module in self.model.modules():
            if isinstance(module, Dropout) and module.training and module.p > 0:
                raise ValueError(
                    "CompiledLoss: the model has a Dropout in training mode, whose random mask "
                    "would be compiled in (use eager training, or model.eval())"
                )
        graph = trace(self._traced_loss, X, targets, *[p.data for p in self.params])
        for name in ("X", "y"):  # data: no gradient code for them
            graph.inputs[name].requires_grad = False
        return graph.compile_flat()

    def _targets(self, y: Any, n: int, n_classes: int, dtype: Any) -> np.ndarray:
        """The labels, checked: as they are for softmax, as one-hot rows for the SVM."""
        labels = y.data if isinstance(y, Tensor) else np.asarray(y)
        if labels.dtype.kind not in "iu" or labels.shape != (n,):
            raise ValueError(
                f"CompiledLoss: labels must be {n} integers (one per row of X), got shape "
                f"{labels.shape} dtype {labels.dtype}"
            )
        first_bad_label("CompiledLoss", labels, n_classes, (n, n_classes))
        if self.loss == "softmax":
            return labels
        return np.eye(n_classes, dtype=dtype)[labels]

    def __call__(self, X: Any, y: Any) -> float:
        X = X.data if isinstance(X, Tensor) else np.asarray(X)
        key = (X.shape, X.dtype)
        entry = self._compiled.get(key)
        if entry is None:
            entry = self._first_call(X, y)
        elif len(self._compiled) > 1:
            self._compiled.move_to_end(key)
        flat, n_classes, cast = entry
        labels = y.data if isinstance(y, Tensor) else np.asarray(y)
        params = self.params
        if self.loss != "softmax" or labels.dtype.kind not in "iu" or labels.shape != X.shape[:1]:
            labels = self._targets(labels, X.shape[0], n_classes, X.dtype)
            loss, grads = flat(X, labels, *[p.data for p in params])
        else:
            # The softmax case, on every training step: labels >= n_classes make the
            # generated code's gather raise IndexError; negative ones would wrap around
            # silently, so they are looked for first (one argmin).
            if labels.dtype.kind == "i" and labels.size and labels[labels.argmin()] < 0:
                first_bad_label("CompiledLoss", labels, n_classes, (len(labels), n_classes))
            try:
                loss, grads = flat(X, labels, *[p.data for p in params])
            except IndexError:
                first_bad_label("CompiledLoss", labels, n_classes, (len(labels), n_classes))
                raise
        if cast:  # the first run found a gradient in another dtype than its parameter's
            grads = [np.asarray(g, dtype=p.dtype) for g, p in zip(grads, params)]
        set_grads(params, grads)
        return float(loss)

    def _first_call(self, X: np.ndarray, y: Any) -> tuple:
        """Compile for this batch shape, check against the eager engine, and cache."""
        if X.ndim != 2:
            raise ValueError(f"CompiledLoss: X must be (N, features), got shape {X.shape}")
        with no_grad():
            n_classes = self.model(Tensor(X)).shape[1]
        targets = self._targets(y, X.shape[0], n_classes, X.dtype)
        compiled = self._compile(X, targets)
        cast = self._check(compiled, X, targets)
        entry = self._compiled[(X.shape, X.dtype)] = (compiled.flat, n_classes, cast)
        self._sources[tuple(X.shape)] = compiled.source
        self._sources.move_to_end(tuple(X.shape))
        self._evict()
        return entry

    def _evict(self) -> None:
        """Keep the ``cache_size`` most recently used shapes; warn the first time one
        has to go (from then on, batches of a dropped shape are traced again)."""
        while len(self._compiled) > self._cache_size:
            (shape, _dtype), _entry = self._compiled.popitem(last=False)
            if shape not in {s for s, _ in self._compiled}:
                self._sources.pop(tuple(shape), None)
            if self._evicted == 0:
                warnings.warn(
                    f"CompiledLoss: recompiling: more than {self._cache_size} batch shapes, "
                    f"so the least recently used are dropped and compiled again when they "
                    f"come back (each time the model is traced and checked again); use "
                    f"batches of one shape (DataLoader(..., drop_last=True)) or a larger "
                    f"cache_size",
                    RuntimeWarning,
                    stacklevel=4,
                )
            self._evicted += 1
        while len(self._sources) > self._cache_size:
            self._sources.popitem(last=False)

    def _check(self, flat: Any, X: np.ndarray, targets: np.ndarray) -> bool:
        """The first run of each compiled shape must agree with the eager engine; returns
        whether gradients need casting to their parameters' dtypes."""
        loss, grads = flat.flat(X, targets, *[p.data for p in self.params])
        eager = self._loss_of_scores(self.model(Tensor(X)), Tensor(targets))
        for p in self.params:
            p.grad = None
        eager.backward()
        tol = 1e-3 if X.dtype == np.float32 else 1e-8
        ok = np.allclose(loss, eager.item(), rtol=tol, atol=tol) and all(
            np.allclose(g, p.grad.data, rtol=tol, atol=tol) for g, p in zip(grads, self.params)
        )
        if not ok:
            self._compiled.clear()
            raise RuntimeError(
                "CompiledLoss: the compiled code disagrees with the eager engine for this "
                "model (does it branch on values?); train it eagerly instead"
            )
        return any(np.asarray(g).dtype != p.dtype for g, p in zip(grads, self.params))

    def source(self, shape: tuple) -> str:
        """The generated Python source for batches of ``shape`` (compiled already)."""
        try:
            return self._sources[tuple(shape)]
        except KeyError:
            raise KeyError(f"CompiledLoss: nothing compiled for shape {tuple(shape)} yet") from None
