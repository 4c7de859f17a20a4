"""The reference of ``chainrule.numpy`` as data: which functions carry no gradient, and the
Markdown page (every function, the NumPy names that dispatch to it, its derivative) that the
documentation build generates from this module, the dispatch table and the test table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["NOT_DIFFERENTIABLE", "entries", "fft_entries", "markdown"]

#: The functions whose results carry no gradient (integer, boolean or Python results, and
#: constants), each with a call that exercises it (``call(cnp, x)``; the tests check the
#: result records nothing). The others are differentiable and have rows in the test table.
NOT_DIFFERENTIABLE: dict[str, Callable[..., Any] | None] = {
    "all": lambda xp, x: xp.all(x > 0, axis=0),
    "any": lambda xp, x: xp.any(x > 0, axis=1, keepdims=True),
    "argmax": lambda xp, x: xp.argmax(x, axis=1),
    "argmin": lambda xp, x: xp.argmin(x),
    "argpartition": lambda xp, x: xp.argpartition(x, 1),
    "argsort": lambda xp, x: xp.argsort(x, axis=None),
    "argwhere": lambda xp, x: xp.argwhere(x),
    "searchsorted": lambda xp, x: xp.searchsorted(xp.sort(x, axis=None), x),
    "count_nonzero": lambda xp, x: xp.count_nonzero(x, axis=0),
    "flatnonzero": lambda xp, x: xp.flatnonzero(x),
    "nonzero": lambda xp, x: xp.nonzero(x),
    "nanargmax": lambda xp, x: xp.nanargmax(x, axis=0),
    "nanargmin": lambda xp, x: xp.nanargmin(x, axis=1),
    "sign": lambda xp, x: xp.sign(x),
    "signbit": lambda xp, x: xp.signbit(x),
    "equal": lambda xp, x: xp.equal(x, 0.5),
    "not_equal": lambda xp, x: xp.not_equal(x, 0.5),
    "greater": lambda xp, x: xp.greater(x, 0.5),
    "greater_equal": lambda xp, x: xp.greater_equal(x, 0.5),
    "less": lambda xp, x: xp.less(x, 0.5),
    "less_equal": lambda xp, x: xp.less_equal(x, 0.5),
    "logical_and": lambda xp, x: xp.logical_and(x, x > 1),
    "logical_or": lambda xp, x: xp.logical_or(x, x > 1),
    "logical_xor": lambda xp, x: xp.logical_xor(x, x > 1),
    "logical_not": lambda xp, x: xp.logical_not(x),
    "bitwise_and": lambda xp, x: xp.bitwise_and(x > 0, x > 1),
    "bitwise_or": lambda xp, x: xp.bitwise_or(x > 0, x > 1),
    "bitwise_xor": lambda xp, x: xp.bitwise_xor(x > 0, x > 1),
    "bitwise_not": lambda xp, x: xp.bitwise_not(x > 0),
    "invert": lambda xp, x: xp.invert(x > 0),
    "isfinite": lambda xp, x: xp.isfinite(x),
    "isinf": lambda xp, x: xp.isinf(x),
    "isnan": lambda xp, x: xp.isnan(x),
    "isposinf": lambda xp, x: xp.isposinf(x),
    "isneginf": lambda xp, x: xp.isneginf(x),
    "isclose": lambda xp, x: xp.isclose(x, 0.5),
    "iscomplex": lambda xp, x: xp.iscomplex(x),
    "isreal": lambda xp, x: xp.isreal(x),
    "allclose": lambda xp, x: xp.allclose(x, x),
    "array_equal": lambda xp, x: xp.array_equal(x, x),
    "array_equiv": lambda xp, x: xp.array_equiv(x, x),
    "iscomplexobj": lambda xp, x: xp.iscomplexobj(x),
    "isrealobj": lambda xp, x: xp.isrealobj(x),
    "shape": lambda xp, x: xp.shape(x),
    "ndim": lambda xp, x: xp.ndim(x),
    "size": lambda xp, x: xp.size(x),
    "result_type": lambda xp, x: xp.result_type(x, 1.0),
    "can_cast": lambda xp, x: xp.can_cast(x, "float32"),
    "may_share_memory": lambda xp, x: xp.may_share_memory(x, x),
    "shares_memory": lambda xp, x: xp.shares_memory(x, x),
    "array2string": lambda xp, x: xp.array2string(x),
    "array_repr": lambda xp, x: xp.array_repr(x),
    "array_str": lambda xp, x: xp.array_str(x),
    "isin": lambda xp, x: xp.isin(x, x[0]),
    "digitize": lambda xp, x: xp.digitize(x, [-1.0, 0.0, 1.0]),
    "lexsort": lambda xp, x: xp.lexsort(x),
    "nextafter": lambda xp, x: xp.nextafter(x, 0.0),
    "gcd": lambda xp, x: xp.gcd(xp.argsort(x), 2),
    "lcm": lambda xp, x: xp.lcm(xp.argsort(x), 2),
    "left_shift": lambda xp, x: xp.left_shift(xp.argsort(x), 1),
    "right_shift": lambda xp, x: xp.right_shift(xp.argsort(x), 1),
    "bitwise_left_shift": lambda xp, x: xp.bitwise_left_shift(xp.argsort(x), 1),
    "bitwise_right_shift": lambda xp, x: xp.bitwise_right_shift(xp.argsort(x), 1),
    "bitwise_invert": lambda xp, x: xp.bitwise_invert(x > 0),
    "bitwise_count": lambda xp, x: xp.bitwise_count(xp.argsort(x)),
    "diag_indices_from": lambda xp, x: xp.diag_indices_from(x[:, :2]),
    "tril_indices_from": lambda xp, x: xp.tril_indices_from(x),
    "triu_indices_from": lambda xp, x: xp.triu_indices_from(x, 1),
    "ix_": lambda xp, x: xp.ix_(x[0] > 0, xp.argsort(x[1])),
    "unravel_index": lambda xp, x: xp.unravel_index(xp.argsort(x, axis=None), x.shape),
    "ravel_multi_index": lambda xp, x: xp.ravel_multi_index(xp.nonzero(x > 0), x.shape),
    # index helpers made from shapes alone
    "diag_indices": None,
    "indices": None,
    "mask_indices": None,
    "tril_indices": None,
    "triu_indices": None,
    # window functions of a length alone (kaiser is differentiable in its beta)
    "bartlett": None,
    "blackman": None,
    "hamming": None,
    "hanning": None,
    # constants: made from shapes and numbers, nothing to differentiate
    "arange": None,
    "empty": None,
    "empty_like": lambda xp, x: xp.empty_like(x),
    "eye": None,
    "identity": None,
    "ones": None,
    "ones_like": lambda xp, x: xp.ones_like(x),
    "tri": None,
    "zeros": None,
    "zeros_like": lambda xp, x: xp.zeros_like(x),
}

_GROUPS = {
    "chainrule.numpy.ufuncs": "Elementwise functions",
    "chainrule.numpy.reductions": "Reductions and running reductions",
    "chainrule.numpy.shapes": "Shapes: reshaping, joining, splitting, padding",
    "chainrule.numpy.indexing": "Selection, diagonals, sorting",
    "chainrule.numpy.sets": "Sets: unique values, membership",
    "chainrule.numpy.histograms": "Histograms",
    "chainrule.numpy.index_tricks": "Index helpers",
    "chainrule.numpy.writers": "Writing in place",
    "chainrule.numpy.products": "Products",
    "chainrule.numpy.statistics": "Statistics: quantiles, covariances, integrals",
    "chainrule.numpy.creation": "Creation",
    "chainrule.numpy.queries": "Questions about arrays",
}


_FFT_INTRO = (
    "`cnp.fft` (the same module as `cr.fft`, `chainrule.fft`) holds `numpy.fft`'s functions "
    "with NumPy's signatures (`n` / `s` crop or zero-pad, `axis` / `axes`, `norm` None, "
    '`"backward"`, `"ortho"` or `"forward"`, `out=`), and `np.fft.fft(t)` on a Tensor '
    "dispatches to them. Each transform is linear, so its JVP is the transform of the "
    "tangent and its VJP the adjoint transform (the opposite direction, the norm swapped); "
    "the real transforms weight the bins of the half spectrum that stand for their "
    "conjugate twins (all but the zero and, for even lengths, the Nyquist bin), so odd and "
    "even lengths both get exact gradients. They rest on four primitives, `fftn`, `ifftn`, "
    "`rfftn` and `irfftn` (`chainrule.rules_fft`). Complex gradients follow PyTorch's "
    "convention and are tested against `torch.fft`."
)


def _summary(fn: Any) -> str:
    doc = inspect.getdoc(fn) or ""
    return " ".join(doc.split("\n\n")[0].split())


def entries() -> list[dict[str, Any]]:
    """One entry per function of chainrule.numpy: name, group, the NumPy callables that
    dispatch to it, whether it is differentiable, and its docstring's summary.

    Examples
    --------
    >>> e = {d["name"]: d for d in entries()}
    >>> e["cumsum"]["numpy"], e["argsort"]["differentiable"]
    (['numpy.cumsum'], False)
    """
    from .. import numpy as cnp
    from .dispatch import HANDLED, numpy_name

    by_impl: dict[int, list[str]] = {}
    for target, impl in HANDLED.items():
        by_impl.setdefault(id(impl), []).append(numpy_name(target))
    out = []
    for name in cnp.__all__:
        fn = getattr(cnp, name)
        out.append(
            {
                "name": name,
                "group": _GROUPS.get(getattr(fn, "__module__", ""), "Other"),
                "numpy": sorted(set(by_impl.get(id(fn), []))),
                "differentiable": name not in NOT_DIFFERENTIABLE,
                "summary": _summary(fn),
            }
        )
    return out


def fft_entries() -> list[dict[str, Any]]:
    """One entry per function of ``cnp.fft`` (``chainrule.fft``, also ``cr.fft``), as
    ``entries`` gives them; names are ``fft.<name>``.

    Examples
    --------
    >>> e = {d["name"]: d for d in fft_entries()}
    >>> e["fft.rfft"]["numpy"], e["fft.fftfreq"]["differentiable"]
    (['numpy.fft.rfft'], False)
    """
    from .. import fft as cfft
    from .dispatch import handled, numpy_name

    by_impl: dict[int, list[str]] = {}
    for target, impl in handled().items():
        by_impl.setdefault(id(impl), []).append(numpy_name(target))
    out = []
    for name in cfft.__all__:
        fn = getattr(cfft, name)
        if not callable(fn):
            continue
        # fftfreq and rfftfreq are not NumPy-dispatched (they take integers): listed by name
        numpy_names = by_impl.get(id(fn)) or [f"numpy.fft.{name}"]
        out.append(
            {
                "name": f"fft.{name}",
                "group": "Fourier transforms",
                "numpy": sorted(set(numpy_names)),
                "differentiable": name not in ("fftfreq", "rfftfreq"),
                "summary": _summary(fn),
            }
        )
    return out


def markdown(
    tested: dict[str, dict[str, Any]] | None = None, primitives: Iterable[Any] = ()
) -> str:
    """The reference page. ``tested`` (function -> {"rows": n, "complex": bool}) comes from
    the test table; ``primitives`` are the registered primitives to list.

    >>> "| `cumsum` |" in markdown()
    True
    """
    lines = [
        "# NumPy functions (`chainrule.numpy`)",
        "",
        "`import chainrule.numpy as cnp` gives NumPy's functions with NumPy's signatures, "
        "values and dtypes, as Tensors that record; NumPy's own functions called on Tensors "
        "(`np.exp(t)`, `np.concatenate([t, a])`) dispatch to them. A NumPy function not "
        "listed here raises `TypeError` naming it when called on a Tensor (call it on "
        "`t.numpy()` to compute without the graph).",
        "",
        "This page is generated from the package (`chainrule.numpy.reference`), its dispatch "
        "table and the test table (`tests/ops_table.py`): *rows* counts the gradient-checked "
        "rows (reverse, forward and second order against central differences), *complex* "
        "says whether complex inputs are checked (PyTorch's convention).",
        "",
    ]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in entries() + fft_entries():
        grouped.setdefault(entry["group"], []).append(entry)
    order = list(_GROUPS.values()) + ["Other", "Fourier transforms"]
    for group in order:
        items = grouped.get(group)
        if not items:
            continue
        lines += [f"## {group}", ""]
        if group == "Fourier transforms":
            lines += [_FFT_INTRO, ""]
        lines += [
            "| function | NumPy | rows | complex | derivative |",
            "|---|---|---|---|---|",
        ]
        for e in items:
            numpy_names = ", ".join(f"`{n}`" for n in e["numpy"]) or "—"
            info = (tested or {}).get(e["name"], {})
            if e["differentiable"]:
                rows = str(info.get("rows", "")) if tested is not None else ""
                cplx = "yes" if info.get("complex") else ""
            else:
                rows, cplx = "—", ""
            summary = e["summary"].replace("|", "\\|")
            if not e["differentiable"]:
                summary = "**No gradient.** " + summary
            lines.append(f"| `{e['name']}` | {numpy_names} | {rows} | {cplx} | {summary} |")
        lines.append("")
    prims = list(primitives)
    if prims:
        lines += [
            "## The primitives behind them",
            "",
            "Functions are compositions of chainrule's primitives (views, gathers, "
            "elementwise arithmetic) where that is exact; these primitives were added for "
            "the rest (`chainrule.rules_numpy`).",
            "",
            "| primitive | kind | complex | differentiable |",
            "|---|---|---|---|",
        ]
        for p in prims:
            lines.append(
                f"| `{p.name}` | {p.kind} | {'yes' if p.complex else 'no'} | "
                f"{'yes' if p.differentiable else 'no (integer or boolean result)'} |"
            )
        lines.append("")
    return "\n".join(lines)
