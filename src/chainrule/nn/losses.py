"""Loss modules with PyTorch's names and arguments (CrossEntropyLoss, NLLLoss, BCELoss,
BCEWithLogitsLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss, KLDivLoss).

Each calls its function in ``cr.nn.functional``; class weights are buffers, so they are in
the state dict as in PyTorch.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
]


class _Loss(Module):
    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        super().__init__()
        self.reduction = F._legacy_reduction(type(self).__name__, size_average, reduce, reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean absolute error (see ``functional.l1_loss``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.L1Loss()(cr.tensor([1.0, -3.0]), cr.tensor([0.0, 0.0])).item()
    2.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (see ``functional.mse_loss``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.MSELoss()(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0])).item()
    5.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy with class weights, ``ignore_index`` and label smoothing
    (see ``functional.cross_entropy``).

    Examples
    --------
    >>> import chainrule as cr
    >>> loss = cr.nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> round(loss(cr.tensor([[2.0, 0.0]]), [0]).item(), 4)
    0.2269
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, float(label_smoothing)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (see ``functional.nll_loss``).

    Examples
    --------
    >>> import chainrule as cr
    >>> lp = cr.log_softmax(cr.tensor([[0.0, 0.0]]))
    >>> round(cr.nn.NLLLoss()(lp, [1]).item(), 4)
    0.6931
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (see ``functional.binary_cross_entropy``).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.BCELoss()(cr.tensor([0.8]), cr.tensor([1.0])).item(), 4)
    0.2231
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, stable, with ``pos_weight`` (see
    ``functional.binary_cross_entropy_with_logits``); ``weight`` and ``pos_weight`` are
    buffers.

    Examples
    --------
    >>> import chainrule as cr
    >>> loss = cr.nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0]))
    >>> round(loss(cr.tensor([0.0]), cr.tensor([1.0])).item(), 4)
    1.3863
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (see ``functional.smooth_l1_loss``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.SmoothL1Loss()(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0])).item()
    1.3125
    """

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = float(beta)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Quadratic below ``delta``, linear (slope delta) above (see ``functional.huber_loss``).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.HuberLoss(delta=2.0)(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0])).item()
    2.25
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = float(delta)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probability inputs (see ``functional.kl_div``;
    ``reduction="batchmean"`` gives the true KL divergence).

    Examples
    --------
    >>> import chainrule as cr
    >>> p = cr.tensor([[0.5, 0.5]])
    >>> round(cr.nn.KLDivLoss(reduction="batchmean")(cr.log(p), p).item(), 6)
    0.0
    """

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        Module.__init__(self)
        if reduction == "batchmean" and size_average is None and reduce is None:
            self.reduction = "batchmean"
        else:
            self.reduction = F._legacy_reduction("KLDivLoss", size_average, reduce, reduction)
        self.log_target = bool(log_target)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
