"""Pictures of a traced Graph: the lectures' circuit, each value (green) above its wire and
its gradient (red, italic) below, drawn with matplotlib on a layered layout computed here.

Readable at any size: an ``nn.Module`` layer is one box (``expand=`` opens it), repeated blocks
(RNN steps, identical layers) are drawn once with their count, and past ``max_nodes`` chains,
stacks and the ops farthest from the output are folded, with a note saying what was. Every
text is measured before it is placed, so labels never overlap; a legend explains the colours.
``to_dot`` writes Graphviz text for those who have Graphviz.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .explain import fmt_number
from .graph import Graph, Var

__all__ = [
    "Box",
    "Drawing",
    "Wire",
    "figure",
    "grad_label",
    "layout",
    "render",
    "side_by_side",
    "to_dot",
    "to_svg",
    "value_label",
]

GREEN = "#1a7f37"
RED = "#cf222e"
GRAY = "#57606a"
INK = "#24292f"
WIRE = "#6e7781"
#: Box faces by kind; light enough for black text, told apart by shape and legend too.
FACES = {
    "input": "#ddf4ff",
    "param": "#fff1e5",
    "const": "#f6f8fa",
    "module": "#eaeef2",
    "repeat": "#fbefff",
    "group": "#fff8c5",
    "stack": "#fbefff",
    "more": "#eeeeee",
}
#: Heat strips: a diverging map that colour-blind readers can tell apart (orange < 0 < purple).
STRIP_CMAP = "PuOr"

#: The symbol drawn inside each gate.
SYMBOLS = {
    "add": "+",
    "sub": "−",
    "mul": "×",
    "div": "÷",
    "pow": "**",
    "neg": "−x",
    "exp": "exp",
    "log": "log",
    "sqrt": "√",
    "tanh": "tanh",
    "sigmoid": "σ",
    "relu": "relu",
    "abs": "|x|",
    "sin": "sin",
    "cos": "cos",
    "max": "max",
    "min": "min",
    "maximum": "max",
    "minimum": "min",
    "sum": "Σ",
    "matmul": "@",
    "linear": "lin",
    "logsumexp": "lse",
    "softmax": "smax",
    "log_softmax": "lsm",
    "getitem": "[ ]",
    "reshape": "rshp",
    "transpose": "T",
    "broadcast_to": "bcst",
    "sum_to": "Σ→",
    "concatenate": "cat",
    "where": "?:",
    "clip": "clip",
    "cross_entropy": "xent",
    "softmax_cross_entropy": "xent",
    "nll_loss": "nll",
    "mse_loss": "mse",
}

# Sizes in points (text) and inches (geometry): the layout works in inches, the figure's axes
# span it one to one, so a measured text width can be compared with a gap directly.
FS_VALUE = 8.0
FS_NAME = 7.0
FS_BOX = 9.0
FS_SUB = 7.0
FS_SYMBOL = 11.0
FS_TITLE = 10.0
FS_LEGEND = 8.0
R_GATE = 0.17
GAP_X = 0.32  # free wire between one column's labels and the next column
GAP_Y = 0.14
STRIP_W = 0.36


def value_label(value: Any) -> str:
    """Two decimals for scalars (the lectures' 0.73, -4.00); the shape for tensors.

    Examples
    --------
    >>> value_label(0.7310585786), value_label(np.zeros((64, 128)))
    ('0.73', '64×128')
    """
    if value is None:
        return "?"
    arr = np.asarray(value)
    if arr.dtype.kind == "b":
        return "bool" + ("" if arr.ndim == 0 else " " + "×".join(map(str, arr.shape)))
    if arr.size == 1 and arr.ndim == 0:
        x = float(arr.real) if arr.dtype.kind == "c" else float(arr)
        if x == 0 or 0.01 <= abs(x) < 1e4:
            return f"{x:.2f}"
        return f"{x:.2e}"
    if arr.size == 0:
        return "empty " + "×".join(map(str, arr.shape))
    return "×".join(map(str, arr.shape))


def grad_label(grad: Any) -> str:
    """A scalar gradient like a value; a tensor's as its norm.

    Examples
    --------
    >>> grad_label(-4.0), grad_label(np.full(4, 0.5))
    ('-4.00', '‖g‖ 1')
    """
    if grad is None:
        return ""
    arr = np.asarray(grad)
    if arr.size == 1 and arr.ndim == 0:
        return value_label(arr)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return value_label(arr)
    return f"‖g‖ {fmt_number(float(np.sqrt(np.sum(np.abs(arr.astype(np.complex128)) ** 2))))}"


def _is_tensor(value: Any) -> bool:
    return value is not None and np.size(value) > 1


def _strip(value: Any, cells: int = 12) -> np.ndarray | None:
    """The values sorted and sampled at ``cells`` quantiles: a tensor's range and skew at a
    glance (a ReLU output is half white, a gradient symmetric)."""
    if not _is_tensor(value):
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiuc":
        return None
    flat = np.sort(np.real(arr).astype(np.float64).ravel())
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return None
    picks = np.linspace(0, flat.size - 1, min(cells, flat.size)).round().astype(int)
    return flat[picks]


# --------------------------------------------------------------------------- measuring


@functools.lru_cache(maxsize=4096)
def _text_size(text: str, size: float, weight: str = "normal", style: str = "normal") -> float:
    """Width of ``text`` in inches, as matplotlib will lay it out."""
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(size=size, weight=weight, style=style)
    width, _h, _d = _renderer().get_text_width_height_descent(text, prop, ismath=False)
    return width / 720.0 * 1.04 + 0.01  # a hair of slack for hinting at other resolutions


@functools.lru_cache(maxsize=1)
def _renderer() -> Any:
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(10, 10, 720)  # fine resolution: widths to a tenth of a point


def _line(size: float) -> float:
    """Height of one line of text in inches (ascent and descent, as matplotlib draws it)."""
    return size * 1.3 / 72.0


# --------------------------------------------------------------------------- structure


@dataclass(eq=False)
class Box:
    """One drawn node: a gate, an input, a parameter, a constant, a module call, a repeated
    block, a collapsed chain or stack of gates, a summary of folded ops, or a bend point of
    a long wire (``dummy``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing.render import layout
    >>> d = layout(cr.trace(lambda x, y: x * y, 3.0, 4.0))
    >>> sorted((b.kind, b.label) for b in d.boxes)
    [('input', 'x'), ('input', 'y'), ('op', '×')]
    """

    key: int
    kind: str  # op, input, param, const, module, repeat, group, stack, more, dummy
    label: str
    name: str
    vars: list[Var]
    layer: int = 0
    order: float = 0.0
    x: float = 0.0
    y: float = 0.0
    count: int = 1
    #: second, smaller line of a box (a module's shapes, a repeated block's range)
    sub: str = ""
    #: the Var whose value and gradient are written beside the node
    out: Var | None = None
    hw: float = 0.0  # half width of the node
    up: float = 0.0  # extent above the centre line (node and labels)
    down: float = 0.0  # extent below it
    attach: float = 0.0  # where wires meet the node, measured from its centre
    lw: float = 0.0  # width of the labels right of the node
    #: the module call a ``module`` box stands for (a ``tracing.scope.ScopeFrame``)
    frame: Any = None

    @property
    def last(self) -> Var:
        return self.vars[-1]

    @property
    def ops(self) -> list[Var]:
        """The operations inside (parameters and constants a box absorbed left out)."""
        return [v for v in self.vars if v.is_op]


@dataclass(eq=False)
class Wire:
    """A drawn wire from one box to another, bent through ``via`` where it skips layers.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing.render import layout
    >>> d = layout(cr.trace(lambda x, y: x * y, 3.0, 4.0))
    >>> sorted((w.src.label, w.dst.label) for w in d.wires)
    [('x', '×'), ('y', '×')]
    """

    src: Box
    dst: Box
    value: str = ""
    grad: str = ""
    #: bend points (dummy boxes) between src and dst, one per layer crossed
    via: list[Box] = field(default_factory=list)


@dataclass
class Drawing:
    """The laid-out picture: boxes with coordinates (inches), wires, and what was folded.

    Examples
    --------
    >>> import chainrule as cr
    >>> import numpy as np
    >>> from chainrule.tracing.render import layout
    >>> net = cr.nn.mlp([4, 8, 2])
    >>> d = layout(cr.trace(net, np.ones((3, 4), np.float32)))
    >>> [b.label for b in d.boxes if b.kind == 'module']
    ['0 · Linear', '1 · ReLU', '2 · Linear']
    """

    boxes: list[Box]
    wires: list[Wire]
    outputs: list[Box]
    collapsed: int = 0
    notes: list[str] = field(default_factory=list)
    dummies: list[Box] = field(default_factory=list)


def _contribution(graph: Graph) -> dict[tuple[int, int], Any]:
    """(consumer index, input index) -> the gradient that consumer sent back."""
    found: dict[tuple[int, int], Any] = {}
    for step in graph.steps:
        for inp, _local, down in step.contributions:
            key = (step.var.index, inp.index)
            found[key] = down if key not in found else found[key] + down
    return found


def _names(option: Any) -> Any:
    """``expand=`` / ``collapse=`` as True, or a set of module names and class names."""
    if option is True:
        return True
    if not option:
        return frozenset()
    if isinstance(option, str):
        return frozenset([option])
    return frozenset(str(o) for o in option)


def _matches(frame: Any, names: Any) -> bool:
    if names is True:
        return True
    return frame.name in names or frame.kind in names


def _module_of(ops: list[Var], expand: Any, collapse: Any) -> dict[int, Any]:
    """op index -> the module call it is drawn inside.

    A call of a module that calls no other module (a layer: Linear, ReLU, ...) is one box;
    modules made of modules are opened, and so is a call that made every op of the graph.
    ``expand`` opens layers, ``collapse`` closes containers (by qualified or class name).
    """
    containers: set[int] = set()
    sizes: dict[int, int] = {}
    for v in ops:
        for frame in v.scope[:-1]:
            containers.add(frame.call)
        for frame in v.scope:
            sizes[frame.call] = sizes.get(frame.call, 0) + 1
    chosen: dict[int, Any] = {}
    for v in ops:
        for frame in v.scope:
            if collapse is not True and _matches(frame, collapse):
                chosen[v.index] = frame
                break
            if frame.call in containers or sizes[frame.call] == len(ops):
                continue
            if not _matches(frame, expand):
                chosen[v.index] = frame
            break
    return chosen


def _shape_text(shape: tuple) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _consumers(graph: Graph) -> dict[int, list[Var]]:
    users: dict[int, list[Var]] = {}
    for v in graph.ops:
        for inp in v.inputs:
            users.setdefault(inp.index, []).append(v)
    return users


def _output_var(members: list[Var], users: dict[int, list[Var]], outputs: set[int]) -> Var:
    """The member whose value leaves the group (the last one if several do)."""
    inside = {v.index for v in members}
    leaving = [
        v
        for v in members
        if v.index in outputs or any(u.index not in inside for u in users.get(v.index, []))
    ]
    return leaving[-1] if leaving else members[-1]


def _box_edges(graph: Graph, box_of: dict[int, Box]) -> list[tuple[Box, Box, Var, Var]]:
    edges = []
    for v in graph.ops:
        dst = box_of.get(v.index)
        if dst is None:
            continue
        for inp in v.inputs:
            src = box_of.get(inp.index)
            if src is not None and src is not dst:
                edges.append((src, dst, inp, v))
    return edges


def _merge(boxes: dict[int, Box], box_of: dict[int, Box], members: list[Box], new: Box) -> None:
    for b in members:
        del boxes[b.key]
        for v in b.vars:
            box_of[v.index] = new
    boxes[new.key] = new


def _absorb_leaves(graph: Graph, boxes: dict[int, Box], box_of: dict[int, Box]) -> None:
    """Parameters and constants used only inside one module (or folded) box join it."""
    users = _consumers(graph)
    for key, b in list(boxes.items()):
        if b.kind not in ("param", "const"):
            continue
        owners = {id(box_of.get(u.index)) for u in users.get(b.vars[0].index, [])}
        if len(owners) != 1:
            continue
        owner = box_of.get(users[b.vars[0].index][0].index)
        if owner is None or owner.kind not in ("module", "repeat", "group", "stack", "more"):
            continue
        del boxes[key]
        box_of[b.vars[0].index] = owner
        owner.vars.insert(0, b.vars[0])


# --------------------------------------------------------------------------- repeats


def _signature(b: Box) -> tuple:
    """What must match for two boxes to count as the same step of a repeated block."""
    if b.kind == "module":
        ops = tuple((v.op, v.shape) for v in b.ops)
        return ("module", b.frame.kind, b.sub, ops)
    v = b.vars[0]
    return ("op", v.op, v.shape, len(v.inputs))


def _runs(ids: np.ndarray, lo: int, hi: int, max_unit: int = 24) -> list[tuple[int, int, int]]:
    """Periodic stretches of ``ids[lo:hi]`` as (start, unit length, times), longest first.

    For each unit length p, ``ids[i] == ids[i + p]`` over a stretch of L positions means
    L + p items repeat with period p. Ties go to the shorter unit; a run is aligned to the
    end of its stretch (an MLP reads ``(Linear → ReLU) × n``, not ``(ReLU → Linear)``).
    """
    found = []
    n = hi - lo
    seg = ids[lo:hi]
    for p in range(1, min(max_unit, n // 2) + 1):
        same = seg[:-p] == seg[p:]
        if not same.any():
            continue
        padded = np.concatenate([[False], same, [False]])
        edges = np.flatnonzero(padded[1:] != padded[:-1])
        for s, e in zip(edges[::2], edges[1::2]):
            length = int(e - s) + p
            times = length // p
            if times >= 2:
                found.append((lo + int(s) + length - times * p, p, times))
    found.sort(key=lambda r: (-r[1] * r[2], r[1], r[0]))
    return found


def _best_run(ids: np.ndarray, lo: int, hi: int, max_unit: int = 24) -> tuple[int, int, int]:
    """The longest periodic stretch of ``ids[lo:hi]``: (start, unit length, times)."""
    runs = _runs(ids, lo, hi, max_unit)
    return runs[0] if runs else (lo, 1, 1)


def _same_wiring(members: list[Box], p: int, sources: dict[int, list[Box]]) -> bool:
    """Whether every step of a candidate block is wired like the others: each input comes
    from the same place of the same (or an earlier) step, or from outside the block.

    The first step may take from outside what later steps take from the step before (an
    RNN's first hidden state, perhaps a constant), so only its inner wiring is compared.
    """
    where = {id(b): k for k, b in enumerate(members)}

    def pattern(j: int, first: bool) -> tuple:
        refs = []
        for o in range(p):
            k = j * p + o
            row = []
            for src in sources.get(members[k].key, []):
                if id(src) in where:
                    kk = where[id(src)]
                    back = j - kk // p
                    row.append("*" if first and back > 0 else (back, kk % p))
                elif src.kind == "input":  # per-step inputs (x_t) may be separate arguments
                    row.append("*" if first else ("input", src.vars[0].shape))
                else:  # anything else from outside: the very same box for every step
                    row.append("*" if first else ("ext", src.key))
            if first:  # only the step's own wiring must match; the rest may differ
                row = [r for r in row if r != "*"]
            refs.append(tuple(sorted(map(str, row))))
        return tuple(refs)

    times = len(members) // p
    later = {pattern(j, False) for j in range(1, times)}
    if len(later) != 1:
        return False
    return pattern(0, True) == pattern(1, True)


def _fold_repeats(graph: Graph, boxes: dict[int, Box], box_of: dict[int, Box]) -> list[str]:
    """Repeated blocks become one box with their count: RNN steps, a stack of equal layers,
    a loop's body. Returns notes saying what was folded."""
    seq = sorted(
        (b for b in boxes.values() if b.kind in ("op", "module")), key=lambda b: b.ops[0].index
    )
    if len(seq) < 4:
        return []
    interned: dict[tuple, int] = {}
    ids = np.array([interned.setdefault(_signature(b), len(interned)) for b in seq])
    sources: dict[int, list[Box]] = {}
    for src, dst, _i, _v in _box_edges(graph, box_of):
        if src not in sources.setdefault(dst.key, []):
            sources[dst.key].append(src)
    users = _consumers(graph)
    outputs = {o.index for o in graph.outputs}
    notes: list[str] = []
    pending = [(0, len(seq))]
    runs: list[tuple[int, int, int]] = []
    while pending:
        lo, hi = pending.pop()
        if hi - lo < 4:
            continue
        for start, p, times in _runs(ids, lo, hi)[:40]:
            n_ops = sum(len(b.ops) for b in seq[start : start + p * times])
            if times < 3 or n_ops < 6:  # twice is a coincidence as often as a loop
                continue
            if not _same_wiring(seq[start : start + p * times], p, sources):
                if times <= 3 or not _same_wiring(seq[start + p : start + p * times], p, sources):
                    continue
                start, times = start + p, times - 1  # the first step is wired differently
            runs.append((start, p, times))
            pending.append((lo, start))
            pending.append((start + p * times, hi))
            break
    for start, p, times in sorted(runs):
        members = seq[start : start + p * times]
        unit = [_unit_name(b) for b in members[:p]]
        text = " → ".join(unit)
        if len(text) > 56:
            text = f"{unit[0]} → … → {unit[-1]}, {p} steps"
        vars_ = [v for b in members for v in b.vars]
        vars_.sort(key=lambda v: v.index)
        out = _output_var(vars_, users, outputs)
        first_out = members[p - 1].out or members[p - 1].vars[-1]
        box = Box(
            members[0].key,
            "repeat",
            f"({text}) × {times}",
            out.name,
            vars_,
            count=times,
            sub=f"{first_out.name} … {out.name}",
            out=out,
        )
        _merge(boxes, box_of, members, box)
        full = " → ".join(_unit_name(b, full=True) for b in members[:p])
        notes.append(f"({full}) × {times} drawn once")
    return notes


def _unit_name(b: Box, full: bool = False) -> str:
    """A step's item: the op, or the module's attribute name (its class for ``0``, ``1``)."""
    if b.kind != "module":
        return b.vars[0].op
    if full:
        return b.label
    short = b.frame.name.rsplit(".", 1)[-1]
    return short if short.isidentifier() else b.frame.kind


# --------------------------------------------------------------------------- big graphs


def _period(ops: list[str], max_unit: int = 8) -> tuple[int, list[str], int]:
    """The longest run of a repeating unit in ``ops``: (start, unit, times)."""
    interned: dict[str, int] = {}
    ids = np.array([interned.setdefault(o, len(interned)) for o in ops])
    if len(ops) < 2:
        return 0, ops, 1
    start, p, times = _best_run(ids, 0, len(ops), max_unit)
    if times < 2:
        return 0, ops, 1
    return start, ops[start : start + p], times


def _group_label(vars_: list[Var]) -> str:
    ops = [v.op for v in vars_ if v.is_op]
    start, unit, times = _period(ops)
    if times > 1:
        head, tail = ops[:start], ops[start + times * len(unit) :]
        parts = []
        if head:
            parts.append(" → ".join(head) if len(head) <= 3 else f"… ({len(head)} ops)")
        parts.append(f"({' → '.join(unit)}) × {times}")
        if tail:
            parts.append(" → ".join(tail) if len(tail) <= 3 else f"… ({len(tail)} ops)")
        return " → ".join(parts)
    if len(ops) > 4:
        return f"{ops[0]} → … → {ops[-1]} ({len(ops)} ops)"
    return " → ".join(ops)


def _collapse_chains(graph: Graph, boxes: dict[int, Box], box_of: dict[int, Box]) -> int:
    """Chains of gates where each one's only user is the next become one box."""
    outputs = {o.index for o in graph.outputs}
    succ: dict[int, set[int]] = {}
    pred_count: dict[int, int] = {}
    for src, dst, _i, _v in _box_edges(graph, box_of):
        if dst.key not in succ.setdefault(src.key, set()):
            succ[src.key].add(dst.key)
            pred_count[dst.key] = pred_count.get(dst.key, 0) + 1
    done: set[int] = set()
    merged = 0
    for b in sorted(list(boxes.values()), key=lambda b: b.key):
        if b.kind != "op" or b.key in done or b.key not in boxes:
            continue
        chain = [b]
        while True:
            tail = chain[-1]
            nxt = succ.get(tail.key, set())
            if tail.out is not None and tail.out.index in outputs or len(nxt) != 1:
                break
            n = boxes.get(next(iter(nxt)))
            if n is None or n.kind != "op" or n.key in done or pred_count.get(n.key, 0) != 1:
                break
            chain.append(n)
        done.update(c.key for c in chain)
        if len(chain) < 2:
            continue
        vars_ = [v for c in chain for v in c.vars]
        new = Box(chain[0].key, "group", _group_label(vars_), chain[-1].name, vars_)
        new.out = chain[-1].out
        _merge(boxes, box_of, chain, new)
        merged += len(chain) - 1
    return merged


def _stack_repeats(graph: Graph, boxes: dict[int, Box], box_of: dict[int, Box]) -> int:
    """Merge boxes that are the same structure feeding the same place (``[ ] ×124``).

    A box's shape is its label and the shapes of its sources; boxes with equal shapes whose
    users are the same (merged) boxes become one stack. Returns how many boxes merged.
    """
    edges = _box_edges(graph, box_of)
    srcs: dict[int, set[int]] = {}
    dsts: dict[int, set[int]] = {}
    for src, dst, _i, _v in edges:
        srcs.setdefault(id(dst), set()).add(id(src))
        dsts.setdefault(id(src), set()).add(id(dst))
    ordered = _topological(list(boxes.values()), [(s, d) for s, d, _i, _v in edges])
    shape: dict[int, int] = {}
    interned: dict[Any, int] = {}
    fixed = ("input", "param", "const")
    for b in ordered:
        if b.kind in fixed:
            sig: Any = (b.kind, b.key)
        else:
            sig = (b.label, tuple(sorted(shape[s] for s in srcs.get(id(b), ()))))
        shape[id(b)] = interned.setdefault(sig, len(interned))
    rep: dict[int, Box] = {}
    groups: dict[Any, Box] = {}
    for b in reversed(ordered):
        if b.kind in fixed:
            rep[id(b)] = b
            continue
        key = (shape[id(b)], frozenset(id(rep[d]) for d in dsts.get(id(b), ()) if d in rep))
        if not dsts.get(id(b)):
            key = (shape[id(b)], id(b))  # outputs never merge
        first = groups.setdefault(key, b)
        rep[id(b)] = first
        if first is not b:
            first.count += 1
    merged = 0
    for b in ordered:
        r = rep[id(b)]
        if r is not b:
            merged += 1
            for v in b.vars:
                box_of[v.index] = r
            r.vars.extend(b.vars)
            del boxes[b.key]
    for b in boxes.values():
        if b.count > 1 and b.kind != "repeat":
            b.kind = "stack"
            b.label = f"{b.label}  ×{b.count}"
            b.out = None
    return merged


def _topological(boxes: list[Box], pairs: list[tuple[Box, Box]]) -> list[Box]:
    """Kahn's order of the boxes (ties by creation), robust to a stray cycle."""
    import heapq

    indeg = {id(b): 0 for b in boxes}
    succs: dict[int, list[Box]] = {}
    seen: set[tuple[int, int]] = set()
    for a, b in pairs:
        if id(a) not in indeg or id(b) not in indeg or (id(a), id(b)) in seen:
            continue
        seen.add((id(a), id(b)))
        succs.setdefault(id(a), []).append(b)
        indeg[id(b)] += 1
    heap = [(b.key, i, b) for i, b in enumerate(boxes) if indeg[id(b)] == 0]
    heapq.heapify(heap)
    order: list[Box] = []
    done: set[int] = set()
    while heap:
        _k, _i, b = heapq.heappop(heap)
        order.append(b)
        done.add(id(b))
        for n in succs.get(id(b), []):
            indeg[id(n)] -= 1
            if indeg[id(n)] == 0:
                heapq.heappush(heap, (n.key, len(order) + len(boxes), n))
    order.extend(b for b in sorted(boxes, key=lambda b: b.key) if id(b) not in done)
    return order


def _distance_to_outputs(graph: Graph, box_of: dict[int, Box]) -> dict[int, int]:
    """Boxes counted from the output backwards (breadth first)."""
    preds: dict[int, set[int]] = {}
    for src, dst, _i, _v in _box_edges(graph, box_of):
        preds.setdefault(dst.key, set()).add(src.key)
    start = [box_of[o.index].key for o in graph.outputs if o.index in box_of]
    distance = {k: 0 for k in start}
    frontier = list(start)
    while frontier:
        nxt = []
        for k in frontier:
            for p in preds.get(k, ()):
                if p not in distance:
                    distance[p] = distance[k] + 1
                    nxt.append(p)
        frontier = nxt
    return distance


def _op_summary(vars_: list[Var], top: int = 3) -> str:
    counts: dict[str, int] = {}
    for v in vars_:
        if v.is_op:
            counts[v.op] = counts.get(v.op, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{op} {n}" for op, n in ranked[:top])
    return text + (", …" if len(ranked) > top else "")


# --------------------------------------------------------------------------- layout

_GATE_KINDS = ("op", "module", "repeat", "group", "stack")


def layout(
    graph: Graph,
    max_nodes: int = 60,
    constants: bool | None = None,
    expand: Any = (),
    collapse: Any = (),
    fold: bool = True,
) -> Drawing:
    """Boxes and wires with coordinates in inches (x grows with the layer, left to right).

    Module calls are grouped (see ``render``); repeated blocks are folded into one box when
    ``fold``; past ``max_nodes`` drawn gates, chains of single-use gates become one box,
    equal structures feeding the same place one stack, and then only the gates nearest the
    output are kept, the rest summarised in one box. Constants get little boxes of their
    own unless ``constants=False`` (the default for graphs past ``max_nodes``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.tracing.render import layout
    >>> d = layout(cr.trace(lambda x, y: (x + y) * x, 1.0, 2.0))
    >>> sorted(b.kind for b in d.boxes)
    ['input', 'input', 'op', 'op']
    """
    ops = graph.ops
    expand_names, collapse_names = _names(expand), _names(collapse)
    users = _consumers(graph)
    outputs = {o.index for o in graph.outputs}
    calls = _module_of(ops, expand_names, collapse_names)
    if constants is None:
        constants = len(ops) - len(calls) <= max_nodes

    boxes: dict[int, Box] = {}
    box_of: dict[int, Box] = {}
    by_call: dict[int, Box] = {}
    for v in graph.nodes:
        if v.is_op and v.index in calls:
            frame = calls[v.index]
            box = by_call.get(frame.call)
            if box is None:
                label = f"{frame.name} · {frame.kind}" if frame.name else frame.kind
                box = Box(v.index, "module", label, frame.name, [], frame=frame)
                by_call[frame.call] = box
                boxes[v.index] = box
            box.vars.append(v)
            box_of[v.index] = box
            continue
        if v.is_op:
            box = Box(v.index, "op", SYMBOLS.get(v.op, v.op), v.name, [v], out=v)
        elif v.op == "const":
            if not constants:
                continue
            box = Box(v.index, "const", value_label(v.value), v.name, [v])
        else:
            box = Box(v.index, "param" if v.op == "param" else "input", v.name, v.name, [v], out=v)
        boxes[v.index] = box
        box_of[v.index] = box
    for box in by_call.values():
        box.out = _output_var(box.vars, users, outputs)
        inside = {m.index for m in box.vars}
        feeds = [i for m in box.vars for i in m.inputs if i.index not in inside]
        data = [i for i in feeds if i.op not in ("param", "const")] or feeds
        if data and (data[0].shape or box.out.shape):
            box.sub = f"{_shape_text(data[0].shape)} → {_shape_text(box.out.shape)}"
    _absorb_leaves(graph, boxes, box_of)

    notes: list[str] = []
    if fold:
        notes.extend(_fold_repeats(graph, boxes, box_of))
        _absorb_leaves(graph, boxes, box_of)

    def n_gates() -> int:
        return sum(1 for b in boxes.values() if b.kind in _GATE_KINDS)

    if n_gates() > max_nodes:
        merged = _collapse_chains(graph, boxes, box_of)
        if merged:
            notes.append(f"chains of single-use ops drawn as one box ({merged} boxes merged)")
    if n_gates() > max_nodes:
        merged = _stack_repeats(graph, boxes, box_of)
        if merged:
            notes.append(f"{merged} boxes of equal structure stacked (×n)")
        _absorb_leaves(graph, boxes, box_of)

    # Still too many: keep the gates nearest the output, summarise the rest.
    drawn = [b for b in boxes.values() if b.kind in _GATE_KINDS]
    if len(drawn) > max_nodes:
        distance = _distance_to_outputs(graph, box_of)
        keep_ops = sorted(drawn, key=lambda b: (distance.get(b.key, 1 << 30), -b.key))
        keep = {b.key for b in keep_ops[:max_nodes]}
        hidden = [b for b in drawn if b.key not in keep]
        hidden_vars = [v for b in hidden for v in b.vars if v.is_op]
        more = Box(-1, "more", f"… {len(hidden_vars)} earlier ops", "", [])
        more.sub = _op_summary(hidden_vars)
        for b in hidden:
            for v in b.vars:
                box_of[v.index] = more
            more.vars.extend(b.vars)
            del boxes[b.key]
        boxes[-1] = more
        notes.append(f"{len(hidden_vars)} earlier ops summarised ({_op_summary(hidden_vars, 5)})")
        for key, b in list(boxes.items()):
            if b.kind in ("input", "param", "const"):
                used = users.get(b.vars[0].index, [])
                if used and all(box_of.get(u.index) is more for u in used):
                    box_of[b.vars[0].index] = more
                    more.vars.append(b.vars[0])
                    del boxes[key]

    # Wires between boxes: one per pair (a box's inner wires are not drawn).
    contrib = _contribution(graph)
    wires: dict[tuple[int, int], Wire] = {}
    for src, dst, inp, v in _box_edges(graph, box_of):
        pair = (id(src), id(dst))
        if pair in wires or dst.kind == "more":
            continue
        g = contrib.get((v.index, inp.index))
        wires[pair] = Wire(src, dst, value_label(inp.value), grad_label(g))
    drawing = Drawing(list(boxes.values()), list(wires.values()), [], notes=notes)
    drawing.outputs = []
    for o in graph.outputs:
        b = box_of.get(o.index)
        if b is not None and b not in drawing.outputs:
            drawing.outputs.append(b)
            if b.kind in ("group", "repeat", "module"):
                b.out = o
    drawing.collapsed = len(ops) - sum(1 for b in drawing.boxes if b.kind == "op")
    _measure(drawing)
    _assign_layers(drawing)
    _add_dummies(drawing)
    _order_layers(drawing)
    _place(drawing)
    return drawing


def _label_texts(b: Box) -> tuple[str, str]:
    """(value, gradient) written right of the box."""
    if b.out is None or b.kind in ("const", "stack", "more", "dummy"):
        return "", ""
    return value_label(b.out.value), grad_label(b.out.grad)


def _measure(drawing: Drawing) -> None:
    """Node sizes and label widths in inches, from the texts as matplotlib will draw them."""
    outs = {id(b) for b in drawing.outputs}
    line_v = _line(FS_VALUE)
    for b in drawing.boxes:
        value, grad = _label_texts(b)
        widths = [_text_size(value, FS_VALUE), _text_size(grad, FS_VALUE, style="italic")]
        strip = STRIP_W + 0.05 if b.out is not None and _is_tensor(b.out.value) else 0.0
        lw = max(widths) + strip if (value or grad) else 0.0
        if id(b) in outs:
            lw = max(lw, 0.3) + 0.12 + _text_size(b.out.name if b.out else b.name, FS_BOX, "bold")
        b.lw = lw + (0.08 if lw else 0.0)
        label_half = (line_v + 0.04) if (value or grad) else 0.0
        if b.kind == "op":
            name = "" if id(b) in outs else b.name
            name_w = _text_size(name, FS_NAME, style="italic") if name else 0.0
            b.attach = _gate_half(b.label)
            b.hw = max(b.attach, name_w / 2)
            b.up = max(R_GATE, label_half)
            b.down = max(R_GATE + (0.02 + _line(FS_NAME) if name else 0.0), label_half)
            continue
        weight = "bold" if b.kind in ("input", "param") else "normal"
        width = _text_size(b.label, FS_BOX, weight)
        lines = _line(FS_BOX)
        if b.sub:
            width = max(width, _text_size(b.sub, FS_SUB))
            lines += _line(FS_SUB)
        pad = 0.09
        b.hw = width / 2 + pad
        half = lines / 2 + 0.07
        if b.kind in ("repeat", "stack"):
            half += 0.03  # the cards drawn behind
            b.hw += 0.03
        b.attach = b.hw
        b.up = max(half, label_half)
        b.down = max(half, label_half)


def _gate_half(symbol: str) -> float:
    """Half width of a gate: a circle, or a pill wide enough for a long operation name."""
    if len(symbol) <= 4:
        return R_GATE
    return max(R_GATE, _text_size(symbol, FS_SYMBOL - 3) / 2 + 0.08)


def _assign_layers(drawing: Drawing) -> None:
    preds: dict[int, list[Box]] = {}
    succs: dict[int, list[Box]] = {}
    for w in drawing.wires:
        preds.setdefault(id(w.dst), []).append(w.src)
        succs.setdefault(id(w.src), []).append(w.dst)
    ordered = _topological(drawing.boxes, [(w.src, w.dst) for w in drawing.wires])
    for b in ordered:
        if b.kind in ("input", "param", "const", "more"):
            b.layer = 0
            continue
        ins = [p for p in preds.get(id(b), []) if p.kind not in ("const", "param")]
        b.layer = 1 + max((p.layer for p in ins), default=0)
    # Inputs, parameters and constants sit just left of their first user (short wires).
    for b in ordered:
        if b.kind in ("input", "param", "const"):
            users = succs.get(id(b), [])
            if users:
                b.layer = max(0, min(u.layer for u in users) - 1)


def _add_dummies(drawing: Drawing, limit: int = 3000) -> None:
    """Bend points for wires that skip layers, so they route around the gates in between."""
    count = 0
    for w in drawing.wires:
        span = w.dst.layer - w.src.layer
        if span <= 1 or count + span > limit:
            continue
        for layer in range(w.src.layer + 1, w.dst.layer):
            d = Box(-2, "dummy", "", "", [], layer=layer)
            d.up = d.down = 0.05
            w.via.append(d)
            drawing.dummies.append(d)
        count += span - 1


def _layers_of(drawing: Drawing) -> dict[int, list[Box]]:
    layers: dict[int, list[Box]] = {}
    for b in drawing.boxes + drawing.dummies:
        layers.setdefault(b.layer, []).append(b)
    return layers


def _neighbours(drawing: Drawing) -> tuple[dict[int, list[Box]], dict[int, list[Box]]]:
    preds: dict[int, list[Box]] = {}
    succs: dict[int, list[Box]] = {}
    for w in drawing.wires:
        chain = [w.src, *w.via, w.dst]
        for a, b in zip(chain, chain[1:]):
            preds.setdefault(id(b), []).append(a)
            succs.setdefault(id(a), []).append(b)
    return preds, succs


def _order_layers(drawing: Drawing, sweeps: int = 8) -> None:
    """Order each layer by the barycenter of its neighbours (fewer crossings)."""
    layers = _layers_of(drawing)
    for members in layers.values():
        for i, b in enumerate(members):
            b.order = i
    preds, succs = _neighbours(drawing)
    keys = sorted(layers)
    for sweep in range(sweeps):
        direction = keys if sweep % 2 == 0 else keys[::-1]
        neighbours = preds if sweep % 2 == 0 else succs
        for layer in direction:
            members = layers[layer]
            for b in members:
                ns = neighbours.get(id(b), [])
                if ns:
                    b.order = float(np.mean([n.order for n in ns]))
            members.sort(key=lambda b: b.order)
            for i, b in enumerate(members):
                b.order = i


def _isotonic_down(targets: list[float]) -> list[float]:
    """Closest non-increasing sequence to ``targets`` (least squares, pool adjacent
    violators)."""
    blocks: list[list[float]] = []  # [mean, weight]
    for t in targets:
        blocks.append([t, 1.0])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            m2, w2 = blocks.pop()
            m1, w1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2])
    out: list[float] = []
    for m, w in blocks:
        out.extend([m] * int(w))
    return out


def _pack(members: list[Box], desired: list[float]) -> None:
    """y positions as close to ``desired`` as the order and the boxes' heights allow."""
    offsets = [0.0]
    for a, b in zip(members, members[1:]):
        offsets.append(offsets[-1] + a.down + b.up + GAP_Y)
    z = _isotonic_down([d + c for d, c in zip(desired, offsets)])
    for b, zi, c in zip(members, z, offsets):
        b.y = zi - c


def _place(drawing: Drawing, sweeps: int = 6) -> None:
    """Columns as wide as their widest node and labels; rows pulled toward neighbours."""
    layers = _layers_of(drawing)
    keys = sorted(layers)
    for layer in keys:
        members = sorted(layers[layer], key=lambda b: b.order)
        layers[layer] = members
        _pack(members, [0.0] * len(members))  # a centred stack to start from
    preds, succs = _neighbours(drawing)
    for sweep in range(sweeps):
        direction = keys if sweep % 2 == 0 else keys[::-1]
        for layer in direction:
            members = layers[layer]
            desired = []
            for b in members:
                ns = preds.get(id(b), []) + succs.get(id(b), [])
                desired.append(float(np.mean([n.y for n in ns])) if ns else b.y)
            _pack(members, desired)
    x = 0.0
    previous_right = 0.0
    for k, layer in enumerate(keys):
        members = layers[layer]
        left = max(b.hw for b in members)
        x = 0.0 if k == 0 else x + previous_right + GAP_X + left
        previous_right = max(b.hw + b.lw for b in members)
        for b in members:
            b.x = x


# --------------------------------------------------------------------------- painting


@dataclass
class _Scene:
    """What to draw, in inches, before any figure exists (so pictures can be combined)."""

    texts: list[tuple[float, float, str, dict]] = field(default_factory=list)
    lines: list[list[tuple[float, float]]] = field(default_factory=list)
    circles: list[tuple[float, float, float]] = field(default_factory=list)
    rects: list[tuple[float, float, float, float, dict]] = field(default_factory=list)
    strips: list[tuple[float, float, float, float, np.ndarray]] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)
    tensors: bool = False
    x_lo: float = 0.0
    x_hi: float = 0.0
    y_lo: float = 0.0
    y_hi: float = 0.0

    def text(self, x: float, y: float, s: str, **style: Any) -> None:
        if s:
            self.texts.append((x, y, s, style))

    def bounds(self) -> None:
        xs: list[float] = []
        ys: list[float] = []
        for x, y, s, st in self.texts:
            size = st.get("fontsize", FS_VALUE)
            w = _text_size(s, size, st.get("weight", "normal"), st.get("style", "normal"))
            h = _line(size)
            ha, va = st.get("ha", "center"), st.get("va", "center")
            x0 = x - w / 2 if ha == "center" else (x - w if ha == "right" else x)
            y0 = y - h / 2 if va == "center" else (y - h if va == "top" else y)
            xs += [x0, x0 + w]
            ys += [y0, y0 + h]
        for pts in self.lines:
            xs += [p[0] for p in pts]
            ys += [p[1] for p in pts]
        for x, y, r in self.circles:
            xs += [x - r, x + r]
            ys += [y - r, y + r]
        for x0, y0, w, h, _st in self.rects:
            xs += [x0, x0 + w]
            ys += [y0, y0 + h]
        self.x_lo, self.x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
        self.y_lo, self.y_hi = (min(ys), max(ys)) if ys else (0.0, 1.0)

    def shift(self, dx: float, dy: float) -> None:
        self.texts = [(x + dx, y + dy, s, st) for x, y, s, st in self.texts]
        self.lines = [[(x + dx, y + dy) for x, y in pts] for pts in self.lines]
        self.circles = [(x + dx, y + dy, r) for x, y, r in self.circles]
        self.rects = [(x + dx, y + dy, w, h, st) for x, y, w, h, st in self.rects]
        self.strips = [(x + dx, y + dy, w, h, v) for x, y, w, h, v in self.strips]
        self.x_lo += dx
        self.x_hi += dx
        self.y_lo += dy
        self.y_hi += dy


def _scene(drawing: Drawing) -> _Scene:
    scene = _Scene()
    outs = {id(b) for b in drawing.outputs}
    line_v = _line(FS_VALUE)
    for w in drawing.wires:
        start_x = w.src.x + w.src.attach
        if w.src.lw:  # run under the source's labels first, as the lectures draw a wire
            pts = [(start_x, w.src.y), (_stub_end(w.src, outs), w.src.y)]
        else:
            pts = [(start_x, w.src.y)]
        pts += [(b.x, b.y) for b in w.via]
        pts.append((w.dst.x - w.dst.attach, w.dst.y))
        scene.lines.append(pts)
    for b in drawing.boxes:
        scene.kinds.add(b.kind)
        x, y = b.x, b.y
        if b.kind == "op":
            half = _gate_half(b.label)
            if half == R_GATE:
                scene.circles.append((x, y, R_GATE))
            else:
                style = {"face": "white", "kind": "pill"}
                scene.rects.append((x - half, y - R_GATE, 2 * half, 2 * R_GATE, style))
            size = FS_SYMBOL if len(b.label) <= 2 else FS_SYMBOL - 3
            scene.text(x, y, b.label, fontsize=size, ha="center", va="center", color=INK)
            if id(b) not in outs:
                scene.text(
                    x,
                    y - R_GATE - 0.02,
                    b.name,
                    fontsize=FS_NAME,
                    ha="center",
                    va="top",
                    color=GRAY,
                    style="italic",
                )
        else:
            half = _line(FS_BOX) / 2 + 0.07 + (_line(FS_SUB) / 2 if b.sub else 0.0)
            hw = b.hw - (0.03 if b.kind in ("repeat", "stack") else 0.0)
            style = {"face": FACES.get(b.kind, "white"), "kind": b.kind}
            if b.kind in ("repeat", "stack"):
                for k in (2, 1):  # cards behind: "this block, many times"
                    off = 0.03 * k
                    scene.rects.append((x - hw + off, y - half + off, 2 * hw, 2 * half, style))
            scene.rects.append((x - hw, y - half, 2 * hw, 2 * half, style))
            color = GRAY if b.kind == "const" else INK
            weight = "bold" if b.kind in ("input", "param") else "normal"
            if b.sub:
                top = y + _line(FS_SUB) / 2
                scene.text(
                    x,
                    top,
                    b.label,
                    fontsize=FS_BOX,
                    ha="center",
                    va="center",
                    color=color,
                    weight=weight,
                )
                scene.text(
                    x,
                    top - _line(FS_BOX) / 2 - _line(FS_SUB) / 2,
                    b.sub,
                    fontsize=FS_SUB,
                    ha="center",
                    va="center",
                    color=GRAY,
                )
            else:
                scene.text(
                    x,
                    y,
                    b.label,
                    fontsize=FS_BOX,
                    ha="center",
                    va="center",
                    color=color,
                    weight=weight,
                )
        value, grad = _label_texts(b)
        lx = x + b.hw + 0.06
        if value:
            scene.text(lx, y + 0.03, value, fontsize=FS_VALUE, ha="left", va="bottom", color=GREEN)
        if grad:
            scene.text(
                lx,
                y - 0.03,
                grad,
                fontsize=FS_VALUE,
                ha="left",
                va="top",
                color=RED,
                style="italic",
            )
        if b.out is not None and _is_tensor(b.out.value):
            scene.tensors = True
            h = line_v * 0.7
            vx = lx + _text_size(value, FS_VALUE) + 0.04
            strip = _strip(b.out.value)
            if strip is not None:
                scene.strips.append((vx, y + 0.03 + 0.15 * line_v, STRIP_W, h, strip))
            gstrip = _strip(b.out.grad)
            if gstrip is not None:
                gx = lx + _text_size(grad, FS_VALUE, style="italic") + 0.04
                scene.strips.append((gx, y - 0.03 - 0.85 * line_v, STRIP_W, h, gstrip))
        if id(b) in outs:
            name = b.out.name if b.out is not None else b.name
            wire_end = _stub_end(b, outs)
            scene.lines.append([(x + b.attach, y), (wire_end, y)])
            scene.text(
                wire_end + 0.04,
                y,
                name,
                fontsize=FS_BOX,
                ha="left",
                va="center",
                weight="bold",
                color=INK,
            )
    scene.bounds()
    return scene


def _stub_end(b: Box, outs: set[int]) -> float:
    """Where a node's outgoing wire leaves its labels (before an output's name)."""
    end = b.x + b.hw + b.lw - 0.04
    if id(b) in outs:
        name = b.out.name if b.out is not None else b.name
        end -= 0.04 + _text_size(name, FS_BOX, "bold") + 0.06
    return end


_LEGEND = [
    ("value", "value (above the wire)"),
    ("grad", "gradient d out / d value (below, italic)"),
    ("op", "operation"),
    ("input", "input"),
    ("param", "parameter"),
    ("const", "constant"),
    ("module", "nn.Module call (expand= opens it)"),
    ("repeat", "repeated block, drawn once (× count)"),
    ("group", "chain of ops"),
    ("stack", "equal boxes stacked (×n)"),
    ("more", "summary of folded ops"),
    ("strip", "strip: sorted values, orange < 0 < purple"),
]


def _legend(kinds: set[str], tensors: bool, width: float, notes: list[str]) -> _Scene:
    """Legend items in a grid of as many columns as fit in ``width``; then the notes,
    wrapped to the same width."""
    scene = _Scene()
    items = [k for k, _t in _LEGEND if k in kinds or k in ("value", "grad")]
    if tensors:
        items.append("strip")
    text_of = dict(_LEGEND)
    glyph_w = 0.28
    line_h = _line(FS_LEGEND) + 0.08
    widths = [glyph_w + 0.05 + _text_size(text_of[k], FS_LEGEND) + 0.25 for k in items]
    for n_cols in range(len(items), 0, -1):
        columns = [max(widths[i::n_cols]) for i in range(n_cols)]
        if sum(columns) <= width or n_cols == 1:
            break
    starts = [sum(columns[:i]) for i in range(n_cols)]
    y = 0.0
    for k, key in enumerate(items):
        label = text_of[key]
        x = starts[k % n_cols]
        y = -line_h * (k // n_cols)
        cx = x + glyph_w / 2
        if key == "value":
            scene.text(cx, y, "1.00", fontsize=FS_VALUE, ha="center", va="center", color=GREEN)
        elif key == "grad":
            scene.text(
                cx,
                y,
                "0.50",
                fontsize=FS_VALUE,
                ha="center",
                va="center",
                color=RED,
                style="italic",
            )
        elif key == "op":
            scene.circles.append((cx, y, 0.08))
        elif key == "strip":
            scene.strips.append((x, y - 0.05, glyph_w, 0.1, np.linspace(-1, 1, 8)))
        else:
            style = {"face": FACES.get(key, "white"), "kind": key}
            scene.rects.append((x + 0.02, y - 0.07, glyph_w - 0.04, 0.14, style))
        scene.text(
            x + glyph_w + 0.05, y, label, fontsize=FS_LEGEND, ha="left", va="center", color=INK
        )
    for note in notes:
        y -= line_h
        for line in _wrap(note, FS_LEGEND, width):
            scene.text(0.0, y, line, fontsize=FS_LEGEND, ha="left", va="center", color=GRAY)
            y -= line_h
        y += line_h
    scene.bounds()
    return scene


def _wrap(text: str, size: float, width: float) -> list[str]:
    words = text.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if current and _text_size(trial, size) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def _compose(
    drawings: list[Drawing], titles: list[str | None], notes: list[str]
) -> tuple[list[_Scene], _Scene, float, float]:
    """Place drawings side by side (tops aligned), a title over each, the legend below."""
    scenes = []
    x = 0.0
    top = 0.0
    kinds: set[str] = set()
    tensors = False
    for drawing, title in zip(drawings, titles):
        s = _scene(drawing)
        kinds |= s.kinds
        tensors |= s.tensors
        width = s.x_hi - s.x_lo
        title_w = _text_size(title, FS_TITLE) if title else 0.0
        slot = max(width, title_w)
        s.shift(x + (slot - width) / 2 - s.x_lo, top - s.y_hi - (0.32 if title else 0.0))
        if title:
            s.text(
                x + slot / 2, top - 0.06, title, fontsize=FS_TITLE, ha="center", va="top", color=INK
            )
        s.bounds()
        scenes.append(s)
        x += slot + 0.6
    total_w = max(x - 0.6, 4.0)
    bottom = min(s.y_lo for s in scenes)
    legend = _legend(kinds, tensors, max(total_w, 4.5), notes)
    legend.shift(-legend.x_lo, bottom - 0.3 - legend.y_hi)
    total_w = max(total_w, legend.x_hi)
    height = top - legend.y_lo
    return scenes, legend, total_w, height


def _paint(ax: Any, scene: _Scene) -> None:
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle, FancyBboxPatch

    if scene.lines:
        ax.add_collection(LineCollection(scene.lines, colors=WIRE, linewidths=1.0, zorder=1))
    for x, y, r in scene.circles:
        ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor=INK, lw=1.0, zorder=2))
    for x0, y0, w, h, st in scene.rects:
        ax.add_patch(
            FancyBboxPatch(
                (x0, y0),
                w,
                h,
                boxstyle=f"round,pad=0,rounding_size={R_GATE if st['kind'] == 'pill' else 0.06}",
                facecolor=st["face"],
                edgecolor="#8c959f" if st["kind"] == "const" else INK,
                lw=0.9,
                zorder=2,
            )
        )
    for x0, y0, w, h, values in scene.strips:
        m = float(np.max(np.abs(values))) or 1.0
        ax.imshow(
            values[None, :],
            extent=(x0, x0 + w, y0, y0 + h),
            cmap=STRIP_CMAP,
            vmin=-m,
            vmax=m,
            aspect="auto",
            interpolation="nearest",
            zorder=4,
        )
        ax.add_patch(
            FancyBboxPatch(
                (x0, y0),
                w,
                h,
                boxstyle="square,pad=0",
                fill=False,
                edgecolor="#8c959f",
                lw=0.5,
                zorder=5,
            )
        )
    for x, y, s, st in scene.texts:
        style = dict(st)
        style.setdefault("zorder", 6)
        if style.get("color") in (GREEN, RED):
            # over a wire: a white backing keeps the digits readable
            style["bbox"] = {
                "boxstyle": "square,pad=0.05",
                "fc": "white",
                "ec": "none",
                "alpha": 0.85,
            }
        ax.text(x, y, s, parse_math=False, **style)


