"""The engine: graph nodes, the reverse (backward) walk and the forward-mode (tangent) walk.

Both walks are iterative: nodes are visited in order of their creation number, which is a
topological order because a node is always created after the nodes it consumes. There is
one reverse walk for both modes: on arrays (first order, nothing recorded) and recorded
(``create_graph``: every rule runs on Tensors, so the gradient is a graph of its own).
"""

from __future__ import annotations

import heapq
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import state, versions
from .broadcast import sum_to_shape
from .primitives import Primitive, bound

_new_object = object.__new__
_clock = versions.clock

#: Gradient hooks of leaf tensors, by id (kept off the Tensor itself, which stays small;
#: not a WeakKeyDictionary, because Tensor's == is elementwise). Entries go with the tensor.
LEAF_HOOKS: dict[int, tuple[Any, list]] = {}
#: Hooks called with a leaf once its .grad holds the whole gradient of this backward
#: (``register_post_accumulate_grad_hook``), by id like LEAF_HOOKS.
POST_HOOKS: dict[int, tuple[Any, list]] = {}


def _hook_list(table: dict, tensor: Any, create: bool) -> list | None:
    entry = table.get(id(tensor))
    if entry is not None and entry[0]() is tensor:
        return entry[1]
    if not create:
        return None
    key = id(tensor)
    ref = weakref.ref(tensor, lambda _, key=key: table.pop(key, None))
    table[key] = (ref, [])
    return table[key][1]


def leaf_hooks(tensor: Any, create: bool = False) -> list | None:
    """The gradient-hook list of a leaf tensor (made on request)."""
    return _hook_list(LEAF_HOOKS, tensor, create)


def post_hooks(tensor: Any, create: bool = False) -> list | None:
    """The post-accumulate hook list of a leaf tensor (made on request)."""
    return _hook_list(POST_HOOKS, tensor, create)


class _Queued(threading.local):
    """Callbacks queued during this thread's backward pass (``queue_callback``), run when
    it has finished."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], Any]] = []


_QUEUED = _Queued()


def queue_callback(fn: Callable[[], Any]) -> None:
    """Run ``fn()`` once the backward pass now running has written every leaf's ``.grad``
    (PyTorch's ``Variable._execution_engine.queue_callback``). Call it from a hook during
    backward: data-parallel training waits for its gradient allreduces there. A backward
    pass that raises drops the callbacks queued during it."""
    _QUEUED.callbacks.append(fn)


_NO_INPUTS: dict[int, tuple] = {}


def no_inputs(n: int) -> tuple:
    """``(None,) * n``, shared by all nodes that save no input values."""
    t = _NO_INPUTS.get(n)
    if t is None:
        t = _NO_INPUTS[n] = (None,) * n
    return t


class Node:
    """One recorded application of a primitive: the vertex of the computational graph.

    ``edges[i]`` says where the gradient for input ``i`` goes: the ``Node`` that produced
    it, the leaf ``Tensor`` itself, or ``None`` when that input needs no gradient.
    ``inputs``/``out`` hold only the values the primitive's rules read; they (and the
    edges) are released after a backward pass unless ``retain_graph=True``.
    """

    # Creating nodes is on every operation's path, so the slots are few: rarely used
    # per-node state (hooks, a retained tensor, a display name) lives in ``extra``.
    __slots__ = ("prim", "edges", "inputs", "out", "params", "seq", "shape", "dtype", "extra")

    @staticmethod
    def new(prim, edges, inputs, out, shape, dtype, params=None) -> Node:
        """Make a node: the only constructor (a plain function call, cheaper on the
        per-operation hot paths than instantiating through the class)."""
        node = _new_object(Node)
        node.prim = prim
        node.edges = edges
        node.inputs = inputs
        node.out = out
        node.params = params
        node.seq = _clock()
        node.shape = shape
        node.dtype = dtype
        node.extra = None
        return node

    def _get(self, key: str) -> Any:
        return None if self.extra is None else self.extra.get(key)

    def _set(self, key: str, value: Any) -> None:
        if self.extra is None:
            self.extra = {}
        self.extra[key] = value

    hooks = property(lambda self: self._get("hooks"), lambda self, v: self._set("hooks", v))
    retained = property(
        lambda self: self._get("retained"), lambda self, v: self._set("retained", v)
    )
    #: A display name (tracing uses it for the user's variable names).
    name = property(lambda self: self._get("name"), lambda self, v: self._set("name", v))

    @property
    def freed(self) -> bool:
        """True once a backward pass released this node's saved values and edges."""
        return self.edges is None

    def __repr__(self) -> str:
        return f"<Node {self.prim.name} #{self.seq} shape={self.shape}>"

    def saved_nbytes(self) -> int:
        """Bytes of array data this node keeps alive for its rules (0 once freed)."""
        total = 0
        seen: set[int] = set()
        values = list(self.inputs or ())
        values.append(self.out)
        for v in values:
            if isinstance(v, (np.ndarray, np.generic)) and id(v) not in seen:
                seen.add(id(v))
                total += v.nbytes
        return total


