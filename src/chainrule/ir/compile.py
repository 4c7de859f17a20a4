"""Compiled code: a program lowered for speed (what ``cr.jit`` runs).

The same one lowering per primitive as the lecture-style flat code (``ir.lower``), written
for speed instead of for reading: an elementwise result is computed into the buffer of an
input that dies there (NumPy's ``out=``), no buffer is written after its last use (the
liveness analysis, ``passes.last_uses``), names are freed as soon as their value is dead
(so the peak memory is the memory plan's), and a program of Python-float scalars (a
micrograd-style network) becomes plain float arithmetic with ``math``. An operation with
no lowering (a custom Function, checkpoint) runs eagerly inside the generated code (a graph
break).
"""

from __future__ import annotations

import itertools
import keyword
from collections.abc import Callable
from typing import Any

import numpy as np

from .lower import (
    KERNELS,
    CodegenError,
    Constants,
    compile_module,
    expression,
    fresh,
    module_header,
    tidy,
)
from .passes import last_uses, memory_plan
from .program import VALUE_SHAPED, Eqn, LengthChanged, Literal, Program, Var

__all__ = ["BACKENDS", "Compiled", "compile_program", "UFUNCS"]

#: Primitives that are one NumPy ufunc, written ``np.ufunc(a, b, out=buffer)`` when an input's
#: buffer can be reused (name -> (ufunc, extra literal operands)).
UFUNCS: dict[str, tuple[str, tuple]] = {
    "add": ("np.add", ()),
    "sub": ("np.subtract", ()),
    "mul": ("np.multiply", ()),
    "div": ("np.true_divide", ()),
    "neg": ("np.negative", ()),
    "exp": ("np.exp", ()),
    "log": ("np.log", ()),
    "sqrt": ("np.sqrt", ()),
    "tanh": ("np.tanh", ()),
    "sin": ("np.sin", ()),
    "cos": ("np.cos", ()),
    "abs": ("np.absolute", ()),
    "maximum": ("np.maximum", ()),
    "minimum": ("np.minimum", ()),
    "relu": ("np.maximum", (0,)),
    "pow": ("np.power", ()),
    "conj": ("np.conjugate", ()),
}
#: Binary ufuncs written as augmented assignments when they work in place.
_AUGMENTED = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
#: Cheap expressions written inside the one equation that reads them.
_INLINE = frozenset(
    {"transpose", "greater", "less", "greater_equal", "less_equal", "equal", "not_equal"}
)
#: Primitives whose result may share memory with their first input. (Also those whose NumPy
#: call returns its input or a view of it for some inputs: ``np.asarray`` to the dtype the
#: array has, ``np.real`` of a real array and ``np.real``/``np.imag`` of a complex one,
#: ``np.einsum`` taking a diagonal or transposing one operand, the sliding windows. Writing
#: into those in place would change the caller's array.)
VIEWS = frozenset(
    {"reshape", "transpose", "broadcast_to", "alias", "getitem", "sum_to", "stop_gradient"}
    | {"astype", "real", "imag", "einsum", "windows"}
)
#: Values smaller than this are not freed explicitly (a ``del`` costs more than it saves).
_FREE_BYTES = 1 << 15


def _bound(call: Any, params: dict) -> Any:
    """A graph break's replay ``call(args, params, tensors)`` with its equation's params
    (a checkpoint's function) bound: generated code passes only the arguments."""

    def run(args: list, _params: dict, tensors: bool) -> Any:
        return call(args, params, tensors)

    return run


class Compiled:
    """A compiled program: ``fn(*arrays)`` returns the outputs (a tuple), ``source`` is the
    generated code, ``peak_bytes`` the memory plan's peak.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: (x * 2.0).tanh(), cr.tensor([0.5, 1.0]))
    >>> c = compile_program(p)
    >>> c.fn(np.array([0.0, 1.0]))[0].round(4)
    array([0.   , 0.964])
    """

    def __init__(
        self, source: str, fn: Callable, peak_bytes: int, breaks: list[str], scalar: bool
    ) -> None:
        self.source = source
        self.fn = fn
        self.peak_bytes = peak_bytes
        self.breaks = breaks
        self.scalar = scalar