def _figure(scenes: list[_Scene], legend: _Scene, width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    margin = 0.15
    x_lo = min(min(s.x_lo for s in scenes), legend.x_lo) - margin
    y_hi = max(max(s.y_hi for s in scenes), legend.y_hi) + margin
    x_hi = x_lo + width + 2 * margin
    x_hi = max(x_hi, max(s.x_hi for s in scenes) + margin, legend.x_hi + margin)
    y_lo = min(min(s.y_lo for s in scenes), legend.y_lo) - margin
    fig = Figure(figsize=(x_hi - x_lo, y_hi - y_lo))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    for s in scenes:
        _paint(ax, s)
    _paint(ax, legend)
    return fig


def _check_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "drawing graphs needs matplotlib: pip install 'chainrule[viz]' "
            "(or use graph.to_dot() with Graphviz)"
        ) from None


def _prepared(graph: Graph, **options: Any) -> Drawing:
    if not graph.steps and any(v.requires_grad for v in graph.outputs):
        graph.backward()
    known = {"max_nodes", "constants", "expand", "collapse", "fold"}
    unknown = set(options) - known
    if unknown:
        raise TypeError(
            f"render: unknown option(s) {', '.join(sorted(unknown))} "
            f"(options: {', '.join(sorted(known | {'title', 'dpi'}))})"
        )
    return layout(graph, **options)


