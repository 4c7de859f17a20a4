"""Convolution and pooling, as functions (``conv2d``, ``max_pool2d``, ...) and as the
PyTorch-named layers (``Conv2d``, ``MaxPool2d``, ...), NCHW.

Everything is built from two linear primitives, sliding windows (im2col) and their
scatter-back (col2im), plus a matmul or a reduction over the window axes: no Python loop
over pixels, and derivatives of any order come from the primitives' rules.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from .. import rules_nn as RN
from ..tensor import Tensor, as_tensor
from . import init
from .module import Module, Parameter, _initial

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "MaxPool1d",
    "MaxPool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batched_input",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
    "pad",
    "unfold",
]


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_NP_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _ntuple(op: str, name: str, value: Any, nd: int, minimum: int = 1) -> tuple[int, ...]:
    """An int or a length-``nd`` sequence of ints as a tuple, each >= ``minimum``."""
    if isinstance(value, (int, np.integer)):
        values = (int(value),) * nd
    else:
        try:
            values = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: {name} must be an int or {nd} ints, got {value!r}") from None
        if len(values) == 1:
            values *= nd
        if len(values) != nd:
            raise ValueError(f"{op}: {name} must be an int or {nd} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return values


_SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _expected(nd: int, channels: Any) -> str:
    names = ", ".join(_SPATIAL[nd])
    return f"(N, {channels}, {names}) or unbatched ({channels}, {names})"


def batched_input(op: str, x: Tensor, nd: int, channels: int | None = None) -> tuple[Tensor, bool]:
    """``x`` as (N, C, *spatial) and whether it was unbatched (C, *spatial); the errors
    name ``op`` (the layer), the expected and the actual shape.

    Examples
    --------
    >>> import chainrule as cr
    >>> x, unbatched = batched_input("conv2d", cr.ones(3, 8, 8), 2, channels=3)
    >>> x.shape, unbatched
    ((1, 3, 8, 8), True)
    """
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{op}: expected a {nd + 2}-D input "
            f"{_expected(nd, 'C' if channels is None else channels)}, got a {x.ndim}-D input "
            f"of shape {x.shape}"
        )
    unbatched = x.ndim == nd + 1
    c = x.shape[0] if unbatched else x.shape[1]
    if channels is not None and c != channels:
        raise ValueError(
            f"{op}: expected input of shape {_expected(nd, channels)} with {channels} channels, "
            f"got shape {x.shape} ({c} channels)"
        )
    if unbatched:
        x = ops.reshape(x, (1,) + x.shape)
    return x, unbatched


def _unbatch(out: Tensor, unbatched: bool) -> Tensor:
    return ops.reshape(out, out.shape[1:]) if unbatched else out


def _grid(op: str, spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    grid = tuple(
        (s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(spatial, kernel, stride, dilation)
    )
    if any(o < 1 for o in grid):
        eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise ValueError(
            f"{op}: the (padded) input of spatial size {tuple(spatial)} is smaller than the "
            f"(dilated) kernel {eff}"
        )
    return grid


def _same_padding(kernel: tuple, dilation: tuple) -> tuple:
    """PyTorch's padding='same': total d (k - 1), the odd one extra on the right."""
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _padding_pairs(op: str, padding: Any, nd: int, kernel: tuple, stride: tuple, dilation: tuple):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
            return _same_padding(kernel, dilation)
        raise ValueError(
            f"{op}: padding must be 'valid', 'same', an int or {nd} ints, got {padding!r}"
        )
    p = _ntuple(op, "padding", padding, nd, minimum=0)
    return tuple((v, v) for v in p)