#: The names a generated module defines at its top (imports, the ufuncs bound once, the
#: scalar code's helper, the table of graph breaks) and ``chainrule.kernels``' functions it
#: may import: no argument, value or function of the generated code is given one. (A
#: parameter ``t0`` once met the scalar code's ``t0`` temporary and read its value; a
#: function named ``softmax`` called itself instead of the kernel.)
MODULE_NAMES = frozenset(
    {"np", "math", "CONST", "CALL", "LengthChanged", "run_region", "_sigmoid", "_square"}
    | {"_" + fn.split(".")[-1] for fn, _ in UFUNCS.values()}
    | KERNELS
)


def _identifier(text: str | None, taken: set[str], fallback: str) -> str:
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in (text or "")) or fallback
    if base[0].isdigit():
        base = "v" + base
    if keyword.iskeyword(base) or base in MODULE_NAMES:
        base += "_"
    name, k = base, 1
    while name in taken:
        name = f"{base}_{k}"
        k += 1
    taken.add(name)
    return name


def _function_name(name: str) -> str:
    """``name`` made a valid name for the generated function that no name of its module
    shadows (``softmax`` -> ``softmax_``)."""
    return _identifier(name, set(), "compiled")


#: The code generators ``compile_program`` knows (``numba`` needs the optional extra ``fast``).
BACKENDS = ("numpy", "numba")


def compile_program(
    program: Program, name: str = "compiled", scalar: bool = True, backend: str = "numpy"
) -> Compiled:
    """Lower ``program`` for speed and compile it (see the module docstring).

    ``backend="numba"`` hands the program to ``chainrule.ir.numba_backend`` (fused
    elementwise regions and scalar programs as ``@njit`` loops); ``"numpy"`` writes NumPy
    calls.

    A scalar program runs as Python float arithmetic; where that would raise (a log of 0,
    an overflow: Python's floats raise where NumPy returns inf or nan) the same call runs
    the NumPy code instead, so results never differ from the engine's.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.ir import trace_program
    >>> p, _ = trace_program(lambda x: cr.relu(x) * 2.0, cr.tensor([1.0, -1.0]))
    >>> compile_program(p).fn(np.array([3.0, -4.0]))
    (array([6., 0.]),)
    """
    if backend == "numba":
        from .numba_backend import compile_numba

        return compile_numba(program, name)
    if backend != "numpy":
        raise ValueError(f"compile_program: unknown backend {backend!r}; expected {BACKENDS}")
    arrays = _compile_arrays(program, name)
    if not (scalar and _is_scalar_program(program)):
        return arrays
    fast = _compile_scalar(program, name)
    floats, numpy_code = fast.fn, arrays.fn
    types = [_scalar_output_type(o) for o in program.outputs]
    if all(t is np.float64 for t in types):
        array = np.array

        def convert(values: tuple) -> tuple:
            return tuple(array(values))  # float64 scalars, made in one call

    else:

        def convert(values: tuple) -> tuple:
            return tuple(t(v) for t, v in zip(types, values))

    def run(*args: Any) -> Any:
        try:
            return convert(floats(*map(float, args)))
        except (ArithmeticError, ValueError):
            with np.errstate(all="ignore"):
                return numpy_code(*args)

    fast.fn = run
    fast.source = (
        fast.source + "\n# when Python floats raise, the NumPy code runs:\n" + (arrays.source)
    )
    return fast


# --------------------------------------------------------------------------- arrays