new_node = Node.new


def _freed_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward through the graph a second time: the values that node "
        f"'{node.prim.name}' saved for backward were freed by the first backward(). "
        f"Pass retain_graph=True to the first backward() if you need to backward twice."
    )


def check_finite(value: Any, where: str) -> None:
    """Raise ``FloatingPointError`` naming ``where`` if ``value`` holds a NaN or Inf."""
    data = value._data if hasattr(value, "_node") else value
    arr = np.asarray(data)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        kind = "NaN" if np.isnan(arr).any() else "Inf"
        raise FloatingPointError(f"{where} produced {kind} (shape {arr.shape}, dtype {arr.dtype})")


def _shape_error(prim: Primitive, i: int, got: tuple, shape: tuple) -> RuntimeError:
    return RuntimeError(
        f"internal: VJP rule of '{prim.name}' for input {i} returned shape {got}, which does "
        f"not broadcast to the input's shape {shape}"
    )


# --------------------------------------------------------------------------- reverse mode


class _Recorded:
    """What the recorded walk (``create_graph``) does differently from the array walk:
    saved values become graph-connected Tensors, and undoing broadcasting and casting are
    recorded primitives."""

    def __init__(self) -> None:
        self.Tensor = bound("Tensor")
        self.from_node = bound("from_node")
        self.wrap = bound("wrap")
        self.rules = bound("rules")

    def inputs(self, node: Node) -> tuple:
        prim = node.prim
        values = node.inputs
        if not (prim.save_inputs or prim.vjp_all is not None):
            return values
        extra = node.extra or {}
        tensors = extra.get("tensors")
        links = extra.get("links")  # inputs with no rule of their own (cross_entropy's logp)
        out = []
        for i, (v, e) in enumerate(zip(values, node.edges)):
            if e is None and links is not None:
                e = links.get(i)
            if v is None:
                out.append(None)
            elif e is None:
                # not differentiated, but a Tensor of a traced program if it was one
                t = tensors[i] if tensors is not None else None
                out.append(t if t is not None else v)
            elif type(e) is Node:
                out.append(self.from_node(v, e))
            else:
                out.append(e)  # the leaf itself
        return tuple(out)

    def ans(self, node: Node) -> Any:
        if node.out is None:
            return None
        return self.from_node(node.out, node)

    def fit(self, gi: Any, shape: tuple, dtype: Any, prim: Primitive, i: int) -> Any:
        if not isinstance(gi, self.Tensor):
            gi = self.wrap(np.asarray(gi))
        value = gi._data
        if value.shape != shape:
            try:
                np.broadcast_shapes(shape, value.shape)
                sum_to_shape(np.empty(value.shape, dtype=bool), shape)  # validates
            except (ValueError, RuntimeError):
                raise _shape_error(prim, i, value.shape, shape) from None
            gi = self.rules.sum_to(gi, shape=shape, in_shape=value.shape)
        vdtype = gi._data.dtype
        if vdtype != dtype:
            if vdtype.kind == "c" and dtype.kind != "c":
                gi = self.rules.real(gi)  # a real input's gradient is the real part
            if gi._data.dtype != dtype:
                gi = self.rules.astype(gi, dtype=dtype)
        return gi


