"""The ``numba`` backend of ``cr.jit``: fused elementwise regions run as one ``@njit`` loop,
the rest is the NumPy backend's code (optional extra ``fast``: ``pip install chainrule[fast]``).

Elementwise fusion: a maximal run of consecutive elementwise equations on values of one
shape (and one float dtype; 0-d values and constants broadcast into it) becomes a region.
A region is not written as straight-line numba code: a 2,000-statement ``@njit`` function
did not finish compiling in 10 minutes, and 120 statements already take seconds. It
becomes a table of instructions (opcode, destination row, operand rows) that ONE
generated ``@njit`` kernel runs: per block of ``BLOCK`` elements, for each instruction a
loop over the elements (the lanes innermost, so LLVM vectorizes it), every value a row of
a private 2-D buffer whose rows are reused once dead (a liveness analysis, as in the
NumPy backend). A peephole pass merges common pairs into compound opcodes
(``tanh(a * b + c)``, the tanh gradient ``a * (1 - b * b)``, ...). So compiling a new
program costs no numba compilation at all: the kernel's source is generated once per
opcode table, written to the disk cache (``$CHAINRULE_CACHE_DIR/numba``, default
``~/.cache/chainrule/numba``) and imported from there, so numba's ``cache=True`` keeps its
machine code across processes. ``tanh`` is computed with a polynomial and squarings
instead of libm's (which LLVM cannot vectorize without SVML); it agrees with NumPy's to 6
ulps. ``exp``, ``log``, ``sin`` and ``cos`` are libm's: on large arrays NumPy's own SIMD
versions are faster, which is why the backend pays on long chains, not on big arrays.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..primitives import Primitive
from .compile import Compiled, _compile_arrays
from .lower import Constants, expression
from .passes import memory_plan
from .program import Eqn, Literal, Program, Var

__all__ = ["MIN_OPS", "OPCODES", "cache_dir", "compile_numba", "fuse", "run_region"]

#: A region with fewer equations than this stays NumPy code: calling the kernel costs
#: about as much as two small NumPy calls, and on large values the copies in and out of
#: the buffer cost what two NumPy passes save.
MIN_OPS = 3
#: The kernel runs all instructions on a block of this many elements before the next
#: block, so the rows of a large region stay in the cache.
BLOCK = 512

# fastmath without "nnan"/"ninf": NumPy's inf and nan results (a log of 0, nan in
# maximum) must survive, and a vectorized elementwise loop does not need those flags.
_FLAGS = {"nsz", "arcp", "contract", "afn", "reassoc"}

#: opcode name -> the element expression (``a``, ``b``, ``c``: the operands' elements).
#: Booleans are rows of 0.0 and 1.0.
OPCODES: dict[str, str] = {
    "copy": "a",
    "neg": "-a",
    "add": "a + b",
    "sub": "a - b",
    "mul": "a * b",
    "div": "a / b",
    "square": "a * a",
    "exp": "np.exp(a)",
    "log": "np.log(a)",
    "tanh": "_tanh(a)",
    "sin": "np.sin(a)",
    "cos": "np.cos(a)",
    "sqrt": "np.sqrt(a)",
    "abs": "abs(a)",
    # NumPy's maximum and minimum return nan when either operand is nan
    "maximum": "a if (a >= b or a != a) else b",
    "minimum": "a if (a <= b or a != a) else b",
    "sigmoid": "1.0 / (1.0 + np.exp(-a))",
    "pow": "a**b",
    "greater": "1.0 if a > b else 0.0",
    "less": "1.0 if a < b else 0.0",
    "greater_equal": "1.0 if a >= b else 0.0",
    "less_equal": "1.0 if a <= b else 0.0",
    "equal": "1.0 if a == b else 0.0",
    "not_equal": "1.0 if a != b else 0.0",
    "where": "b if a != 0.0 else c",
    # compound opcodes (see _merge)
    "muladd": "a * b + c",
    "tanh_muladd": "_tanh(a * b + c)",
    "mul3": "a * b * c",
    "one_minus_sq": "1.0 - a * a",
    "mul_one_minus_sq": "a * (1.0 - b * b)",
    "mul_one_minus_sq_mul": "a * (1.0 - b * b) * c",
}
_OPS = {name: k for k, name in enumerate(OPCODES)}
_NIN = {name: len(set(re.findall(r"\b[abc]\b", expr))) for name, expr in OPCODES.items()}
# primitives that are an opcode of the same name (others are translated in _instructions)
_COMPOUND = {"muladd", "tanh_muladd", "mul3", "one_minus_sq", "mul_one_minus_sq"}
_COMPOUND |= {"mul_one_minus_sq_mul"}
_SAME = set(OPCODES) - {"copy", "square"} - _COMPOUND
_FUSABLE = _SAME | {"relu", "alias", "copy", "broadcast_to", "astype", "clip"}

_TANH = '''
@numba.njit(inline="always", fastmath=FLAGS, error_model="numpy")
def _tanh(x):
    """tanh(|x|) = q / (q + 2) with q = expm1(2 |x|): expm1(2 |x| / 16) by its Taylor series
    (the argument is at most 2.5: 26 terms reach double precision, summed by Estrin's
    scheme, a tree, not Horner's chain: 16 lanes are too few to hide a chain's latency),
    then four doublings expm1(2 t) = expm1(t) * (expm1(t) + 2). Branch-free, so the loop
    vectorizes."""
    y = abs(x)
    y = y if y < 20.0 else 20.0  # tanh(20) rounds to 1.0
    z = y * 0.125
{poly}
    q = z * p
    for _ in range(4):
        q = q * (q + 2.0)
    t = math.copysign(q / (q + 2.0), x)
    return x if (y < 3.7e-09 or x != x) else t  # tanh(x) rounds to x below 2**-28
'''


def _estrin(n: int) -> list[str]:
    """Lines computing ``p = sum(z**j / (j + 1)! for j < n)`` by Estrin's scheme."""
    import math

    terms = [repr(1.0 / math.factorial(j + 1)) for j in range(n)]
    lines, power, level = [], "z", 0
    while len(terms) > 1:
        merged = []
        for i in range(0, len(terms), 2):
            if i + 1 < len(terms):
                name = f"e{level}_{i // 2}"
                lines.append(f"    {name} = {terms[i]} + {power} * {terms[i + 1]}")
                merged.append(name)
            else:
                merged.append(terms[i])
        terms = merged
        if len(terms) > 1:
            lines.append(f"    z{level + 1} = {power} * {power}")
            power = f"z{level + 1}"
        level += 1
    lines.append(f"    p = {terms[0]}")
    return lines


