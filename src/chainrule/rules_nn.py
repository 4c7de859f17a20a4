"""The rule table of the network primitives: erf, softplus, padding, sliding windows (im2col)
and their scatter-back (col2im), and the fused recurrences of RNN, LSTM and GRU layers.

Like ``rules.py``, every rule is written with chainrule operations, so it runs on ndarrays
(first order, fast) and on Tensors (recorded: derivatives of any order, traced programs)
alike, and reads values only through chainrule operations. The forward kernels are plain
NumPy functions here; generated code calls the same functions (passed in as constants).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import kernels as K
from . import ops
from . import rules as R
from .primitives import Primitive, defjvp, deflinear, deflower, defvjp
from .tensor import Tensor

__all__ = [
    "erf",
    "gru_scan",
    "is_channel_major",
    "lstm_scan",
    "pad",
    "pad_to",
    "rnn_scan",
    "softplus",
    "window_params",
    "window_sum",
    "windows",
]


def _literal(value: Any) -> str:
    """A static parameter as Python source (non-finite floats included)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "float('nan')" if math.isnan(value) else f"float('{value}')"
    return repr(value)


def _call_lowering(kernel: Any) -> Any:
    """Generated code for a primitive whose kernel is a function of this module: the
    function itself is a constant of the generated module, called with the params."""

    def lower(c: Any) -> str:
        params = "".join(f", {k}={_literal(v)}" for k, v in c.p.items())
        return f"{c.array(kernel)}({', '.join(c.ins)}{params})"

    return lower


# --------------------------------------------------------------------------- dropout


def _dropout_mask_lowering(c: Any) -> str:
    seed = c.p.get("seed")
    seed_src = c.array(seed) if isinstance(seed, np.random.Generator) else repr(seed)
    return f"dropout_mask({c.ins[0]}, {c.p['p']!r}, {seed_src})"


#: A random primitive: its output is not a function of its input's values (only of its
#: shape and dtype), so a traced program (cr.jit of a model in training mode) draws a new
#: mask at every call; common-subexpression elimination leaves it alone (ir.passes).
dropout_mask = R.nondifferentiable("dropout_mask", K.dropout_mask, 1, kind="other")
deflower(dropout_mask, _dropout_mask_lowering)


# --------------------------------------------------------------------------- erf
# The forward is kernels.erf, W. J. Cody's rational approximations (CALERF), the one copy
# that cr.special's erfc, erfcx, erfinv and log_ndtr share.
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_local_grad(x: Any) -> Any:
    # d erf(x) / dx = 2/sqrt(pi) exp(-x^2), written with primitives: differentiable again.
    return R.exp(-(x * x)) * _TWO_OVER_SQRT_PI


# erf is entire: for complex z the same f'(z), and the VJP of a complex output is
# g conj(f'(z)) (PyTorch's convention, as for exp).
erf = Primitive("erf", K.erf, kind="elementwise")
defvjp(
    erf,
    lambda g, ans, x: g * _erf_local_grad(x),
    complex_rules=(lambda g, ans, x: g * R.conj(_erf_local_grad(x)),),
)
defjvp(erf, lambda t, ans, x: t * _erf_local_grad(x))
deflower(erf, _call_lowering(K.erf))


# --------------------------------------------------------------------------- softplus


def _softplus_impl(x: Any) -> Any:
    return np.logaddexp(0, x)  # log(1 + exp(x)) without overflow, accurate for x << 0


softplus = Primitive("softplus", _softplus_impl, kind="elementwise", complex=False)
# d/dx log(1 + e^x) = sigmoid(x): smooth everywhere, so no subgradient choice.
defvjp(softplus, lambda g, ans, x: g * R.sigmoid(x))
defjvp(softplus, lambda t, ans, x: t * R.sigmoid(x))
deflower(softplus, "np.logaddexp(0, {0})")


# --------------------------------------------------------------------------- padding


def _pad_index(pads: tuple) -> tuple:
    return tuple(slice(lo, lo + n) for (lo, _hi), n in pads)


def _pad_impl(x: Any, pads: tuple, value: float) -> Any:
    # ``pads``: one (before, after) pair per axis, each stored as ((before, after), size).
    shape = tuple(lo + n + hi for (lo, hi), n in pads)
    out = np.full(shape, value, dtype=x.dtype)
    out[_pad_index(pads)] = x
    return out


