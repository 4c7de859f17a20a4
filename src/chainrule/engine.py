"""The engine: graph nodes, the reverse (backward) walk and the forward-mode (tangent) walk.

Both walks are iterative: nodes are visited in order of their creation number, which is a
topological order because a node is always created after the nodes it consumes.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import state
from .primitives import Primitive

_next_seq = itertools.count().__next__
_new_object = object.__new__

#: Gradient hooks of leaf tensors, by id (kept off the Tensor itself, which stays small;
#: not a WeakKeyDictionary, because Tensor's == is elementwise). Entries go with the tensor.
LEAF_HOOKS: dict[int, tuple[Any, list]] = {}


#: Post-accumulate-grad hooks of leaf tensors, by id (``register_post_accumulate_grad_hook``):
#: ``hook(leaf)`` runs during the backward walk as soon as the leaf's ``.grad`` is complete.
POST_HOOKS: dict[int, tuple[Any, list]] = {}


class _Queued(threading.local):
    """Callbacks queued during this thread's backward pass (``queue_callback``), run when
    it has finished."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], Any]] = []


_QUEUED = _Queued()


def _hooks_of(registry: dict, tensor: Any, create: bool) -> list | None:
    entry = registry.get(id(tensor))
    if entry is not None and entry[0]() is tensor:
        return entry[1]
    if not create:
        return None
    key = id(tensor)
    ref = weakref.ref(tensor, lambda _, key=key: registry.pop(key, None))
    registry[key] = (ref, [])
    return registry[key][1]


def leaf_hooks(tensor: Any, create: bool = False) -> list | None:
    """The hook list of a leaf tensor (made on request)."""
    return _hooks_of(LEAF_HOOKS, tensor, create)


def post_accumulate_hooks(tensor: Any, create: bool = False) -> list | None:
    """The post-accumulate-grad hook list of a leaf tensor (made on request)."""
    return _hooks_of(POST_HOOKS, tensor, create)


def queue_callback(fn: Callable[[], Any]) -> None:
    """Run ``fn()`` once the backward pass now running has written every leaf's ``.grad``
    (PyTorch's ``Variable._execution_engine.queue_callback``). Call it from a hook during
    backward: data-parallel training waits for its gradient allreduces there. A backward
    pass that raises drops the callbacks queued during it."""
    _QUEUED.callbacks.append(fn)


# Input tuples for primitives that save no input values, shared by all their nodes.
_NO_INPUTS = tuple((None,) * n for n in range(8))


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
        """Make a node (the only constructor: a plain function call, cheaper on the
        per-operation hot paths than instantiating through the class)."""
        node = _new_object(Node)
        node.prim = prim
        node.edges = edges
        node.inputs = inputs
        node.out = out
        node.params = params
        node.seq = _next_seq()
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


def _freed_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward through the graph a second time: the values that node "
        f"'{node.prim.name}' saved for backward were freed by the first backward(). "
        f"Pass retain_graph=True to the first backward() if you need to backward twice."
    )


def sum_to_shape(g: Any, shape: tuple, prim: Primitive, index: int) -> Any:
    """Undo broadcasting: sum an (array) gradient back to the input's ``shape``.

    This is the one place where broadcasting is undone; rules never do it themselves.
    """
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"internal: VJP rule of '{prim.name}' for input {index} returned shape {gshape}, "
            f"smaller than the input's shape {shape}"
        )
    # np.add.reduce rather than g.sum: the same reduction without ndarray.sum's Python
    # wrapper (a bias gradient is reduced on every training step)
    if lead == 1:
        g = np.add.reduce(g, axis=0)
    elif lead:
        g = np.add.reduce(g, axis=tuple(range(lead)))
    if 1 in shape:
        keep = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if keep:
            g = g.sum(axis=keep, keepdims=True)
    if g.shape != shape:
        raise RuntimeError(
            f"internal: VJP rule of '{prim.name}' for input {index} returned shape {gshape}, "
            f"which does not broadcast to the input's shape {shape}"
        )
    return g


def check_finite(value: Any, where: str) -> None:
    """Raise ``FloatingPointError`` naming ``where`` if ``value`` holds a NaN or Inf."""
    data = value.data if hasattr(value, "_node") else value
    arr = np.asarray(data)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        kind = "NaN" if np.isnan(arr).any() else "Inf"
        raise FloatingPointError(f"{where} produced {kind} (shape {arr.shape}, dtype {arr.dtype})")


# --------------------------------------------------------------------------- reverse mode


