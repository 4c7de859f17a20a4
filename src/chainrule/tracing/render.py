"""Pictures of a traced Graph: the lectures' circuit diagram with values (green) above the wires
and gradients (red) below, drawn with matplotlib on a layered layout computed here.

No system binary is needed (``to_dot`` writes Graphviz text for those who have it). Large graphs
are made legible by collapsing chains of single-use nodes (``(mul -> add -> tanh) x 250``) and,
if still too many, by keeping the nodes nearest the output and summarising the rest.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .explain import fmt_number
from .graph import Graph, Var

GREEN = "#1a7f37"
RED = "#cf222e"
GRAY = "#57606a"

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
}


def value_label(value: Any) -> str:
    """Two decimals for scalars (the lectures' 0.73, -4.00); shape and mean for tensors."""
    if value is None:
        return "?"
    arr = np.asarray(value)
    if arr.dtype.kind == "b":
        return "bool" + ("" if arr.ndim == 0 else "[" + "x".join(map(str, arr.shape)) + "]")
    if arr.size == 1 and arr.ndim == 0:
        x = float(arr)
        if x == 0 or 0.01 <= abs(x) < 1e4:
            return f"{x:.2f}"
        return f"{x:.2e}"
    if arr.size == 0:
        return "[empty]"
    shape = "x".join(map(str, arr.shape))
    return f"[{shape}] μ={fmt_number(float(arr.mean()))}"


def grad_label(grad: Any) -> str:
    if grad is None:
        return ""
    arr = np.asarray(grad)
    if arr.size == 1 and arr.ndim == 0:
        return value_label(arr)
    return f"‖g‖={fmt_number(float(np.sqrt(np.sum(arr.astype(float) ** 2))))}"


# --------------------------------------------------------------------------- layout


@dataclass(eq=False)
class Box:
    """One drawn node: a gate, an input, a constant, a collapsed chain or stack of gates, or a
    bend point of a long wire (``dummy``)."""

    key: int
    kind: str  # "op", "input", "const", "group", "stack", "more", "dummy"
    label: str
    name: str
    vars: list[Var]
    layer: int = 0
    order: float = 0.0
    x: float = 0.0
    y: float = 0.0
    count: int = 1

    @property
    def last(self) -> Var:
        return self.vars[-1]


@dataclass(eq=False)
class Wire:
    src: Box
    dst: Box
    value: str
    grad: str
    #: bend points (dummy boxes) between src and dst, one per layer crossed
    via: list[Box] = field(default_factory=list)


@dataclass
class Drawing:
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


def _period(ops: list[str], max_unit: int = 8) -> tuple[int, list[str], int]:
    """The longest run of a repeating unit in ``ops``: (start, unit, times)."""
    n = len(ops)
    best = (0, ops, 1)
    for p in range(1, min(max_unit, n // 2) + 1):
        i = 0
        while i + 2 * p <= n:
            times = 1
            while ops[i + times * p : i + (times + 1) * p] == ops[i : i + p]:
                times += 1
            if times > 1 and times * p > best[2] * len(best[1]) * (best[2] > 1):
                best = (i, ops[i : i + p], times)
            i += times * p if times > 1 else 1
    return best


def _group_label(vars_: list[Var]) -> str:
    ops = [v.op for v in vars_]
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


def _chains(graph: Graph, consumers: dict[int, list[Var]]) -> dict[int, list[Var]]:
    """Maximal chains of gates where each one's only user is the next."""
    outputs = {o.index for o in graph.outputs}
    group_of: dict[int, list[Var]] = {}
    for v in graph.ops:  # topological order: a chain is met at its start first
        if v.index in group_of:
            continue
        chain = [v]
        while True:
            tail = chain[-1]
            users = consumers.get(tail.index, [])
            if tail.index in outputs or len(users) != 1:
                break
            nxt = users[0]
            if nxt.index in group_of or sum(1 for i in nxt.inputs if i is tail) != 1:
                break
            chain.append(nxt)
        for member in chain:
            group_of[member.index] = chain
    return group_of


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


def _stack_repeats(graph: Graph, boxes: dict[int, Box], box_of: dict[int, Box]) -> int:
    """Merge boxes that are the same structure feeding the same place (``[ ] × 124``).

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
    for b in ordered:
        if b.kind in ("input", "const"):
            sig: Any = (b.kind, b.key)
        else:
            sig = (b.label, tuple(sorted(shape[s] for s in srcs.get(id(b), ()))))
        shape[id(b)] = interned.setdefault(sig, len(interned))
    rep: dict[int, Box] = {}
    groups: dict[Any, Box] = {}
    for b in reversed(ordered):
        if b.kind in ("input", "const"):
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
        if b.count > 1:
            b.kind = "stack"
            b.label = f"{b.label}  ×{b.count}"
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


def layout(graph: Graph, max_nodes: int = 60, constants: bool | None = None) -> Drawing:
    """Boxes and wires with coordinates (x grows with the layer, left to right).

    Graphs with more than ``max_nodes`` gates are collapsed: chains of single-use gates
    become one box, repeated structures feeding the same place become one stack, and if
    that is still too many, the gates nearest the output are kept and the rest
    summarised. Small constants get little boxes of their own unless ``constants=False``.
    """
    ops = graph.ops
    big = len(ops) > max_nodes
    if constants is None:
        constants = not big
    consumers: dict[int, list[Var]] = {}
    for v in ops:
        for inp in v.inputs:
            consumers.setdefault(inp.index, []).append(v)
    group_of = _chains(graph, consumers) if big else {}

    boxes: dict[int, Box] = {}
    box_of: dict[int, Box] = {}
    for v in graph.nodes:
        if v.op == "const" and not constants:
            continue
        if v.is_op:
            chain = group_of.get(v.index)
            if chain is not None and len(chain) > 1:
                head = chain[0].index
                if head not in boxes:
                    boxes[head] = Box(
                        head, "group", _group_label(chain), chain[-1].name, list(chain)
                    )
                box_of[v.index] = boxes[head]
                continue
            box = Box(v.index, "op", SYMBOLS.get(v.op, v.op), v.name, [v])
        elif v.op == "const":
            box = Box(v.index, "const", value_label(v.value), v.name, [v])
        else:
            box = Box(v.index, "input", v.name, v.name, [v])
        boxes[v.index] = box
        box_of[v.index] = box

    notes = []
    if big:
        merged = _stack_repeats(graph, boxes, box_of)
        if merged:
            notes.append(f"{len(ops)} ops: chains and repeats collapsed")

    # Still too many: keep the gates nearest the output, summarise the rest.
    drawn_ops = [b for b in boxes.values() if b.kind in ("op", "group", "stack")]
    if len(drawn_ops) > max_nodes:
        distance = _distance_to_outputs(graph, box_of)
        keep_ops = sorted(drawn_ops, key=lambda b: (distance.get(b.key, 1 << 30), -b.key))
        keep = {b.key for b in keep_ops[:max_nodes]}
        hidden = [b for b in drawn_ops if b.key not in keep]
        more = Box(-1, "more", f"… {sum(len(b.vars) for b in hidden)} earlier ops", "", [])
        for b in hidden:
            for v in b.vars:
                box_of[v.index] = more
            del boxes[b.key]
        boxes[-1] = more
        notes.append(f"{sum(len(b.vars) for b in hidden)} earlier ops summarised")
        for key, b in list(boxes.items()):
            if b.kind in ("input", "const"):
                users = consumers.get(b.vars[0].index, [])
                if users and all(box_of.get(u.index) is more for u in users):
                    box_of[b.vars[0].index] = more
                    del boxes[key]

    # Wires between boxes: one per pair (a group's inner wires are not drawn).
    contrib = _contribution(graph)
    wires: dict[tuple[int, int], Wire] = {}
    for src, dst, inp, v in _box_edges(graph, box_of):
        pair = (id(src), id(dst))
        if pair in wires or dst.kind == "more":
            continue
        if src.kind in ("stack", "more") or dst.kind in ("stack", "more"):
            wires[pair] = Wire(src, dst, "", "")
            continue
        g = contrib.get((v.index, inp.index))
        wires[pair] = Wire(src, dst, value_label(inp.value), grad_label(g))
    drawing = Drawing(list(boxes.values()), list(wires.values()), [], notes=notes)
    drawing.outputs = [box_of[o.index] for o in graph.outputs if o.index in box_of]
    drawing.collapsed = len(ops) - sum(1 for b in drawing.boxes if b.kind == "op")
    _assign_layers(drawing)
    _add_dummies(drawing)
    _order_layers(drawing)
    return drawing


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


def _assign_layers(drawing: Drawing) -> None:
    preds: dict[int, list[Box]] = {}
    succs: dict[int, list[Box]] = {}
    for w in drawing.wires:
        preds.setdefault(id(w.dst), []).append(w.src)
        succs.setdefault(id(w.src), []).append(w.dst)
    ordered = _topological(drawing.boxes, [(w.src, w.dst) for w in drawing.wires])
    for b in ordered:
        if b.kind in ("input", "const", "more"):
            b.layer = 0
            continue
        ins = [p for p in preds.get(id(b), []) if p.kind != "const"]
        b.layer = 1 + max((p.layer for p in ins), default=0)
    # Inputs and constants sit just left of their first user (short wires).
    for b in ordered:
        if b.kind in ("input", "const"):
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
            w.via.append(d)
            drawing.dummies.append(d)
        count += span - 1


def _order_layers(drawing: Drawing, sweeps: int = 6) -> None:
    """Order each layer by the barycenter of its neighbours (fewer crossings), then place."""
    everything = drawing.boxes + drawing.dummies
    layers: dict[int, list[Box]] = {}
    for b in everything:
        layers.setdefault(b.layer, []).append(b)
    for members in layers.values():
        for i, b in enumerate(members):
            b.order = i
    preds: dict[int, list[Box]] = {}
    succs: dict[int, list[Box]] = {}
    for w in drawing.wires:
        chain = [w.src, *w.via, w.dst]
        for a, b in zip(chain, chain[1:]):
            preds.setdefault(id(b), []).append(a)
            succs.setdefault(id(a), []).append(b)
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
    # x: layers side by side, as wide as their widest box; y: centred positions.
    x = 0.0
    previous = 0.0
    for k, layer in enumerate(keys):
        members = layers[layer]
        half = max(half_width(b) for b in members)
        x = 0.0 if k == 0 else x + previous + 1.5 + half
        previous = half
        n = len(members)
        for i, b in enumerate(members):
            b.x = x
            b.y = ((n - 1) / 2.0 - i) * 1.25


def half_width(b: Box) -> float:
    """Half the drawn width of a box, in axis units."""
    if b.kind == "op":
        return 0.32
    if b.kind == "dummy":
        return 0.0
    return 0.055 * len(b.label) + 0.18


# --------------------------------------------------------------------------- drawing


def figure(graph: Graph, max_nodes: int = 60, title: str | None = None, **options: Any) -> Any:
    """The circuit as a matplotlib ``Figure`` (needs matplotlib)."""
    try:
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle, FancyBboxPatch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "drawing graphs needs matplotlib: pip install 'chainrule[viz]' "
            "(or use graph.to_dot() with Graphviz)"
        ) from None
    if not graph.steps and any(v.requires_grad for v in graph.outputs):
        graph.backward()
    drawing = layout(graph, max_nodes=max_nodes, constants=options.get("constants"))
    points = drawing.boxes + drawing.dummies
    ys = [b.y for b in points] or [0.0]
    out_len = 1.6
    # room for the inputs' gradients (written left of them) and the output wire and name
    x_lo = min((b.x - half_width(b) for b in points), default=0.0) - 2.0
    x_hi = max((b.x + half_width(b) for b in points), default=0.0) + out_len + 1.0
    y_lo, y_hi = min(ys) - 0.8, max(ys) + 0.7
    scale = 0.62  # inches per axis unit
    width = min(60.0, max(3.5, (x_hi - x_lo) * scale))
    height = min(60.0, max(2.0, (y_hi - y_lo) * scale + (0.4 if title else 0.0)))
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.93 if title or drawing.notes else 1.0))
    ax.set_axis_off()
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect("equal")
    fs = 9.0

    segments = []
    for w in drawing.wires:
        chain = [w.src, *w.via, w.dst]
        pts = [(b.x, b.y) for b in chain]
        pts[0] = (pts[0][0] + half_width(w.src), pts[0][1])
        pts[-1] = (pts[-1][0] - half_width(w.dst), pts[-1][1])
        segments.append(pts)
        # value above the wire, gradient below, on its last stretch into the gate
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        t = 0.42
        mx, my = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        if w.value:
            ax.text(
                mx,
                my + 0.07,
                w.value,
                color=GREEN,
                fontsize=fs - 1,
                ha="center",
                va="bottom",
                zorder=4,
            )
        if w.grad:
            ax.text(
                mx, my - 0.07, w.grad, color=RED, fontsize=fs - 1, ha="center", va="top", zorder=4
            )
    ax.add_collection(LineCollection(segments, colors="#444444", linewidths=1.0, zorder=1))

    faces = {
        "input": "#ddf4ff",
        "const": "#f6f8fa",
        "group": "#fff8c5",
        "stack": "#fbefff",
        "more": "#eeeeee",
    }
    for b in drawing.boxes:
        x, y = b.x, b.y
        if b.kind == "op":
            r = half_width(b)
            ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor="#333333", zorder=2))
            size = fs + 3 if len(b.label) <= 2 else fs - 1
            ax.text(x, y, b.label, ha="center", va="center", fontsize=size, zorder=3)
            ax.text(
                x,
                y - r - 0.04,
                b.name,
                ha="center",
                va="top",
                fontsize=fs - 2,
                color=GRAY,
                style="italic",
                zorder=3,
            )
            continue
        hw = half_width(b)
        ax.add_patch(
            FancyBboxPatch(
                (x - hw, y - 0.22),
                2 * hw,
                0.44,
                boxstyle="round,pad=0.02,rounding_size=0.1",
                facecolor=faces[b.kind],
                edgecolor="#999999" if b.kind == "const" else "#333333",
                zorder=2,
            )
        )
        ax.text(
            x,
            y,
            b.label,
            ha="center",
            va="center",
            fontsize=fs,
            weight="bold" if b.kind == "input" else "normal",
            color=GRAY if b.kind == "const" else "#000000",
            zorder=3,
        )
        if b.kind in ("group", "stack"):
            ax.text(
                x,
                y - 0.26,
                b.name,
                ha="center",
                va="top",
                fontsize=fs - 2,
                color=GRAY,
                style="italic",
            )
        if b.kind == "input" and b.vars[0].grad is not None:
            ax.text(
                x - hw - 0.06,
                y,
                grad_label(b.vars[0].grad),
                ha="right",
                va="center",
                fontsize=fs - 1,
                color=RED,
            )
    # The output wire: the value, and the seed gradient (1.00) arriving from the right.
    for b in drawing.outputs:
        x0 = b.x + half_width(b)
        x1 = x0 + out_len
        ax.plot([x0, x1], [b.y, b.y], color="#444444", linewidth=1.0, zorder=1)
        var = b.last
        ax.text(
            (x0 + x1) / 2,
            b.y + 0.07,
            value_label(var.value),
            color=GREEN,
            fontsize=fs,
            ha="center",
            va="bottom",
        )
        if var.grad is not None:
            ax.text(
                (x0 + x1) / 2,
                b.y - 0.07,
                grad_label(var.grad),
                color=RED,
                fontsize=fs,
                ha="center",
                va="top",
            )
        ax.text(x1 + 0.08, b.y, var.name, fontsize=fs, weight="bold", va="center")
    if title or drawing.notes:
        text = title or ""
        if drawing.notes:
            text = (text + "  " if text else "") + f"({'; '.join(drawing.notes)})"
        fig.suptitle(text, fontsize=fs + 1, y=0.99)
    return fig


def render(
    graph: Graph,
    path: str | os.PathLike | None = None,
    *,
    max_nodes: int = 60,
    title: str | None = None,
    dpi: int = 110,
    **options: Any,
) -> Any:
    """Draw ``graph``; write ``path`` (format from its suffix: png, svg, pdf) or return
    the ``Figure`` when no path is given.

    Examples
    --------
    >>> import chainrule as cr, tempfile, os
    >>> g = cr.trace(lambda x, y, z: (x + y) * z, -2.0, 5.0, -4.0)
    >>> path = os.path.join(tempfile.mkdtemp(), "f.svg")
    >>> g.render(path) == path
    True
    """
    fig = figure(graph, max_nodes=max_nodes, title=title, **options)
    if path is None:
        return fig
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    fig.savefig(path, format=fmt, dpi=dpi)
    return path


def to_svg(graph: Graph, **options: Any) -> str:
    """The picture as SVG text (what Jupyter shows via ``Graph._repr_svg_``)."""
    buffer = io.StringIO()
    figure(graph, **options).savefig(buffer, format="svg")
    return buffer.getvalue()


def _dot_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text: gates as circles, values (green) and gradients (red) on the edges.

    >>> import chainrule as cr
    >>> print(cr.trace(lambda x, y: x * y, 3.0, 4.0).to_dot().splitlines()[0])
    digraph f {
    """
    lines = [f"digraph {graph.name} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    contrib = _contribution(graph)
    for v in graph.nodes:
        if v.is_op:
            label = (
                f'{_dot_escape(SYMBOLS.get(v.op, v.op))}<br/><font point-size="9">{v.name}</font>'
            )
            lines.append(f"  n{v.index} [shape=circle, label=<{label}>];")
        elif v.op == "const":
            lines.append(
                f'  n{v.index} [shape=plaintext, label="{_dot_escape(value_label(v.value))}"];'
            )
        else:
            lines.append(
                f'  n{v.index} [shape=box, style="rounded,filled", fillcolor="#ddf4ff", '
                f'label="{_dot_escape(v.name)}"];'
            )
    for v in graph.ops:
        for inp in v.inputs:
            value = _dot_escape(value_label(inp.value))
            grad = _dot_escape(grad_label(contrib.get((v.index, inp.index))))
            label = f'<font color="{GREEN}">{value}</font>'
            if grad:
                label += f'<br/><font color="{RED}">{grad}</font>'
            lines.append(f"  n{inp.index} -> n{v.index} [label=<{label}>];")
    for o in graph.outputs:
        lines.append(f'  out{o.index} [shape=plaintext, label="{_dot_escape(o.name)}"];')
        label = f'<font color="{GREEN}">{_dot_escape(value_label(o.value))}</font>'
        if o.grad is not None:
            label += f'<br/><font color="{RED}">{_dot_escape(grad_label(o.grad))}</font>'
        lines.append(f"  n{o.index} -> out{o.index} [label=<{label}>];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def side_by_side(
    graphs: Iterable[Graph],
    path: str | os.PathLike,
    titles: Iterable[str] = (),
    dpi: int = 110,
    **options: Any,
) -> str:
    """Draw several graphs next to each other into one image (e.g. f and grad(f))."""
    import matplotlib.image as mpimg
    from matplotlib.figure import Figure

    images = []
    titles = list(titles)
    for i, g in enumerate(graphs):
        buffer = io.BytesIO()
        title = titles[i] if i < len(titles) else None
        figure(g, title=title, **options).savefig(buffer, format="png", dpi=dpi)
        buffer.seek(0)
        images.append(mpimg.imread(buffer))
    heights = [im.shape[0] for im in images]
    widths = [im.shape[1] for im in images]
    fig = Figure(figsize=(sum(widths) / dpi, max(heights) / dpi))
    x = 0.0
    total = float(sum(widths))
    for im, w, h in zip(images, widths, heights):
        ax = fig.add_axes((x / total, 1 - h / max(heights), w / total, h / max(heights)))
        ax.imshow(im)
        ax.set_axis_off()
        x += w
    path = os.fspath(path)
    fig.savefig(path, dpi=dpi)
    return path