pad = Primitive("pad", _pad_impl, save_inputs=False, complex=False)
# Constant padding is affine: the gradient is the crop back to the input, the tangent is
# the tangent padded with zeros (the constant does not move).
defvjp(pad, lambda g, ans, x, pads, value: R.getitem(g, index=_pad_index(pads), shape=g.shape))
defjvp(pad, lambda t, ans, x, pads, value: pad(t, pads=pads, value=0.0))
deflower(pad, _call_lowering(_pad_impl))


def pad_to(x: Any, before_after: tuple, value: float = 0.0) -> Any:
    """Pad ``x`` (Tensor or array) by ``before_after``, one (before, after) per axis.

    Examples
    --------
    >>> import numpy as np
    >>> pad_to(np.ones((1, 2)), ((0, 0), (1, 0)), value=5.0).tolist()
    [[5.0, 1.0, 1.0]]
    """
    pads = tuple(((int(lo), int(hi)), n) for (lo, hi), n in zip(before_after, x.shape))
    if all(lo == 0 and hi == 0 for (lo, hi), _ in pads):
        return x
    return pad(x, pads=pads, value=float(value))


# --------------------------------------------------------------------------- sliding windows
# ``windows`` is im2col: (N, C, *S) -> (N, C, *K, *O), element [n, c, k.., o..] being
# x[n, c, o * stride + k * dilation]. It returns a read-only strided view (no copy: the
# consumer decides, e.g. a reshape for the matmul of a convolution copies once, a max pool
# reads the view). ``window_sum`` is its transpose (col2im): every window element is added
# back to the pixel it came from. Both are linear, and each is the other's VJP.


def _window_view(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, grid: tuple):
    s = x.strides
    nd = len(kernel)
    strides = (
        s[:2]
        + tuple(s[2 + i] * dilation[i] for i in range(nd))
        + tuple(s[2 + i] * stride[i] for i in range(nd))
    )
    shape = x.shape[:2] + tuple(kernel) + tuple(grid)
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


def _windows_impl(
    x: Any,
    kernel: tuple,
    stride: tuple,
    dilation: tuple,
    grid: tuple,
    shape: tuple,
    channel_major: bool = False,
) -> Any:
    return _window_view(np.asarray(x), kernel, stride, dilation, grid)


def _window_sum_impl(
    g: Any,
    kernel: tuple,
    stride: tuple,
    dilation: tuple,
    grid: tuple,
    shape: tuple,
    channel_major: bool = False,
) -> Any:
    n, c = shape[:2]
    spatial = tuple(shape[2:])
    tiles = all(d == 1 and k == st for k, d, st in zip(kernel, dilation, stride))
    covered = tiles and all(o * st == s for o, st, s in zip(grid, stride, spatial))
    # The sum is laid out as the windows' input was (``channel_major``: (C, N, *S) memory,
    # as a convolution's output is), so the adds below and the consumers that follow run
    # over matching strides. Tiles covering every pixel need no zero fill.
    make = np.empty if covered else np.zeros
    if channel_major:
        out = make((c, n) + spatial, dtype=g.dtype).swapaxes(0, 1)
    else:
        out = make(shape, dtype=g.dtype)
    for offset in np.ndindex(*kernel):
        # one strided add per kernel offset: a loop over the kernel (9 for 3x3), never
        # over pixels; windows that tile without overlap (pooling with stride == kernel)
        # are assigned, not added
        target = (slice(None), slice(None)) + tuple(
            slice(k * d, k * d + st * (o - 1) + 1, st)
            for k, d, st, o in zip(offset, dilation, stride, grid)
        )
        if tiles:
            out[target] = g[(slice(None), slice(None)) + offset]
        else:
            out[target] += g[(slice(None), slice(None)) + offset]
    return out


windows = Primitive(
    "windows", _windows_impl, kind="shape", save_inputs=False, linear=True, complex=False
)
defvjp(windows, lambda g, ans, x, **p: window_sum(g, **p))
deflinear(windows)
deflower(windows, _call_lowering(_windows_impl))

window_sum = Primitive(
    "window_sum", _window_sum_impl, save_inputs=False, linear=True, complex=False
)
defvjp(window_sum, lambda g, ans, x, **p: windows(g, **p))
deflinear(window_sum)
deflower(window_sum, _call_lowering(_window_sum_impl))