def pad(input: Any, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` axes: ``pad`` = (left of the last axis, right of the
    last axis, left of the one before, ...), as PyTorch's ``F.pad``. Modes ``constant``
    (``value``, default 0), ``reflect``, ``replicate`` and ``circular``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.pad(cr.tensor([[1.0, 2.0]]), (1, 0)).tolist()
    [[0.0, 1.0, 2.0]]
    """
    x = _t(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: needs pairs for at most {x.ndim} axes, got {pad}")
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        if any(lo < 0 or hi < 0 for lo, hi in pairs):
            # negative padding crops, as in PyTorch
            crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pairs, x.shape))
            x = ops.getitem(x, crop)
            pairs = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
        return RN.pad_to(x, tuple(pairs), 0.0 if value is None else value)
    if mode not in _NP_PAD_MODE:
        raise ValueError(
            f"pad: unknown mode {mode!r}; expected constant, reflect, replicate or circular"
        )
    return _index_pad(x, pairs, _NP_PAD_MODE[mode])


def _index_pad(x: Tensor, pairs: Any, np_mode: str) -> Tensor:
    """Reflect / replicate / circular padding as a gather (its gradient scatters back)."""
    index: list[Any] = []
    padded = [i for i, (lo, hi) in enumerate(pairs) if lo or hi]
    for i, (lo, hi) in enumerate(pairs):
        if not (lo or hi):
            index.append(slice(None))
            continue
        if np_mode == "reflect" and max(lo, hi) >= x.shape[i]:
            raise ValueError(
                f"pad: reflect padding {max(lo, hi)} must be smaller than the axis size "
                f"{x.shape[i]} (shape {x.shape})"
            )
        idx = np.pad(np.arange(x.shape[i]), (lo, hi), mode=np_mode)
        shape = [1] * len(padded)
        shape[padded.index(i)] = len(idx)
        index.append(idx.reshape(shape))
    # Integer arrays for the padded axes broadcast into a grid; they must be adjacent in
    # the index for NumPy to keep their place, which holds because padding is trailing.
    return ops.getitem(x, tuple(index))


# --------------------------------------------------------------------------- convolution


def _conv(
    op: str,
    nd: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> Tensor:
    x, w = _t(input), _t(weight)
    if w.ndim != nd + 2:
        raise ValueError(
            f"{op}: weight must be {nd + 2}-D (out_channels, in_channels/groups, "
            f"{', '.join('k' + s for s in _SPATIAL[nd])}), got shape {w.shape}"
        )
    if groups < 1 or w.shape[0] % groups:
        raise ValueError(f"{op}: groups ({groups}) must divide out_channels ({w.shape[0]})")
    x, unbatched = batched_input(op, x, nd, w.shape[1] * groups)
    kernel = tuple(w.shape[2:])
    stride = _ntuple(op, "stride", stride, nd)
    dilation = _ntuple(op, "dilation", dilation, nd)
    pairs = _padding_pairs(op, padding, nd, kernel, stride, dilation)
    xp = RN.pad_to(x, ((0, 0), (0, 0)) + tuple(pairs))
    grid = _grid(op, xp.shape[2:], kernel, stride, dilation)
    cols = RN.windows(
        xp, **RN.window_params(xp.shape, kernel, stride, dilation, grid, RN.is_channel_major(xp))
    )
    n, c = x.shape[:2]
    o = w.shape[0]
    ck = (c // groups) * math.prod(kernel)
    nd = len(kernel)
    # im2col in the (C * k..., N * positions) layout: the windows' channel and kernel axes
    # first, so the contraction is ONE matmul (O, CK) @ (CK, N*P), and so are both of its
    # gradients (batched or broadcast matmuls fall off BLAS's fast path). The reshape copies
    # the windows once; the output's memory is (O, N, *grid), seen as (N, O, *grid).
    front = (1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd))
    cols = ops.transpose(cols, front)
    positions = n * math.prod(grid)
    if groups == 1:
        out = ops.matmul(ops.reshape(w, o, ck), ops.reshape(cols, ck, positions))
    else:
        out = ops.matmul(
            ops.reshape(w, groups, o // groups, ck), ops.reshape(cols, groups, ck, positions)
        )
        out = ops.reshape(out, o, positions)
    if bias is not None:
        b = _t(bias)
        if b.shape != (o,):
            raise ValueError(f"{op}: bias must have shape ({o},), got {b.shape}")
        out = out + ops.reshape(b, o, 1)
    out = ops.reshape(out, (o, n) + grid)
    return _unbatch(ops.transpose(out, (1, 0) + tuple(range(2, 2 + nd))), unbatched)


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation, as in PyTorch) of (N, C_in, L) with weight
    (C_out, C_in/groups, k).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    >>> cr.nn.functional.conv1d(x, cr.tensor([[[1.0, -1.0]]])).tolist()
    [[[-1.0, -1.0, -1.0]]]
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of (N, C_in, H, W) with weight
    (C_out, C_in/groups, kH, kW). ``padding`` is an int, a pair, ``"valid"`` or
    ``"same"``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.ones(1, 1, 4, 4)
    >>> cr.nn.functional.conv2d(x, cr.ones(2, 1, 3, 3), padding=1).shape
    (1, 2, 4, 4)
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(
    op: str,
    nd: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
) -> Tensor:
    x, w = _t(input), _t(weight)
    if w.ndim != nd + 2:
        raise ValueError(
            f"{op}: weight must be {nd + 2}-D (in_channels, out_channels/groups, "
            f"{', '.join('k' + s for s in _SPATIAL[nd])}), got shape {w.shape}"
        )
    if groups < 1 or w.shape[0] % groups:
        raise ValueError(f"{op}: groups ({groups}) must divide in_channels ({w.shape[0]})")
    x, unbatched = batched_input(op, x, nd, w.shape[0])
    kernel = tuple(w.shape[2:])
    stride = _ntuple(op, "stride", stride, nd)
    dilation = _ntuple(op, "dilation", dilation, nd)
    pads = _ntuple(op, "padding", padding, nd, minimum=0)
    extra = _ntuple(op, "output_padding", output_padding, nd, minimum=0)
    for e, st, d in zip(extra, stride, dilation):
        if e >= max(st, d):
            raise ValueError(
                f"{op}: output_padding {extra} must be smaller than stride {stride} or "
                f"dilation {dilation}"
            )
    n, cin = x.shape[:2]
    spatial = x.shape[2:]
    cout_g = w.shape[1]
    cout = cout_g * groups
    kprod = math.prod(kernel)
    nd = len(kernel)
    positions = n * math.prod(spatial)
    # The transpose of a convolution: each input pixel spreads W^T x over a window, the
    # windows are added back together (col2im), and the padding is cropped off. As in
    # _conv, one matmul on (C_in, N * positions).
    xt = ops.reshape(ops.transpose(x, (1, 0) + tuple(range(2, 2 + nd))), cin, positions)
    if groups == 1:
        cols = ops.matmul(ops.reshape(w, cin, cout_g * kprod).T, xt)
    else:
        wg = ops.reshape(w, groups, cin // groups, cout_g * kprod)
        cols = ops.matmul(
            ops.transpose(wg, 0, 2, 1), ops.reshape(xt, groups, cin // groups, positions)
        )
    cols = ops.reshape(cols, (cout,) + kernel + (n,) + tuple(spatial))
    back = (1 + nd, 0) + tuple(range(1, 1 + nd)) + tuple(range(2 + nd, 2 + 2 * nd))
    cols = ops.transpose(cols, back)
    full = tuple(
        (s - 1) * st + d * (k - 1) + 1 + e
        for s, k, st, d, e in zip(spatial, kernel, stride, dilation, extra)
    )
    if any(f - 2 * p < 1 for f, p in zip(full, pads)):
        raise ValueError(f"{op}: padding {pads} leaves no output for input shape {x.shape}")
    out = RN.window_sum(
        cols,
        # the columns come from a matmul on (C_out * k, N * positions): channel-major
        **RN.window_params((n, cout) + full, kernel, stride, dilation, tuple(spatial), True),
    )
    if any(pads):
        out = ops.getitem(
            out, (slice(None), slice(None)) + tuple(slice(p, f - p) for p, f in zip(pads, full))
        )
    if bias is not None:
        b = _t(bias)
        if b.shape != (cout,):
            raise ValueError(f"{op}: bias must have shape ({cout},), got {b.shape}")
        out = out + ops.reshape(b, (cout,) + (1,) * nd)
    return _unbatch(out, unbatched)


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 1-D convolution (the gradient of conv1d with respect to its input);
    weight (C_in, C_out/groups, k).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.conv_transpose1d(cr.ones(1, 1, 3), cr.ones(1, 1, 2)).tolist()
    [[[1.0, 2.0, 2.0, 1.0]]]
    """
    return _conv_transpose(
        "conv_transpose1d",
        1,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution (the gradient of conv2d with respect to its input);
    weight (C_in, C_out/groups, kH, kW). Output size (H - 1) stride - 2 padding +
    dilation (k - 1) + output_padding + 1.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.conv_transpose2d(cr.ones(1, 1, 2, 2), cr.ones(1, 1, 2, 2), stride=2).shape
    (1, 1, 4, 4)
    """
    return _conv_transpose(
        "conv_transpose2d",
        2,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def unfold(
    input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """im2col as PyTorch's ``F.unfold``: (N, C, H, W) -> (N, C * kH * kW, L) with L the
    number of windows.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.unfold(cr.ones(1, 2, 4, 4), 2).shape
    (1, 8, 9)
    """
    x, unbatched = batched_input("unfold", _t(input), 2)
    kernel = _ntuple("unfold", "kernel_size", kernel_size, 2)
    stride = _ntuple("unfold", "stride", stride, 2)
    dilation = _ntuple("unfold", "dilation", dilation, 2)
    p = _ntuple("unfold", "padding", padding, 2, minimum=0)
    xp = RN.pad_to(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    grid = _grid("unfold", xp.shape[2:], kernel, stride, dilation)
    cols = RN.windows(
        xp, **RN.window_params(xp.shape, kernel, stride, dilation, grid, RN.is_channel_major(xp))
    )
    n, c = x.shape[:2]
    return _unbatch(ops.reshape(cols, n, c * math.prod(kernel), math.prod(grid)), unbatched)


# --------------------------------------------------------------------------- pooling


def _pool_grid(
    op: str,
    spatial: tuple,
    kernel: tuple,
    stride: tuple,
    pads: tuple,
    dilation: tuple,
    ceil_mode: bool,
) -> tuple[tuple, tuple]:
    """Output size per axis and the extra right padding that ceil mode needs."""
    grid, extra = [], []
    for s, k, st, p, d in zip(spatial, kernel, stride, pads, dilation):
        span = s + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise ValueError(
                f"{op}: the (padded) input of size {s + 2 * p} is smaller than the (dilated) "
                f"kernel {d * (k - 1) + 1}"
            )
        o = (-(-span // st) if ceil_mode else span // st) + 1
        if ceil_mode and (o - 1) * st >= s + p:
            o -= 1  # the last window must start inside the input or the left padding
        grid.append(o)
        extra.append(max(0, (o - 1) * st + d * (k - 1) + 1 - (s + 2 * p)))
    return tuple(grid), tuple(extra)


def _pool_args(op: str, nd: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1):
    kernel = _ntuple(op, "kernel_size", kernel_size, nd)
    stride = (
        kernel
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else (_ntuple(op, "stride", stride, nd))
    )
    pads = _ntuple(op, "padding", padding, nd, minimum=0)
    dilation = _ntuple(op, "dilation", dilation, nd)
    for p, k in zip(pads, kernel):
        if p > k // 2:
            raise ValueError(f"{op}: padding {pads} must be at most half the kernel size {kernel}")
    return kernel, stride, pads, dilation


def _max_pool(
    op: str,
    nd: int,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> Any:
    x, unbatched = batched_input(op, _t(input), nd)
    kernel, stride, pads, dilation = _pool_args(op, nd, kernel_size, stride, padding, dilation)
    grid, extra = _pool_grid(op, x.shape[2:], kernel, stride, pads, dilation, ceil_mode)
    pairs = ((0, 0), (0, 0)) + tuple((p, p + e) for p, e in zip(pads, extra))
    xp = RN.pad_to(x, pairs, -np.inf)  # padding never wins a max
    major = RN.is_channel_major(xp)
    win = RN.windows(xp, **RN.window_params(xp.shape, kernel, stride, dilation, grid, major))
    # max over the window axis: the gradient goes to the arg-max (split evenly between
    # exact ties, where PyTorch picks one; both are valid subgradients).
    out = _unbatch(_window_reduce(ops.max, win, nd, major), unbatched)
    if not return_indices:
        return out
    return out, _max_indices(win.data, x.shape[2:], kernel, stride, pads, dilation, unbatched)


def _window_reduce(reduce: Any, win: Tensor, nd: int, channel_major: bool) -> Tensor:
    """``reduce(w, axis=0)`` over the windows (N, C, *k, *grid) gathered as one contiguous
    (prod k, N, C, *grid) array (batch and channel axes in the input's memory order):
    reducing its leading axis is a few elementwise passes, where reducing the small
    strided kernel axes of the view is ten times slower."""
    lead = (1, 0) if channel_major else (0, 1)
    axes = tuple(range(2, 2 + nd)) + lead + tuple(range(2 + nd, 2 + 2 * nd))
    moved = ops.transpose(win, axes)
    out = reduce(ops.reshape(moved, (-1,) + moved.shape[nd:]), axis=0)
    return ops.transpose(out, (1, 0) + tuple(range(2, 2 + nd))) if channel_major else out


def _max_indices(win, spatial, kernel, stride, pads, dilation, unbatched) -> Tensor:
    """PyTorch's return_indices: the flat index (into each input plane) of every max."""
    nd = len(kernel)
    n, c = win.shape[:2]
    grid = win.shape[2 + nd :]
    flat = np.moveaxis(win.reshape((n, c, -1) + grid), 2, -1)
    arg = np.argmax(flat, axis=-1)
    offsets = np.unravel_index(arg, kernel)
    index = np.zeros(arg.shape, dtype=np.int64)
    for i in range(nd):
        pos = np.arange(grid[i]).reshape((-1,) + (1,) * (nd - 1 - i)) * stride[i]
        coord = pos + offsets[i] * dilation[i] - pads[i]
        index = index * spatial[i] + coord
    if unbatched:
        index = index[0]
    return as_tensor(index)


def max_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """1-D max pooling over (N, C, L).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    """
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """2-D max pooling over (N, C, H, W); ``stride`` defaults to ``kernel_size``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> cr.nn.functional.max_pool2d(x, 2).tolist()
    [[[[4.0]]]]
    """
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def _avg_pool(
    op: str,
    nd: int,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Any,
) -> Tensor:
    x, unbatched = batched_input(op, _t(input), nd)
    kernel, stride, pads, dilation = _pool_args(op, nd, kernel_size, stride, padding)
    grid, extra = _pool_grid(op, x.shape[2:], kernel, stride, pads, dilation, ceil_mode)
    pairs = ((0, 0), (0, 0)) + tuple((p, p + e) for p, e in zip(pads, extra))
    xp = RN.pad_to(x, pairs, 0.0)
    major = RN.is_channel_major(xp)
    params = RN.window_params(xp.shape, kernel, stride, dilation, grid, major)
    total = _window_reduce(ops.sum, RN.windows(xp, **params), nd, major)
    if divisor_override:
        return _unbatch(total * (1.0 / divisor_override), unbatched)
    if not any(extra) and (count_include_pad or not any(pads)):
        return _unbatch(total * (1.0 / math.prod(kernel)), unbatched)
    # Windows of different sizes: count, per output, the elements PyTorch divides by (the
    # padding when count_include_pad, never the ceil-mode overhang).
    mask = np.zeros((1, 1) + xp.shape[2:], dtype=x.dtype)
    inside = tuple(
        slice(0, s + 2 * p) if count_include_pad else slice(p, s + p)
        for s, p in zip(x.shape[2:], pads)
    )
    mask[(0, 0) + inside] = 1
    mparams = dict(params, shape=mask.shape)
    counts = RN.windows(mask, **mparams).sum(axis=tuple(range(2, 2 + nd)))
    return _unbatch(total * (1.0 / counts), unbatched)


def avg_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling over (N, C, L).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    return _avg_pool(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling over (N, C, H, W); ``stride`` defaults to ``kernel_size``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> cr.nn.functional.avg_pool2d(x, 2).tolist()
    [[[[2.5]]]]
    """
    return _avg_pool(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def _adaptive_matrix(size: int, out: int, dtype: Any) -> np.ndarray:
    """Row i averages input [floor(i S / O), ceil((i + 1) S / O)): PyTorch's bins."""
    a = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        start = (i * size) // out
        end = -(-((i + 1) * size) // out)
        a[i, start:end] = 1.0 / (end - start)
    return a


def _adaptive_avg_pool(op: str, nd: int, input: Any, output_size: Any) -> Tensor:
    x, unbatched = batched_input(op, _t(input), nd)
    spatial = x.shape[2:]
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * nd
    sizes = tuple(s if o is None else int(o) for s, o in zip(spatial, tuple(output_size)))
    if len(tuple(output_size)) != nd or any(o < 1 for o in sizes):
        raise ValueError(f"{op}: output_size must be {nd} positive ints, got {output_size!r}")
    if all(o == 1 for o in sizes):  # global average pooling
        out = ops.mean(x, axis=tuple(range(2, 2 + nd)), keepdims=True)
    elif all(s % o == 0 for s, o in zip(spatial, sizes)):
        k = tuple(s // o for s, o in zip(spatial, sizes))
        out = _avg_pool(op, nd, x, k, k, 0, False, True, None)
    else:
        # Bins of unequal size: averaging is linear and separable, one matrix per axis.
        out = x
        for i, (s, o) in enumerate(zip(spatial, sizes)):
            axis = 2 + i
            a = _adaptive_matrix(s, o, x.dtype)
            perm = [d for d in range(out.ndim) if d != axis] + [axis]
            back = list(np.argsort(perm))
            out = ops.transpose(ops.matmul(ops.transpose(out, perm), a.T), back)
    return _unbatch(out, unbatched)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """Average pooling to a fixed output length with PyTorch's bins.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.adaptive_avg_pool1d(cr.ones(2, 3, 10), 4).shape
    (2, 3, 4)
    """
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size (an int, a pair, None keeps an axis) with
    PyTorch's bins: row i averages [floor(i H / Oh), ceil((i + 1) H / Oh)).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.functional.adaptive_avg_pool2d(cr.ones(2, 3, 5, 7), (2, 3)).shape
    (2, 3, 2, 3)
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


# --------------------------------------------------------------------------- layers


def _factory_dtype(dtype: Any, device: Any = None) -> np.dtype:
    if device not in (None, "cpu"):
        raise ValueError(f"only device='cpu' (or None) is supported, got {device!r}")
    return np.dtype(np.float32 if dtype is None else dtype)


def _uniform(rng: np.random.Generator, bound: float, shape: tuple, dtype: Any) -> Parameter:
    return _initial(rng.uniform(-bound, bound, shape).astype(dtype))


class _ConvNd(Module):
    """Shared constructor of the convolution layers (weights as PyTorch initialises them:
    kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the same)."""

    _nd = 2
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        output_padding: Any = 0,
        seed: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        if not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                f"both be divisible by groups ({groups})"
            )
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _ntuple(name, "kernel_size", kernel_size, nd)
        self.stride = _ntuple(name, "stride", stride, nd)
        self.dilation = _ntuple(name, "dilation", dilation, nd)
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                raise ValueError(
                    f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions"
                )
            self.padding: Any = padding
        else:
            self.padding = _ntuple(name, "padding", padding, nd, minimum=0)
        self.output_padding = _ntuple(name, "output_padding", output_padding, nd, minimum=0)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        dtype = _factory_dtype(dtype, device)
        if self._transposed:
            shape = (self.in_channels, self.out_channels // groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        fan_in = shape[1] * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        rng = init.generator(seed)
        self.weight = _uniform(rng, bound, shape, dtype)
        self.bias = _uniform(rng, bound, (self.out_channels,), dtype) if bias else None

    def _layer(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._nd:
            s += (
                f", padding={self.padding!r}"
                if isinstance(self.padding, str)
                else (f", padding={self.padding}")
            )
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s

    def _conv_forward(self, x: Any) -> Tensor:
        x = _t(x)
        layer = self._layer()
        padding: Any = self.padding
        if self.padding_mode != "zeros":
            if padding == "valid":
                padding = (0,) * self._nd
            if padding == "same":
                pairs = _same_padding(self.kernel_size, self.dilation)
            else:
                pairs = tuple((p, p) for p in padding)
            flat: list[int] = []
            for lo, hi in reversed(pairs):  # F.pad wants the last axis first
                flat += [lo, hi]
            batched_input(layer, x, self._nd, self.in_channels)  # names the layer first
            x = pad(x, tuple(flat), mode=self.padding_mode)
            padding = 0
        return _conv(
            layer,
            self._nd,
            x,
            self.weight,
            self.bias,
            self.stride,
            padding,
            self.dilation,
            self.groups,
        )


class Conv1d(_ConvNd):
    """1-D convolution layer over (N, C_in, L) (PyTorch's arguments, weight shape
    (C_out, C_in/groups, k), state_dict keys ``weight``/``bias``); ``seed`` makes the
    initialisation repeatable.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Conv1d(2, 4, 3, padding="same", seed=0)(cr.ones(5, 2, 10)).shape
    (5, 4, 10)
    """

    _nd = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
            seed=seed,
        )

    def forward(self, input: Any) -> Tensor:
        return self._conv_forward(input)


class Conv2d(_ConvNd):
    """2-D convolution layer over (N, C_in, H, W): stride, padding (int, pair, ``"same"``,
    ``"valid"``), dilation, groups, bias and padding_mode as in PyTorch; weight shape
    (C_out, C_in/groups, kH, kW); ``seed`` makes the initialisation repeatable.

    Examples
    --------
    >>> import chainrule as cr
    >>> conv = cr.nn.Conv2d(1, 8, 3, seed=0)
    >>> conv(cr.ones(2, 1, 28, 28)).shape, list(conv.state_dict())
    ((2, 8, 26, 26), ['weight', 'bias'])
    """

    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
            seed=seed,
        )

    def forward(self, input: Any) -> Tensor:
        return self._conv_forward(input)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f"{type(self).__name__}: only padding_mode='zeros' is supported, got "
                f"{padding_mode!r}"
            )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
            output_padding=output_padding,
            seed=seed,
        )

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple:
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = tuple(int(s) for s in output_size)[-nd:]
        spatial = x.shape[-nd:]
        extra = []
        for i in range(nd):
            smallest = (
                (spatial[i] - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel_size[i] - 1)
                + 1
            )
            e = size[i] - smallest
            if not 0 <= e < max(self.stride[i], self.dilation[i]):
                raise ValueError(
                    f"{self._layer()}: output_size {tuple(size)} is not reachable from input "
                    f"{tuple(spatial)} (sizes {smallest} to "
                    f"{smallest + max(self.stride[i], self.dilation[i]) - 1} along axis {i})"
                )
            extra.append(e)
        return tuple(extra)

    def forward(self, input: Any, output_size: Any = None) -> Tensor:
        x = _t(input)
        batched_input(self._layer(), x, self._nd, self.in_channels)
        return _conv_transpose(
            self._layer(),
            self._nd,
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(x, output_size),
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution layer; weight (C_in, C_out/groups, k).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.ConvTranspose1d(2, 3, 4, stride=2, seed=0)(cr.ones(1, 2, 5)).shape
    (1, 3, 12)
    """

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution layer (the gradient of Conv2d with respect to its input,
    used to upsample); weight (C_in, C_out/groups, kH, kW), PyTorch's arguments incl.
    ``output_padding`` and ``forward(input, output_size=None)``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1,
    ...                       seed=0)(cr.ones(1, 4, 5, 5)).shape
    (1, 2, 10, 10)
    """

    _nd = 2


class _MaxPoolNd(Module):
    _nd = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode
        _pool_args(type(self).__name__, self._nd, kernel_size, stride, padding, dilation)

    def extra_repr(self) -> str:
        stride = self.kernel_size if self.stride is None else self.stride
        return (
            f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def forward(self, input: Any) -> Any:
        return _max_pool(
            f"{type(self).__name__}({self.extra_repr()})",
            self._nd,
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling layer over (N, C, L).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.MaxPool1d(2)(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
    [[[3.0, 2.0]]]
    """

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling layer over (N, C, H, W): windows + a max over the window axes.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.MaxPool2d(2)(cr.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    _nd = 2


class _AvgPoolNd(Module):
    _nd = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override
        _pool_args(type(self).__name__, self._nd, kernel_size, stride, padding)

    def extra_repr(self) -> str:
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"

    def forward(self, input: Any) -> Tensor:
        return _avg_pool(
            f"{type(self).__name__}({self.extra_repr()})",
            self._nd,
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling layer over (N, C, L).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.AvgPool1d(2)(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
    [[[2.0, 1.0]]]
    """

    _nd = 1

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling layer over (N, C, H, W).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.AvgPool2d(2)(cr.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    _nd = 2


class AdaptiveAvgPool1d(Module):
    """Average pooling to a fixed output length.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool1d(1)(cr.tensor([[[1.0, 3.0, 2.0]]])).tolist()
    [[[2.0]]]
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def forward(self, input: Any) -> Tensor:
        return _adaptive_avg_pool(
            f"AdaptiveAvgPool1d({self.extra_repr()})", 1, input, self.output_size
        )


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, PyTorch's bins; ``1`` is global average
    pooling.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool2d(1)(cr.ones(2, 3, 5, 5)).shape
    (2, 3, 1, 1)
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def forward(self, input: Any) -> Tensor:
        return _adaptive_avg_pool(
            f"AdaptiveAvgPool2d({self.extra_repr()})", 2, input, self.output_size
        )
