"""Flat-code rules (``Graph.flat_code`` / ``compile_flat``) for the network primitives of
``rules_nn.py``: the table ``tracing/codegen.py`` merges into its own.

erf, softplus and padding are written as NumPy expressions; the sliding windows and the
fused recurrences call the primitives' own functions (passed in as ``CONST`` entries), so
generated code and engine can never compute different things.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import rules_nn as RN
from ..tracing.codegen import CodeRule, _Ctx, _number, _per_input


def _lit(value: Any) -> str:
    if isinstance(value, float):
        return _number(value)  # inf and nan as np.inf / np.nan
    return repr(value)


def _kwargs(c: _Ctx) -> str:
    """The node's static parameters as keyword arguments (literals: ints, tuples, ...)."""
    return "".join(f", {k}={_lit(v)}" for k, v in c.p.items())


def _fn(c: _Ctx, name: str, fn: Any) -> str:
    """A chainrule function the generated code calls, passed in through ``CONST``."""
    c.gen.consts[name] = fn
    return f'CONST["{name}"]'


def _call(name: str, fn: Any) -> Any:
    return lambda c: f"{_fn(c, name, fn)}({', '.join(c.ins)}{_kwargs(c)})"


def _whole_vjp(prim: Any) -> Any:
    """Backward of a fused recurrence: its BPTT rule, once per input that needs it."""

    def back(c: _Ctx, i: int) -> tuple[str, bool, str]:
        needed = tuple(bool(v.requires_grad) for v in c.var.inputs)
        rule = _fn(c, f"{prim.name}_vjp", prim.vjp_all)
        params = "{" + ", ".join(f"{k!r}: {_lit(v)}" for k, v in c.p.items()) + "}"
        args = ", ".join(c.ins)
        return f"{rule}({c.g}, None, ({args},), {params}, {needed!r})[{i}]", True, "in"

    return back


def _pad_crop(c: _Ctx) -> str:
    index = ", ".join(f"{lo}:{lo + n}" for (lo, _hi), n in c.p["pads"])
    return f"{c.g}[{index}]"


CODE_NN: dict[str, CodeRule] = {
    "erf": CodeRule(
        _call("erf", RN.erf.impl),
        _per_input(
            lambda c: (
                f"{c.g} * {2.0 / np.sqrt(np.pi)!r} * np.exp(-{c.ins[0]} * {c.ins[0]})",
                True,
                "out",
            )
        ),
    ),
    "softplus": CodeRule(
        lambda c: f"np.logaddexp(0, {c.ins[0]})",
        _per_input(lambda c: (f"{c.g} / (1 + np.exp(-{c.ins[0]}))", True, "out")),
    ),
    "pad": CodeRule(
        _call("pad", RN.pad.impl),
        _per_input(lambda c: (_pad_crop(c), False, "in")),
    ),
    "windows": CodeRule(
        _call("windows", RN.windows.impl),
        _per_input(
            lambda c: (
                f"{_fn(c, 'window_sum', RN.window_sum.impl)}({c.g}{_kwargs(c)})",
                True,
                "in",
            )
        ),
    ),
    "window_sum": CodeRule(
        _call("window_sum", RN.window_sum.impl),
        _per_input(
            lambda c: (f"{_fn(c, 'windows', RN.windows.impl)}({c.g}{_kwargs(c)})", False, "in")
        ),
    ),
    "lstm_scan": CodeRule(_call("lstm_scan", RN.lstm_scan.impl), _whole_vjp(RN.lstm_scan)),
    "gru_scan": CodeRule(_call("gru_scan", RN.gru_scan.impl), _whole_vjp(RN.gru_scan)),
    "rnn_scan": CodeRule(_call("rnn_scan", RN.rnn_scan.impl), _whole_vjp(RN.rnn_scan)),
}