def window_params(
    shape: tuple,
    kernel: tuple,
    stride: tuple,
    dilation: tuple,
    grid: tuple | None = None,
    channel_major: bool = False,
) -> dict:
    """The static parameters of ``windows`` / ``window_sum`` for an input of ``shape``
    (N, C, *S); ``grid`` (the output positions) defaults to every window that fits;
    ``channel_major`` says the input's memory is (C, N, *S) (see ``is_channel_major``),
    which the scatter-back then keeps.

    Examples
    --------
    >>> window_params((1, 1, 5, 5), (3, 3), (2, 2), (1, 1))["grid"]
    (2, 2)
    """
    if grid is None:
        grid = tuple(
            (s - d * (k - 1) - 1) // st + 1
            for s, k, st, d in zip(shape[2:], kernel, stride, dilation)
        )
    return {
        "kernel": tuple(int(k) for k in kernel),
        "stride": tuple(int(s) for s in stride),
        "dilation": tuple(int(d) for d in dilation),
        "grid": tuple(int(o) for o in grid),
        "shape": tuple(int(s) for s in shape),
        "channel_major": bool(channel_major),
    }


def is_channel_major(x: Any) -> bool:
    """Whether (N, C, ...) data is laid out channel first in memory (a convolution's
    output is: its matmul produces (C, N * positions)).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((2, 3, 4, 4))
    >>> is_channel_major(x), is_channel_major(x.swapaxes(0, 1))
    (False, True)
    """
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return data.ndim > 1 and data.shape[0] > 1 and data.strides[1] > data.strides[0]


# --------------------------------------------------------------------------- recurrences
# A recurrent layer is one primitive over the whole sequence (as cuDNN and PyTorch fuse it):
# its inputs are the input projections of every step, xw = x @ W_ih.T + b (one matmul for
# all steps, done outside), the initial state and W_hh. The forward pass is a loop over
# time in NumPy; the VJP is backpropagation through time and the JVP the tangent
# recurrence, both written with chainrule operations: on arrays they are plain NumPy loops,
# on Tensors they record, so the layers have derivatives of any order. The output holds,
# per step, the state and the gate activations the step computed (LSTM: h, c, i, f, g, o;
# GRU: h, r, z, n and W_hn h + b_hn), one block each on the leading axis: backpropagation
# reads them as a hand-written one keeps them, and as outputs they get gradients like any
# other (the layers read only h and c). Gate orders are PyTorch's: LSTM (i, f, g, o), GRU
# (r, z, n).


def _steps(n: int, reverse: bool) -> range:
    return range(n - 1, -1, -1) if reverse else range(n)


def _is_recorded(*values: Any) -> bool:
    return any(isinstance(v, Tensor) for v in values)


def _stack(values: list, axis: int = 0) -> Any:
    if _is_recorded(*values):
        return ops.stack(values, axis=axis)
    return np.stack(values, axis=axis)


def _zeros_like(v: Any) -> np.ndarray:
    return np.zeros(v.shape, dtype=(v._data if isinstance(v, Tensor) else v).dtype)


def _sigmoid_inplace(a: np.ndarray) -> None:
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: one transcendental, no overflow, in place.
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _in_order(per_step: dict, n: int) -> list:
    return [per_step[t] for t in range(n)]


def _recurrent_weight_grad(da: np.ndarray, hs: Any, h0: np.ndarray, order: list):
    """sum over steps of da_t.T @ h_(t-1): two matmuls over all steps at once."""
    T, N, G = da.shape
    H = h0.shape[-1]
    dw = da[order[0]].T @ h0
    if T > 1:
        if order[0] == 0:  # forward in time: step t read h_(t-1)
            later, prev = da[1:], hs[:-1]
        else:  # reversed: step t read h_(t+1)
            later, prev = da[:-1], hs[1:]
        dw += later.reshape(-1, G).T @ np.reshape(prev, (-1, H))
    return dw


# ------------------------------------------------------------------ LSTM
# output (6, T, N, H): h, c, i, f, g, o per step (each block contiguous per step)