def _compile_arrays(
    program: Program,
    name: str,
    imports: str = "",
    dest: dict[int, str] | None = None,
    epilogue: tuple[list[str], list[str]] = ([], []),
) -> Compiled:
    """The program as NumPy code (see the module docstring).

    ``imports``: extra import lines of the module (the numba backend's run_region); an
    equation's ``meta["comment"]`` (lines) is written above its statement.

    ``dest`` maps output positions to names of extra arguments: arrays of the outputs'
    shapes and dtypes, into which those outputs are computed (NumPy's ``out=``, or a copy
    where the last operation cannot take one) instead of being returned. ``epilogue`` is
    (more argument names, source lines) run after the program, before it returns, where
    ``{inputs[i]}`` in a line is the name of input ``i``: a compiled training step appends
    its optimizer's update there (``CompiledLoss``).
    """
    consts = Constants()
    taken: set[str] = set()
    names: dict[Var, str] = {}
    dest = dest or {}
    extra_args, epilogue_lines = epilogue
    # the caller's names first: an input or value named like one (a parameter ``lr``) yields
    for a in [*dest.values(), *extra_args]:
        if a in taken or not a.isidentifier() or keyword.iskeyword(a) or a in MODULE_NAMES:
            raise ValueError(f"compile: argument name {a!r} is taken or not an identifier")
        taken.add(a)
    args = [_identifier(v.hint, taken, f"x{i}") for i, v in enumerate(program.inputs)]
    for v, a in zip(program.inputs, args):
        names[v] = a
    # an output computed straight into its destination: the equation that makes it
    into: dict[Var, str] = {}
    for k, target in dest.items():
        o = program.outputs[k]
        if isinstance(o, Var) and o not in program.inputs and o not in into:
            into[o] = target
    counters: dict[str, Any] = {}

    def new_name(e: Eqn) -> str:
        if e.out.hint:  # a gradient named after its input (dW1)
            return _identifier(e.out.hint, taken, "t")
        fv = e.out.grad_of
        # the gradient reaching relu0 is drelu0 (relu0 may live in another program: a
        # backward compiled apart from its forward knows it by its hint)
        base = None if fv is None else names.get(fv, fv.hint)
        if base:
            return _identifier("d" + base, taken, "t")
        c = counters.setdefault(e.prim.name, itertools.count())
        return _identifier(f"{e.prim.name}{next(c)}", taken, "t")

    # a transpose or comparison read once, by the next equation, is written inside it
    # (``dW = g.T @ x``, ``g *= (x > 0)``): the same NumPy calls, fewer names to follow
    uses: dict[Var, int] = {}
    for e in program.eqns:
        for v in e.inputs:
            if isinstance(v, Var):
                uses[v] = uses.get(v, 0) + 1
    for o in program.outputs:
        if isinstance(o, Var):
            uses[o] = uses.get(o, 0) + 2
    inline: set[Var] = set()
    for k, e in enumerate(program.eqns[:-1]):
        if (
            e.prim.name in _INLINE
            and uses.get(e.out) == 1
            and e.meta.get("call") is None
            and e.out in program.eqns[k + 1].inputs
            and program.eqns[k + 1].meta.get("call") is None
        ):
            inline.add(e.out)

    # views: a view's memory belongs to its input's owner
    owner: dict[Var, Var] = {}
    for e in program.eqns:
        x = e.inputs[0] if e.inputs else None
        if e.prim.name in VIEWS and isinstance(x, Var):
            owner[e.out] = owner.get(x, x)
    last = last_uses(program)
    for k, e in enumerate(program.eqns):
        if e.out in inline:  # its inputs are read one line later, where it is written
            for v in e.inputs:
                if isinstance(v, Var) and last.get(v) == k:
                    last[v] = k + 1
    dies: dict[Var, int] = {}
    for v, k in last.items():
        root = owner.get(v, v)
        dies[root] = max(dies.get(root, -1), k)
    inputs = set(program.inputs)
    owned: set[Var] = set()  # buffers the generated code made (writable, not shared)
    lines: list[str] = []
    used = {v for e in program.eqns for v in e.inputs if isinstance(v, Var)}
    used |= {o for o in program.outputs if isinstance(o, Var)}
    for v, value in program.constants.items():
        if v in used:
            names[v] = _identifier(f"c{v.id}", taken, "c")
            lines.append(f"{names[v]} = {consts.source(value)}")
    calls: list[Callable] = []
    breaks: list[str] = []
    bindings: dict[str, str] = {}
    free_at: dict[int, list[str]] = {}
    for v, k in last.items():
        if v in inputs or k >= len(program.eqns) or k < 0:
            continue
        if v.size * (v.dtype.itemsize if v.dtype is not None else 8) >= _FREE_BYTES:
            free_at.setdefault(k, []).append(v)  # type: ignore[arg-type]

    def atom(v: Var | Literal) -> str:
        return consts.source(v.value) if isinstance(v, Literal) else names[v]

    def shape_note(e: Eqn) -> str:
        """``  # shape (64, 128)`` where a line makes an array of a new shape."""
        out = e.out
        if len(out.shape) < 1 or any(isinstance(v, Var) and v.shape == out.shape for v in e.inputs):
            return ""
        return f"  # shape {out.shape}"

    reused: set[Var] = set()  # buffers a later value took over: freed under that name

    def _emit_frees(k: int) -> None:
        e = program.eqns[k]
        out = e.out
        if e.prim.name in VALUE_SHAPED and out in names:  # the code holds for this length
            n = names[out]
            lines.append(
                f"if {n}.shape != {out.shape!r}: raise LengthChanged({e.prim.name!r}, "
                f"{out.shape!r}, {n}.shape)"
            )
        for v in free_at.get(k, ()):
            if v is not out and v in names and v not in inline and v not in reused:
                lines.append(f"del {names[v]}")

    for k, e in enumerate(program.eqns):
        out = e.out
        ins = [atom(v) for v in e.inputs]
        if out in inline:
            names[out] = tidy(expression(e, ins, consts))
            continue
        target = into.get(out) if out not in inline and e.meta.get("call") is None else None
        if target is not None and out.shape:
            lines.extend(f"# {text}" for text in e.meta.get("comment", ()))
            lines.append(_into(e, ins, consts, target))
            names[out] = target  # (not owned: no later operation may write into it)
            _emit_frees(k)
            continue
        into.pop(out, None)
        names[out] = new_name(e)
        lines.extend(f"# {text}" for text in e.meta.get("comment", ()))
        call = e.meta.get("call")
        if call is not None:
            calls.append(_bound(call, e.params))
            breaks.append(e.prim.name)
            lines.append(f"{names[out]} = CALL[{len(calls) - 1}]([{', '.join(ins)}], {{}}, False)")
            continue
        ufunc = UFUNCS.get(e.prim.name)
        ufunc_ins = ins
        if e.prim.name == "pow" and isinstance(e.inputs[1], Literal):
            exponent = e.inputs[1].value
            if np.ndim(exponent) == 0 and exponent == 2:
                ufunc, ufunc_ins = ("np.square", ()), ins[:1]  # np.power is slow for x**2
        buffer = None
        if ufunc is not None and out.shape and out.dtype is not None:
            for v in e.inputs:
                if (
                    isinstance(v, Var)
                    and v in owned
                    and owner.get(v, v) is v
                    and dies.get(v, -1) == k
                    and v.shape == out.shape
                    and v.dtype == out.dtype
                ):
                    buffer = v
                    break
        augmented = _AUGMENTED.get(e.prim.name)
        if buffer is not None and augmented is not None and len(e.inputs) == 2:
            # in place, written as people do: ``drelu0 *= (relu0 > 0)``
            a, b = e.inputs
            other = ins[1] if a is buffer else ins[0]
            if a is buffer or e.prim.name in ("add", "mul"):  # commutative ops either way
                lines.append(f"{names[buffer]} {augmented}= {other}")
                if out.hint or out.grad_of is not None:
                    lines.append(f"{names[out]} = {names[buffer]}")
                else:
                    taken.discard(names[out])
                    names[out] = names[buffer]
                owned.add(out)
                reused.add(buffer)
                _emit_frees(k)
                continue
        if buffer is not None:
            fn, extra = ufunc  # type: ignore[misc]
            operands = ufunc_ins + [repr(x) for x in extra]
            # np.maximum/np.minimum deprecate a positional out (NumPy 2.x): name it there
            by_name = fn in ("np.maximum", "np.minimum")
            operands.append(f"out={names[buffer]}" if by_name else names[buffer])
            # the ufunc bound once at module level, out= passed by position: the cheapest
            # call NumPy has (keyword parsing costs more than a small array's arithmetic)
            bound = "_" + fn.split(".")[-1]
            bindings[bound] = fn
            lines.append(f"{names[out]} = {bound}({', '.join(operands)})")
            owned.add(out)
            reused.add(buffer)
        elif e.prim.name == "linear" and out.shape:
            x, w, b = ins
            lines.append(f"{names[out]} = {x} @ {w}.T{shape_note(e)}")
            lines.append(f"{names[out]} += {b}")
            owned.add(out)
        else:
            try:
                text = expression(e, ins, consts)
            except CodegenError:
                raise
            lines.append(f"{names[out]} = {tidy(text)}{shape_note(e)}")
            if fresh(e) and out.shape:
                owned.add(out)
        _emit_frees(k)
    # destinations no equation computed into (an input, a constant, a view): copied
    for k, target in dest.items():
        o = program.outputs[k]
        if not (isinstance(o, Var) and names.get(o) == target):
            lines.append(f"np.copyto({target}, {atom(o)}, casting='same_kind')")
    lines.extend(line.format(inputs=args) for line in epilogue_lines)
    # an output that is a constant comes back as an array, as computed ones do
    outs = [
        atom(o) if isinstance(o, Var) else f"np.asarray({atom(o)})"
        for k, o in enumerate(program.outputs)
        if k not in dest
    ]
    lines.append(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    body = "".join(f"    {line}\n" for line in lines)
    name = _function_name(name)
    fn_text = f"def {name}({', '.join([*args, *dest.values(), *extra_args])}):\n{body}"
    bound = "".join(f"{k} = {v}\n" for k, v in sorted(bindings.items()))
    source = module_header(lines) + imports + (("\n" + bound) if bound else "") + "\n\n" + fn_text
    namespace = compile_module(source, consts.values, f"<compiled {name}>")
    namespace["CALL"] = calls
    namespace["LengthChanged"] = LengthChanged
    plan = memory_plan(program, owner)
    return Compiled(source, namespace[name], plan["peak_bytes"], breaks, False)


def _into(e: Eqn, ins: list[str], consts: Constants, target: str) -> str:
    """The statement computing ``e`` into the array named ``target``: a matrix product, a
    sum and a ufunc take NumPy's ``out=``; anything else is computed, then copied."""
    name = e.prim.name
    if name == "matmul" and len(ins) == 2:
        return f"np.matmul({ins[0]}, {ins[1]}, out={target})"
    ufunc = UFUNCS.get(name)
    if ufunc is not None:
        fn, extra = ufunc
        operands = [*ins, *(repr(x) for x in extra)]
        return f"{fn}({', '.join(operands)}, out={target})"
    text = tidy(expression(e, ins, consts))
    if name in ("sum", "sum_to") and text.startswith("np.add.reduce(") and text.endswith(")"):
        if "keepdims" not in text and text.count("(") == 1:
            return f"{text[:-1]}, out={target})"
    return f"np.copyto({target}, {text}, casting='same_kind')"


# --------------------------------------------------------------------------- scalars

#: How a scalar program (0-d float64 values only) writes each primitive with Python floats.
SCALAR: dict[str, str] = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "neg": "-{0}",
    "pow": "{0} ** {1}",
    "exp": "math.exp({0})",
    "log": "math.log({0})",
    "sqrt": "math.sqrt({0})",
    "tanh": "math.tanh({0})",
    "sin": "math.sin({0})",
    "cos": "math.cos({0})",
    "abs": "abs({0})",
    "relu": "({0} if {0} > 0.0 else 0.0)",
    "maximum": "({0} if {0} > {1} else {1})",
    "minimum": "({0} if {0} < {1} else {1})",
    "greater": "({0} > {1})",
    "less": "({0} < {1})",
    "greater_equal": "({0} >= {1})",
    "less_equal": "({0} <= {1})",
    "where": "({1} if {0} else {2})",
    "sigmoid": "_sigmoid({0})",
    "alias": "{0}",
}
_SCALAR_HELPERS = """
def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
"""