def figure(graph: Graph, max_nodes: int = 60, title: str | None = None, **options: Any) -> Any:
    """The circuit as a matplotlib ``Figure`` (needs matplotlib); options as for ``render``.

    Examples
    --------
    >>> import chainrule as cr
    >>> fig = figure(cr.trace(lambda x, y: x * y, 3.0, 4.0), title="x y")
    >>> any(t.get_text() == "12.00" for t in fig.axes[0].texts)
    True
    """
    _check_matplotlib()
    drawing = _prepared(graph, max_nodes=max_nodes, **options)
    scenes, legend, width, height = _compose([drawing], [title], drawing.notes)
    return _figure(scenes, legend, width, height)


def render(
    graph: Graph,
    path: str | os.PathLike | None = None,
    *,
    max_nodes: int = 60,
    title: str | None = None,
    dpi: int = 110,
    expand: Any = (),
    collapse: Any = (),
    fold: bool = True,
    constants: bool | None = None,
) -> Any:
    """Draw ``graph``; write ``path`` (format from its suffix: png, svg, pdf) or return
    the ``Figure`` when no path is given.

    Parameters
    ----------
    max_nodes:
        Gates drawn at most; past it chains, stacks and the ops farthest from the output
        are folded (a note in the legend says what was).
    title:
        Written above the picture.
    dpi:
        Resolution of a PNG (dots per inch; the layout itself is in inches).
    expand:
        Module calls to draw op by op, by qualified name (``"0"``, ``"encoder.fc"``) or
        class name (``"Linear"``); ``True`` for all. By default a module that calls no
        other module (a layer) is one box.
    collapse:
        Module calls made of modules to draw as one box anyway (e.g. ``"Cell"``).
    fold:
        Draw repeated blocks (RNN steps, equal layers) once with their count (default).
    constants:
        Draw constants as little boxes (default: unless the graph is big).

    Examples
    --------
    >>> import chainrule as cr, tempfile, os
    >>> g = cr.trace(lambda x, y, z: (x + y) * z, -2.0, 5.0, -4.0)
    >>> path = os.path.join(tempfile.mkdtemp(), "f.svg")
    >>> g.render(path) == path
    True
    """
    fig = figure(
        graph,
        max_nodes=max_nodes,
        title=title,
        expand=expand,
        collapse=collapse,
        fold=fold,
        constants=constants,
    )
    if path is None:
        return fig
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    fig.savefig(path, format=fmt, dpi=dpi)
    return path


