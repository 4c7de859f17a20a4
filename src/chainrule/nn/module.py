"""Module and Parameter: the containers that hold a model's trainable tensors and buffers.

Parameters are discovered by walking attributes (and lists, tuples and dicts of them), so a
model is plain Python: assign layers to attributes and ``parameters()`` finds them. Buffers
(running statistics) are Tensors registered by name with ``register_buffer``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import versions
from ..tensor import Tensor, _note_module, _stored
from ..tracing import scope as _scope

__all__ = ["IncompatibleKeys", "Module", "Parameter"]


class Parameter(Tensor):
    """A leaf Tensor that a Module owns and an optimizer updates (``requires_grad=True``).

    Parameters
    ----------
    data:
        Initial value (a Tensor's data is shared, not copied). Must be floating point.
    requires_grad:
        Whether gradients are accumulated into ``.grad`` (default True).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.nn.Parameter([1.0, 2.0])
    >>> isinstance(w, cr.Tensor), w.requires_grad
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _initial(array: np.ndarray, requires_grad: bool = True) -> Parameter:
    """A Parameter holding a layer's initial values: an array made for it that nobody
    else holds, so it is not adopted (``versions.adopt``: the nodes that save an adopted
    array fingerprint it at every step, in case its holder writes into it).

    >>> p = _initial(np.zeros(3))
    >>> id(p._data) in versions.ADOPTED
    False
    """
    p = Parameter(array, requires_grad=requires_grad)
    versions.ADOPTED.pop(id(p._data), None)
    return p


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` could not match (PyTorch's return value).

    Examples
    --------
    >>> import chainrule as cr
    >>> net = cr.nn.Linear(2, 1, seed=0)
    >>> net.load_state_dict({'weight': net.weight.numpy()}, strict=False)
    IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])
    """

    missing_keys: list[str]
    unexpected_keys: list[str]


def _children_of(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Yield (qualified name, Module or Parameter) found in one attribute value."""
    if isinstance(value, (Module, Parameter)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, (Module, Parameter)):
                yield f"{name}.{i}", item
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (Module, Parameter)):
                yield f"{name}.{key}", item


class Module:
    """Base class of layers and models: subclass it, set layers as attributes, define
    ``forward``.

    Parameters are found through attributes holding a ``Parameter``, a ``Module``, or a
    list, tuple or dict of them, in attribute order.

    Examples
    --------
    >>> import chainrule as cr
    >>> class TwoLayer(cr.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = cr.nn.Linear(4, 8, seed=0)
    ...         self.out = cr.nn.Linear(8, 3, seed=1)
    ...     def forward(self, x):
    ...         return self.out(cr.relu(self.hidden(x)))
    >>> net = TwoLayer()
    >>> [name for name, _ in net.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> net(cr.ones(2, 4, dtype="float32")).shape
    (2, 3)
    """

    training = True  # class-level default, see __init__

    def __init__(self) -> None:
        # Set through __dict__ so that subclasses that forget super().__init__() still
        # work: ``training`` falls back to the class attribute below.
        self.__dict__["training"] = True
        # name -> persistent; the buffers themselves are plain attributes (so reading and
        # assigning ``self.running_mean`` works as in PyTorch).
        self.__dict__["_buffer_names"] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _note_module(self)
        if _scope.ACTIVE:  # a trace is recording: note which module makes each node
            return _scope.call(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ discovery
    def _direct(self) -> Iterator[tuple[str, Any]]:
        for attr, value in vars(self).items():
            yield from _children_of(attr, value)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The immediate sub-modules with their attribute names."""
        for name, item in self._direct():
            if isinstance(item, Module):
                yield name, item

    def children(self) -> Iterator[Module]:
        for _name, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all sub-modules, depth first, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _name, module in self.named_modules():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(qualified name, Parameter) pairs, e.g. ``('0.weight', ...)``; a parameter
        shared by two layers is listed once, under its first name."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mod_name, module in modules:
            for name, item in module._direct():
                if isinstance(item, Parameter) and id(item) not in seen:
                    seen.add(id(item))
                    yield (f"{mod_name}.{name}" if mod_name else name), item

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All parameters (each once), in a stable order: what an optimizer is given."""
        for _name, p in self.named_parameters(recurse=recurse):
            yield p

    # ------------------------------------------------------------------ registration
    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add a buffer: a Tensor that is part of the module's state (saved in
        ``state_dict`` unless ``persistent=False``, moved by ``load_state_dict`` and
        ``to``) but is not a parameter, so no optimizer updates it. ``None`` registers
        an absent buffer (left out of the state dict).

        Examples
        --------
        >>> import chainrule as cr
        >>> m = cr.nn.Module()
        >>> m.register_buffer("count", cr.zeros(()))
        >>> list(m.state_dict()), list(m.parameters())
        (['count'], [])
        """
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(
                f"register_buffer: buffer name must be a non-empty string without '.', got {name!r}"
            )
        if name in vars(self) and name not in self._buffers_dict():
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        if isinstance(tensor, Parameter):
            raise TypeError(f"register_buffer: {name!r} is a Parameter; use register_parameter")
        if "_buffer_names" not in vars(self):
            self.__dict__["_buffer_names"] = {}
        self.__dict__["_buffer_names"][name] = bool(persistent)
        self.__dict__[name] = tensor

    def _buffers_dict(self) -> dict[str, bool]:
        return vars(self).get("_buffer_names", {})

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter under ``name`` (``None`` leaves the slot empty, like a layer
        built with ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: {name!r} must be a Parameter or None, got "
                f"{type(param).__name__}"
            )
        self.__dict__[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a sub-module under ``name`` (the name may be one a Python attribute cannot
        have, such as ``"0"``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} is a {type(module).__name__}, not a Module")
        self.__dict__[name] = module

    register_module = add_module

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, persistent_only: bool = False
    ) -> Iterator[tuple[str, Tensor]]:
        """(qualified name, buffer) pairs, e.g. ``('bn.running_mean', ...)``."""
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mod_name, module in modules:
            for name, persistent in module._buffers_dict().items():
                buf = vars(module).get(name)
                if buf is None or (persistent_only and not persistent):
                    continue
                yield (f"{mod_name}.{name}" if mod_name else name), buf

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _name, b in self.named_buffers(recurse=recurse):
            yield b

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (``False`` freezes the module)."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, dtype: Any) -> Module:
        """Cast the floating-point parameters and buffers to ``dtype`` in place (the
        Parameter objects stay the same, so optimizers built before still hold them).

        Examples
        --------
        >>> import chainrule as cr
        >>> cr.nn.Linear(2, 3, seed=0).to("float64").weight.dtype
        dtype('float64')
        """
        dtype = np.dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(f"to: expected a floating dtype, got {dtype}")
        for p in self.parameters():
            if p.dtype.kind in "fc" and p.dtype != dtype:
                p.data = _stored(np.asarray(p.data).astype(dtype))
                p.grad = None
        for _name, b in self.named_buffers():
            if b.dtype.kind in "fc" and b.dtype != dtype:
                b.data = _stored(np.asarray(b.data).astype(dtype))
        return self

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32."""
        return self.to(np.float32)

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every sub-module (Dropout reads it)."""
        for module in self.modules():
            module.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the parameters' gradients (to None, as PyTorch does by default)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.data)

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on every sub-module and this one (e.g. custom init)."""
        for module in list(self.modules())[::-1]:
            fn(module)
        return self

    # ------------------------------------------------------------------ state
    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """Parameters and persistent buffers in PyTorch's state-dict order: each module's
        own parameters, then its buffers, then its children (depth first)."""
        seen: set[int] = set()
        for mod_name, module in self.named_modules():
            for name, item in module._direct():
                if isinstance(item, Parameter) and id(item) not in seen:
                    seen.add(id(item))
                    yield (f"{mod_name}.{name}" if mod_name else name), item
            for name, persistent in module._buffers_dict().items():
                buf = vars(module).get(name)
                if persistent and buf is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), buf

    def state_dict(self) -> dict[str, Tensor]:
        """Name -> detached Tensor sharing the parameter's (or buffer's) data, like
        PyTorch: copy it, or save it, to keep a snapshot."""
        return {name: t.detach() for name, t in self._state_items()}

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values from ``state_dict`` (Tensors or arrays) into the parameters and
        buffers (each keeps its dtype).

        With ``strict=True`` a missing or unexpected key raises ``RuntimeError`` listing
        them; a value of the wrong shape always raises ``RuntimeError`` naming the key and
        both shapes (PyTorch's behaviour). Nothing changes unless every check passes.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a dict of name -> array, got "
                f"{type(state_dict).__name__}"
            )
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise RuntimeError(
                f"load_state_dict for {type(self).__name__}: "
                + "; ".join(parts)
                + f" (the model has {list(own)})"
            )
        updates = []
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            if arr.shape != p.shape:
                raise RuntimeError(
                    f"load_state_dict for {type(self).__name__}: size mismatch for "
                    f"'{name}': the state dict has shape {arr.shape}, the model has "
                    f"shape {p.shape}"
                )
            if arr.dtype.kind not in "biufc":
                raise TypeError(f"load_state_dict: '{name}' has non-numeric dtype {arr.dtype}")
            updates.append((p, arr))
        for p, arr in updates:
            # A fresh array (not an in-place write) so graphs that saved the old value
            # keep seeing it; optimizers hold the Parameter objects, not the arrays.
            p.data = _stored(np.array(arr, dtype=p.dtype, copy=True))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """One line of settings shown inside ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        kids = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            return head + ")"
        lines = [head]
        for name, child in kids:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"