def _is_scalar_program(program: Program) -> bool:
    """Every value 0-d float64 (or bool, from a comparison), every constant a 0-d real
    number, every output float64 or bool: what Python floats compute as NumPy would."""
    f64 = np.dtype(np.float64)
    if not program.eqns:
        return False
    for v in program.inputs:
        if v.shape != () or v.dtype != f64:
            return False
    for value in program.constants.values():
        if np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "biuf":
            return False
    for o in program.outputs:
        if _scalar_output_type(o) is None:
            return False
    for e in program.eqns:
        if e.meta.get("call") is not None or e.out.shape != ():
            return False
        name = e.prim.name
        if name in ("sum", "broadcast_to", "sum_to", "reshape", "astype"):
            continue  # identities on 0-d values
        if name not in SCALAR:
            return False
        if name == "pow":  # Python's ** gives complex numbers where NumPy gives nan
            y = e.inputs[1]
            if not (isinstance(y, Literal) and float(np.asarray(y.value)).is_integer()):
                return False
        if e.out.dtype not in (f64, np.dtype(bool)):
            return False
        for v in e.inputs:
            if isinstance(v, Literal) and np.ndim(v.value) != 0:
                return False
    return True


def _scalar_output_type(o: Var | Literal) -> type | None:
    """What a scalar program's output becomes, as NumPy would have it: ``np.float64``, or
    ``np.bool_`` (a comparison); None for another dtype (an integer constant)."""
    if isinstance(o, Var):
        shape, dtype = o.shape, o.dtype
    else:
        shape, dtype = np.shape(o.value), np.asarray(o.value).dtype
    if shape != ():
        return None
    if dtype == np.float64:
        return np.float64
    if dtype == np.bool_:
        return np.bool_
    return None


