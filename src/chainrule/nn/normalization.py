"""Normalization: batch_norm (running statistics, train/eval), layer_norm and group_norm,
as functions and as the layers BatchNorm1d/2d, LayerNorm and GroupNorm.

Composed of mean, subtraction, multiplication and sqrt, so every derivative (the batch
statistics included) comes from the primitives' rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import ConcretizationError, Tensor, _jit_tracing, as_tensor, no_grad
from .module import Module, _initial

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "GroupNorm",
    "LayerNorm",
    "batch_norm",
    "group_norm",
    "layer_norm",
]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _raw(x: Any) -> Any:
    return None if x is None else (x._data if isinstance(x, Tensor) else np.asarray(x))


def _per_channel(v: Any, ndim: int, dtype: Any) -> Any:
    """A (C,) vector shaped (1, C, 1, ...) to broadcast over (N, C, *spatial)."""
    shape = (1, -1) + (1,) * (ndim - 2)
    if isinstance(v, Tensor):
        return ops.reshape(v, shape)
    return np.asarray(v, dtype=dtype).reshape(shape)


def _normalize(x: Tensor, axes: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance), differentiable in x
    through both statistics."""
    centered = x - ops.mean(x, axis=axes, keepdims=True)
    var = ops.mean(centered * centered, axis=axes, keepdims=True)
    return centered * (1.0 / ops.sqrt(var + eps))


def batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over (N, C, *): per channel, (x - mean) / sqrt(var + eps) *
    weight + bias.

    With ``training`` the batch's statistics are used (biased variance, gradients flow
    through them) and the running ones, when given, are updated in place:
    running = (1 - momentum) running + momentum * batch, with the unbiased variance (as
    PyTorch). Otherwise the running statistics normalize.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0], [3.0]])
    >>> rm, rv = cr.zeros(1), cr.ones(1)
    >>> cr.nn.functional.batch_norm(x, rm, rv, training=True, eps=0.0).tolist()
    [[-1.0], [1.0]]
    >>> rm.tolist(), rv.tolist()
    ([0.2], [1.1])
    """
    x = _t(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, *), got shape {x.shape}")
    c = x.shape[1]
    for name, v in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if v is not None and tuple(np.shape(_raw(v))) != (c,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({c},) for input of shape {x.shape}, "
                f"got {tuple(np.shape(_raw(v)))}"
            )
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        count = x.size // c
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got "
                f"input of shape {x.shape}"
            )
        mean = ops.mean(x, axis=axes, keepdims=True)
        centered = x - mean
        var = ops.mean(centered * centered, axis=axes, keepdims=True)
        if running_mean is not None or running_var is not None:
            m = float(momentum)
            unbiased = count / (count - 1)
            if _jit_tracing():  # a traced program updates them at every call
                _update_traced(running_mean, mean, m, 1.0, c)
                _update_traced(running_var, var, m, unbiased, c)
            else:
                if running_mean is not None:
                    rm = _raw(running_mean)
                    rm *= 1.0 - m
                    rm += (m * mean._data.reshape(c)).astype(rm.dtype)
                if running_var is not None:
                    rv = _raw(running_var)
                    rv *= 1.0 - m
                    rv += (m * unbiased * var._data.reshape(c)).astype(rv.dtype)
        out = centered * (1.0 / ops.sqrt(var + eps))
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "batch_norm: running_mean and running_var are needed when not training"
            )
        if _jit_tracing():  # the statistics are read at every call of a traced program
            mean = _per_channel(_t(running_mean), x.ndim, x.dtype).astype(x.dtype)
            var = _per_channel(_t(running_var), x.ndim, x.dtype).astype(x.dtype)
            out = (x - mean) * (1.0 / ops.sqrt(var + eps))
        else:
            mean = _per_channel(_raw(running_mean), x.ndim, x.dtype)
            inv_std = 1.0 / np.sqrt(_per_channel(_raw(running_var), x.ndim, x.dtype) + eps)
            out = (x - mean) * inv_std.astype(x.dtype)
    if weight is not None:
        out = out * _per_channel(weight, x.ndim, x.dtype)
    if bias is not None:
        out = out + _per_channel(bias, x.ndim, x.dtype)
    return out


def _update_traced(running: Any, stat: Tensor, m: float, scale: float, c: int) -> None:
    """running = (1 - m) running + m * scale * stat, in place, with chainrule operations
    (no gradient): a traced program records it and makes it at every call."""
    if running is None:
        return
    if not isinstance(running, Tensor):
        raise TypeError(
            "batch_norm: inside cr.jit the running statistics must be Tensors (a Module's "
            f"buffers), got {type(running).__name__}"
        )
    with no_grad():
        new = ops.reshape(stat.detach(), c) * (m * scale)
        running.mul_(1.0 - m).add_(new.astype(running.dtype))


def layer_norm(
    input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` axes, then scale and shift
    elementwise (weight and bias of ``normalized_shape``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.layer_norm(cr.tensor([[1.0, 3.0]]), (2,), eps=0.0).tolist()
    [[-1.0, 1.0]]
    """
    x = _t(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.shape[x.ndim - k :] != shape or x.ndim < k:
        raise ValueError(
            f"layer_norm: expected input of shape (*, {', '.join(map(str, shape))}), got shape "
            f"{x.shape}"
        )
    out = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(
    input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Tensor:
    """Normalize (N, C, *) over groups of C / num_groups channels (and all positions),
    then scale and shift per channel.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.group_norm(cr.tensor([[[1.0], [3.0]]]), 1, eps=0.0).tolist()
    [[[-1.0], [1.0]]]
    """
    x = _t(input)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: expected input (N, C, *) with C divisible by num_groups={num_groups}, "
            f"got shape {x.shape}"
        )
    n, c = x.shape[:2]
    grouped = ops.reshape(x, n, num_groups, -1)
    out = ops.reshape(_normalize(grouped, (2,), eps), x.shape)
    if weight is not None:
        out = out * _per_channel(weight, x.ndim, x.dtype)
    if bias is not None:
        out = out + _per_channel(bias, x.ndim, x.dtype)
    return out


def _factory_dtype(dtype: Any, device: Any) -> np.dtype:
    if device not in (None, "cpu"):
        raise ValueError(f"only device='cpu' (or None) is supported, got {device!r}")
    return np.dtype(np.float32 if dtype is None else dtype)


class _BatchNorm(Module):
    _dims: tuple[int, ...] = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int")
        dtype = _factory_dtype(dtype, device)
        self.num_features = int(num_features)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = _initial(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = _initial(np.zeros(num_features, dtype=dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data = np.zeros_like(self.running_mean.data)
            self.running_var.data = np.ones_like(self.running_var.data)
            self.num_batches_tracked.data = np.int64(0)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )

    def forward(self, input: Any) -> Tensor:
        x = _t(input)
        name = f"{type(self).__name__}({self.num_features})"
        if x.ndim not in self._dims:
            raise ValueError(
                f"{name}: expected a {' or '.join(f'{d}-D' for d in self._dims)} input "
                f"{self._shape_text}, got shape {x.shape}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: expected {self.num_features} channels (input shape "
                f"{self._shape_text.replace('C', str(self.num_features))}), got shape {x.shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            if _jit_tracing():
                if self.momentum is None:
                    raise ConcretizationError(
                        f"{name}: momentum=None (a cumulative average, 1 / batches seen) "
                        f"inside cr.jit: the factor is a Python number the program would "
                        f"fix at its traced value; give a momentum, or train eagerly"
                    )
                with no_grad():
                    self.num_batches_tracked.add_(1)
            else:
                self.num_batches_tracked.data = self.num_batches_tracked._data + 1
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L), per feature C: batch statistics in
    training (running mean and variance updated with ``momentum``), the running ones in
    eval mode. Buffers ``running_mean``, ``running_var``, ``num_batches_tracked`` are in
    the state dict, as in PyTorch.

    Examples
    --------
    >>> import chainrule as cr
    >>> bn = cr.nn.BatchNorm1d(3)
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """

    _dims = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W), per channel (see BatchNorm1d).

    Examples
    --------
    >>> import chainrule as cr
    >>> bn = cr.nn.BatchNorm2d(4)
    >>> bn(cr.randn(8, 4, 5, 5, dtype="float32", seed=0)).shape, int(bn.num_batches_tracked)
    ((8, 4, 5, 5), 1)
    """

    _dims = (4,)
    _shape_text = "(N, C, H, W)"


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` axes, with elementwise
    weight (ones) and bias (zeros).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.LayerNorm(8)(cr.randn(2, 8, dtype="float32", seed=0)).shape
    (2, 8)
    """

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype = _factory_dtype(dtype, device)
        self.weight = (
            _initial(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None
        )
        self.bias = (
            _initial(np.zeros(self.normalized_shape, dtype=dtype))
            if elementwise_affine and bias
            else None
        )

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )

    def forward(self, input: Any) -> Tensor:
        x = _t(input)
        k = len(self.normalized_shape)
        if x.shape[max(x.ndim - k, 0) :] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm({self.normalized_shape}): expected input of shape "
                f"(*, {', '.join(map(str, self.normalized_shape))}), got shape {x.shape}"
            )
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class GroupNorm(Module):
    """Group normalization of (N, C, *) over groups of channels, per-channel weight and
    bias.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.GroupNorm(2, 4)(cr.randn(3, 4, 5, dtype="float32", seed=0)).shape
    (3, 4, 5)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        dtype = _factory_dtype(dtype, device)
        self.weight = _initial(np.ones(num_channels, dtype=dtype)) if affine else None
        self.bias = _initial(np.zeros(num_channels, dtype=dtype)) if affine else None

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def forward(self, input: Any) -> Tensor:
        x = _t(input)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm({self.num_groups}, {self.num_channels}): expected input of shape "
                f"(N, {self.num_channels}, *), got shape {x.shape}"
            )
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