def _fit_array(gi: Any, shape: tuple, dtype: Any, prim: Primitive, i: int) -> Any:
    if type(gi) is not np.ndarray and not isinstance(gi, np.generic):
        gi = np.asarray(gi)
    if gi.shape != shape:
        try:
            gi = sum_to_shape(gi, shape, f"VJP rule of '{prim.name}' for input {i}")
        except RuntimeError:
            raise _shape_error(prim, i, gi.shape, shape) from None
    if gi.dtype is not dtype and gi.dtype != dtype:
        if gi.dtype.kind == "c" and dtype.kind != "c":
            gi = gi.real  # a real input's gradient is the real part (PyTorch's convention)
        gi = gi.astype(dtype)
    return gi


def _walk_observers(recorded: bool, observer: Any) -> list | None:
    """Objects told about each step of the walk: ``observer`` (explain's table) and, in a
    recorded walk inside a trace, the tracers (they name and group the gradient program)."""
    found = []
    if recorded:
        found = [o for o in state.ctx.observers if hasattr(o, "walk_node")]
    if observer is not None:
        found.append(observer)
    return found or None


def backward(
    roots: list,
    seeds: list,
    *,
    retain_graph: bool,
    create_graph: bool,
    targets: list[Node] | set[Node] | None = None,
    observer: Any = None,
) -> dict[Node, Any] | None:
    """Send ``seeds`` (upstream gradients of ``roots``) backward through the graph.

    Without ``targets`` the gradients accumulate into the ``.grad`` of the leaves (the
    object API). With ``targets`` (nodes) nothing is written anywhere: the total gradient
    reaching each target is returned (the function transforms), and nodes created before
    the earliest target are not visited at all. ``create_graph`` records every rule (the
    gradient is differentiable again). ``observer`` (optional) is told about every step:
    ``walk_node(node, upstream)`` and ``walk_grad(node, i, edge, downstream)``.
    """
    queued = _QUEUED.callbacks
    mark = len(queued)  # a backward run from a hook keeps the callbacks of the outer one
    try:
        if create_graph:
            rec = _Recorded()
            enable_grad = bound("enable_grad")
            with enable_grad():
                result = _walk(roots, seeds, retain_graph, targets, rec, observer)
        elif (
            targets is None
            and observer is None
            and not POST_HOOKS
            and len(roots) == 1
            and not state.ctx.anomaly
        ):
            if _loss_over_leaves(roots[0], seeds[0], retain_graph):
                result = None
            else:
                result = _walk(roots, seeds, retain_graph, targets, None, observer)
        else:
            result = _walk(roots, seeds, retain_graph, targets, None, observer)
    except BaseException:
        del queued[mark:]
        raise
    while len(queued) > mark:  # callbacks may queue more callbacks
        queued.pop(mark)()
    return result


_F64, _F32 = np.dtype(np.float64), np.dtype(np.float32)


def _rules_for(prim: Primitive, dtype: Any) -> Any:
    """The VJP rules for a node of ``dtype`` (PyTorch's convention for complex outputs)."""
    if dtype.kind != "c":
        return prim.vjps
    if prim.cvjps is None:
        raise TypeError(f"{prim.name}: does not support complex inputs")
    return prim.cvjps


