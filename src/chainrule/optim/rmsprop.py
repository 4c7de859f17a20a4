"""RMSprop (optionally centered, with momentum), exactly as ``torch.optim.RMSprop``
computes it (in place on arrays, no graph).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _check_hyper

__all__ = ["RMSprop"]


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start += weight * (end - start)`` in place, by the same two-branch formula as
    ``torch.lerp`` (the branch keeps the result exact at weight 0 and 1)."""
    diff = end - start
    if weight < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= 1.0 - weight
        np.subtract(end, diff, out=start)


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    With g the gradient (plus ``weight_decay * p``)::

        v = alpha * v + (1 - alpha) * g**2
        avg = sqrt(v) + eps                       (centered: sqrt(v - gbar**2) + eps,
                                                   gbar = lerp(gbar, g, 1 - alpha))
        buf = momentum * buf + g / avg;  p -= lr * buf     (momentum > 0)
        p -= lr * g / avg                                  (otherwise)

    Parameters
    ----------
    params:
        Tensors to optimize or parameter-group dicts.
    lr, alpha, eps, weight_decay, momentum, centered:
        As in ``torch.optim.RMSprop`` (defaults 1e-2, 0.99, 1e-8, 0, 0, False).

    Notes
    -----
    State per parameter (PyTorch's names): ``step``, ``square_avg``, ``momentum_buffer``
    (momentum > 0), ``grad_avg`` (centered).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = cr.optim.RMSprop([w], lr=0.01, alpha=0.75)
    >>> (w * w).sum().backward()       # g = 2w = [2, -2]; v = 0.25 * 4 = 1
    >>> opt.step()                      # p -= 0.01 * g / (1 + 1e-8)
    >>> [round(v, 6) for v in w.numpy().tolist()]
    [0.98, -0.98]
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": bool(centered),
        }
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            group[key] = _check_hyper("RMSprop", key, group[key])
        group["centered"] = bool(group["centered"])

    def _update(
        self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]
    ) -> None:
        alpha = group["alpha"]
        momentum = group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1.0 - alpha) * (grad * grad)
        if group["centered"]:
            # Momentum or centering switched on after the first step (e.g. by a
            # schedule) starts its buffer at zero, as PyTorch's lazily made state does.
            grad_avg = state.setdefault("grad_avg", np.zeros_like(param))
            _lerp_(grad_avg, grad, 1.0 - alpha)
            # (out= arrays: a 0-d parameter's values stay arrays)
            avg = np.subtract(square_avg, grad_avg * grad_avg, out=np.empty_like(square_avg))
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg, out=np.empty_like(square_avg))
        avg += group["eps"]
        if momentum > 0:
            buf = state.setdefault("momentum_buffer", np.zeros_like(param))
            buf *= momentum
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            np.divide(grad, avg, out=avg)
            avg *= group["lr"]
            param -= avg
