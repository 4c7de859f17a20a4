"""Stateless functions for networks: activations, losses (cross-entropy with class weights
and label smoothing, NLL, BCE, L1, Huber, KL, the lectures' SVM loss, ...) and, re-exported
from their modules, convolution, pooling, normalization, embedding and attention.

Every function is composed of chainrule primitives, so it is differentiable to any order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import kernels as K
from .. import ops, rules
from .. import rules_nn as RN
from ..ops import linear, relu, sigmoid, tanh
from ..tensor import (
    Tensor,
    _is_traced,
    _jit_tracing,
    _note_rng,
    apply,
    apply_cross_entropy,
    as_tensor,
)

__all__ = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "erf",
    "gelu",
    "silu",
    "leaky_relu",
    "elu",
    "softplus",
    "logsigmoid",
    "softmax",
    "log_softmax",
    "dropout",
    "embedding",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "kl_div",
    "svm_loss",
    "multi_margin_loss",
    "mse_loss",
    "l2_penalty",
    "accuracy",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "pad",
    "unfold",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
]

_REDUCTIONS = ("mean", "sum", "none")


def _scores_and_targets(op: str, scores: Any, targets: Any) -> tuple[Tensor, np.ndarray]:
    """Check (N, C) scores and N integer labels in [0, C); return them as (Tensor, array)."""
    scores = scores if isinstance(scores, Tensor) else as_tensor(scores)
    labels = targets._data if isinstance(targets, Tensor) else np.asarray(targets)
    shape = scores._data.shape  # read once: this runs on every training step
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


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _legacy_reduction(op: str, size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` flags turned into a reduction; a
    string in the ``size_average`` slot is the reduction itself (chainrule's older
    positional form, ``mse_loss(a, b, "sum")``)."""
    if isinstance(size_average, str):
        reduction, size_average = size_average, None
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else bool(size_average)
        reduce = True if reduce is None else bool(reduce)
        reduction = ("mean" if size_average else "sum") if reduce else "none"
    _check_reduction(op, reduction)
    return reduction


def _reduce_all(op: str, loss: Tensor, reduction: str) -> Tensor:
    """Reduce an elementwise loss: mean over every element, sum, or none."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return ops.sum(loss)
    if loss.size == 0:
        raise ValueError(f"{op}: reduction='mean' over an empty tensor")
    return ops.sum(loss) * (1.0 / loss.size)


def _same_shape(op: str, input: Tensor, target: Any) -> None:
    tshape = np.shape(target._data if isinstance(target, Tensor) else target)
    if input.shape != tuple(tshape):
        raise ValueError(
            f"{op}: input shape {input.shape} and target shape {tuple(tshape)} differ; "
            f"reshape one of them (broadcasting here is almost always a bug)"
        )


def _constant(op: str, name: str, value: Any, dtype: Any) -> np.ndarray | None:
    """A non-differentiable per-class array (``weight``, ``pos_weight``) as ``dtype``."""
    if value is None:
        return None
    arr = np.asarray(value.data if isinstance(value, Tensor) else value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{op}: {name} must be numeric, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


# --------------------------------------------------------------------------- activations


def erf(input: Any) -> Tensor:
    """The error function, (2/sqrt(pi)) * integral of exp(-t^2) from 0 to x (Cody's
    rational approximations, float64 to about 1e-16); its derivative is
    2/sqrt(pi) exp(-x^2).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.functional.erf(cr.tensor(1.0)).item(), 10)
    0.8427007929
    """
    return apply(RN.erf, (_t(input),))


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, x * Phi(x) = x/2 (1 + erf(x / sqrt 2)); with
    ``approximate="tanh"`` the tanh form x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.functional.gelu(cr.tensor(1.0)).item(), 6)
    0.841345
    """
    x = _t(input)
    if approximate == "none":
        return x * (apply(RN.erf, (x * _SQRT_HALF,)) + 1.0) * 0.5
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI
        return x * (ops.tanh(inner) + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Any, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.functional.silu(cr.tensor(1.0)).item(), 6)
    0.731059
    """
    x = _t(input)
    return x * ops.sigmoid(x)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, ``negative_slope`` * x otherwise. Written as
    slope * x + (1 - slope) * relu(x), so the gradient at 0 is the slope (as in PyTorch).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.leaky_relu(cr.tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    """
    x = _t(input)
    slope = float(negative_slope)
    return x * slope + ops.relu(x) * (1.0 - slope)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha (exp(x) - 1) otherwise; the gradient at 0 is alpha, as in PyTorch
    (exp sees x clipped to <= 0, so it never overflows).

    Examples
    --------
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.functional.elu(cr.tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]
    """
    x = _t(input)
    return ops.relu(x) + (ops.exp(ops.clip(x, None, 0.0)) - 1.0) * float(alpha)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/beta) log(1 + exp(beta x)), and x itself where beta x > threshold (PyTorch's
    linear regime, for stability).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.functional.softplus(cr.tensor(0.0)).item(), 6)
    0.693147
    """
    x = _t(input)
    beta = float(beta)
    bx = x * beta if beta != 1.0 else x
    smooth = apply(RN.softplus, (bx,))
    if beta != 1.0:
        smooth = smooth * (1.0 / beta)
    return ops.where(bx > float(threshold), x, smooth)