def _walk(roots, seeds, retain_graph, targets, rec, observer) -> dict | None:
    recorded = rec is not None
    Tensor = bound("Tensor")
    if targets is not None:
        targets = set(targets)
    adj: dict[Node, Any] = {}
    heap: list = []
    leaf_grads: dict = {}
    push = heapq.heappush
    pop = heapq.heappop
    min_seq = min(t.seq for t in targets) if targets else -1
    results: dict[Node, Any] = {}
    anomaly = state.ctx.anomaly
    last_stamp = versions.LAST[0]
    watchers = _walk_observers(recorded, observer)
    # The plain array walk (first order, nobody watching) is the hot path: everything else
    # (recorded rules, observers) is one flag away.
    slow = recorded or watchers is not None
    functional = targets is not None
    pending = _count_post_hooked(roots) if (POST_HOOKS and not functional) else None

    for root, seed in zip(roots, seeds):
        if recorded and not isinstance(seed, Tensor):
            seed = rec.wrap(seed)
        node = root._node
        if node is None:
            if not functional and root._rg:
                prev = leaf_grads.get(root)
                leaf_grads[root] = seed if prev is None else prev + seed
            continue
        prev = adj.get(node)
        if prev is None:
            adj[node] = seed
            push(heap, (-node.seq, node))
        else:
            adj[node] = prev + seed

    while heap:
        node = pop(heap)[1]
        g = adj.pop(node)
        while node is not None:
            edges = node.edges
            if edges is None:
                raise _freed_error(node)
            if node.seq < last_stamp:
                versions.check(node)
            if node.extra is not None:
                g = _node_extras(node, g, Tensor, recorded)
            if functional and node in targets:
                results[node] = g
            prim = node.prim
            dtype = node.dtype
            vjps = prim.vjps if (dtype is _F64 or dtype is _F32) else _rules_for(prim, dtype)
            params = node.params
            if slow:
                inputs, ans = _prepare(rec, watchers, node, g)
            else:
                inputs = node.inputs
                ans = node.out
            whole = None
            if prim.vjp_all is not None:
                needed = tuple(e is not None for e in edges)
                whole = prim.vjp_all(g, ans, inputs, params or {}, needed)
            # The latest-made input node to receive its first gradient is not pushed on the
            # heap right away: if it was created after everything pending, it is exactly
            # what the heap would pop next, so chains are walked without heap traffic.
            ready = ready_g = None
            n_inputs = len(edges)
            i = -1
            for edge in edges:
                i += 1
                if edge is None:
                    continue
                is_node = type(edge) is Node
                if is_node:
                    if functional and edge.seq < min_seq:
                        continue
                    shape = edge.shape
                    dtype = edge.dtype
                else:
                    if functional:
                        continue
                    data = edge._data
                    shape = data.shape
                    dtype = data.dtype
                if whole is not None:
                    gi = whole[i]
                    if gi is None:
                        continue
                elif params is not None:
                    gi = vjps[i](g, ans, *inputs, **params)
                elif n_inputs == 2:  # spelled out: plain calls are faster than *inputs
                    gi = vjps[i](g, ans, inputs[0], inputs[1])
                elif n_inputs == 1:
                    gi = vjps[i](g, ans, inputs[0])
                else:
                    gi = vjps[i](g, ans, *inputs)
                if slow:
                    gi = _fit_slow(rec, watchers, node, i, edge, gi, shape, dtype)
                elif gi.shape != shape or (gi.dtype is not dtype and gi.dtype != dtype):
                    gi = _fit_array(gi, shape, dtype, prim, i)
                if anomaly:
                    check_finite(gi, f"backward of '{prim.name}' (gradient for input {i})")
                if is_node:
                    if edge is ready:
                        if slow:
                            _note_accumulate(watchers, edge)
                        ready_g = ready_g + gi
                        continue
                    prev = adj.get(edge) if adj else None
                    if prev is not None:
                        if slow:
                            _note_accumulate(watchers, edge)
                        adj[edge] = prev + gi
                    elif ready is None:
                        ready, ready_g = edge, gi
                    elif edge.seq > ready.seq:  # keep the latest-made one in hand
                        adj[ready] = ready_g
                        push(heap, (-ready.seq, ready))
                        ready, ready_g = edge, gi
                    else:
                        adj[edge] = gi
                        push(heap, (-edge.seq, edge))
                else:
                    prev = leaf_grads.get(edge)
                    if prev is None:
                        total = gi
                    else:
                        if slow:
                            _note_accumulate(watchers, edge)
                        total = prev + gi
                    if pending is not None and id(edge) in pending:
                        pending[id(edge)] -= 1
                        if not pending[id(edge)]:  # the leaf's gradient is complete
                            leaf_grads.pop(edge, None)
                            if prev is None and type(total) is np.ndarray:
                                # the walk may still hold this array (add sends its
                                # gradient on to its other input too): .grad gets its own
                                total = total.copy()
                            _finish_leaves({edge: total}, seeds, Tensor, recorded)
                            continue
                    leaf_grads[edge] = total
            if not retain_graph:
                node.inputs = node.out = node.edges = None
                if slow and node.extra is not None:
                    node.extra.pop("tensors", None)
            if ready is not None and heap and heap[0][0] < -ready.seq:
                # something pending was created later: it must be processed first
                adj[ready] = ready_g
                push(heap, (-ready.seq, ready))
                ready = None
            node, g = ready, ready_g

    if functional:
        return results
    _finish_leaves(leaf_grads, seeds, Tensor, recorded)
    return None