def backward(
    roots: list,
    seeds: list,
    *,
    retain_graph: bool,
    create_graph: bool,
    targets: list[Node] | set[Node] | None = None,
) -> dict[Node, Any] | None:
    """Send ``seeds`` (upstream gradients of ``roots``) backward through the graph.

    Without ``targets`` the gradients accumulate into the ``.grad`` of the leaves (the
    object API). With ``targets`` (nodes) nothing is written anywhere: the total gradient
    reaching each target is returned (the function transforms), and nodes created before
    the earliest target are not visited at all.
    """
    queued = _QUEUED.callbacks
    mark = len(queued)  # a backward run from a hook keeps the callbacks of the outer one
    try:
        result = _backward(roots, seeds, retain_graph, create_graph, targets)
    except BaseException:
        del queued[mark:]
        raise
    while len(queued) > mark:  # callbacks may queue more callbacks
        queued.pop(mark)()
    return result


def _backward(roots, seeds, retain_graph, create_graph, targets) -> dict[Node, Any] | None:
    Tensor = _tensor_class()
    if targets is not None:
        targets = set(targets)
    if create_graph:
        return _backward_recorded(roots, seeds, retain_graph, targets, Tensor)

    adj: dict[Node, Any] = {}
    heap: list = []
    leaf_grads: dict = {}
    push = heapq.heappush
    pop = heapq.heappop
    min_seq = min(t.seq for t in targets) if targets else -1
    results: dict[Node, Any] = {}
    anomaly = state.ctx.anomaly

    for root, seed in zip(roots, seeds):
        node = root._node
        if node is None:
            if targets is None and root._rg:
                prev = leaf_grads.get(root)
                leaf_grads[root] = seed if prev is None else prev + seed
            continue
        prev = adj.get(node)
        if prev is None:
            adj[node] = seed
            push(heap, (-node.seq, node))
        else:
            adj[node] = prev + seed

    functional = targets is not None
    # Post-accumulate hooks: how many incoming edges each hooked leaf still waits for
    # (None, and no cost, when no leaf anywhere has such a hook).
    pending = _pending_edges(roots) if POST_HOOKS and not functional else None
    given: set[int] | None = None if pending is None else {id(s) for s in seeds}
    while heap:
        node = pop(heap)[1]
        g = adj.pop(node)
        while node is not None:
            edges = node.edges
            if edges is None:
                raise _freed_error(node)
            if node.extra is not None:
                g = _hooks_and_retain(node, g, Tensor)
            if functional and node in targets:
                results[node] = g
            prim = node.prim
            vjps = prim.vjps
            inputs = node.inputs
            ans = node.out
            params = node.params
            whole = None
            if prim.vjp_all is not None:
                whole = _call_vjp_all(prim, g, ans, inputs, params, edges)
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
                    data = edge.data
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
                if gi.shape != shape:
                    gi = sum_to_shape(gi, shape, prim, i)
                if gi.dtype is not dtype and gi.dtype != dtype:
                    gi = gi.astype(dtype)
                if anomaly:
                    check_finite(gi, f"backward of '{prim.name}' (gradient for input {i})")
                if is_node:
                    if edge is ready:
                        ready_g = ready_g + gi
                        continue
                    prev = adj.get(edge) if adj else None
                    if prev is not None:
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
                    leaf_grads[edge] = gi if prev is None else prev + gi
            if pending is not None:
                _arrived(edges, pending, leaf_grads, given, Tensor)
            if not retain_graph:
                node.inputs = node.out = node.edges = None
            if ready is not None and heap and heap[0][0] < -ready.seq:
                # something pending was created later: it must be processed first
                adj[ready] = ready_g
                push(heap, (-ready.seq, ready))
                ready = None
            node, g = ready, ready_g

    if targets is not None:
        return results
    _accumulate_leaves(leaf_grads, seeds, Tensor, given)
    if POST_HOOKS:  # leaves that were roots, or whose last edge was a symbolic zero
        for leaf in leaf_grads:
            _run_post_hooks(leaf)
    return None