def to_svg(graph: Graph, **options: Any) -> str:
    """The picture as SVG text (what Jupyter shows via ``Graph._repr_svg_``).

    Examples
    --------
    >>> import chainrule as cr
    >>> to_svg(cr.trace(lambda x: x * 2, 1.0)).lstrip().startswith("<?xml")
    True
    """
    buffer = io.StringIO()
    figure(graph, **options).savefig(buffer, format="svg")
    return buffer.getvalue()


def side_by_side(
    graphs: Iterable[Graph],
    path: str | os.PathLike | None,
    titles: Iterable[str] = (),
    dpi: int = 110,
    **options: Any,
) -> Any:
    """Draw several graphs next to each other in one picture (e.g. f and grad(f)), each
    under its title, with one legend; returns ``path`` (or the Figure when it is None).

    Examples
    --------
    >>> import chainrule as cr
    >>> f = lambda x: x * x
    >>> fig = side_by_side([cr.trace(f, 3.0), cr.trace(cr.grad(f), 3.0)], None, ["f", "f'"])
    >>> sorted(t.get_text() for t in fig.axes[0].texts if t.get_text() in ("f", "f'"))
    ['f', "f'"]
    """
    _check_matplotlib()
    graphs = list(graphs)
    titles_list: list[str | None] = list(titles)
    titles_list += [None] * (len(graphs) - len(titles_list))
    drawings = [_prepared(g, **options) for g in graphs]
    notes = [n for d in drawings for n in d.notes]
    scenes, legend, width, height = _compose(drawings, titles_list, notes)
    fig = _figure(scenes, legend, width, height)
    if path is None:
        return fig
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    fig.savefig(path, format=fmt, dpi=dpi)
    return path


