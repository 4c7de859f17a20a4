"""Adam and AdamW with bias correction, exactly as ``torch.optim.Adam``/``AdamW`` compute
them (in place on arrays, no graph).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _check_hyper

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam: per-parameter step sizes from running moments of the gradient.

    With g the gradient (plus ``weight_decay * p``, L2 style) and t the step count::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    ``amsgrad=True`` uses the running maximum of v instead of v.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = cr.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w  # the first Adam step moves each entry by lr, against the gradient's sign
    tensor([ 0.9, -0.9], requires_grad=True)
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": bool(amsgrad),
        }
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        group["lr"] = _check_hyper(name, "lr", group["lr"])
        group["eps"] = _check_hyper(name, "eps", group["eps"])
        group["weight_decay"] = _check_hyper(name, "weight_decay", group["weight_decay"])
        betas = tuple(group["betas"])
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas}")
        group["betas"] = (
            _check_hyper(name, "beta1", betas[0], high=1.0, high_open=True),
            _check_hyper(name, "beta2", betas[1], high=1.0, high_open=True),
        )

    def _update(
        self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]
    ) -> None:
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        if weight_decay:
            if self._decoupled:
                param *= 1.0 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        state["step"] += 1
        step = state["step"]
        exp_avg = state["exp_avg"]
        exp_avg_sq = state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1.0 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1.0 - beta2) * (grad * grad)
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"]
            np.maximum(second, exp_avg_sq, out=second)
        else:
            second = exp_avg_sq
        step_size = lr / (1.0 - beta1**step)
        # denom = sqrt(v) / sqrt(1 - beta2**t) + eps, built in one scratch array.
        denom = np.sqrt(second, out=np.empty_like(second))  # (an array also for 0-d)
        denom *= 1.0 / math.sqrt(1.0 - beta2**step)
        denom += group["eps"]
        np.divide(exp_avg, denom, out=denom)
        denom *= step_size
        param -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr * weight_decay`` before the step),
    as ``torch.optim.AdamW``; its default weight decay is 0.01.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.0)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9, -0.9], requires_grad=True)
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
