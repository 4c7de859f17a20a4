"""Recurrent layers RNN, LSTM and GRU with PyTorch's arguments, gate orders, shapes
(batch_first, unbatched inputs, initial states) and parameter names (weight_ih_l0, ...).

Each layer and direction is one input projection for all steps (a single matmul) and one
fused recurrence primitive (``rules_nn.lstm_scan`` and friends), whose backward pass is
backpropagation through time written with chainrule operations.
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
    "GRU",
    "LSTM",
    "RNN",
    "RNNBase",
]


_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: parameters per layer and direction, shape
    checks, the layer loop and the initial and final states.

    Examples
    --------
    >>> import chainrule as cr
    >>> isinstance(cr.nn.GRU(2, 3), cr.nn.RNNBase)
    True
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        super().__init__()
        name = "RNN" if mode.startswith("RNN") else mode
        for arg, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported")
        if device not in (None, "cpu"):
            raise ValueError(f"{name}: only device='cpu' (or None) is supported, got {device!r}")
        self.mode = mode
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias = int(num_layers), bool(bias)
        self.batch_first, self.dropout = bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        gate_size = _GATES[mode] * self.hidden_size
        directions = 2 if bidirectional else 1
        rng = init.generator(seed)
        self._dropout_rng = init.generator(rng.integers(2**63))
        bound = 1.0 / math.sqrt(self.hidden_size)
        names = []
        for layer in range(self.num_layers):
            for direction in range(directions):
                in_size = self.input_size if layer == 0 else self.hidden_size * directions
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [
                    (f"weight_ih{suffix}", (gate_size, in_size)),
                    (f"weight_hh{suffix}", (gate_size, self.hidden_size)),
                ]
                if bias:
                    shapes += [
                        (f"bias_ih{suffix}", (gate_size,)),
                        (f"bias_hh{suffix}", (gate_size,)),
                    ]
                for pname, shape in shapes:
                    # PyTorch: every weight and bias from U(-1/sqrt(hidden), 1/sqrt(hidden))
                    self.__dict__[pname] = _initial(rng.uniform(-bound, bound, shape).astype(dtype))
                    names.append(pname)
        self._flat_weights_names = names

    # ------------------------------------------------------------------ helpers
    @property
    def _name(self) -> str:
        return type(self).__name__

    def _layer_repr(self) -> str:
        return f"{self._name}({self.extra_repr()})"

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    def flatten_parameters(self) -> None:
        """A no-op (PyTorch uses it to pack cuDNN weights)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        per = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[vars(self)[n] for n in names[i : i + per]] for i in range(0, len(names), per)]

    def _params(self, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        d = vars(self)
        if self.bias:
            return (
                d[f"weight_ih{suffix}"],
                d[f"weight_hh{suffix}"],
                d[f"bias_ih{suffix}"],
                d[f"bias_hh{suffix}"],
            )
        return d[f"weight_ih{suffix}"], d[f"weight_hh{suffix}"], None, None

    def _check_input(self, x: Tensor) -> tuple[Tensor, bool]:
        if x.ndim not in (2, 3):
            order = "(N, L, {})" if self.batch_first else "(L, N, {})"
            raise ValueError(
                f"{self._layer_repr()}: expected a 3-D input {order.format(self.input_size)} "
                f"or an unbatched 2-D input (L, {self.input_size}), got shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._layer_repr()}: expected input features {self.input_size} (the last axis), "
                f"got shape {x.shape}"
            )
        unbatched = x.ndim == 2
        if unbatched:
            x = ops.reshape(x, (x.shape[0], 1, x.shape[1]))
        elif self.batch_first:
            pass  # kept batch-major: the input projection reads it in place
        return x, unbatched

    def _initial(self, hx: Any, batch: int, unbatched: bool, what: str, dtype: Any) -> Any:
        layers = self.num_layers * (2 if self.bidirectional else 1)
        shape = (layers, batch, self.hidden_size)
        if hx is None:
            return np.zeros(shape, dtype=dtype)
        h = _t(hx)
        expected = shape[::2] if unbatched else shape
        if h.shape != expected:
            raise ValueError(
                f"{self._layer_repr()}: expected {what} of shape {expected}, got {h.shape}"
            )
        return ops.reshape(h, shape) if unbatched else h

    def _projection(self, inp: Tensor, w_ih: Any, bias: Any, batch_major: bool) -> Tensor:
        """x @ W_ih.T + bias for every step at once: (T, N, G), one matmul."""
        shape = inp.shape
        flat = ops.reshape(inp, -1, shape[-1])
        xw = ops.linear(flat, w_ih, bias) if bias is not None else ops.matmul(flat, w_ih.T)
        xw = ops.reshape(xw, shape[0], shape[1], -1)
        return ops.transpose(xw, 1, 0, 2) if batch_major else xw

    def _run(self, input: Any, h0: Any, c0: Any = None) -> tuple:
        x, unbatched = self._check_input(_t(input))
        batch_major = self.batch_first and not unbatched
        batch = x.shape[0] if batch_major else x.shape[1]
        dtype = vars(self)[self._flat_weights_names[0]].dtype
        h0 = self._initial(h0, batch, unbatched, "h_0", dtype)
        if self.mode == "LSTM":
            c0 = self._initial(c0, batch, unbatched, "c_0", dtype)
        directions = 2 if self.bidirectional else 1
        inp = x
        h_final: list = []
        c_final: list = []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                w_ih, w_hh, b_ih, b_hh = self._params(layer, direction)
                k = layer * directions + direction
                reverse = direction == 1
                major = batch_major and layer == 0
                if self.mode == "GRU":
                    xw = self._projection(inp, w_ih, b_ih, major)
                    b = b_hh if b_hh is not None else np.zeros(w_hh.shape[0], dtype=dtype)
                    # (5, T, N, H): h and the gate activations; the layer reads h
                    seq = RN.gru_scan(xw, h0[k], w_hh, b, reverse=reverse)[0]
                    h_last = seq[0 if reverse else -1]
                elif self.mode == "LSTM":
                    bias = None if b_ih is None else b_ih + b_hh
                    xw = self._projection(inp, w_ih, bias, major)
                    # (6, T, N, H): h, c and the gate activations; the layer reads h and c
                    both = RN.lstm_scan(xw, h0[k], c0[k], w_hh, reverse=reverse)
                    seq = both[0]
                    h_last = seq[0 if reverse else -1]
                    c_final.append(both[1, 0 if reverse else -1])
                else:
                    bias = None if b_ih is None else b_ih + b_hh
                    xw = self._projection(inp, w_ih, bias, major)
                    nl = "tanh" if self.mode == "RNN_TANH" else "relu"
                    seq = RN.rnn_scan(xw, h0[k], w_hh, reverse=reverse, nonlinearity=nl)
                    h_last = seq[0 if reverse else -1]
                outs.append(seq)
                h_final.append(h_last)
            inp = outs[0] if directions == 1 else ops.concatenate(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                keep = self._dropout_rng.random(inp.shape) >= self.dropout
                inp = inp * (keep / (1.0 - self.dropout)).astype(dtype)
        out = inp
        if batch_major:
            out = ops.transpose(out, 1, 0, 2)
        h_n = ops.stack(h_final)
        c_n = ops.stack(c_final) if c_final else None
        if unbatched:
            out = ops.reshape(out, (out.shape[0], out.shape[2]))
            h_n = ops.reshape(h_n, (h_n.shape[0], h_n.shape[2]))
            if c_n is not None:
                c_n = ops.reshape(c_n, (c_n.shape[0], c_n.shape[2]))
        return out, h_n, c_n


class RNN(RNNBase):
    """Elman RNN, h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh) (or relu).

    ``forward(input, hx=None) -> (output, h_n)``: input (L, N, H_in) ((N, L, H_in) with
    ``batch_first``, or unbatched (L, H_in)); output (L, N, D * H_out); h_n
    (D * num_layers, N, H_out).

    Examples
    --------
    >>> import chainrule as cr
    >>> rnn = cr.nn.RNN(3, 5, num_layers=2, seed=0)
    >>> out, h = rnn(cr.ones(7, 2, 3))
    >>> out.shape, h.shape
    ((7, 2, 5), (2, 2, 5))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
            seed,
        )

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._run(input, hx)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory with PyTorch's gate order (i, f, g, o) in the weight rows:
    c_t = f * c_(t-1) + i * g, h_t = o * tanh(c_t).

    ``forward(input, hx=None) -> (output, (h_n, c_n))`` with ``hx = (h_0, c_0)``; shapes
    as in RNN. Parameters ``weight_ih_l{k}`` (4H, H_in), ``weight_hh_l{k}`` (4H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (and ``..._reverse`` when bidirectional).

    Examples
    --------
    >>> import chainrule as cr
    >>> lstm = cr.nn.LSTM(3, 4, batch_first=True, bidirectional=True, seed=0)
    >>> out, (h, c) = lstm(cr.ones(2, 6, 3))
    >>> out.shape, h.shape, c.shape
    ((2, 6, 8), (2, 2, 4), (2, 2, 4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
            seed,
        )

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._layer_repr()}: hx must be a tuple (h_0, c_0)")
            h0, c0 = hx
        out, h_n, c_n = self._run(input, h0, c0)
        return out, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit with PyTorch's gate order (r, z, n):
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h.

    ``forward(input, hx=None) -> (output, h_n)``; shapes and parameter names as in LSTM
    with 3H gate rows.

    Examples
    --------
    >>> import chainrule as cr
    >>> out, h = cr.nn.GRU(3, 4, seed=0)(cr.ones(5, 3))  # unbatched
    >>> out.shape, h.shape
    ((5, 4), (1, 4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
            seed,
        )

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._run(input, hx)
        return out, h_n