#: node extras that _loss_over_leaves handles (the others: hooks, a retained gradient)
_QUIET_EXTRAS = frozenset(("links", "prints"))


def _loss_over_leaves(root: Any, seed: Any, retain_graph: bool) -> bool:
    """The object API's backward, ``loss(cr.jit(model)(X)).backward()``, done directly:
    a root node with one node input, below it a node whose inputs are all leaves and whose
    primitive gives their gradients as arrays of their own (``Primitive.to_leaves``: a
    jitted function's compiled backward). The same rules, fit and version checks as the
    walks, none of their bookkeeping. False, with nothing done, for any other graph, or
    where a node or a leaf has hooks, or a node a retained gradient (the walks run those);
    post-accumulate hooks and whatever else watches a walk are the caller's test."""
    top = root._node
    if top is None or (top.dtype is not _F64 and top.dtype is not _F32):
        return False
    edges = top.edges
    if edges is None:
        return False
    below = None
    j = -1
    for i, edge in enumerate(edges):
        if edge is not None:
            if type(edge) is not Node or below is not None:
                return False
            below, j = edge, i
    if below is None or below.prim.to_leaves is None:
        return False
    for node in (top, below):  # only fingerprints to check, and links (for recorded rules)
        if node.extra is not None and not _QUIET_EXTRAS.issuperset(node.extra):
            return False
    leaves = below.edges
    if leaves is None:
        return False
    for leaf in leaves:
        if type(leaf) is Node or (LEAF_HOOKS and leaf is not None and leaf_hooks(leaf)):
            return False
    prim = top.prim
    if prim.vjp_all is not None:
        return False
    last = versions.LAST[0]
    for node in (top, below):
        if node.seq < last:
            versions.check(node)
        if node.extra is not None and node.extra.get("prints"):
            versions.check_prints(node, node.extra["prints"])
    params = top.params
    rule = prim.vjps[j]
    g = rule(seed, top.out, *top.inputs, **params) if params else rule(seed, top.out, *top.inputs)
    if g.shape != below.shape or (g.dtype is not below.dtype and g.dtype != below.dtype):
        g = _fit_array(g, below.shape, below.dtype, prim, j)
    grads = below.prim.to_leaves(below, g)
    wrap = bound("Tensor")._wrap
    i = -1
    for leaf in leaves:
        i += 1
        if leaf is None:
            continue
        gi = grads[i]
        data = leaf._data
        if gi.shape != data.shape or (gi.dtype is not data.dtype and gi.dtype != data.dtype):
            gi = _fit_array(gi, data.shape, data.dtype, below.prim, i)
        old = leaf._grad
        leaf._grad = wrap(gi) if old is None else wrap(old._data + gi)
    if not retain_graph:
        top.inputs = top.out = top.edges = None
        below.inputs = below.out = below.edges = None
    return True


def _prepare(rec: _Recorded | None, watchers: list | None, node: Node, g: Any) -> tuple:
    """(inputs, ans) for a node's rules on the slow path, and the watchers told."""
    if rec is not None:
        inputs, ans = rec.inputs(node), rec.ans(node)
    else:
        inputs, ans = node.inputs, node.out
    if watchers is not None:
        for w in watchers:
            w.walk_node(node, g)
    return inputs, ans


def _fit_slow(rec, watchers, node: Node, i: int, edge: Any, gi: Any, shape, dtype) -> Any:
    if rec is not None:
        gi = rec.fit(gi, shape, dtype, node.prim, i)
    elif gi.shape != shape or (gi.dtype is not dtype and gi.dtype != dtype):
        gi = _fit_array(gi, shape, dtype, node.prim, i)
    if watchers is not None:
        for w in watchers:
            w.walk_grad(node, i, edge, gi)
    return gi