def logsigmoid(input: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed stably.

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.functional.logsigmoid(cr.tensor(0.0)).item(), 4)
    -0.6931
    """
    return -apply(RN.softplus, (-_t(input),))


def _softmax_dim(op: str, ndim: int, dim: Any, axis: Any) -> int:
    if dim is not None and axis is not None and dim != axis:
        raise ValueError(f"{op}: give dim or axis, not both ({dim} and {axis})")
    if dim is None:
        dim = axis
    if dim is None:
        # PyTorch's implicit choice (deprecated there): 0 for 0-, 1- and 3-d inputs, else 1.
        return 0 if ndim in (0, 1, 3) else 1
    return int(dim)


def softmax(
    input: Any,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: Any = None,
    *,
    axis: int | None = None,
) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``axis`` is accepted as NumPy's name).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.softmax(cr.tensor([[0.0, 0.0]]), dim=1).tolist()
    [[0.5, 0.5]]
    """
    x = _t(input) if dtype is None else _t(input).astype(dtype)
    return ops.softmax(x, _softmax_dim("softmax", x.ndim, dim, axis))


def log_softmax(
    input: Any,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: Any = None,
    *,
    axis: int | None = None,
) -> Tensor:
    """x - logsumexp(x) along ``dim`` (stable); ``axis`` is accepted as NumPy's name.

    Examples
    --------
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.functional.log_softmax(cr.tensor([0.0, 0.0]), 0).tolist()]
    [-0.6931, -0.6931]
    """
    x = _t(input) if dtype is None else _t(input).astype(dtype)
    return ops.log_softmax(x, _softmax_dim("log_softmax", x.ndim, dim, axis))


