"""Layers: Linear, Sequential, activation modules, Dropout, Flatten, and the ``mlp`` builder.

Each layer is a small Module whose forward is one or two chainrule operations, so the graph
(and what tracing shows) stays as small as the math.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = [
    "ACTIVATIONS",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "mlp",
]


class Linear(Module):
    """Affine layer ``y = x @ W.T + b`` with ``W`` of shape (out_features, in_features).

    Initialised like PyTorch: W and b from U(-1/sqrt(in), 1/sqrt(in)).

    Parameters
    ----------
    in_features, out_features:
        Sizes of each input and output sample.
    bias:
        Add a learnable bias (default True).
    dtype:
        Parameter dtype (float32 by default).
    seed:
        Int or ``numpy.random.Generator`` for a repeatable initialisation; None draws from
        chainrule's global generator (``cr.manual_seed``).

    Examples
    --------
    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 2, seed=0)
    >>> layer.weight.shape, layer.bias.shape
    ((2, 3), (2,))
    >>> layer(cr.ones(5, 3, dtype="float32")).shape
    (5, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float32,
        seed: Any = None,
    ) -> None:
        super().__init__()
        for arg, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Linear: {arg} must be a positive int, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        rng = init.generator(seed)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(
            rng.uniform(-bound, bound, (self.out_features, self.in_features)).astype(dtype)
        )
        self.bias = (
            Parameter(rng.uniform(-bound, bound, (self.out_features,)).astype(dtype))
            if bias
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        # One fused primitive (matmul + bias): fewer graph nodes, fewer temporaries.
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Sequential(Module):
    """Modules applied one after another; children are named ``0``, ``1``, ... (or by the
    keys of an OrderedDict), as in PyTorch, so state dicts match.

    Examples
    --------
    >>> import chainrule as cr
    >>> net = cr.nn.Sequential(cr.nn.Linear(2, 4, seed=0), cr.nn.ReLU(), cr.nn.Linear(4, 1, seed=1))
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, module in items:
            self._add(name, module)

    def _add(self, name: str, module: Any) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"Sequential: entry {name!r} is a {type(module).__name__}, not a Module"
            )
        # Stored in __dict__ under its name (not a valid identifier for "0", which is
        # fine): attribute discovery then yields "0.weight" like PyTorch.
        self.__dict__[name] = module

    def append(self, module: Module) -> Sequential:
        self._add(str(len(self)), module)
        return self

    def _layers(self) -> list[Module]:
        return [m for m in vars(self).values() if isinstance(m, Module)]

    def __len__(self) -> int:
        return len(self._layers())

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers())

    def __getitem__(self, index: int | slice) -> Any:
        layers = self._layers()
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def forward(self, x: Any) -> Any:
        for layer in vars(self).values():
            if isinstance(layer, Module):
                x = layer(x)
        return x


class ReLU(Module):
    """max(x, 0) elementwise (gradient 0 at 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.ReLU()(cr.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x)


class Tanh(Module):
    """tanh elementwise.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Tanh()(cr.tensor([0.0]))
    tensor([0.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Sigmoid()(cr.tensor([0.0]))
    tensor([0.5])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class Identity(Module):
    """Returns its input (a placeholder layer).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Identity()(cr.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Flattens all axes after the first: (N, a, b, ...) -> (N, a*b*...).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Flatten()(cr.ones(2, 3, 4)).shape
    (2, 12)
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.reshape(x, x.shape[0], -1)


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the rest by
    1/(1-p); the identity in eval mode.

    Examples
    --------
    >>> import chainrule as cr
    >>> drop = cr.nn.Dropout(0.5, seed=0).eval()
    >>> drop(cr.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, seed: Any = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self._rng = init.generator(seed)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = self._rng.random(x.shape) >= self.p
        return x * (keep / (1.0 - self.p)).astype(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    dtype: Any = np.float32,
    seed: Any = None,
) -> Sequential:
    """A multi-layer perceptron: Linear layers of ``sizes`` with ``activation`` between.

    Weights get He initialisation for ReLU and Xavier for tanh/sigmoid, biases zero.
    ``sizes=[in, out]`` gives the lectures' linear classifier (no hidden layer).

    Examples
    --------
    >>> import chainrule as cr
    >>> net = cr.nn.mlp([64, 128, 10], seed=0)
    >>> [tuple(p.shape) for p in net.parameters()]
    [(128, 64), (128,), (10, 128), (10,)]
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ValueError(f"mlp: need at least two positive layer sizes, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"mlp: unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}"
        )
    rng = init.generator(seed)
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = Linear(n_in, n_out, dtype=dtype, seed=rng)
        last = i == len(sizes) - 2
        if activation == "relu" and not last:
            init.kaiming_normal_(layer.weight, nonlinearity="relu", seed=rng)
        else:
            gain = init.calculate_gain(activation) if not last else 1.0
            init.xavier_normal_(layer.weight, gain=gain, seed=rng)
        init.zeros_(layer.bias)
        layers.append(layer)
        if not last:
            layers.append(ACTIVATIONS[activation]())
    return Sequential(*layers)