def _note_accumulate(watchers: list | None, edge: Any) -> None:
    """Tell the watchers that gradients add up at ``edge`` (the next add is that)."""
    if watchers is not None:
        for w in watchers:
            w.walk_accumulate(edge)


def _node_extras(node: Node, g: Any, Tensor: type, recorded: bool) -> Any:
    extra = node.extra
    prints = extra.get("prints")
    if prints:
        versions.check_prints(node, prints)
    hooks = extra.get("hooks")
    if hooks:
        g = _run_hooks(hooks, g, Tensor, recorded, f"the output of '{node.prim.name}'")
    if extra.get("retained") is not None:
        _store_retained(node, g, Tensor)
    return g


def _run_hooks(hooks: list[Callable], g: Any, Tensor: type, recorded: bool, what: str) -> Any:
    """Run gradient hooks; a returned Tensor replaces the gradient and must match it."""
    for hook in list(hooks):
        given = g if recorded else Tensor._wrap(g)
        result = hook(given)
        if result is None:
            continue
        if not isinstance(result, Tensor):
            raise RuntimeError(
                f"hook on {what} returned a {type(result).__name__}; a gradient hook must "
                f"return a Tensor (or None to keep the gradient)"
            )
        got_shape, got_dtype = result.shape, result.dtype
        want_shape, want_dtype = np.shape(given._data), given._data.dtype
        if got_shape != want_shape or got_dtype != want_dtype:
            raise RuntimeError(
                f"hook on {what} returned a gradient of shape {got_shape} and dtype "
                f"{got_dtype}, but the gradient has shape {want_shape} and dtype {want_dtype}"
            )
        g = result if recorded else result._data
    return g


def _store_retained(node: Node, g: Any, Tensor: type) -> None:
    tensor = node.retained()
    if tensor is None:
        return
    value = g if isinstance(g, Tensor) else Tensor._wrap(np.array(g, copy=True))
    tensor.grad = value if tensor.grad is None else tensor.grad + value