def dropout(
    input: Any, p: float = 0.5, training: bool = True, inplace: bool = False, *, seed: Any = None
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) when
    ``training``; the identity otherwise. ``seed`` makes the mask repeatable.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.dropout(cr.ones(4), 0.5, training=False).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = _t(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    if _jit_tracing():  # a program draws a new mask at every call
        _note_rng(seed)
        return x * apply(RN.dropout_mask, (x,), {"p": float(p), "seed": seed})
    return x * K.dropout_mask(x._data, p, seed)


def embedding(
    input: Any,
    weight: Any,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input`` (any
    shape): output shape ``input.shape + (dim,)``. The row at ``padding_idx`` receives no
    gradient; ``max_norm`` renormalises picked rows whose norm exceeds it, in place (as
    PyTorch does).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([[0.0, 1.0], [2.0, 3.0]])
    >>> cr.nn.functional.embedding([1, 1, 0], w).tolist()
    [[2.0, 3.0], [2.0, 3.0], [0.0, 1.0]]
    """
    weight = _t(weight)
    if _is_traced(input):
        return _traced_embedding(input, weight, padding_idx, max_norm, scale_grad_by_freq, sparse)
    idx = np.asarray(input._data if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got {weight.shape}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.flat[np.argmax((idx < 0) | (idx >= n))])
        raise IndexError(
            f"embedding: index {bad} is out of range for {n} embeddings (weight {weight.shape})"
        )
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {n} rows")
        padding_idx %= n
    if max_norm is not None:
        rows = np.unique(idx)
        w = np.asarray(weight.data)
        norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w = w.copy()  # copy on write: graphs that saved the old weight keep it
        w[rows] *= scale[:, None]
        weight.data = w
    picked = ops.getitem(weight, idx)
    if padding_idx is not None:
        # The padding row keeps its value but gets no gradient (PyTorch's rule).
        mask = (idx != padding_idx)[..., None]
        picked = ops.where(mask, picked, picked.detach())
    return picked


def _traced_embedding(
    idx: Tensor, weight: Tensor, padding_idx: Any, max_norm: Any, scale: bool, sparse: bool
) -> Tensor:
    """``embedding`` of indices that are a traced input: the range check and the padding
    mask are operations of the program."""
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got {weight.shape}")
    if scale or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported")
    if max_norm is not None:  # renormalises the picked rows in place: needs their values
        from ..tensor import _concrete

        _concrete(
            idx,
            "embedding(max_norm=...)",
            advice=(
                "the rows renormalised in place would be this call's. Renormalise the weight "
                "outside the jitted function."
            ),
        )
    n = weight.shape[0]
    checked = apply(rules.label_check, (idx,), {"shape": (idx.size, n), "op": "embedding"})
    picked = ops.getitem(weight, checked)
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {n} rows")
        mask = ops.reshape(checked != padding_idx % n, *idx.shape, 1)
        picked = ops.where(mask, picked, picked.detach())
    return picked


# --------------------------------------------------------------------------- losses


def _class_rows(op: str, scores: Tensor, label_shape: tuple) -> tuple[Tensor, tuple]:
    """(N, C, d1, ...) scores (or (C,) for one sample) as (M, C) rows, one per label,
    after checking the labels' shape against them; also the per-element output shape."""
    shape = scores.shape
    if len(shape) == 0:
        raise ValueError(f"{op}: input must have a class axis, got shape {shape}")
    out_shape: tuple = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if tuple(label_shape) != out_shape:
        raise ValueError(
            f"{op}: targets must have shape {out_shape} to match scores of shape {shape}, "
            f"got shape {tuple(label_shape)}"
        )
    if len(shape) == 1:  # one unbatched sample: (C,) scores, a 0-d label
        return ops.reshape(scores, 1, shape[0]), out_shape
    if len(shape) > 2:
        axes = (0,) + tuple(range(2, len(shape))) + (1,)
        return ops.reshape(ops.transpose(scores, axes), -1, shape[1]), out_shape
    return scores, out_shape


def _class_targets(
    op: str, scores: Tensor, targets: Any, ignore_index: int | None
) -> tuple[Tensor, np.ndarray, np.ndarray | None, tuple]:
    """(N, C, d1, ...) scores and (N, d1, ...) labels as (M, C) rows and M labels, with
    the mask of labels to ignore (None when none is); also the per-element output shape."""
    labels = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "b" or not (labels.size and np.all(np.equal(np.mod(labels, 1), 0))):
            raise TypeError(f"{op}: targets must be integer class labels, got dtype {labels.dtype}")
        labels = labels.astype(np.int64)
    shape = scores.shape
    scores, out_shape = _class_rows(op, scores, labels.shape)
    labels = labels.reshape(-1)
    ignored = None
    if ignore_index is not None:
        hit = labels == ignore_index
        if hit.any():
            ignored = hit
            labels = np.where(hit, 0, labels)
    ops.first_bad_label(op, labels, shape[1] if len(shape) > 1 else shape[0], shape)
    return scores, labels, ignored, out_shape


def _traced_class_loss(
    op: str,
    scores: Tensor,
    targets: Tensor,
    weight: Any,
    ignore_index: int | None,
    reduction: str,
    label_smoothing: float = 0.0,
    from_logits: bool = True,
) -> Tensor:
    """The class-label losses (cross_entropy, nll_loss) when the labels are a traced input
    (``cr.jit`` of a loss of its arguments): every step that reads the labels is an
    operation of the program (the ignore mask, a range check, one-hot rows), so each call
    computes with its own labels. Same values and gradients as the eager path."""
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class labels, got dtype {targets.dtype}")
    rows, out_shape = _class_rows(op, scores, targets.shape)
    n, n_classes = rows.shape
    labels = ops.reshape(targets, -1)
    keep = None
    if ignore_index is not None:
        keep = labels != ignore_index
        labels = ops.where(keep, labels, 0)
    labels = apply(rules.label_check, (labels,), {"shape": (n, n_classes), "op": op})
    onehot = apply(rules.one_hot, (labels,), {"n": n_classes, "dtype": rows.dtype})
    logp = ops.log_softmax(rows, 1) if from_logits else rows
    w = _class_weight(op, weight, n_classes, rows.dtype)
    counted = None  # each sample's weight in the mean (None: every sample counts 1)
    if w is not None:
        counted = ops.matmul(onehot, w)
    if keep is not None:
        counted = ops.where(keep, 1.0 if counted is None else counted, 0.0)
        if counted.dtype != rows.dtype:
            counted = counted.astype(rows.dtype)
    per = -ops.sum(logp * onehot, axis=1)
    if counted is not None:
        per = per * counted

    def reduce(per_sample: Tensor) -> Tensor:
        if reduction == "none":
            return ops.reshape(per_sample, out_shape)
        total = ops.sum(per_sample)
        if reduction == "sum":
            return total
        if counted is None:
            if n == 0:
                raise ValueError(f"{op}: reduction='mean' over an empty batch")
            return total * (1.0 / n)
        return total / ops.sum(counted)  # 0/0 = NaN when nothing counts, as in PyTorch

    loss = reduce(per)
    if not label_smoothing:
        return loss
    smooth = -(ops.sum(logp * w, axis=1) if w is not None else ops.sum(logp, axis=1))
    if keep is not None:
        smooth = ops.where(keep, smooth, 0.0)
    return loss * (1.0 - label_smoothing) + reduce(smooth) * (label_smoothing / n_classes)


def _weighted_nll(
    op: str,
    logp: Tensor,
    labels: np.ndarray,
    ignored: np.ndarray | None,
    weight: np.ndarray | None,
    reduction: str,
    out_shape: tuple,
) -> Tensor:
    """-w[y_i] logp[i, y_i], 0 for ignored rows; the mean divides by the sum of the
    weights of the rows counted (PyTorch's weighted mean)."""
    per = -_pick(logp, labels)
    w = None
    if weight is not None:
        w = weight[labels]
    if ignored is not None:
        keep = (~ignored).astype(logp.dtype)
        w = keep if w is None else w * keep
    if w is not None:
        per = per * w
    if reduction == "none":
        return ops.reshape(per, out_shape)
    total = ops.sum(per)
    if reduction == "sum":
        return total
    denom = float(len(labels)) if w is None else float(np.sum(w, dtype=np.float64))
    if denom == 0.0:
        # Everything ignored (or zero weights): 0/0 is NaN, as in PyTorch.
        return total * float("nan")
    return total * (1.0 / denom)


def nll_loss(
    log_probs: Any,
    targets: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: ``-weight[t_i] * log_probs[i, t_i]``, averaged by default
    (divided by the summed weights of the counted samples, as PyTorch does). Labels equal
    to ``ignore_index`` count nothing. Inputs (N, C) or (N, C, d1, ...) with labels
    (N, d1, ...).

    Examples
    --------
    >>> import chainrule as cr
    >>> lp = cr.log_softmax(cr.tensor([[0.0, 0.0]]))
    >>> round(cr.nn.functional.nll_loss(lp, [1]).item(), 4)
    0.6931
    """
    if isinstance(weight, str):  # chainrule's older positional form nll_loss(x, y, "sum")
        weight, reduction = None, weight
    reduction = _legacy_reduction("nll_loss", size_average, reduce, reduction)
    log_probs = _t(log_probs)
    if _is_traced(targets):
        return _traced_class_loss(
            "nll_loss", log_probs, targets, weight, ignore_index, reduction, from_logits=False
        )
    fast = None
    if weight is None and log_probs.ndim == 2:
        fast = _fast_targets("nll_loss", log_probs, targets, ignore_index)
    if fast is not None:
        log_probs, labels = fast
        picked = _pick(log_probs, labels)
        if reduction == "none":
            return -picked
        n = labels.shape[0]
        if reduction == "sum":
            return ops.sum(picked) * -1.0
        if n == 0:
            raise ValueError("nll_loss: reduction='mean' over an empty batch")
        return ops.sum(picked) * (-1.0 / n)
    rows, labels, ignored, out_shape = _class_targets("nll_loss", log_probs, targets, ignore_index)
    w = _class_weight("nll_loss", weight, rows.shape[1], rows.dtype)
    return _weighted_nll("nll_loss", rows, labels, ignored, w, reduction, out_shape)


def _fast_targets(op: str, scores: Tensor, targets: Any, ignore_index: int) -> Any:
    """(scores, labels) checked for the plain (N, C) path, or None when some label is
    ``ignore_index`` (the general path handles it). The common case costs no extra pass:
    an ignored label is out of range, so it only shows up as the range error."""
    try:
        scores, labels = _scores_and_targets(op, scores, targets)
    except IndexError:
        labels = np.asarray(targets._data if isinstance(targets, Tensor) else targets)
        if np.any(labels == ignore_index):
            return None
        raise
    if 0 <= ignore_index < scores.shape[1] and np.any(labels == ignore_index):
        return None  # an ignored label that is also a class index
    return scores, labels


def _class_weight(op: str, weight: Any, n_classes: int, dtype: Any) -> np.ndarray | None:
    w = _constant(op, "weight", weight, dtype)
    if w is not None and w.shape != (n_classes,):
        raise ValueError(
            f"{op}: weight must have shape ({n_classes},) (one per class), got shape {w.shape}"
        )
    return w


def cross_entropy(
    logits: Any,
    targets: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy, ``-log softmax(logits)[i, targets[i]]``, computed stably
    through log-softmax (no exp overflow, no log of 0), from primitives only, so it has
    derivatives of any order.

    Parameters
    ----------
    logits:
        (N, C) unnormalised class scores (or (N, C, d1, ...), or (C,) for one sample).
    targets:
        N integer labels in [0, C) (or (N, d1, ...)); or class probabilities of the
        logits' shape.
    weight:
        Optional (C,) class weights: each sample's loss is scaled by its class's weight
        and the mean divides by the summed weights (PyTorch's weighted mean).
    ignore_index:
        Labels equal to it count nothing (default -100).
    reduction:
        ``"mean"`` (default), ``"sum"`` or ``"none"`` (one loss per sample).
    label_smoothing:
        In [0, 1]: the target is mixed with the uniform distribution, as in PyTorch.

    Notes
    -----
    Without weight, label smoothing and ignored labels, (N, C) scores take one fused
    primitive (gradient (softmax - onehot) g).

    Examples
    --------
    >>> import chainrule as cr
    >>> logits = cr.tensor([[2.0, 1.0, 0.1]], requires_grad=True)
    >>> loss = cr.nn.functional.cross_entropy(logits, [0])
    >>> round(loss.item(), 4)
    0.417
    """
    if isinstance(weight, str):  # chainrule's older positional form cross_entropy(x, y, "sum")
        weight, reduction = None, weight
    reduction = _legacy_reduction("cross_entropy", size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    logits = logits if isinstance(logits, Tensor) else as_tensor(logits)
    raw = targets._data if isinstance(targets, Tensor) else np.asarray(targets)
    if raw.dtype.kind == "f" and raw.shape == logits.shape and logits.ndim >= 1:
        return _soft_cross_entropy(logits, targets, weight, reduction, label_smoothing)
    if _is_traced(targets):
        return _traced_class_loss(
            "cross_entropy", logits, targets, weight, ignore_index, reduction, label_smoothing
        )
    fast = None
    if weight is None and label_smoothing == 0.0 and len(logits._data.shape) == 2:
        fast = _fast_targets("cross_entropy", logits, raw, ignore_index)
    if fast is not None:
        logits, labels = fast
        if reduction == "mean" and labels.shape[0] == 0:
            raise ValueError("cross_entropy: reduction='mean' over an empty batch")
        # One fused primitive (log-softmax, pick, reduce; gradient (softmax - onehot) g); the
        # inputs were checked above, so the primitive is applied directly.
        loss = apply_cross_entropy(logits, labels, reduction)
        if loss is not None:
            return loss
        logp = apply(rules.log_softmax, (logits,), {"axis": 1})
        return apply(rules.cross_entropy, (logits, logp, labels), {"reduction": reduction})
    rows, labels, ignored, out_shape = _class_targets("cross_entropy", logits, raw, ignore_index)
    n_classes = rows.shape[1]
    w = _class_weight("cross_entropy", weight, n_classes, rows.dtype)
    if reduction == "mean" and len(labels) == 0:
        raise ValueError("cross_entropy: reduction='mean' over an empty batch")
    logp = ops.log_softmax(rows, 1)
    nll = _weighted_nll("cross_entropy", logp, labels, ignored, w, reduction, out_shape)
    if label_smoothing == 0.0:
        return nll
    # PyTorch's smoothing term: -sum_c w_c log p_c per sample (0 where ignored), reduced
    # like the NLL part, then mixed: (1 - eps) nll + eps / C * smooth.
    smooth = -(ops.sum(logp * w, axis=1) if w is not None else ops.sum(logp, axis=1))
    keep = None if ignored is None else (~ignored).astype(rows.dtype)
    if keep is not None:
        smooth = smooth * keep
    if reduction == "none":
        smooth = ops.reshape(smooth, out_shape)
    elif reduction == "sum":
        smooth = ops.sum(smooth)
    else:
        if w is not None:
            denom = float(np.sum(w[labels] * (1.0 if keep is None else keep), dtype=np.float64))
        else:
            denom = float(len(labels) if keep is None else keep.sum())
        smooth = ops.sum(smooth) * ((1.0 / denom) if denom else float("nan"))
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _soft_cross_entropy(
    logits: Tensor, targets: Any, weight: Any, reduction: str, label_smoothing: float
) -> Tensor:
    """Cross-entropy against class probabilities (targets of the logits' shape)."""
    class_axis = 0 if logits.ndim == 1 else 1
    n_classes = logits.shape[class_axis]
    if weight is None and label_smoothing == 0.0 and logits.ndim == 2:
        return ops.softmax_cross_entropy(logits, targets, reduction)
    t = _t(targets)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / n_classes
    logp = ops.log_softmax(logits, class_axis)
    w = _class_weight("cross_entropy", weight, n_classes, logits.dtype)
    if w is not None:
        shape = [1] * logits.ndim
        shape[class_axis] = n_classes
        logp = logp * w.reshape(shape)
    per = -ops.sum(logp * t, axis=class_axis)
    if reduction == "none":
        return per
    total = ops.sum(per)
    if reduction == "sum":
        return total
    # The mean over samples (and positions): PyTorch does not divide by the weights here.
    return total * (1.0 / max(per.size, 1))


def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1], each log clamped
    to >= -100 as PyTorch does (so x = 0 or 1 gives a finite loss; its gradient there is
    0, where PyTorch's is a large finite number).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.functional.binary_cross_entropy(cr.tensor([0.8]), cr.tensor([1.0])).item(), 4)
    0.2231
    """
    reduction = _legacy_reduction("binary_cross_entropy", size_average, reduce, reduction)
    x = _t(input)
    _same_shape("binary_cross_entropy", x, target)
    xr = np.asarray(x._data)  # (under cr.jit: the traced call's values)
    if xr.size and not (np.all(xr >= 0) and np.all(xr <= 1)):
        raise ValueError(
            "binary_cross_entropy: all elements of input must be probabilities in [0, 1] "
            "(for logits use binary_cross_entropy_with_logits)"
        )
    t = target if isinstance(target, Tensor) else as_tensor(np.asarray(target, dtype=x.dtype))
    tiny = math.exp(-100.0)
    log_x = ops.clip(ops.log(ops.clip(x, tiny, None)), -100.0, None)
    log_1mx = ops.clip(ops.log(ops.clip(1.0 - x, tiny, None)), -100.0, None)
    loss = -(t * log_x + (1.0 - t) * log_1mx)
    w = _constant("binary_cross_entropy", "weight", weight, x.dtype)
    if w is not None:
        loss = loss * w
    return _reduce_all("binary_cross_entropy", loss, reduction)


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable expression:
    w [(1 - t) x + (1 + (p - 1) t) softplus(-x)] with p = ``pos_weight`` (broadcast over
    the last axis: one weight per class), which equals
    -w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] without overflow.

    Examples
    --------
    >>> import chainrule as cr
    >>> F = cr.nn.functional
    >>> round(F.binary_cross_entropy_with_logits(cr.tensor([0.0]), cr.tensor([1.0])).item(), 4)
    0.6931
    """
    reduction = _legacy_reduction(
        "binary_cross_entropy_with_logits", size_average, reduce, reduction
    )
    x = _t(input)
    _same_shape("binary_cross_entropy_with_logits", x, target)
    t = target if isinstance(target, Tensor) else as_tensor(np.asarray(target, dtype=x.dtype))
    sp = apply(RN.softplus, (-x,))  # -log sigmoid(x)
    pw = _constant("binary_cross_entropy_with_logits", "pos_weight", pos_weight, x.dtype)
    if pw is None:
        loss = (1.0 - t) * x + sp
    else:
        try:
            np.broadcast_shapes(pw.shape, x.shape)
        except ValueError:
            raise ValueError(
                f"binary_cross_entropy_with_logits: pos_weight of shape {pw.shape} does not "
                f"broadcast against input of shape {x.shape}"
            ) from None
        loss = (1.0 - t) * x + (t * (pw - 1.0) + 1.0) * sp
    w = _constant("binary_cross_entropy_with_logits", "weight", weight, x.dtype)
    if w is not None:
        loss = loss * w
    return _reduce_all("binary_cross_entropy_with_logits", loss, reduction)


def mse_loss(
    input: Any, target: Any, size_average: Any = None, reduce: Any = None, reduction: str = "mean"
) -> Tensor:
    """Mean squared error ``mean((input - target)**2)``; shapes must match exactly
    (silent broadcasting of (N,) against (N, 1) is a classic bug).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.mse_loss(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0])).item()
    5.0
    """
    reduction = _legacy_reduction("mse_loss", size_average, reduce, reduction)
    input = _t(input)
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce_all("mse_loss", diff * diff, reduction)


def l1_loss(
    input: Any, target: Any, size_average: Any = None, reduce: Any = None, reduction: str = "mean"
) -> Tensor:
    """Mean absolute error ``mean(|input - target|)`` (gradient 0 where they are equal).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.l1_loss(cr.tensor([1.0, -3.0]), cr.tensor([0.0, 0.0])).item()
    2.0
    """
    reduction = _legacy_reduction("l1_loss", size_average, reduce, reduction)
    input = _t(input)
    _same_shape("l1_loss", input, target)
    return _reduce_all("l1_loss", ops.abs(input - target), reduction)


def smooth_l1_loss(
    input: Any,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target);
    ``beta=0`` is the L1 loss.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0])).item()
    1.3125
    """
    reduction = _legacy_reduction("smooth_l1_loss", size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    input = _t(input)
    _same_shape("smooth_l1_loss", input, target)
    d = input - target
    ad = ops.abs(d)
    if beta == 0.0:
        return _reduce_all("smooth_l1_loss", ad, reduction)
    loss = ops.where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce_all("smooth_l1_loss", loss, reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.huber_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0])).item()
    1.3125
    """
    _check_reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    input = _t(input)
    _same_shape("huber_loss", input, target)
    d = input - target
    ad = ops.abs(d)
    loss = ops.where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _reduce_all("huber_loss", loss, reduction)


def kl_div(
    input: Any,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence with ``input`` holding log-probabilities: pointwise
    t (log t - input) (0 where t = 0), or exp(t) (t - input) with ``log_target``.
    ``reduction="batchmean"`` divides the sum by the batch size (the true KL divergence);
    ``"mean"`` by the number of elements, as PyTorch does.

    Examples
    --------
    >>> import chainrule as cr
    >>> p = cr.tensor([[0.5, 0.5]])
    >>> round(cr.nn.functional.kl_div(cr.log(cr.tensor([[0.25, 0.75]])), p,
    ...       reduction="batchmean").item(), 4)
    0.1438
    """
    if isinstance(size_average, str):
        reduction, size_average = size_average, None
    if reduction != "batchmean":
        reduction = _legacy_reduction("kl_div", size_average, reduce, reduction)
    x = _t(input)
    _same_shape("kl_div", x, target)
    t = _t(target)
    if log_target:
        loss = ops.exp(t) * (t - x)
    else:
        positive = t > 0
        # t log t is taken as 0 at t = 0 (its limit); the inner where keeps log away from 0
        # so that neither the value nor the gradient sees log(0).
        t_log_t = ops.where(positive, t * ops.log(ops.where(positive, t, 1.0)), 0.0)
        loss = t_log_t - t * x
    if reduction == "batchmean":
        if x.ndim == 0:
            return ops.sum(loss)
        return ops.sum(loss) * (1.0 / max(x.shape[0], 1))
    return _reduce_all("kl_div", loss, reduction)


def _margins(op: str, scores: Any, targets: Any, margin: float) -> tuple[Tensor, np.ndarray]:
    """max(0, s_j - s_y + margin) for every class j, with the j == y entries set to 0."""
    if _is_traced(targets):
        return _traced_margins(op, _t(scores), targets, margin)
    scores, labels = _scores_and_targets(op, scores, targets)
    correct = _pick(scores, labels, keepdims=True)
    hinge = ops.relu(scores - (correct - margin))
    # The j == y term would be max(0, margin); the lectures' sum runs over j != y only.
    # Multiplying by a 0/1 mask also stops its (cancelling) gradient cleanly.
    wrong = np.ones(scores.shape, dtype=scores.dtype)
    wrong[np.arange(labels.shape[0]), labels] = 0
    return hinge * wrong, labels


def _traced_margins(op: str, scores: Tensor, targets: Tensor, margin: float) -> tuple:
    """``_margins`` for labels that are a traced input: the label's column is picked and
    masked with one-hot rows (operations of the program), not with the labels' values."""
    if scores.ndim != 2:
        raise ValueError(
            f"{op}: scores must have shape (N, C) (one row of class scores per sample), "
            f"got shape {scores.shape}"
        )
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class labels, got dtype {targets.dtype}")
    if targets.shape != scores.shape[:1]:
        raise ValueError(
            f"{op}: targets must have shape ({scores.shape[0]},) to match scores of shape "
            f"{scores.shape}, got shape {targets.shape}"
        )
    labels = apply(rules.label_check, (targets,), {"shape": scores.shape, "op": op})
    onehot = apply(rules.one_hot, (labels,), {"n": scores.shape[1], "dtype": scores.dtype})
    correct = ops.sum(scores * onehot, axis=1, keepdims=True)
    hinge = ops.relu(scores - (correct - margin))
    return hinge * (1.0 - onehot), onehot


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

    Examples
    --------
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
        if isinstance(labels, Tensor):  # the one-hot rows of traced labels
            hinge = hinge * ops.reshape(ops.matmul(labels, w.astype(hinge.dtype)), -1, 1)
        else:
            hinge = hinge * w[labels][:, None].astype(hinge.dtype)
    per_sample = ops.sum(hinge, axis=1) * (1.0 / n_classes)
    return _reduce("multi_margin_loss", per_sample, reduction)


def l2_penalty(params: Any) -> Tensor:
    """The lectures' L2 regulariser R(W) = sum of squares of every entry of every tensor.

    ``params`` is an iterable of Tensors (e.g. ``model.parameters()``), a Module or one
    Tensor. Add ``reg * l2_penalty(...)`` to the loss; its gradient is ``2 * reg * W``.

    Examples
    --------
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

    Examples
    --------
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


# Convolution, pooling, normalization and attention live in their own modules (next to
# their layers); their functional forms are part of this namespace, as in PyTorch.
from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402
from .conv import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    max_pool1d,
    max_pool2d,
    pad,
    unfold,
)
from .normalization import batch_norm, group_norm, layer_norm  # noqa: E402
