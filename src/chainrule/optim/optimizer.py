"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, and a
``state_dict``/``load_state_dict`` pair in PyTorch's layout so training can resume.

Subclasses implement ``_update(group, param, grad, state)`` on plain arrays (or, for a
tighter loop, ``_update_group(group)``). Frozen parameters (``requires_grad=False``) and
parameters without a gradient are accepted and skipped, so fine-tuning can hand every
parameter of a model to an optimizer and freeze some of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import versions
from ..tensor import Tensor, _refuse_while_tracing, enable_grad

__all__ = ["Optimizer"]


def _check_hyper(
    op: str,
    name: str,
    value: Any,
    low: float = 0.0,
    high: float | None = None,
    high_open: bool = False,
) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}") from None
    bad_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or value < low or bad_high:
        bracket = ")" if high_open else "]"
        limit = f"[{low}, {high}{bracket}" if high is not None else f">= {low}"
        raise ValueError(f"{op}: invalid {name} {value}: must be {limit}")
    return value


def _check_int(op: str, name: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{op}: invalid {name} {value!r}: must be an int >= {low}")
    return int(value)


def _copy_state(value: Any) -> Any:
    """A copy of a state value deep enough that later in-place updates do not reach it."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, list):
        return [_copy_state(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy_state(v) for v in value)
    return value


def _writable_data(p: Tensor) -> np.ndarray:
    """The parameter's array, about to be updated in place by an optimizer (so stamped as
    changed: a backward through a graph that saved the old values raises instead of using
    the new ones); one that cannot be written (e.g. a broadcast view) is replaced by a copy
    of its own first."""
    data = p._data
    if not data.flags.writeable:
        data = p.data = np.array(data, copy=True)
    mark_step(data, p)
    return data


def not_traced(optimizer: Any) -> None:
    """Refuse an optimizer step inside ``cr.jit`` / ``cr.vmap``: it updates the parameters'
    arrays with NumPy, which a traced program does not record (it would happen once)."""
    _refuse_while_tracing(
        f"{type(optimizer).__name__}.step()",
        "an update of the parameters' arrays would happen once, at tracing, not at every "
        "call. Call the optimizer outside the jitted function (jit the loss and its "
        "gradient: cr.jit(cr.value_and_grad(loss)), or cr.jit(model)).",
    )


def mark_step(data: np.ndarray, p: Tensor) -> None:
    """Stamp a parameter's memory as changed in place by an optimizer step."""
    versions.mark(data, "optimizer step", data.shape)


class Optimizer:
    """Base class of optimizers (PyTorch's interface).

    Parameters
    ----------
    params:
        An iterable of Tensors (e.g. ``model.parameters()``), or of dicts, each with a
        ``"params"`` list and hyperparameters overriding ``defaults`` for that group.
    defaults:
        Default hyperparameters of every group.

    Examples
    --------
    >>> import chainrule as cr
    >>> class PlainGD(cr.optim.Optimizer):
    ...     def __init__(self, params, lr):
    ...         super().__init__(params, {'lr': lr})
    ...     def step(self):
    ...         with cr.no_grad():
    ...             for group in self.param_groups:
    ...                 for p in group['params']:
    ...                     if p.grad is not None:
    ...                         p.data -= group['lr'] * p.grad.data
    ...
    >>> w = cr.tensor([3.0], requires_grad=True)
    >>> opt = PlainGD([w], lr=0.25)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([1.5], requires_grad=True)
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors (e.g. "
                f"model.parameters()), got a single Tensor; wrap it in a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add parameters with their own hyperparameters (e.g. no weight decay on biases)."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            # A frozen leaf (requires_grad=False) is accepted and skipped by step(), as in
            # PyTorch; a computed tensor is not a parameter at all.
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: parameter {i} (shape {p.shape}) is not a leaf tensor (it was "
                    f"computed); optimize the leaves it was made from, or .detach() it"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears twice")
            seen.add(id(p))
        full = dict(self.defaults)
        full.update({k: v for k, v in group.items() if k != "params"})
        full["params"] = params
        self._validate_group(full)
        self.param_groups.append(full)

    def _validate_group(self, group: dict[str, Any]) -> None:
        """Check a group's hyperparameters (subclasses raise ValueError naming them)."""

    # ------------------------------------------------------------------ the update
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients: to None (PyTorch's default; the next backward allocates) or
        to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p._grad is None:
                    p._grad = None  # what the .grad setter does with None, without the call
                else:
                    p.grad = np.zeros_like(p.data)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place, recording no graph.

        ``closure`` (optional) re-evaluates the model and returns the loss.
        """
        not_traced(self)
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        """Update the group's parameters that have a gradient and are not frozen
        (``_update`` on each)."""
        state_of = self.state
        for p in group["params"]:
            grad = p._grad
            if grad is None or not p._rg:
                continue
            state = state_of.get(p)
            if state is None:
                state = state_of[p] = {}
            self._update(group, _writable_data(p), grad._data, state)

    def _update(
        self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """A snapshot: ``{"state": {index: {name: value}}, "param_groups": [...]}`` with
        parameters referred to by their position (PyTorch's layout); arrays are copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: _copy_state(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by ``state_dict`` (or ``cr.load``).

        Raises ``ValueError`` naming what does not match: the number of groups, of
        parameters in a group, or the shape of a state array."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            keys = list(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with keys 'state' and "
                f"'param_groups', got {keys}"
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"groups, this optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            ids = list(saved["params"])
            if len(ids) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {g} has {len(ids)} parameters in the "
                    f"state dict but {len(group['params'])} in this optimizer"
                )
            for i, p in zip(ids, group["params"]):
                by_index[int(i)] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, values in dict(state_dict["state"]).items():
            i = int(key)
            if i not in by_index:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter {i}, which no group has"
                )
            p = by_index[i]
            new_state[p] = {
                k: self._restore_state_value(p, i, k, v) for k, v in dict(values).items()
            }
        for saved, group in zip(saved_groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if isinstance(v, list) else v
        self.state = new_state

    def _restore_state_value(self, p: Tensor, i: int, key: str, value: Any) -> Any:
        """One loaded state entry for parameter ``p`` (number ``i``): arrays are checked
        against the parameter's shape and cast to its dtype; a 0-d ``step`` becomes an int."""
        if not isinstance(value, (np.ndarray, Tensor)):
            return value
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        if arr.ndim == 0 and key == "step":
            return int(arr)
        if arr.shape != p.shape:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: state '{key}' of parameter {i} has "
                f"shape {arr.shape}, but the parameter has shape {p.shape}"
            )
        return np.array(arr, dtype=p.dtype, copy=True)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"
