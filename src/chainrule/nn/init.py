"""Weight initialisers (Kaiming/He, Xavier/Glorot, uniform, normal, constants), seeded.

Each fills a Tensor's data in place of the old array and returns the Tensor, like
``torch.nn.init``; ``seed`` (an int or a ``numpy.random.Generator``) makes it repeatable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor
from ..tensor import _rng as _core_rng

__all__ = [
    "calculate_gain",
    "constant_",
    "generator",
    "kaiming_normal",
    "kaiming_normal_",
    "kaiming_uniform",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal",
    "xavier_normal_",
    "xavier_uniform",
    "xavier_uniform_",
    "zeros_",
]

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
}


def generator(seed: Any = None) -> np.random.Generator:
    """A NumPy Generator from ``seed``: a Generator is used as is, an int seeds a new one,
    None draws from chainrule's global generator (so ``cr.manual_seed`` applies).

    Examples
    --------
    >>> import chainrule as cr
    >>> g = cr.nn.init.generator(0)
    >>> float(g.random()) == float(cr.nn.init.generator(0).random())
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        # A child generator seeded from the global stream: repeatable under
        # cr.manual_seed, yet independent of how many numbers this init draws.
        return np.random.default_rng(_core_rng(None).integers(2**63))
    return np.random.default_rng(seed)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended std scale for an activation (PyTorch's table).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.init.calculate_gain("relu"), 4)
    1.4142
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        raise ValueError(
            f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of "
            f"{sorted(_GAINS) + ['leaky_relu']}"
        )
    return _GAINS[nonlinearity]


def _fans(tensor: Tensor, op: str) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            f"{op}: fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}"
        )
    receptive = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    # Weight layout is (out, in, ...), as in Linear: fan_in counts the inputs.
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data = values.astype(tensor.dtype, copy=False)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, seed: Any = None) -> Tensor:
    """Fill with samples from U(a, b).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.nn.init.uniform_(cr.zeros(1000), -0.5, 0.5, seed=0)
    >>> bool(abs(w.numpy()).max() <= 0.5)
    True
    """
    return _fill(tensor, generator(seed).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, seed: Any = None) -> Tensor:
    """Fill with samples from N(mean, std**2).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.nn.init.normal_(cr.zeros(10000), 0.0, 2.0, seed=0)
    >>> round(float(w.numpy().std()), 1)
    2.0
    """
    return _fill(tensor, generator(seed).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value``, in place (no graph is recorded).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.init.constant_(cr.zeros(3), 0.5)
    tensor([0.5, 0.5, 0.5])
    """
    return _fill(tensor, np.full(tensor.shape, value))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros, in place.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.init.zeros_(cr.ones(2))
    tensor([0., 0.])
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones, in place.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.init.ones_(cr.zeros(2))
    tensor([1., 1.])
    """
    return constant_(tensor, 1.0)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, op: str) -> float:
    fan_in, fan_out = _fans(tensor, op)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    seed: Any = None,
) -> Tensor:
    """He initialisation, uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.nn.init.kaiming_uniform_(cr.zeros(128, 64), nonlinearity="relu", seed=0)
    >>> bool(abs(w.numpy()).max() <= (6 / 64) ** 0.5)
    True
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound, seed)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    seed: Any = None,
) -> Tensor:
    """He initialisation, normal: N(0, std**2) with std = gain / sqrt(fan).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.nn.init.kaiming_normal_(cr.zeros(256, 128), nonlinearity='relu', seed=0)
    >>> round(float(w.numpy().std()) * 128 ** 0.5, 1)  # std = sqrt(2 / fan_in)
    1.4
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(tensor, 0.0, std, seed)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, seed: Any = None) -> Tensor:
    """Glorot initialisation, uniform: bound = gain * sqrt(6 / (fan_in + fan_out)).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.nn.init.xavier_uniform_(cr.zeros(30, 20), seed=0)
    >>> bool(abs(w.numpy()).max() <= (6 / 50) ** 0.5)
    True
    """
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, seed)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, seed: Any = None) -> Tensor:
    """Glorot initialisation, normal: std = gain * sqrt(2 / (fan_in + fan_out)).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.nn.init.xavier_normal_(cr.zeros(300, 200), seed=0)
    >>> round(float(w.numpy().std()) ** 2 * 500, 1)  # variance = 2 / (fan_in + fan_out)
    2.0
    """
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed)


# Names without the trailing underscore, for readers coming from Keras or the lectures.
kaiming_uniform = kaiming_uniform_
kaiming_normal = kaiming_normal_
xavier_uniform = xavier_uniform_
xavier_normal = xavier_normal_
