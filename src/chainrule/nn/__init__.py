"""chainrule.nn: modules (Linear, Sequential, activations), initialisers and losses.

``cr.nn.functional`` holds the stateless functions; ``cr.nn.init`` the initialisers.
"""

from . import functional, init
from .compiled import CompiledLoss
from .layers import (
    ACTIVATIONS,
    Dropout,
    Flatten,
    Identity,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    mlp,
)
from .module import IncompatibleKeys, Module, Parameter

__all__ = [
    "ACTIVATIONS",
    "CompiledLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "Linear",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
    "init",
    "mlp",
]

from . import utils as utils  # noqa: E402  (cr.nn.utils: clip_grad_norm_, parameters_to_vector)
