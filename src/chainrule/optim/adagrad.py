"""Adagrad (with lr decay and an initial accumulator), exactly as ``torch.optim.Adagrad``
computes it (in place on arrays, no graph).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _check_hyper

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: per-entry step sizes shrinking with the sum of squared gradients.

    With g the gradient (plus ``weight_decay * p``) and t the step count::

        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g**2
        p = p - clr * g / (sqrt(sum) + eps)

    Parameters
    ----------
    params:
        Tensors to optimize or parameter-group dicts.
    lr, lr_decay, weight_decay, initial_accumulator_value, eps:
        As in ``torch.optim.Adagrad`` (defaults 1e-2, 0, 0, 0, 1e-10).

    Notes
    -----
    As in PyTorch, every parameter's state (``step`` 0 and ``sum`` filled with
    ``initial_accumulator_value``) exists from construction on.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0], requires_grad=True)
    >>> opt = cr.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()       # g = 6; sum = 36; the step is lr * g / 6 = lr
    >>> opt.step()
    >>> round(w.item(), 6)
    2.5
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
        }
        super().__init__(params, defaults)

    def add_param_group(self, group: dict[str, Any]) -> None:
        super().add_param_group(group)
        added = self.param_groups[-1]
        for p in added["params"]:
            self.state[p] = {
                "step": 0,
                "sum": np.full(p.shape, added["initial_accumulator_value"], dtype=p.dtype),
            }

    def _validate_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value"):
            group[key] = _check_hyper("Adagrad", key, group[key])

    def _update(
        self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]
    ) -> None:
        if not state:  # state dropped by a load_state_dict that had none for it
            state["step"] = 0
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1.0 + (state["step"] - 1) * group["lr_decay"])
        acc = state["sum"]
        acc += grad * grad
        std = np.sqrt(acc, out=np.empty_like(acc))  # (an array also for 0-d)
        std += group["eps"]
        np.divide(grad, std, out=std)
        std *= clr
        param -= std