# --------------------------------------------------------------------------- DOT


def _dot_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text: gates as circles, values (green) and gradients (red) on the edges,
    each layer's operations in a cluster named after its module, and a legend.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(cr.trace(lambda x, y: x * y, 3.0, 4.0).to_dot().splitlines()[0])
    digraph f {
    """
    lines = [f"digraph {graph.name} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    contrib = _contribution(graph)
    clusters: dict[int, list[str]] = {}
    titles: dict[int, str] = {}
    for v in graph.nodes:
        if v.is_op:
            label = (
                f'{_dot_escape(SYMBOLS.get(v.op, v.op))}<br/><font point-size="9">{v.name}</font>'
            )
            line = f"n{v.index} [shape=circle, label=<{label}>];"
            if v.scope:
                frame = v.scope[-1]
                clusters.setdefault(frame.call, []).append(line)
                titles[frame.call] = f"{frame.name} · {frame.kind}" if frame.name else frame.kind
                continue
            lines.append("  " + line)
        elif v.op == "const":
            lines.append(
                f'  n{v.index} [shape=plaintext, label="{_dot_escape(value_label(v.value))}"];'
            )
        else:
            lines.append(
                f'  n{v.index} [shape=box, style="rounded,filled", fillcolor="#ddf4ff", '
                f'label="{_dot_escape(v.name)}"];'
            )
    for call, members in clusters.items():
        lines.append(f"  subgraph cluster_{call} {{")
        lines.append(f'    label="{_dot_escape(titles[call])}"; style="rounded"; color="#8c959f";')
        lines.extend("    " + m for m in members)
        lines.append("  }")
    for v in graph.ops:
        for inp in v.inputs:
            value = _dot_escape(value_label(inp.value))
            grad = _dot_escape(grad_label(contrib.get((v.index, inp.index))))
            label = f'<font color="{GREEN}">{value}</font>'
            if grad:
                label += f'<br/><font color="{RED}"><i>{grad}</i></font>'
            lines.append(f"  n{inp.index} -> n{v.index} [label=<{label}>];")
    for o in graph.outputs:
        lines.append(f'  out{o.index} [shape=plaintext, label="{_dot_escape(o.name)}"];')
        label = f'<font color="{GREEN}">{_dot_escape(value_label(o.value))}</font>'
        if o.grad is not None:
            label += f'<br/><font color="{RED}"><i>{_dot_escape(grad_label(o.grad))}</i></font>'
        lines.append(f"  n{o.index} -> out{o.index} [label=<{label}>];")
    lines.append(
        f'  legend [shape=note, label=<<font color="{GREEN}">value</font> above, '
        f'<font color="{RED}"><i>gradient</i></font> below each edge>];'
    )
    lines.append("}")
    return "\n".join(lines) + "\n"
