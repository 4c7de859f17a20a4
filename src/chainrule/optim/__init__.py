"""chainrule.optim: optimizers (SGD with momentum/Nesterov, Adam, AdamW) and learning-rate
schedules (StepLR, CosineAnnealingLR), with PyTorch's interface and state_dict layout.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .lr_scheduler import CosineAnnealingLR, LRScheduler, StepLR
from .optimizer import Optimizer
from .sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Optimizer",
    "LRScheduler",
    "StepLR",
    "CosineAnnealingLR",
    "lr_scheduler",
]

# Second-order methods (issue 5): exact-Hessian Newton and Hessian-free Newton-CG.
from .newton import Newton, NewtonCG, OptimizeResult, minimize  # noqa: E402

__all__ += ["Newton", "NewtonCG", "OptimizeResult", "minimize"]