def _pending_edges(roots: list) -> dict[int, int] | None:
    """For each leaf with post-accumulate hooks: the number of edges into it from the nodes
    the walk will visit (all nodes reachable from ``roots``), by the leaf's id."""
    pending: dict[int, int] = {}
    seen: set[Node] = set()
    stack = [r._node for r in roots if r._node is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for edge in node.edges or ():  # a freed node: the walk raises its own error
            if edge is None:
                continue
            if type(edge) is Node:
                if edge not in seen:
                    stack.append(edge)
            elif post_accumulate_hooks(edge):
                pending[id(edge)] = pending.get(id(edge), 0) + 1
    return pending or None


def _arrived(edges: tuple, pending: dict, leaf_grads: dict, given: Any, Tensor: type) -> None:
    """A node's gradients were sent along ``edges``: a hooked leaf that now has all of its
    contributions gets its ``.grad`` written at once and its post-accumulate hooks run."""
    for edge in edges:
        if edge is None or type(edge) is Node:
            continue
        key = id(edge)
        left = pending.get(key)
        if left is None:
            continue
        if left > 1:
            pending[key] = left - 1
            continue
        del pending[key]
        g = leaf_grads.pop(edge, None)
        if g is None:  # every contribution was a symbolic zero: no gradient, no hook
            continue
        _accumulate_leaves({edge: g}, (), Tensor, given)
        _run_post_hooks(edge)


def _run_post_hooks(leaf: Any) -> None:
    hooks = post_accumulate_hooks(leaf)
    if hooks:
        for hook in list(hooks):
            hook(leaf)


def _call_vjp_all(prim: Primitive, g: Any, ans: Any, inputs: tuple, params: Any, edges: tuple):
    needed = tuple(e is not None for e in edges)
    return prim.vjp_all(g, ans, inputs, params or {}, needed)


_LATE: dict[str, Any] = {}


def _tensor_class() -> type:
    """Tensor, imported on first use (tensor.py imports this module)."""
    cls = _LATE.get("Tensor")
    if cls is None:
        _late_bind()
        cls = _LATE["Tensor"]
    return cls


def _late_bind() -> None:
    # tensor.py and rules.py import this module, so they are bound on first use instead.
    from . import rules
    from .tensor import Tensor, enable_grad

    _LATE.update(Tensor=Tensor, rules=rules, enable_grad=enable_grad)


def _late(name: str) -> Any:
    value = _LATE.get(name)
    if value is None:
        _late_bind()
        value = _LATE[name]
    return value


def _free(node: Node) -> None:
    node.inputs = None
    node.out = None
    node.edges = None


def _hooks_and_retain(node: Node, g: Any, Tensor: type) -> Any:
    hooks = node.hooks
    if hooks:
        g = _run_hooks(hooks, g, Tensor)
    if node.retained is not None:
        _store_retained(node, g, Tensor)
    return g


def _run_hooks(hooks: list[Callable], g: Any, Tensor: type) -> Any:
    recorded = isinstance(g, Tensor)
    for hook in hooks:
        result = hook(g if recorded else Tensor._wrap(g))
        if result is not None:
            g = result if recorded else np.asarray(getattr(result, "data", result))
    return g


def _store_retained(node: Node, g: Any, Tensor: type) -> None:
    tensor = node.retained()
    if tensor is None:
        return
    value = g if isinstance(g, Tensor) else Tensor._wrap(np.array(g, copy=True))
    tensor.grad = value if tensor.grad is None else tensor.grad + value


def _accumulate_leaves(leaf_grads: dict, seeds: Any, Tensor: type, given: Any = None) -> None:
    # A gradient array may be shared (add passes its upstream gradient to both inputs, a
    # reshape returns a view) or read-only (broadcast_to): .grad always gets an array of
    # its own, copied only when sharing or read-only-ness makes that necessary. Shapes
    # were checked where each gradient was made, so the slot is set directly. ``given``
    # (the arrays already handed out) is shared by the calls of one backward pass.
    if given is None:
        given = {id(s) for s in seeds}
    wrap = Tensor._wrap
    for leaf, g in leaf_grads.items():
        if LEAF_HOOKS:
            hooks = leaf_hooks(leaf)
            if hooks:
                g = _run_hooks(hooks, g, Tensor)
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
        leaf._grad = wrap(g) if old is None else wrap(old.data + g)


def _recorded_ans(node: Node, Tensor: type) -> Any:
    """The node's output as a Tensor of the graph for recorded rules; None when it kept no
    output, or kept a residual instead (see ``Primitive.residual``)."""
    if node.out is None or node.prim.residual is not None:
        return None
    return Tensor._from_node(node.out, node)


def _wrap_saved(value: Any, edge: Any, Tensor: type) -> Any:
    """A saved input as a Tensor connected to the graph (for recorded rules)."""
    if value is None or edge is None:
        return value
    if type(edge) is Node:
        return Tensor._from_node(value, edge)
    return edge  # the leaf itself


def _backward_recorded(roots, seeds, retain_graph, targets, Tensor) -> dict | None:
    """The backward pass with every rule recorded (``create_graph=True``)."""
    P = _late("rules")
    enable_grad = _late("enable_grad")

    adj: dict[Node, Any] = {}
    heap: list = []
    leaf_grads: dict = {}
    min_seq = min(t.seq for t in targets) if targets else -1
    results: dict[Node, Any] = {}
    anomaly = state.ctx.anomaly

    with enable_grad():
        for root, seed in zip(roots, seeds):
            seed = seed if isinstance(seed, Tensor) else Tensor._wrap(seed)
            node = root._node
            if node is None:
                if targets is None and root._rg:
                    prev = leaf_grads.get(root)
                    leaf_grads[root] = seed if prev is None else prev + seed
                continue
            prev = adj.get(node)
            if prev is None:
                adj[node] = seed
                heapq.heappush(heap, (-node.seq, node))
            else:
                adj[node] = prev + seed

        while heap:
            node = heapq.heappop(heap)[1]
            g = adj.pop(node)
            if node.edges is None:
                raise _freed_error(node)
            if node.extra is not None:
                g = _hooks_and_retain(node, g, Tensor)
            if targets is not None and node in targets:
                results[node] = g
            prim = node.prim
            edges = node.edges
            inputs = node.inputs
            if prim.save_inputs or prim.vjp_all is not None:
                inputs = tuple([_wrap_saved(v, e, Tensor) for v, e in zip(inputs, edges)])
            ans = _recorded_ans(node, Tensor)
            params = node.params
            whole = None
            if prim.vjp_all is not None:
                whole = _call_vjp_all(prim, g, ans, inputs, params, edges)
            for i, edge in enumerate(edges):
                if edge is None:
                    continue
                if type(edge) is Node:
                    if edge.seq < min_seq:
                        continue
                    shape, dtype = edge.shape, edge.dtype
                else:
                    if targets is not None:
                        continue
                    shape, dtype = edge.data.shape, edge.data.dtype
                if whole is not None:
                    gi = whole[i]
                    if gi is None:
                        continue
                elif params is None:
                    gi = prim.vjps[i](g, ans, *inputs)
                else:
                    gi = prim.vjps[i](g, ans, *inputs, **params)
                if not isinstance(gi, Tensor):
                    gi = Tensor._wrap(np.asarray(gi))
                value = gi.data
                if value.shape != shape:
                    sum_to_shape(np.empty(value.shape, dtype=bool), shape, prim, i)  # validates
                    gi = P.sum_to(gi, shape=shape, in_shape=value.shape)
                if value.dtype is not dtype and value.dtype != dtype:
                    gi = P.astype(gi, dtype=dtype)
                if anomaly:
                    check_finite(gi, f"backward of '{prim.name}' (gradient for input {i})")
                if type(edge) is Node:
                    prev = adj.get(edge)
                    if prev is None:
                        adj[edge] = gi
                        heapq.heappush(heap, (-edge.seq, edge))
                    else:
                        adj[edge] = prev + gi
                else:
                    prev = leaf_grads.get(edge)
                    leaf_grads[edge] = gi if prev is None else prev + gi
            if not retain_graph:
                _free(node)

        if targets is not None:
            return results
        for leaf, g in leaf_grads.items():
            hooks = leaf_hooks(leaf) if LEAF_HOOKS else None
            if hooks:
                g = _run_hooks(hooks, g, Tensor)
            leaf.grad = g if leaf.grad is None else leaf.grad + g
        if POST_HOOKS:  # create_graph=True: the hooks run once every .grad is written
            for leaf in leaf_grads:
                _run_post_hooks(leaf)
    return None


# --------------------------------------------------------------------------- forward mode


def _seq_of(node: Node) -> int:
    return node.seq


def _sweep(order: list, tangents: dict, seeds: dict, recorded: bool, Tensor: type, P: Any) -> None:
    """Apply the JVP rules node by node in creation order (see ``forward_tangents``)."""
    anomaly = state.ctx.anomaly
    get = tangents.get
    for node in order:
        if node in seeds:
            continue
        prim = node.prim
        edges = node.edges
        if recorded:
            inputs = node.inputs
            if prim.save_inputs or prim.jvp_all is not None:
                inputs = tuple([_wrap_saved(v, e, Tensor) for v, e in zip(inputs, edges)])
            ans = _recorded_ans(node, Tensor)
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
                if params is not None:
                    contrib = jvps[i](t, ans, *inputs, **params)
                elif len(inputs) == 2:  # spelled out: plain calls are faster than *inputs
                    contrib = jvps[i](t, ans, inputs[0], inputs[1])
                elif len(inputs) == 1:
                    contrib = jvps[i](t, ans, inputs[0])
                else:
                    contrib = jvps[i](t, ans, *inputs)
                total = contrib if total is None else total + contrib
        if total is None:
            continue  # a symbolic zero: nothing computed or stored
        if recorded:
            if not isinstance(total, Tensor):
                total = Tensor._wrap(np.asarray(total))
            value = total.data
            if value.shape != node.shape:
                total = P.broadcast_to(total, shape=node.shape)
            if value.dtype is not node.dtype and value.dtype != node.dtype:
                total = P.astype(total, dtype=node.dtype)
        else:
            if total.shape != node.shape:
                total = np.broadcast_to(total, node.shape)
            if total.dtype is not node.dtype and total.dtype != node.dtype:
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
    P, Tensor, enable_grad = _late("rules"), _late("Tensor"), _late("enable_grad")
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
        with enable_grad():
            _sweep(order, tangents, seeds, True, Tensor, P)
    else:
        _sweep(order, tangents, seeds, False, Tensor, P)
    return [None if n is None else tangents.get(n) for n in outputs]
