"""Layers: Linear, Sequential, ModuleList/ModuleDict, activation modules, Dropout,
Flatten/Unflatten, Identity, Embedding, and the ``mlp`` builder.

Each layer is a small Module whose forward is one or two chainrule operations, so the graph
(and what tracing shows) stays as small as the math.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .. import kernels as K
from .. import ops
from .. import rules_nn as RN
from ..tensor import Tensor, _jit_tracing, _note_rng, apply
from . import functional as F
from . import init
from .module import Module, _initial

__all__ = [
    "ACTIVATIONS",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "Identity",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "ModuleDict",
    "ModuleList",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
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
        self.weight = _initial(
            rng.uniform(-bound, bound, (self.out_features, self.in_features)).astype(dtype)
        )
        self.bias = (
            _initial(rng.uniform(-bound, bound, (self.out_features,)).astype(dtype))
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
    """Returns its input (a placeholder layer); any constructor arguments are ignored, as
    in PyTorch.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Identity()(cr.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Flattens axes ``start_dim`` to ``end_dim`` into one (default: all after the first,
    (N, a, b, ...) -> (N, a*b*...)).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Flatten()(cr.ones(2, 3, 4)).shape, cr.nn.Flatten(0, 1)(cr.ones(2, 3, 4)).shape
    ((2, 12), (6, 4))
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        nd = x.ndim
        if nd == 0:
            return ops.reshape(x, 1)
        start, end = self.start_dim % nd, self.end_dim % nd
        if start > end:
            raise ValueError(
                f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for a "
                f"{nd}-D input of shape {x.shape}"
            )
        shape = x.shape
        return ops.reshape(x, shape[:start] + (-1,) + shape[end + 1 :])


class Unflatten(Module):
    """Splits axis ``dim`` into ``unflattened_size``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Unflatten(1, (2, 5))(cr.ones(3, 10)).shape
    (3, 2, 5)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = int(dim), tuple(int(s) for s in unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        d = self.dim % x.ndim
        known = math.prod(s for s in self.unflattened_size if s != -1)
        if (-1 not in self.unflattened_size and known != x.shape[d]) or (
            known == 0 or x.shape[d] % known
        ):
            raise ValueError(
                f"Unflatten: axis {self.dim} of size {x.shape[d]} (input shape {x.shape}) cannot "
                f"be split into {self.unflattened_size}"
            )
        return ops.reshape(x, x.shape[:d] + self.unflattened_size + x.shape[d + 1 :])


class ModuleList(Module):
    """A list of sub-modules, named ``0``, ``1``, ... in parameter names and state dicts
    (as PyTorch).

    Examples
    --------
    >>> import chainrule as cr
    >>> blocks = cr.nn.ModuleList([cr.nn.Linear(2, 2, seed=i) for i in range(2)])
    >>> len(blocks), [n for n, _ in blocks.named_parameters()][:2]
    (2, ['0.weight', '0.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        self.__dict__["_items"] = []
        if modules is not None:
            self.extend(modules)

    def _direct(self) -> Iterator[tuple[str, Any]]:
        for i, m in enumerate(self._items):
            yield str(i), m

    @staticmethod
    def _check(module: Any) -> Module:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        return module

    def append(self, module: Module) -> ModuleList:
        self._items.append(self._check(module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        self._items.insert(index, self._check(module))

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(self._items[index])
        return self._items[index]

    def __setitem__(self, index: int, module: Module) -> None:
        self._items[index] = self._check(module)

    def __delitem__(self, index: int | slice) -> None:
        del self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._items))

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); iterate over it instead")


class ModuleDict(Module):
    """An ordered dict of sub-modules; keys appear as they are in parameter names.

    Examples
    --------
    >>> import chainrule as cr
    >>> heads = cr.nn.ModuleDict({"cls": cr.nn.Linear(4, 2, seed=0)})
    >>> list(heads.state_dict())
    ['cls.weight', 'cls.bias']
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        self.__dict__["_items"] = OrderedDict()
        if modules is not None:
            self.update(modules)

    def _direct(self) -> Iterator[tuple[str, Any]]:
        yield from self._items.items()

    def __getitem__(self, key: str) -> Module:
        return self._items[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {key!r} is a {type(module).__name__}, not a Module")
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        self._items[key] = module

    def __delitem__(self, key: str) -> None:
        del self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def keys(self) -> Any:
        return self._items.keys()

    def values(self) -> Any:
        return self._items.values()

    def items(self) -> Any:
        return self._items.items()

    def pop(self, key: str) -> Module:
        return self._items.pop(key)

    def clear(self) -> None:
        self._items.clear()

    def update(self, modules: Any) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(); index it instead")


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

    def __init__(self, p: float = 0.5, inplace: bool = False, seed: Any = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self._rng = init.generator(seed)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if _jit_tracing():  # a program draws a new mask from the generator at every call
            _note_rng(self._rng)
            return x * apply(RN.dropout_mask, (x,), {"p": self.p, "seed": self._rng})
        return x * K.dropout_mask(x._data, self.p, self._rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GELU(Module):
    """x * Phi(x) with the exact erf (default) or ``approximate="tanh"``.

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.GELU()(cr.tensor(1.0)).item(), 6)
    0.841345
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)