def _kernel_source() -> str:
    lines = [
        '"""Generated by chainrule.ir.numba_backend: the fused elementwise kernel."""',
        "",
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "",
        f"FLAGS = {sorted(_FLAGS)!r}",
        _TANH.replace("{poly}", "\n".join(_estrin(26))),
        "",
        '@numba.njit(cache=True, fastmath=set(FLAGS), error_model="numpy", nogil=True)',
        "def run(code, S):",
        "    n = S.shape[1]",
        f"    for start in range(0, n, {BLOCK}):",
        f"        stop = min(start + {BLOCK}, n)",
        "        for k in range(code.shape[0]):",
        "            op = code[k, 0]",
        # slices of the block, looped from 0: LLVM vectorizes these loops (a loop over
        # range(start, stop) of the whole rows it did not: 8x slower tanh)
        "            d = S[code[k, 1], start:stop]",
        "            x = S[code[k, 2], start:stop]",
        "            y = S[code[k, 3], start:stop]",
        "            w = S[code[k, 4], start:stop]",
        "            m = stop - start",
    ]
    for k, (name, expr) in enumerate(OPCODES.items()):
        nin = _NIN[name]
        lines.append(f"            {'if' if k == 0 else 'elif'} op == {k}:  # {name}")
        lines.append("                for i in range(m):")
        loads = ["a = x[i]", "b = y[i]", "c = w[i]"][:nin]
        lines.append(f"                    {'; '.join(loads)}")
        lines.append(f"                    d[i] = {expr}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the disk cache


def cache_dir() -> Path:
    """Where generated kernels (and numba's machine code for them) are kept:
    ``$CHAINRULE_CACHE_DIR/numba``, by default ``~/.cache/chainrule/numba``.

    >>> cache_dir().name
    'numba'
    """
    root = os.environ.get("CHAINRULE_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "chainrule"
    return base / "numba"


_LOADED: dict[str, Any] = {}


def _require_numba() -> Any:
    try:
        import numba
    except ImportError as err:
        raise ImportError(
            "cr.jit(backend='numba') needs numba, the optional extra 'fast': "
            "pip install chainrule[fast]"
        ) from err
    return numba


def _write(folder: Path, digest: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fused_{digest}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: another process never imports half a file
    return path


def _kernel() -> Any:
    """The generated kernel, imported from its file in the cache directory (written once;
    the file name is the hash of its source, so a changed opcode table is a new file)."""
    run = _LOADED.get("run")
    if run is not None:
        return run
    source = _kernel_source()
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    _require_numba()
    try:
        path = _write(cache_dir(), digest, source)
    except OSError:  # a read-only home: the machine's temporary directory still caches
        import tempfile

        path = _write(Path(tempfile.gettempdir()) / "chainrule-numba", digest, source)
    name = f"chainrule_numba_fused_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    _LOADED["run"] = module.run
    return module.run


def run_region(region: Any, *inputs: Any) -> Any:
    """Run one fused region (see ``fuse``): a new buffer with the constant rows filled
    (they come first), each input in its row (a 0-d input is broadcast along it), run the
    instruction table with the kernel. Returns the buffer; output ``k`` is row
    ``region.out_rows[k]``.

    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x * x + 1.0).tanh(), cr.tensor([0.5, 1.0]))
    >>> _, (region,) = fuse(p)
    >>> S = run_region(region, np.array([0.0, 1.0]))
    >>> S[region.out_rows[0]].round(4)
    array([0.7616, 0.964 ])
    """
    S = np.empty(region.shape2d, region.dtype)
    S[: len(region.template)] = region.template
    for (r, full), x in zip(region.in_rows, inputs):
        S[r] = np.reshape(x, -1) if full else x
    (_LOADED.get("run") or _kernel())(region.code, S)
    return S


# --------------------------------------------------------------------------- regions


def _dtype_of(v: Any) -> Any:
    if isinstance(v, Var):
        return v.dtype
    value = v.value
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, (int, float)):
        return None  # a Python number is weakly typed: it takes the region's dtype
    arr = np.asarray(value)
    return arr.dtype if arr.dtype.kind in "biuf" else np.dtype(object)


def _key(e: Eqn) -> tuple | None:
    """(shape, float dtype) of the region ``e`` can join, or None."""
    name = e.prim.name
    if name not in _FUSABLE or e.meta.get("call") is not None or e.out.dtype is None:
        return None
    shape = e.out.shape
    floats = set()
    for v in (*e.inputs, e.out):
        vshape = np.shape(v.value) if isinstance(v, Literal) else v.shape
        if vshape not in ((), shape):
            return None
        dt = _dtype_of(v)
        if dt is None or dt.kind == "b":
            continue
        if dt.kind in "iu" and isinstance(v, Literal):
            continue  # an integer constant (1 - x, x**3): NumPy casts it to the float dtype
        if dt not in (np.float32, np.float64):
            return None
        floats.add(dt)
    if len(floats) != 1:
        return None
    if name == "clip":
        for bound in (e.params.get("lo"), e.params.get("hi")):
            if bound is not None and np.ndim(bound) != 0:
                return None
    if name == "astype" and e.out.dtype.kind == "b":
        return None  # astype(bool) is x != 0, not a copy of the 0.0/1.0 row
    return shape, floats.pop()


def _regions(program: Program) -> list[tuple[tuple, list[int]]]:
    out: list[tuple[tuple, list[int]]] = []
    current: tuple | None = None
    for k, e in enumerate(program.eqns):
        key = _key(e)
        if key is not None and current is not None and current[0] == key:
            current[1].append(k)
            continue
        if current is not None:
            out.append(current)
        current = (key, [k]) if key is not None else None
    if current is not None:
        out.append(current)
    return [(key, ks) for key, ks in out if len(ks) >= MIN_OPS]


class _Region:
    """One region's instruction table, buffer template and the rows of its inputs and
    outputs."""

    def __init__(self, eqns: list[Eqn], shape: tuple, dtype: Any, needed: set[Var]) -> None:
        self.shape, self.dtype = shape, np.dtype(dtype)
        self.n = int(np.prod(shape, dtype=np.int64))
        keep = set(needed)
        steps = _merge(_steps(eqns, self.dtype), keep)
        defined = {out for _op, _args, out in steps} | {e.out for e in eqns}
        self.inputs: list[Var] = []
        consts: list[tuple[int, np.ndarray]] = []
        const_rows: dict[Any, int] = {}
        row_of: dict[Var, int] = {}
        code: list[list[int]] = []
        next_row = [0]
        free: list[int] = []

        def new_row() -> int:
            if free:
                return free.pop()
            next_row[0] += 1
            return next_row[0] - 1

        def const(value: Any) -> int:
            arr = np.asarray(value).astype(self.dtype)
            key = (arr.shape, arr.tobytes())
            if key not in const_rows:
                r = new_row()
                const_rows[key] = r
                consts.append((r, np.broadcast_to(np.reshape(arr, -1), (self.n,))))
            return const_rows[key]

        # constant rows first (never reused), then the inputs' rows
        for _op, args, _out in steps:
            for v in args:
                if isinstance(v, Literal):
                    const(v.value)
        for _op, args, _out in steps:
            for v in args:
                if isinstance(v, Var) and v not in defined and v not in row_of:
                    row_of[v] = new_row()
                    self.inputs.append(v)
        last: dict[Var, int] = {}
        for k, (_op, args, _out) in enumerate(steps):
            for v in args:
                if isinstance(v, Var):
                    last[v] = k
        for k, (op, args, out) in enumerate(steps):
            rows = [row_of[v] if isinstance(v, Var) else const(v.value) for v in args]
            dest = new_row()
            row_of[out] = dest
            code.append([_OPS[op], dest, *(rows + [0, 0, 0])[:3]])
            # a dead value's row is reused (after the destination is taken: an instruction
            # never writes the row it reads, so LLVM's overlap check passes and it vectorizes)
            for v in args:
                if isinstance(v, Var) and last.get(v) == k and v not in keep:
                    r = row_of[v]
                    if r not in free:
                        free.append(r)
        self.outputs = [v for v in row_of if v in defined and v in keep]
        self.out_rows = [row_of[v] for v in self.outputs]
        self.in_rows = tuple((row_of[v], v.shape != ()) for v in self.inputs)
        self.code = np.array(code, dtype=np.int64).reshape(-1, 5)
        # the rows of the constants, which new_row gave out first
        self.shape2d = (max(next_row[0], 1), self.n)
        self.template = np.zeros((len(consts), self.n), dtype=self.dtype)
        for r, arr in consts:
            self.template[r] = arr
        self.eqns = eqns


def _instructions(e: Eqn, dtype: Any) -> list[tuple[str, list, Var]]:
    """``e`` as instructions (opcode, operands, result); clip is two."""
    name, ins = e.prim.name, list(e.inputs)
    if name in ("alias", "copy", "broadcast_to", "astype"):
        return [("copy", ins[:1], e.out)]
    if name == "relu":
        return [("maximum", [ins[0], Literal(0.0)], e.out)]
    if name == "pow" and isinstance(ins[1], Literal) and np.ndim(ins[1].value) == 0:
        if ins[1].value == 2:
            return [("square", ins[:1], e.out)]
    if name == "clip":
        lo, hi = e.params.get("lo"), e.params.get("hi")
        if lo is None or hi is None:
            bound = ("maximum", lo) if lo is not None else ("minimum", hi)
            if bound[1] is None:
                return [("copy", ins[:1], e.out)]
            return [(bound[0], [ins[0], Literal(bound[1])], e.out)]
        mid = Var(e.out.shape, dtype)
        return [
            ("maximum", [ins[0], Literal(lo)], mid),
            ("minimum", [mid, Literal(hi)], e.out),
        ]
    return [(name, ins, e.out)]


def _steps(eqns: list[Eqn], dtype: Any) -> list[tuple[str, list, Var]]:
    return [step for e in eqns for step in _instructions(e, dtype)]


def _is_one(v: Any) -> bool:
    return isinstance(v, Literal) and np.ndim(v.value) == 0 and float(v.value) == 1.0


def _merge(steps: list, keep: set[Var]) -> list:
    """Peephole: an instruction whose result only the next one reads is merged into it
    where the pair is one of the compound opcodes (``muladd``: a * b + c, the tanh
    gradient a * (1 - b * b), ...): fewer passes over the rows, fewer dispatches."""
    uses: dict[Var, int] = {}
    for _op, args, _out in steps:
        for v in args:
            if isinstance(v, Var):
                uses[v] = uses.get(v, 0) + 1
    out: list = []
    for step in steps:
        while out:
            merged = _pair(out[-1], step, uses, keep)
            if merged is None:
                break
            out.pop()
            step = merged
        out.append(step)
    return out


def _pair(a: tuple, b: tuple, uses: dict, keep: set) -> tuple | None:
    op_a, args_a, t = a
    op_b, args_b, out = b
    if t in keep or uses.get(t) != 1 or t not in args_b:
        return None
    others = [v for v in args_b if v is not t]
    if op_b == "add" and op_a == "mul":
        return ("muladd", [*args_a, others[0]], out)
    if op_b == "tanh" and op_a == "muladd":
        return ("tanh_muladd", args_a, out)
    if op_b == "mul" and op_a == "mul":
        return ("mul3", [*args_a, others[0]], out)
    square = op_a == "square" or (op_a == "mul" and args_a[0] is args_a[1])
    if op_b == "sub" and square and _is_one(args_b[0]) and args_b[1] is t:
        return ("one_minus_sq", args_a[:1], out)
    if op_b == "mul" and op_a == "one_minus_sq":
        return ("mul_one_minus_sq", [others[0], args_a[0]], out)
    if op_b == "mul" and op_a == "mul_one_minus_sq":
        return ("mul_one_minus_sq_mul", [*args_a, others[0]], out)
    return None


# --------------------------------------------------------------------------- the program


def _region_prim(region: _Region) -> Primitive:
    def lower(c: Any) -> str:
        return f"run_region({', '.join([c.array(region), *c.ins])})"

    prim = Primitive("fused", _no_impl, kind="other", nin=None, register=False)
    prim.lower = lower
    return prim


def _output_prim(region: _Region, k: int, like: Eqn) -> Primitive:
    """Reads output ``k`` of a region (named after the primitive that computed it)."""
    row, v = region.out_rows[k], region.outputs[k]
    text = f"{{0}}[{row}, 0]" if v.shape == () else f"{{0}}[{row}]"
    if v.dtype.kind == "b":
        text = f"({text} != 0)"  # booleans are rows of 0.0 and 1.0
    if len(v.shape) > 1:
        text += f".reshape({v.shape!r})"
    # not the producer's own name: the NumPy code generator treats some names specially
    prim = Primitive(like.prim.name + "_", _no_impl, kind="other", nin=1, register=False)
    prim.lower = text
    return prim


def _no_impl(*args: Any, **params: Any) -> Any:
    raise NotImplementedError("a fused region runs only in compiled code")


def fuse(program: Program) -> tuple[Program, list[_Region]]:
    """Replace each fused region of ``program`` by one equation (``run_region``) and one
    equation per value the rest of the program reads from it.

    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: ((x * 2.0).tanh() + 1.0).sum(), cr.tensor([0.5, 1.0]))
    >>> fused, regions = fuse(p)
    >>> [e.prim.name for e in fused.eqns], len(regions[0].code)
    (['fused', 'add_', 'sum'], 3)
    """
    from .passes import _copy

    spans = _regions(program)
    if not spans:
        return program, []
    used_after: dict[Var, int] = {}
    for k, e in enumerate(program.eqns):
        for v in e.inputs:
            if isinstance(v, Var):
                used_after[v] = k
    outputs = {o for o in program.outputs if isinstance(o, Var)}
    start_of = {ks[0]: (key, ks) for key, ks in spans}
    eqns: list[Eqn] = []
    regions: list[_Region] = []
    k = 0
    while k < len(program.eqns):
        if k not in start_of:
            eqns.append(program.eqns[k])
            k += 1
            continue
        (shape, dtype), ks = start_of[k]
        body = [program.eqns[j] for j in ks]
        end = ks[-1]
        needed = {e.out for e in body if e.out in outputs or used_after.get(e.out, -1) > end}
        region = _Region(body, shape, dtype, needed)
        buffer = Var(region.shape2d, region.dtype, "fused")
        meta = {"comment": _comment(region)}
        eqns.append(Eqn(_region_prim(region), tuple(region.inputs), buffer, {}, meta))
        for j, v in enumerate(region.outputs):
            like = next(e for e in body if e.out is v)
            eqns.append(Eqn(_output_prim(region, j, like), (buffer,), v, {}))
        regions.append(region)
        k = end + 1
    return _copy(program, eqns), regions


def _comment(region: _Region) -> list[str]:
    """The region's equations as NumPy source, for people reading the generated code."""
    consts = Constants()
    names: dict[Var, str] = {v: f"in{k}" for k, v in enumerate(region.inputs)}
    lines = [
        f"fused: {len(region.eqns)} elementwise equations on {region.shape} "
        f"{region.dtype.name}, one numba kernel (in0.. are its inputs):"
    ]
    for k, e in enumerate(region.eqns):
        ins = [names[v] if isinstance(v, Var) else consts.source(v.value) for v in e.inputs]
        names[e.out] = f"t{k}"
        text = expression(e, ins, consts).replace("CONST", "const")
        mark = f"  -> out{region.outputs.index(e.out)}" if e.out in region.outputs else ""
        lines.append(f"  t{k} = {text}{mark}")
    return lines


def compile_numba(program: Program, name: str = "compiled") -> Compiled:
    """Compile ``program`` with its elementwise regions fused into numba kernels (the
    module docstring); the rest is the NumPy backend's code. Raises ImportError naming
    the extra (``pip install chainrule[fast]``) when numba is not installed.

    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x * 2.0).tanh() * x + 1.0, cr.tensor([0.5, 1.0]))
    >>> c = compile_numba(p)
    >>> c.fn(np.array([0.5, 1.0]))[0].round(4)
    array([1.3808, 1.964 ])
    """
    _require_numba()
    fused, regions = fuse(program)
    imports = "from chainrule.ir.numba_backend import run_region\n" if regions else ""
    compiled = _compile_arrays(fused, name, imports=imports)
    if regions:
        _kernel()  # import (and on first use compile, or load from the disk cache) now
    # the kernel allocates no intermediates: the unfused program's plan bounds the peak
    compiled.peak_bytes = memory_plan(program)["peak_bytes"]
    return compiled
