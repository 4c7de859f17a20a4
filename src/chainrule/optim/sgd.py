"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay, exactly
as ``torch.optim.SGD`` computes it (in place on arrays, no graph).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _check_hyper, _writable_data, mark_step

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD, optionally with momentum (the lectures' heavy ball) and L2 weight decay.

    For each parameter with gradient g (PyTorch's formulas)::

        g = g + weight_decay * p
        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        g = g + momentum * buf  if nesterov else  buf
        p = p - lr * g

    Parameters
    ----------
    params:
        Tensors to optimise (e.g. ``model.parameters()``) or parameter-group dicts.
    lr:
        Learning rate (>= 0; PyTorch's default 1e-3).
    momentum, dampening, nesterov, weight_decay:
        As in ``torch.optim.SGD``; Nesterov needs momentum > 0 and dampening 0.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([0.8, 1.6], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "nesterov": bool(nesterov),
            "weight_decay": weight_decay,
            "dampening": dampening,
        }
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        group["lr"] = _check_hyper("SGD", "lr", group["lr"])
        group["momentum"] = _check_hyper("SGD", "momentum", group["momentum"])
        group["weight_decay"] = _check_hyper("SGD", "weight_decay", group["weight_decay"])
        group["dampening"] = _check_hyper("SGD", "dampening", group["dampening"], high=1.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening 0 (got momentum="
                f"{group['momentum']}, dampening={group['dampening']})"
            )

    def _update_group(self, group: dict[str, Any]) -> None:
        # The hyperparameters are read once per group and the update is inlined: a
        # training step on a small network spends a visible share of its time here.
        lr = group["lr"]
        momentum = group["momentum"]
        weight_decay = group["weight_decay"]
        damp = 1.0 - group["dampening"]
        nesterov = group["nesterov"]
        state_of = self.state
        for p in group["params"]:
            g = p._grad
            if g is None or not p._rg:  # no gradient, or frozen: skipped
                continue
            grad = g._data
            param = p._data
            if weight_decay:
                grad = grad + weight_decay * param
            if momentum:
                state = state_of.get(p)
                buf = None if state is None else state.get("momentum_buffer")
                if buf is None:
                    # Copied: the buffer is updated in place and must not alias .grad.
                    buf = np.array(grad, dtype=param.dtype, copy=True)
                    state_of.setdefault(p, {})["momentum_buffer"] = buf
                else:
                    buf *= momentum
                    buf += grad if damp == 1.0 else damp * grad
                grad = grad + momentum * buf if nesterov else buf
            # One temporary (lr * grad); the parameter itself is updated in place, or,
            # if its array cannot be written (e.g. a broadcast view), replaced by a copy.
            try:
                param -= lr * grad
                mark_step(param, p)
            except ValueError:
                if param.flags.writeable:
                    raise
                _writable_data(p)[...] -= lr * grad