def _count_post_hooked(roots: list) -> dict[int, int]:
    """For leaves with post-accumulate hooks: how many edges of the graph point at them,
    so the walk knows when each one's gradient is complete."""
    hooked = {key for key, (ref, hooks) in POST_HOOKS.items() if hooks and ref() is not None}
    counts: dict[int, int] = {}
    if not hooked:
        return counts
    seen: set[int] = set()
    stack = [r._node for r in roots if r._node is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen or node.edges is None:
            continue
        seen.add(id(node))
        for edge in node.edges:
            if type(edge) is Node:
                stack.append(edge)
            elif edge is not None and id(edge) in hooked:
                counts[id(edge)] = counts.get(id(edge), 0) + 1
    return counts


def _finish_leaves(leaf_grads: dict, seeds: list, Tensor: type, recorded: bool) -> None:
    """Run leaf hooks and accumulate into ``.grad``; then the post-accumulate hooks.

    A gradient array may be shared (add passes its upstream gradient to both inputs, a
    reshape returns a view) or read-only (broadcast_to): .grad always gets an array of its
    own, copied only when sharing or read-only-ness makes that necessary. Shapes were
    checked where each gradient was made, so the slot is set directly."""
    given: set[int] = {id(getattr(s, "_data", s)) for s in seeds}
    wrap = Tensor._wrap
    for leaf, g in leaf_grads.items():
        if LEAF_HOOKS:
            hooks = leaf_hooks(leaf)
            if hooks:
                g = _run_hooks(hooks, g, Tensor, recorded, f"a leaf tensor of shape {leaf.shape}")
        if recorded:
            leaf.grad = g if leaf._grad is None else leaf._grad + g
        else:
            if type(g) is np.ndarray:
                base = g.base
                if (
                    id(g) in given
                    or (base is not None and id(base) in given)
                    or not (g.flags.writeable)
                ):
                    g = g.copy()
                    base = None
                given.add(id(g))
                if base is not None:
                    given.add(id(base))
            elif not isinstance(g, np.generic):  # NumPy scalars are immutable: never copied
                g = np.array(g)
            old = leaf._grad
            leaf._grad = wrap(g) if old is None else wrap(old._data + g)
        if POST_HOOKS:
            for hook in list(post_hooks(leaf) or ()):
                hook(leaf)


# --------------------------------------------------------------------------- forward mode


def _seq_of(node: Node) -> int:
    return node.seq


def _sweep(order: list, tangents: dict, seeds: dict, rec: _Recorded | None) -> None:
    """Apply the JVP rules node by node in creation order (see ``forward_tangents``)."""
    anomaly = state.ctx.anomaly
    get = tangents.get
    for node in order:
        if node in seeds:
            continue
        prim = node.prim
        edges = node.edges
        if rec is not None:
            inputs = rec.inputs(node)
            ans = rec.ans(node)
        else:
            inputs = node.inputs
            ans = node.out
        params = node.params
        total = None
        if prim.jvp_all is not None:
            ins = tuple([get(e) if type(e) is Node else None for e in edges])
            if any(t is not None for t in ins):
                total = prim.jvp_all(ins, ans, inputs, params or {})
        else:
            jvps = prim.jvps
            i = -1
            for edge in edges:
                i += 1
                if type(edge) is not Node:
                    continue
                t = get(edge)
                if t is None:
                    continue
                rule = jvps[i]
                if rule is None:
                    continue
                if params is not None:
                    contrib = rule(t, ans, *inputs, **params)
                elif len(inputs) == 2:  # spelled out: plain calls are faster than *inputs
                    contrib = rule(t, ans, inputs[0], inputs[1])
                elif len(inputs) == 1:
                    contrib = rule(t, ans, inputs[0])
                else:
                    contrib = rule(t, ans, *inputs)
                total = contrib if total is None else total + contrib
        if total is None:
            continue  # a symbolic zero: nothing computed or stored
        if rec is not None:
            if not isinstance(total, rec.Tensor):
                total = rec.wrap(np.asarray(total))
            value = total._data
            if value.shape != node.shape:
                total = rec.rules.broadcast_to(total, shape=node.shape)
            if value.dtype != node.dtype:
                if value.dtype.kind == "c" and node.dtype.kind != "c":
                    total = rec.rules.real(total)
                if total._data.dtype != node.dtype:
                    total = rec.rules.astype(total, dtype=node.dtype)
        else:
            if type(total) is not np.ndarray and not isinstance(total, np.generic):
                total = np.asarray(total)
            if total.shape != node.shape:
                total = np.broadcast_to(total, node.shape)
            if total.dtype is not node.dtype and total.dtype != node.dtype:
                if total.dtype.kind == "c" and node.dtype.kind != "c":
                    total = total.real
                total = total.astype(node.dtype)
        if anomaly:
            check_finite(total, f"forward-mode (JVP) rule of '{prim.name}'")
        tangents[node] = total


def forward_tangents(
    outputs: list[Node | None], seeds: dict[Node, Any], recorded: bool
) -> list[Any]:
    """Push tangents forward from ``seeds`` (node -> tangent) to ``outputs``.

    Walks the recorded graph in creation order and applies each primitive's JVP rule:
    forward mode proper, never built from reverse mode. A node none of whose inputs
    carries a tangent gets none (a symbolic zero: nothing is computed or stored).
    Returns one tangent per output (``None`` where it is zero).
    """
    if not seeds:
        return [None] * len(outputs)
    min_seq = min(n.seq for n in seeds)
    # Collect the nodes between the seeds and the outputs (iteratively).
    found: dict[Node, None] = {}
    stack = [n for n in outputs if n is not None and n.seq >= min_seq]
    while stack:
        node = stack.pop()
        if node in found:
            continue
        if node.edges is None:
            raise _freed_error(node)
        found[node] = None
        for edge in node.edges:
            if type(edge) is Node and edge.seq >= min_seq and edge not in found:
                stack.append(edge)
    order = sorted(found, key=_seq_of)
    tangents: dict[Node, Any] = dict(seeds)
    if recorded:
        with bound("enable_grad")():
            _sweep(order, tangents, seeds, _Recorded())
    else:
        _sweep(order, tangents, seeds, None)
    return [None if n is None else tangents.get(n) for n in outputs]