def _lstm_impl(xw: Any, h0: Any, c0: Any, w: Any, reverse: bool) -> Any:
    T, N, G = xw.shape
    H = G // 4
    out = np.empty((6, T, N, H), dtype=xw.dtype)
    a = np.empty((N, G), dtype=xw.dtype)  # the gates of one step
    wt = w.T
    h, c = h0, c0
    for t in _steps(T, reverse):
        np.matmul(h, wt, out=a)
        a += xw[t]
        _sigmoid_inplace(a[:, : 2 * H])
        _sigmoid_inplace(a[:, 3 * H :])
        np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])
        i, f, g, o = out[2, t], out[3, t], out[4, t], out[5, t]
        i[...] = a[:, :H]
        f[...] = a[:, H : 2 * H]
        g[...] = a[:, 2 * H : 3 * H]
        o[...] = a[:, 3 * H :]
        c_new, h_new = out[1, t], out[0, t]
        np.multiply(f, c, out=c_new)
        c_new += i * g
        np.tanh(c_new, out=h_new)
        h_new *= o
        h, c = h_new, c_new
    return out


def _lstm_steps(xw: Any, h0: Any, c0: Any, w: Any, reverse: bool) -> dict:
    """The forward recurrence with chainrule operations (Tensors record): per step the
    previous state, the four gates, tanh of the new cell state, and the new state."""
    T = xw.shape[0]
    H = h0.shape[-1]
    wt = w.T
    h, c = h0, c0
    steps = {}
    for t in _steps(T, reverse):
        a = xw[t] + h @ wt
        i = R.sigmoid(a[:, :H])
        f = R.sigmoid(a[:, H : 2 * H])
        g = R.tanh(a[:, 2 * H : 3 * H])
        o = R.sigmoid(a[:, 3 * H :])
        c_new = f * c + i * g
        tc = R.tanh(c_new)
        h_new = o * tc
        steps[t] = (h, c, i, f, g, o, tc, h_new, c_new)
        h, c = h_new, c_new
    return steps