def _compile_scalar(program: Program, name: str) -> Compiled:
    name = _function_name(name)
    taken: set[str] = set()
    names: dict[Var, str] = {}
    args = [_identifier(v.hint, taken, f"x{i}") for i, v in enumerate(program.inputs)]
    lines = []
    for v, a in zip(program.inputs, args):
        names[v] = a
    for v, value in program.constants.items():
        names[v] = _identifier(f"c{v.id}", taken, "c")
        lines.append(f"{names[v]} = {float(np.asarray(value))!r}")

    def atom(v: Var | Literal) -> str:
        if isinstance(v, Literal):
            value = v.value
            return repr(float(value)) if not isinstance(value, (bool, np.bool_)) else repr(value)
        return names[v]

    for k, e in enumerate(program.eqns):
        ins = [atom(v) for v in e.inputs]
        names[e.out] = temp = _identifier(f"t{k}", taken, "t")  # (never an input's name)
        template = SCALAR.get(e.prim.name, "{0}")
        lines.append(f"{temp} = {template.format(*ins)}")
    outs = [atom(o) for o in program.outputs]
    lines.append(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    body = "".join(f"    {line}\n" for line in lines)
    source = (
        "import math\n\nimport numpy as np\n\n"
        + _SCALAR_HELPERS
        + "\n\n# Python floats in (float() of each 0-d input) and out (made NumPy float64, or\n"
        + "# bool for a comparison, by the caller)\n"
        + f"def {name}({', '.join(args)}):\n{body}"
    )
    namespace = compile_module(source, {}, f"<compiled {name}>")
    return Compiled(source, namespace[name], 0, [], True)
