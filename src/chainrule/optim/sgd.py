"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay, exactly
as ``torch.optim.SGD`` computes it (in place on arrays, no graph).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import versions
from .optimizer import Optimizer, _check_hyper, _writable_data

__all__ = ["SGD"]

#: The flat momentum update is used while a group's parameters average at most this many
#: elements: below it the NumPy calls saved outweigh one more copy of the gradients.
FLAT_ELEMENTS_PER_PARAMETER = 8192


class SGD(Optimizer):
    """SGD, optionally with momentum (the lectures' heavy ball) and L2 weight decay.

    For each parameter with gradient g (PyTorch's formulas)::

        g = g + weight_decay * p
        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        g = g + momentum * buf  if nesterov else  buf
        p = p - lr * g

    Parameters
    ----------
    params:
        Tensors to optimise (e.g. ``model.parameters()``) or parameter-group dicts.
    lr:
        Learning rate (>= 0; PyTorch's default 1e-3).
    momentum, dampening, nesterov, weight_decay:
        As in ``torch.optim.SGD``; Nesterov needs momentum > 0 and dampening 0.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([0.8, 1.6], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "nesterov": bool(nesterov),
            "weight_decay": weight_decay,
            "dampening": dampening,
        }
        super().__init__(params, defaults)
        # id(parameter group) -> (its params list, their number, its _FlatMomentum or
        # None): see _flat_update
        self._flats: dict[int, tuple] = {}

    def _validate_group(self, group: dict[str, Any]) -> None:
        group["lr"] = _check_hyper("SGD", "lr", group["lr"])
        group["momentum"] = _check_hyper("SGD", "momentum", group["momentum"])
        group["weight_decay"] = _check_hyper("SGD", "weight_decay", group["weight_decay"])
        group["dampening"] = _check_hyper("SGD", "dampening", group["dampening"], high=1.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening 0 (got momentum="
                f"{group['momentum']}, dampening={group['dampening']})"
            )

    def _update_group(self, group: dict[str, Any]) -> None:
        # The hyperparameters are read once per group and the update is inlined: a
        # training step on a small network spends a visible share of its time here.
        lr = group["lr"]
        momentum = group["momentum"]
        weight_decay = group["weight_decay"]
        damp = 1.0 - group["dampening"]
        nesterov = group["nesterov"]
        if momentum and self._flat_update(group):
            return
        state_of = self.state
        updated = []  # stamped as changed in place together, once updated (or on an error)
        try:
            for p in group["params"]:
                g = p._grad
                if g is None or not p._rg:  # no gradient, or frozen: skipped
                    continue
                grad = g._data
                param = p._data
                if type(param) is not np.ndarray:
                    # a 0-d value held as a NumPy scalar (immutable): an array to update
                    param = p._data = np.array(param)
                if weight_decay:
                    grad = grad + weight_decay * param
                if momentum:
                    state = state_of.get(p)
                    buf = None if state is None else state.get("momentum_buffer")
                    if buf is None:
                        # Copied: the buffer is updated in place and must not alias .grad.
                        buf = np.array(grad, dtype=param.dtype, copy=True)
                        state_of.setdefault(p, {})["momentum_buffer"] = buf
                    else:
                        buf *= momentum
                        buf += grad if damp == 1.0 else damp * grad
                    grad = grad + momentum * buf if nesterov else buf
                # One temporary (lr * grad); the parameter itself is updated in place, or,
                # if its array cannot be written (e.g. a broadcast view), replaced by a copy.
                try:
                    param -= lr * grad
                except ValueError:
                    if param.flags.writeable:
                        raise
                    _writable_data(p)[...] -= lr * grad
                    continue
                updated.append(param)
        finally:
            if updated:
                versions.mark_all(updated, "optimizer step")

    # ------------------------------------------------------------------ the flat update
    def _flat_update(self, group: dict[str, Any]) -> bool:
        """The momentum update of a group of small parameters on whole flat arrays.

        The momentum buffers are views of one array and the gradients are gathered into
        one by a single ``concatenate``, so the buffer update and the step are a few NumPy
        calls for the whole group rather than a few per parameter: a network of small
        layers spends more on the calls than on the arithmetic. The parameters keep their
        own arrays and are updated in place, one subtraction each. The update is the code
        ``_update_source`` writes (the same that ``CompiledLoss`` appends to a compiled
        step); its numbers are those of the per-parameter loop, operation for operation.

        Returns False, having changed nothing, where this does not apply: a parameter
        without a gradient, frozen or read-only, dtypes that differ, large parameters (the
        extra copy costs more than the calls save), or parameters without momentum
        buffers (the loop makes them: the first step; the next step adopts them).
        """
        flat = self._flat_layout(group)
        if flat is None:
            return False
        params = group["params"]
        dtype = flat.dtype
        state_of = self.state
        grads = []
        arrays = []
        adopted = True  # is every momentum buffer one of the views already?
        for p, shape, view in zip(params, flat.shapes, flat.views):
            g = p._grad
            if g is None or not p._rg:
                return False
            g = g._data
            param = p._data
            if g.dtype != dtype or g.shape != shape or param.dtype != dtype:
                return False
            if not param.flags.writeable:  # (the loop replaces it by a copy)
                return False
            state = state_of.get(p)
            if state is None or state.get("momentum_buffer") is not view:
                adopted = False
            grads.append(g)
            arrays.append(param)
        if not adopted and not flat.adopt(params, state_of):
            return False
        np.concatenate(grads, axis=None, out=flat.G)  # (the .grad arrays may be G's views)
        variant = self._variant(group)
        hyper = self._update_arguments(group, variant)
        flat.updater(variant)(*arrays, flat.B, flat.G, flat.T, flat.D, *flat.steps, *hyper)
        versions.mark_all(arrays, "optimizer step")
        return True

    # ------------------------------------------------------------------ compiled steps
    def _compiled_update(self, params: list) -> tuple | None:
        """What a compiled training step (``CompiledLoss(model, optimizer=...)``) needs to
        apply this optimizer's update inside its generated code, on the flat buffers:
        ``(flat, variant, group)``; None where it cannot (then it sets ``.grad`` and calls
        ``step()``). It can when the optimizer has one group, holding exactly ``params``
        in order, none frozen, with momentum and a flat layout whose buffers are the
        momentum buffers (so from the second step on: the first makes them). Checked at
        every call: a cheap pass over the parameters."""
        groups = self.param_groups
        if len(groups) != 1:
            return None
        group = groups[0]
        mine = group["params"]
        if len(mine) != len(params) or not group["momentum"]:
            return None
        flat = self._flat_layout(group)
        if flat is None:
            return None
        state_of = self.state
        for p, q, view in zip(mine, params, flat.views):
            if p is not q or not p._rg:
                return None
            state = state_of.get(p)
            if state is None or state.get("momentum_buffer") is not view:
                return None
        return flat, self._variant(group), group

    @staticmethod
    def _variant(group: dict[str, Any]) -> tuple:
        """Which update ``_update_source`` writes for ``group``: (nesterov, weight decay,
        dampening), as flags."""
        return (group["nesterov"], group["weight_decay"] != 0, group["dampening"] != 0)

    @staticmethod
    def _update_arguments(group: dict[str, Any], variant: tuple) -> list:
        """The hyperparameters the update of ``variant`` takes after the buffers and
        steps (``_update_source``), read from ``group`` (at each call: a scheduler changes
        them)."""
        hyper = [group["lr"], group["momentum"]]
        if variant[1]:
            hyper.append(group["weight_decay"])
        if variant[2]:
            hyper.append(1.0 - group["dampening"])
        return hyper

    @staticmethod
    def _update_source(variant: tuple, params: list[str]) -> tuple[list[str], list[str]]:
        """(argument names, source lines) of the update on the flat buffers, the
        gradients already in ``G``, the parameters called ``params`` in the code: the
        per-parameter loop's operations, on whole arrays. ``variant`` is (nesterov, weight
        decay, dampening) as flags; the arguments are the buffers, the parameters' steps
        (views of T), ``lr``, ``momentum``, then ``weight_decay`` and ``damp`` (1 -
        dampening) where the variant has them."""
        nesterov, decay, damped = variant
        n = len(params)
        steps = [f"step{i}" for i in range(n)]
        args = ["B", "G", "T", "D", *steps, "lr", "momentum"]
        lines = ["# SGD: B holds every momentum buffer, G every gradient, T every step"]
        g = "G"
        if decay:  # into D, so that G (the .grad arrays) keeps the gradients as they were
            args.append("weight_decay")
            listed = ", ".join(params)
            lines += [
                f"np.concatenate(({listed}{',' if n == 1 else ''}), axis=None, out=D)",
                "D *= weight_decay",
                "D += G  # g = g + weight_decay * p",
            ]
            g = "D"
        lines.append("B *= momentum")
        if damped:
            args.append("damp")
            lines += [f"np.multiply({g}, damp, out=T)", "B += T  # buf = momentum * buf + damp * g"]
        else:
            lines.append(f"B += {g}  # buf = momentum * buf + g")
        if nesterov:
            lines += [
                "np.multiply(B, momentum, out=T)",
                f"T += {g}",
                "T *= lr  # lr * (g + momentum * buf)",
            ]
        else:
            lines.append("np.multiply(B, lr, out=T)  # lr * buf")
        lines += [f"{p} -= {step}" for p, step in zip(params, steps)]
        return args, lines

    def _flat_layout(self, group: dict[str, Any]) -> _FlatMomentum | None:
        """The group's flat layout, made on first use and again when its parameter list
        changes; None (remembered too) for a group that does not qualify: fewer than two
        parameters, not one floating dtype, or more than FLAT_ELEMENTS_PER_PARAMETER
        elements per parameter on average."""
        params = group["params"]
        key = id(group)
        known = self._flats.get(key)
        if known is not None and known[0] is params and known[1] == len(params):
            return known[2]
        flat = None
        dtype = params[0]._data.dtype if params else None
        if (
            len(params) >= 2
            and dtype.kind in "fc"
            and all(p._data.dtype == dtype for p in params)
            and sum(p._data.size for p in params) <= FLAT_ELEMENTS_PER_PARAMETER * len(params)
        ):
            flat = _FlatMomentum(dtype, [p._data.shape for p in params])
        self._flats[key] = (params, len(params), flat)
        return flat


class _FlatMomentum:
    """One parameter group's flat arrays: B, the momentum buffers (each parameter's is a
    view of it, and is what ``state[p]["momentum_buffer"]`` holds); G, the gathered
    gradients; T, scratch space, whose views are the parameters' steps; D, more scratch."""

    __slots__ = ("dtype", "shapes", "B", "G", "T", "D", "views", "grads", "steps", "_updaters")

    def __init__(self, dtype: np.dtype, shapes: list[tuple]) -> None:
        self.dtype = dtype
        self.shapes = tuple(shapes)
        sizes = [math.prod(s) for s in shapes]
        self.B = np.zeros(sum(sizes), dtype=dtype)
        self.G = np.empty_like(self.B)
        self.T = np.empty_like(self.B)
        self.D = np.empty_like(self.B)  # a compiled step's decayed gradients (_update_source)
        cuts = list(itertools.accumulate(sizes, initial=0))
        self.views = tuple(self.B[a:b].reshape(s) for a, b, s in zip(cuts, cuts[1:], shapes))
        self.grads = tuple(self.G[a:b].reshape(s) for a, b, s in zip(cuts, cuts[1:], shapes))
        self.steps = tuple(self.T[a:b].reshape(s) for a, b, s in zip(cuts, cuts[1:], shapes))
        self._updaters: dict[tuple, Any] = {}

    def updater(self, variant: tuple) -> Any:
        """The update of ``variant`` (``SGD._update_source``) as a function of the
        parameters' arrays, then the arguments the source names; made once per variant."""
        fn = self._updaters.get(variant)
        if fn is None:
            from ..ir.lower import compile_module

            params = [f"p{i}" for i in range(len(self.shapes))]
            args, lines = SGD._update_source(variant, params)
            body = "".join(f"    {line}\n" for line in lines)
            source = f"import numpy as np\n\n\ndef update({', '.join(params + args)}):\n{body}"
            fn = compile_module(source, {}, "<SGD flat update>")["update"]
            self._updaters[variant] = fn
        return fn

    def __reduce__(self) -> tuple:
        # Copied or pickled, the arrays would no longer be views of one another (a copy of
        # a view is an array of its own): made afresh, the copied state's momentum buffers
        # are adopted by the next step.
        return (_FlatMomentum, (self.dtype, list(self.shapes)))

    def adopt(self, params: list, state_of: dict) -> bool:
        """Make the momentum buffers the views, their values copied in (buffers the loop
        made, a loaded state dict, a buffer replaced by hand): True; False, changing
        nothing, where a parameter has none or one of another shape."""
        bufs = [state_of.get(p, {}).get("momentum_buffer") for p in params]
        if any(b is None or np.shape(b) != v.shape for b, v in zip(bufs, self.views)):
            return False
        for p, buf, view in zip(params, bufs, self.views):
            if buf is not view:
                view[...] = buf
            state_of[p]["momentum_buffer"] = view
        return True