def _lstm_vjp(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
    xw, h0, c0, w = inputs
    reverse = params["reverse"]
    if not _is_recorded(g, xw, h0, c0, w):
        return _lstm_vjp_arrays(g, ans, xw, h0, c0, w, reverse, needed)
    T = xw.shape[0]
    steps = _lstm_steps(xw, h0, c0, w, reverse)
    dh = dc = None
    dxw: dict = {}
    dw = None
    for t in reversed(list(_steps(T, reverse))):
        h_prev, c_prev, i, f, gg, o, tc, _h, _c = steps[t]
        dh_t = g[0, t] if dh is None else g[0, t] + dh
        dc_t = g[1, t] + dh_t * o * (1 - tc * tc)
        if dc is not None:
            dc_t = dc_t + dc
        # each gate: (what reaches it through c or h + its own output's gradient) f'
        da = ops.concatenate(
            [
                (dc_t * gg + g[2, t]) * i * (1 - i),
                (dc_t * c_prev + g[3, t]) * f * (1 - f),
                (dc_t * i + g[4, t]) * (1 - gg * gg),
                (dh_t * tc + g[5, t]) * o * (1 - o),
            ],
            axis=1,
        )
        dxw[t] = da
        dc = dc_t * f
        dh = da @ w
        step_dw = da.T @ h_prev
        dw = step_dw if dw is None else dw + step_dw
    return (
        _stack(_in_order(dxw, T)) if needed[0] else None,
        dh if needed[1] else None,
        dc if needed[2] else None,
        dw if needed[3] else None,
    )


def _lstm_vjp_arrays(g, out, xw, h0, c0, w, reverse, needed) -> tuple:
    if out is None:  # a replay that kept no output: run the forward again
        out = _lstm_impl(xw, h0, c0, w, reverse)
    T, N, G = xw.shape
    H = G // 4
    dxw = np.empty((T, N, G), dtype=xw.dtype)
    dh = np.zeros((N, H), dtype=xw.dtype)
    dc = np.zeros((N, H), dtype=xw.dtype)
    order = list(_steps(T, reverse))
    for k in range(T - 1, -1, -1):
        t = order[k]
        c_prev = c0 if k == 0 else out[1, order[k - 1]]
        i, f, gg, o = out[2, t], out[3, t], out[4, t], out[5, t]
        tc = np.tanh(out[1, t])
        dh += g[0, t]
        da = dxw[t]
        # output gate: (dh tanh(c) + its own gradient) o (1 - o)
        do = da[:, 3 * H :]
        np.multiply(dh, tc, out=do)
        do += g[5, t]
        do *= o * (1 - o)
        # cell: dc += dh o (1 - tanh(c)^2), then the three gates that make c
        dc += g[1, t]
        dc += dh * o * (1 - tc * tc)
        for block, own, through, slope in (
            (da[:, :H], g[2, t], gg, i * (1 - i)),
            (da[:, H : 2 * H], g[3, t], c_prev, f * (1 - f)),
            (da[:, 2 * H : 3 * H], g[4, t], i, 1 - gg * gg),
        ):
            np.multiply(dc, through, out=block)
            block += own
            block *= slope
        dc *= f
        dh = da @ w
    dw = _recurrent_weight_grad(dxw, out[0], h0, order) if needed[3] else None
    return dxw, dh, dc, dw


def _lstm_jvp(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
    xw, h0, c0, w = inputs
    txw, th0, tc0, tw = tangents
    reverse = params["reverse"]
    T = xw.shape[0]
    H = h0.shape[-1]
    steps = _lstm_steps(xw, h0, c0, w, reverse)
    th = th0 if th0 is not None else _zeros_like(h0)
    tc = tc0 if tc0 is not None else _zeros_like(c0)
    outs: dict = {}
    for t in _steps(T, reverse):
        h_prev, c_prev, i, f, gg, o, tanh_c, _h, _c = steps[t]
        ta = th @ w.T
        if txw is not None:
            ta = ta + txw[t]
        if tw is not None:
            ta = ta + h_prev @ tw.T
        ti = ta[:, :H] * i * (1 - i)
        tf = ta[:, H : 2 * H] * f * (1 - f)
        tg = ta[:, 2 * H : 3 * H] * (1 - gg * gg)
        to = ta[:, 3 * H :] * o * (1 - o)
        tc = tf * c_prev + f * tc + ti * gg + i * tg
        th = to * tanh_c + o * (1 - tanh_c * tanh_c) * tc
        outs[t] = (th, tc, ti, tf, tg, to)
    return _blocks_over_time(outs, T, 6)


def _blocks_over_time(outs: dict, T: int, k: int) -> Any:
    """Per-step tuples of k (N, H) tangents as the (k, T, N, H) output tangent."""
    return _stack([_stack([outs[t][j] for t in range(T)]) for j in range(k)])


lstm_scan = Primitive(
    "lstm_scan",
    _lstm_impl,
    nin=4,
    save_output=True,
    complex=False,
    vjp_all=_lstm_vjp,
    jvp_all=_lstm_jvp,
)
deflower(lstm_scan, _call_lowering(_lstm_impl))


# ------------------------------------------------------------------ GRU
# output (5, T, N, H): h, r, z, n, hn per step, hn = W_hn h_(t-1) + b_hn


def _gru_impl(xw: Any, h0: Any, w: Any, b: Any, reverse: bool) -> Any:
    T, N, G = xw.shape
    H = G // 3
    out = np.empty((5, T, N, H), dtype=xw.dtype)
    wt = w.T
    h = h0
    for t in _steps(T, reverse):
        ah = h @ wt
        ah += b
        r, z, n, hn = out[1, t], out[2, t], out[3, t], out[4, t]
        np.add(xw[t, :, :H], ah[:, :H], out=r)
        _sigmoid_inplace(r)
        np.add(xw[t, :, H : 2 * H], ah[:, H : 2 * H], out=z)
        _sigmoid_inplace(z)
        hn[...] = ah[:, 2 * H :]
        np.multiply(r, hn, out=n)
        n += xw[t, :, 2 * H :]
        np.tanh(n, out=n)
        # h' = (1 - z) n + z h = n + z (h - n)
        h_new = out[0, t]
        np.subtract(h, n, out=h_new)
        h_new *= z
        h_new += n
        h = h_new
    return out


def _gru_steps(xw: Any, h0: Any, w: Any, b: Any, reverse: bool) -> dict:
    T = xw.shape[0]
    H = h0.shape[-1]
    wt = w.T
    h = h0
    steps = {}
    for t in _steps(T, reverse):
        ah = h @ wt + b
        x_t = xw[t]
        r = R.sigmoid(x_t[:, :H] + ah[:, :H])
        z = R.sigmoid(x_t[:, H : 2 * H] + ah[:, H : 2 * H])
        hn = ah[:, 2 * H :]
        n = R.tanh(x_t[:, 2 * H :] + r * hn)
        h_new = n + z * (h - n)
        steps[t] = (h, r, z, n, hn, h_new)
        h = h_new
    return steps


def _gru_vjp(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
    xw, h0, w, b = inputs
    reverse = params["reverse"]
    if not _is_recorded(g, xw, h0, w, b):
        return _gru_vjp_arrays(g, ans, xw, h0, w, b, reverse, needed)
    T = xw.shape[0]
    steps = _gru_steps(xw, h0, w, b, reverse)
    dh = None
    dxw: dict = {}
    dw = db = None
    for t in reversed(list(_steps(T, reverse))):
        h_prev, r, z, n, hn, _h = steps[t]
        dh_t = g[0, t] if dh is None else g[0, t] + dh
        dan = (dh_t * (1 - z) + g[3, t]) * (1 - n * n)  # through n's tanh
        daz = (dh_t * (h_prev - n) + g[2, t]) * z * (1 - z)
        dar = (dan * hn + g[1, t]) * r * (1 - r)
        dxw[t] = ops.concatenate([dar, daz, dan], axis=1)
        # the hidden projection's gradient: hn is also an output of its own
        dah = ops.concatenate([dar, daz, dan * r + g[4, t]], axis=1)
        dh = dh_t * z + dah @ w
        step_dw = dah.T @ h_prev
        step_db = R.sum(dah, axis=0, keepdims=False, shape=dah.shape)
        dw = step_dw if dw is None else dw + step_dw
        db = step_db if db is None else db + step_db
    return (
        _stack(_in_order(dxw, T)) if needed[0] else None,
        dh if needed[1] else None,
        dw if needed[2] else None,
        db if needed[3] else None,
    )


def _gru_vjp_arrays(g, out, xw, h0, w, b, reverse, needed) -> tuple:
    if out is None:
        out = _gru_impl(xw, h0, w, b, reverse)
    T, N, G = xw.shape
    H = G // 3
    dxw = np.empty((T, N, G), dtype=xw.dtype)
    dah_all = np.empty((T, N, G), dtype=xw.dtype)
    dh = np.zeros((N, H), dtype=xw.dtype)
    order = list(_steps(T, reverse))
    for k in range(T - 1, -1, -1):
        t = order[k]
        h_prev = h0 if k == 0 else out[0, order[k - 1]]
        r, z, n, hn = out[1, t], out[2, t], out[3, t], out[4, t]
        dh += g[0, t]
        dx, dah = dxw[t], dah_all[t]
        dan = dx[:, 2 * H :]
        np.multiply(dh, 1 - z, out=dan)
        dan += g[3, t]
        dan *= 1 - n * n
        daz = dx[:, H : 2 * H]
        np.multiply(dh, h_prev - n, out=daz)
        daz += g[2, t]
        daz *= z * (1 - z)
        dar = dx[:, :H]
        np.multiply(dan, hn, out=dar)
        dar += g[1, t]
        dar *= r * (1 - r)
        dah[:, : 2 * H] = dx[:, : 2 * H]
        np.multiply(dan, r, out=dah[:, 2 * H :])
        dah[:, 2 * H :] += g[4, t]
        dh *= z
        dh += dah @ w
    dw = _recurrent_weight_grad(dah_all, out[0], h0, order) if needed[2] else None
    db = dah_all.reshape(-1, G).sum(axis=0) if needed[3] else None
    return dxw, dh, dw, db


def _gru_jvp(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
    xw, h0, w, b = inputs
    txw, th0, tw, tb = tangents
    reverse = params["reverse"]
    T = xw.shape[0]
    H = h0.shape[-1]
    steps = _gru_steps(xw, h0, w, b, reverse)
    th = th0 if th0 is not None else _zeros_like(h0)
    outs: dict = {}
    for t in _steps(T, reverse):
        h_prev, r, z, n, hn, _h = steps[t]
        tah = th @ w.T
        if tw is not None:
            tah = tah + h_prev @ tw.T
        if tb is not None:
            tah = tah + tb
        tx = txw[t] if txw is not None else None
        tr_pre = tah[:, :H] if tx is None else tx[:, :H] + tah[:, :H]
        tz_pre = tah[:, H : 2 * H] if tx is None else tx[:, H : 2 * H] + tah[:, H : 2 * H]
        tr = tr_pre * r * (1 - r)
        tz = tz_pre * z * (1 - z)
        thn = tah[:, 2 * H :]
        tn_pre = tr * hn + r * thn
        if tx is not None:
            tn_pre = tn_pre + tx[:, 2 * H :]
        tn = tn_pre * (1 - n * n)
        th = tn + tz * (h_prev - n) + z * (th - tn)
        outs[t] = (th, tr, tz, tn, thn)
    return _blocks_over_time(outs, T, 5)


gru_scan = Primitive(
    "gru_scan",
    _gru_impl,
    nin=4,
    save_output=True,
    complex=False,
    vjp_all=_gru_vjp,
    jvp_all=_gru_jvp,
)
deflower(gru_scan, _call_lowering(_gru_impl))


# ------------------------------------------------------------------ Elman RNN
# output (T, N, H): h per step


def _rnn_impl(xw: Any, h0: Any, w: Any, reverse: bool, nonlinearity: str) -> Any:
    T, N, H = xw.shape
    out = np.empty((T, N, H), dtype=xw.dtype)
    wt = w.T
    h = h0
    for t in _steps(T, reverse):
        a = out[t]
        np.matmul(h, wt, out=a)
        a += xw[t]
        if nonlinearity == "tanh":
            np.tanh(a, out=a)
        else:
            np.maximum(a, 0, out=a)
        h = a
    return out


def _activate(a: Any, nonlinearity: str) -> Any:
    return R.tanh(a) if nonlinearity == "tanh" else R.relu(a)


def _activation_slope(y: Any, nonlinearity: str) -> Any:
    """f'(a) from the output y = f(a): 1 - y^2 for tanh; for relu 1 where y > 0 (relu's
    gradient at 0 is taken as 0, as for cr.relu; the mask is a comparison primitive)."""
    if nonlinearity == "tanh":
        return 1 - y * y
    return y > 0


def _rnn_steps(xw: Any, h0: Any, w: Any, reverse: bool, nonlinearity: str) -> dict:
    wt = w.T
    h = h0
    steps = {}
    for t in _steps(xw.shape[0], reverse):
        h_new = _activate(xw[t] + h @ wt, nonlinearity)
        steps[t] = (h, h_new)
        h = h_new
    return steps


def _rnn_vjp(g: Any, ans: Any, inputs: tuple, params: dict, needed: tuple) -> tuple:
    xw, h0, w = inputs
    reverse, nl = params["reverse"], params["nonlinearity"]
    T = xw.shape[0]
    if not _is_recorded(g, xw, h0, w):
        out = ans if ans is not None else _rnn_impl(xw, h0, w, reverse, nl)
        dxw = np.empty_like(out)
        dh = np.zeros(h0.shape, dtype=out.dtype)
        order = list(_steps(T, reverse))
        for k in range(T - 1, -1, -1):
            t = order[k]
            dh += g[t]
            np.multiply(dh, _activation_slope(out[t], nl), out=dxw[t])
            dh = dxw[t] @ w
        dw = _recurrent_weight_grad(dxw, out, h0, order) if needed[2] else None
        return dxw, dh, dw
    steps = _rnn_steps(xw, h0, w, reverse, nl)
    dh = None
    dxw: dict = {}
    dw = None
    for t in reversed(list(_steps(T, reverse))):
        h_prev, h_new = steps[t]
        dh_t = g[t] if dh is None else g[t] + dh
        da = dh_t * _activation_slope(h_new, nl)
        dxw[t] = da
        dh = da @ w
        step_dw = da.T @ h_prev
        dw = step_dw if dw is None else dw + step_dw
    return (
        _stack(_in_order(dxw, T)) if needed[0] else None,
        dh if needed[1] else None,
        dw if needed[2] else None,
    )


def _rnn_jvp(tangents: tuple, ans: Any, inputs: tuple, params: dict) -> Any:
    xw, h0, w = inputs
    txw, th0, tw = tangents
    reverse, nl = params["reverse"], params["nonlinearity"]
    T = xw.shape[0]
    steps = _rnn_steps(xw, h0, w, reverse, nl)
    th = th0 if th0 is not None else _zeros_like(h0)
    outs: dict = {}
    for t in _steps(T, reverse):
        h_prev, h_new = steps[t]
        ta = th @ w.T
        if txw is not None:
            ta = ta + txw[t]
        if tw is not None:
            ta = ta + h_prev @ tw.T
        th = ta * _activation_slope(h_new, nl)
        outs[t] = th
    return _stack(_in_order(outs, T))


rnn_scan = Primitive(
    "rnn_scan",
    _rnn_impl,
    nin=3,
    save_output=True,
    complex=False,
    vjp_all=_rnn_vjp,
    jvp_all=_rnn_jvp,
)
deflower(rnn_scan, _call_lowering(_rnn_impl))