class SiLU(Module):
    """x * sigmoid(x).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.SiLU()(cr.tensor(1.0)).item(), 6)
    0.731059
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise (gradient at 0: the slope).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.LeakyReLU(0.1)(cr.tensor([-2.0, 3.0])).tolist()
    [-0.2, 3.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)


class ELU(Module):
    """x for x > 0, alpha (exp(x) - 1) otherwise.

    Examples
    --------
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.ELU()(cr.tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)


class Softplus(Module):
    """(1/beta) log(1 + exp(beta x)), linear above ``threshold`` (as PyTorch).

    Examples
    --------
    >>> import chainrule as cr
    >>> round(cr.nn.Softplus()(cr.tensor(0.0)).item(), 6)
    0.693147
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)


class Softmax(Module):
    """softmax along ``dim`` (PyTorch's implicit choice when None: 0 for 0-, 1- and 3-D
    inputs, else 1).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Softmax(dim=-1)(cr.tensor([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)


class LogSoftmax(Module):
    """log_softmax along ``dim``.

    Examples
    --------
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.LogSoftmax(dim=-1)(cr.tensor([0.0, 0.0])).tolist()]
    [-0.6931, -0.6931]
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)


class Embedding(Module):
    """A lookup table: integer indices (any shape) -> rows of ``weight``
    (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch; the row at
    ``padding_idx`` starts at zero and receives no gradient.

    Examples
    --------
    >>> import chainrule as cr
    >>> emb = cr.nn.Embedding(10, 3, padding_idx=0, seed=0)
    >>> emb(cr.tensor([[1, 0, 4]])).shape, emb.weight.numpy()[0].tolist()
    ((1, 3, 3), [0.0, 0.0, 0.0])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        super().__init__()
        for arg, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Embedding: {arg} must be a positive int, got {value!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} must be within num_embeddings "
                    f"({num_embeddings})"
                )
            padding_idx %= num_embeddings
        if device not in (None, "cpu"):
            raise ValueError(f"only device='cpu' (or None) is supported, got {device!r}")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is not None:
            w = np.array(_weight.data if isinstance(_weight, Tensor) else _weight, dtype=dtype)
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim}), "
                    f"got {w.shape}"
                )
        else:
            w = init.generator(seed).standard_normal((num_embeddings, embedding_dim)).astype(dtype)
            if padding_idx is not None:
                w[padding_idx] = 0
        self.weight = _initial(w, requires_grad=not _freeze)  # (w is a copy: np.array)

    @classmethod
    def from_pretrained(
        cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None, **kwargs: Any
    ) -> Embedding:
        """An Embedding holding ``embeddings`` (rows), frozen by default."""
        arr = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if arr.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected a 2-D array, got {arr.shape}")
        return cls(
            arr.shape[0],
            arr.shape[1],
            padding_idx,
            _weight=arr,
            _freeze=freeze,
            dtype=arr.dtype,
            **kwargs,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    def forward(self, input: Any) -> Tensor:
        return F.embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )


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
