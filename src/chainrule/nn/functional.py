"""Stateless functions for networks: activations and the losses (cross-entropy, the
lectures' multiclass SVM loss, PyTorch's multi-margin loss, MSE, L2 penalty).

Every loss is composed of chainrule primitives, so it is differentiable to any order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import ops, rules
from ..ops import linear, log_softmax, relu, sigmoid, softmax, tanh
from ..tensor import Tensor, apply, as_tensor

__all__ = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "nll_loss",
    "cross_entropy",
    "svm_loss",
    "multi_margin_loss",
    "mse_loss",
    "l2_penalty",
    "accuracy",
]

_REDUCTIONS = ("mean", "sum", "none")


def _scores_and_targets(op: str, scores: Any, targets: Any) -> tuple[Tensor, np.ndarray]:
    """Check (N, C) scores and N integer labels in [0, C); return them as (Tensor, array)."""
    scores = scores if isinstance(scores, Tensor) else as_tensor(scores)
    labels = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    shape = scores.data.shape  # read once: this runs on every training step
    if len(shape) != 2:
        raise ValueError(
            f"{op}: scores must have shape (N, C) (one row of class scores per sample), "
            f"got shape {shape}"
        )
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "b" or not (labels.size and np.all(np.equal(np.mod(labels, 1), 0))):
            raise TypeError(f"{op}: targets must be integer class labels, got dtype {labels.dtype}")
        labels = labels.astype(np.int64)
    n, c = shape
    if labels.shape != (n,):
        raise ValueError(
            f"{op}: targets must have shape ({n},) to match scores of shape {shape}, "
            f"got shape {labels.shape}"
        )
    ops.first_bad_label(op, labels, c, shape)
    return scores, labels


def _pick(scores: Tensor, labels: np.ndarray, keepdims: bool = False) -> Tensor:
    """``scores[i, labels[i]]`` for every row i: shape (N,), or (N, 1) with ``keepdims``."""
    rows = np.arange(labels.shape[0])
    # Integer-array indexing (rows, labels) rather than take_along_axis: one gather and,
    # backwards, one scatter, with less per-call overhead (about 30 us a training step on
    # digits).
    if keepdims:
        return ops.getitem(scores, (rows[:, None], labels[:, None]))
    return ops.getitem(scores, (rows, labels))


def _reduce(op: str, per_sample: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        n = per_sample.shape[0]
        if n == 0:
            raise ValueError(f"{op}: reduction='mean' over an empty batch")
        # sum * (1/n): one node fewer than mean() (which divides after summing).
        return ops.sum(per_sample) * (1.0 / n)
    if reduction == "sum":
        return ops.sum(per_sample)
    return per_sample


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def nll_loss(log_probs: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: ``-log_probs[i, targets[i]]``, averaged by default.

    >>> import chainrule as cr
    >>> lp = cr.log_softmax(cr.tensor([[0.0, 0.0]]))
    >>> round(cr.nn.functional.nll_loss(lp, [1]).item(), 4)
    0.6931
    """
    _check_reduction("nll_loss", reduction)
    log_probs, labels = _scores_and_targets("nll_loss", log_probs, targets)
    picked = _pick(log_probs, labels)
    if reduction == "none":
        return -picked
    n = labels.shape[0]
    if reduction == "sum":
        return ops.sum(picked) * -1.0
    if n == 0:
        raise ValueError("nll_loss: reduction='mean' over an empty batch")
    return ops.sum(picked) * (-1.0 / n)


def cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy, ``-log softmax(logits)[i, targets[i]]``, computed stably
    through log-softmax (no exp overflow, no log of 0), from primitives only, so it has
    derivatives of any order.

    Parameters
    ----------
    logits:
        (N, C) unnormalised class scores.
    targets:
        N integer labels in [0, C).
    reduction:
        ``"mean"`` (default), ``"sum"`` or ``"none"`` (one loss per sample).

    Examples
    --------
    >>> import chainrule as cr
    >>> logits = cr.tensor([[2.0, 1.0, 0.1]], requires_grad=True)
    >>> loss = cr.nn.functional.cross_entropy(logits, [0])
    >>> round(loss.item(), 4)
    0.417
    """
    _check_reduction("cross_entropy", reduction)
    logits, labels = _scores_and_targets("cross_entropy", logits, targets)
    if reduction == "mean" and labels.shape[0] == 0:
        raise ValueError("cross_entropy: reduction='mean' over an empty batch")
    # One fused primitive (log-softmax, pick, reduce; gradient (softmax - onehot) g); the
    # inputs were checked above, so the primitive is applied directly.
    logp = apply(rules.log_softmax, (logits,), {"axis": 1})
    return apply(rules.cross_entropy, (logits, logp, labels), {"reduction": reduction})


def _margins(op: str, scores: Any, targets: Any, margin: float) -> tuple[Tensor, np.ndarray]:
    """max(0, s_j - s_y + margin) for every class j, with the j == y entries set to 0."""
    scores, labels = _scores_and_targets(op, scores, targets)
    correct = _pick(scores, labels, keepdims=True)
    hinge = ops.relu(scores - (correct - margin))
    # The j == y term would be max(0, margin); the lectures' sum runs over j != y only.
    # Multiplying by a 0/1 mask also stops its (cancelling) gradient cleanly.
    wrong = np.ones(scores.shape, dtype=scores.dtype)
    wrong[np.arange(labels.shape[0]), labels] = 0
    return hinge * wrong, labels


def svm_loss(scores: Any, targets: Any, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """The lectures' multiclass SVM (hinge) loss: per sample
    ``sum over j != y of max(0, s_j - s_y + margin)``; averaged over samples by default.

    Examples
    --------
    >>> import chainrule as cr
    >>> scores = cr.tensor([[3.2, 5.1, -1.7]])  # the lectures' cat example, label 0
    >>> round(cr.nn.functional.svm_loss(scores, [0]).item(), 4)
    2.9
    """
    _check_reduction("svm_loss", reduction)
    hinge, _labels = _margins("svm_loss", scores, targets, margin)
    return _reduce("svm_loss", ops.sum(hinge, axis=1), reduction)


def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """PyTorch's multi-class margin loss: per sample
    ``sum over j != y of max(0, margin - x_y + x_j)**p / C`` (C = number of classes),
    optionally scaled by ``weight[y]``; the SVM loss divided by C.

    >>> import chainrule as cr
    >>> scores = cr.tensor([[3.2, 5.1, -1.7]])
    >>> round(cr.nn.functional.multi_margin_loss(scores, [0]).item(), 4)
    0.9667
    """
    _check_reduction("multi_margin_loss", reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p}")
    hinge, labels = _margins("multi_margin_loss", input, target, margin)
    n_classes = hinge.shape[1]
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
        if w.shape != (n_classes,):
            raise ValueError(
                f"multi_margin_loss: weight must have shape ({n_classes},) (one per class), "
                f"got shape {w.shape}"
            )
        hinge = hinge * w[labels][:, None].astype(hinge.dtype)
    per_sample = ops.sum(hinge, axis=1) * (1.0 / n_classes)
    return _reduce("multi_margin_loss", per_sample, reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)**2)``; shapes must match exactly
    (silent broadcasting of (N,) against (N, 1) is a classic bug).

    >>> import chainrule as cr
    >>> cr.nn.functional.mse_loss(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0])).item()
    5.0
    """
    _check_reduction("mse_loss", reduction)
    input = input if isinstance(input, Tensor) else as_tensor(input)
    target = target if isinstance(target, Tensor) else as_tensor(target)
    if input.shape != target.shape:
        raise ValueError(
            f"mse_loss: input shape {input.shape} and target shape {target.shape} differ; "
            f"reshape one of them (broadcasting here is almost always a bug)"
        )
    diff = input - target
    sq = diff * diff
    if reduction == "none":
        return sq
    if reduction == "sum":
        return ops.sum(sq)
    if sq.size == 0:
        raise ValueError("mse_loss: reduction='mean' over an empty tensor")
    return ops.sum(sq) * (1.0 / sq.size)


def l2_penalty(params: Any) -> Tensor:
    """The lectures' L2 regulariser R(W) = sum of squares of every entry of every tensor.

    ``params`` is an iterable of Tensors (e.g. ``model.parameters()``), a Module or one
    Tensor. Add ``reg * l2_penalty(...)`` to the loss; its gradient is ``2 * reg * W``.

    >>> import chainrule as cr
    >>> cr.nn.functional.l2_penalty([cr.tensor([1.0, 2.0]), cr.tensor([[3.0]])]).item()
    14.0
    """
    from .module import Module

    if isinstance(params, Module):
        params = params.parameters()
    elif isinstance(params, Tensor):
        params = [params]
    total: Tensor | None = None
    for i, p in enumerate(_as_iterable(params)):
        if not isinstance(p, Tensor):
            p = as_tensor(p)
        if p.dtype.kind not in "fc":
            raise TypeError(f"l2_penalty: tensor {i} has non-floating dtype {p.dtype}")
        term = ops.sum(p * p)
        total = term if total is None else total + term
    if total is None:
        return as_tensor(0.0)
    return total


def _as_iterable(params: Any) -> Iterable[Any]:
    try:
        return iter(params)
    except TypeError:
        raise TypeError(
            f"l2_penalty: expected tensors (e.g. model.parameters()), got {type(params).__name__}"
        ) from None


def accuracy(scores: Any, targets: Any) -> float:
    """Fraction of rows whose arg-max equals the target label (no graph).

    >>> import chainrule as cr
    >>> cr.nn.functional.accuracy(cr.tensor([[0.1, 0.9], [0.8, 0.2]]), [1, 1])
    0.5
    """
    s = np.asarray(scores.data if isinstance(scores, Tensor) else scores)
    t = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if s.ndim != 2 or t.shape != (s.shape[0],):
        raise ValueError(
            f"accuracy: need scores (N, C) and targets (N,), got {s.shape} and {t.shape}"
        )
    if t.size == 0:
        return float("nan")
    return float(np.mean(np.argmax(s, axis=1) == t))
