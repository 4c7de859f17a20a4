"""Second-order optimization: Newton's method with the exact Hessian (``cr.hessian``, small
problems) and Hessian-free Newton-CG (conjugate gradient on ``cr.hvp`` products only).

Both come as optimizers over a list of parameters with ``step(closure)`` (the closure returns
the loss, as for ``torch.optim.LBFGS``) and as a functional ``minimize(f, x0, method=...)``.
Steps are chosen by a backtracking (Armijo) line search, so a full Newton step (length 1)
is taken whenever it decreases the loss enough: on a quadratic, Newton lands on the minimum
in exactly one step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import transforms
from ..tensor import Tensor, as_tensor, enable_grad, no_grad, substitute
from .optimizer import Optimizer, _check_hyper, not_traced

__all__ = ["Newton", "NewtonCG", "OptimizeResult", "minimize"]


# ---------------------------------------------------------------------- the problem


class _Problem:
    """A scalar function of one flat vector, with counted evaluations.

    ``fn(flat_tensor) -> one-element Tensor``. Every call that runs ``fn`` over the data
    counts as one *pass*: a value, a gradient (value included) or a Hessian-vector product.
    """

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn
        self.n_fev = 0
        self.n_grad = 0
        self.n_hvp = 0
        self.n_hess = 0

    @property
    def passes(self) -> int:
        return self.n_fev + self.n_grad + self.n_hvp

    def value(self, x: np.ndarray) -> float:
        self.n_fev += 1
        with no_grad():
            out = self.fn(as_tensor(x))
        return _scalar(out)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_grad += 1
        value, grad = transforms.value_and_grad(self.fn)(x)
        return _scalar(value), np.asarray(grad.data).reshape(-1)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        # Forward over reverse: never forms H, costs a small multiple of one gradient.
        self.n_hvp += 1
        _value, hv = transforms.hvp(self.fn, (x,), (v.astype(x.dtype),))
        return np.asarray(hv.data, dtype=np.float64).reshape(-1)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        self.n_hess += 1
        h = transforms.hessian(self.fn)(x)
        return np.asarray(h.data, dtype=np.float64).reshape(x.size, x.size)


def _scalar(out: Any) -> float:
    arr = np.asarray(out.data if isinstance(out, Tensor) else out)
    if arr.size != 1:
        raise ValueError(
            f"Newton: the function must return a one-element loss, got shape {arr.shape}"
        )
    return float(arr.reshape(()))


# ---------------------------------------------------------------------- the algorithms


def _armijo(
    problem: _Problem,
    x: np.ndarray,
    f0: float,
    g: np.ndarray,
    d: np.ndarray,
    alpha: float,
    c: float = 1e-4,
    shrink: float = 0.5,
    max_tries: int = 40,
) -> tuple[float, np.ndarray, float]:
    """Backtracking line search: the first ``alpha * shrink^k`` with
    ``f(x + alpha d) <= f(x) + c * alpha * g.d`` (sufficient decrease)."""
    slope = float(g @ d)
    for _ in range(max_tries):
        x_new = (x + alpha * d).astype(x.dtype)
        f_new = problem.value(x_new)
        if np.isfinite(f_new) and f_new <= f0 + c * alpha * slope:
            return alpha, x_new, f_new
        alpha *= shrink
    return 0.0, x, f0  # no decrease found: stay put (the caller reports it)


def _cg(
    hvp: Callable[[np.ndarray], np.ndarray],
    g: np.ndarray,
    tol: float,
    max_iter: int,
    damping: float,
) -> tuple[np.ndarray, int]:
    """Truncated conjugate gradient on ``(H + damping I) d = -g`` using only products
    ``H v`` (Nocedal & Wright, Algorithm 7.1). Stops at residual ``<= tol`` or at negative
    curvature (then returns the last descent direction found, or ``-g`` at the start)."""
    d = np.zeros_like(g)
    r = g.copy()  # residual of (H d + g) at d = 0
    p = -r
    rr = float(r @ r)
    for k in range(max_iter):
        if np.sqrt(rr) <= tol:
            return d, k
        hp = hvp(p) + damping * p
        curvature = float(p @ hp)
        if curvature <= 0:
            # Negative curvature: the quadratic model is unbounded along p.
            return (-g if k == 0 else d), k + 1
        step = rr / curvature
        d = d + step * p
        r = r + step * hp
        rr_new = float(r @ r)
        p = -r + (rr_new / rr) * p
        rr = rr_new
    return d, max_iter


def _newton_direction(h: np.ndarray, g: np.ndarray, damping: float) -> np.ndarray:
    """Solve ``(H + lambda I) d = -g`` with the smallest lambda >= damping that makes the
    matrix positive definite (Cholesky succeeds), so d is always a descent direction."""
    n = len(g)
    eye = np.eye(n)
    lam = damping
    scale = max(float(np.abs(np.diag(h)).max(initial=0.0)), 1.0)
    for _ in range(60):
        try:
            chol = np.linalg.cholesky(h + lam * eye)
        except np.linalg.LinAlgError:
            lam = max(2 * lam, 1e-10 * scale) * 5
            continue
        y = np.linalg.solve(chol, -g)
        return np.linalg.solve(chol.T, y)
    return -g  # pragma: no cover - H + lambda I is positive definite for large lambda


@dataclass
class OptimizeResult:
    """What :func:`minimize` found, and what it cost.

    Attributes
    ----------
    x:
        The minimizer found (same shape as ``x0``).
    fun:
        The loss at ``x``.
    grad_norm:
        Largest absolute gradient entry at ``x``.
    n_iter:
        Newton iterations taken.
    converged:
        Whether ``grad_norm <= tol``.
    n_fev, n_grad, n_hvp, n_hess:
        Counts of loss evaluations (line search), gradients, Hessian-vector products and
        full Hessians.
    passes:
        ``n_fev + n_grad + n_hvp``: evaluations of the function over its data (for a loss
        over a dataset, comparable with SGD's epochs).
    history:
        ``(passes so far, loss)`` after each iteration, starting with the initial point.
    message:
        Why it stopped.

    Examples
    --------
    >>> import chainrule as cr
    >>> res = cr.optim.minimize(lambda v: ((v - 2.0) ** 2).sum(), [0.0, 0.0])
    >>> res.x.round(6).tolist(), res.converged
    ([2.0, 2.0], True)
    """

    x: np.ndarray
    fun: float
    grad_norm: float
    n_iter: int
    converged: bool
    n_fev: int
    n_grad: int
    n_hvp: int
    n_hess: int
    passes: int
    history: list[tuple[int, float]] = field(default_factory=list)
    message: str = ""


def _iterate(
    problem: _Problem,
    x: np.ndarray,
    method: str,
    lr: float,
    damping: float,
    cg_max_iter: int,
    cg_tol: float | None,
    tol: float = -1.0,
) -> tuple[np.ndarray, float, float, np.ndarray, float]:
    """One Newton iteration from ``x``: returns (x_new, f_new, alpha, g at x, f at x).

    When the gradient is already below ``tol`` no curvature is computed and ``x`` is
    returned unchanged (alpha 0)."""
    f0, g = problem.value_and_grad(x)
    if not np.isfinite(f0):
        raise FloatingPointError(f"{method}: the loss is {f0} at the current point")
    g64 = g.astype(np.float64)
    if float(np.abs(g64).max()) <= tol:
        return x, f0, 0.0, g64, f0
    if method == "newton":
        d = _newton_direction(problem.hessian(x), g64, damping)
    else:
        gnorm = float(np.linalg.norm(g64))
        # Forcing term min(0.5, sqrt(|g|)) * |g|: loose far away, tight near the minimum,
        # which gives superlinear convergence (Nocedal & Wright, Theorem 7.2).
        tol = cg_tol if cg_tol is not None else min(0.5, np.sqrt(gnorm)) * gnorm
        x_dtype = x.dtype
        d, _ = _cg(lambda v: problem.hvp(x, v.astype(x_dtype)), g64, tol, cg_max_iter, damping)
    if float(g64 @ d) >= 0:  # not a descent direction (numerical trouble): use -g
        d = -g64
    alpha, x_new, f_new = _armijo(problem, x, f0, g64, d, lr)
    return x_new, f_new, alpha, g64, f0


_METHODS = ("newton", "newton-cg")


def minimize(
    f: Callable[[Tensor], Tensor],
    x0: Any,
    method: str = "newton-cg",
    *,
    tol: float = 1e-8,
    max_iter: int = 100,
    cg_max_iter: int | None = None,
    cg_tol: float | None = None,
    damping: float = 0.0,
    lr: float = 1.0,
    callback: Callable[[np.ndarray, float], Any] | None = None,
) -> OptimizeResult:
    """Minimize ``f(x)`` with Newton's method (``method="newton"``: exact Hessian from
    ``cr.hessian``, for small problems) or Hessian-free Newton-CG (``"newton-cg"``:
    conjugate gradient on ``cr.hvp`` products; memory O(size of x)).

    Each iteration solves ``H d = -g`` (exactly, or approximately by CG) and takes the
    step ``alpha d`` with the largest ``alpha`` in ``lr, lr/2, ...`` that passes the Armijo
    sufficient-decrease test.

    Parameters
    ----------
    f:
        ``f(x) -> one-element Tensor``, built from chainrule operations.
    x0:
        Starting point (array or Tensor, any shape; float64 recommended).
    method:
        ``"newton"`` or ``"newton-cg"``.
    tol:
        Stop when the largest absolute gradient entry is ``<= tol``.
    max_iter:
        Most Newton iterations.
    cg_max_iter:
        Most CG iterations (Hessian-vector products) per Newton step; default
        ``min(size of x, 200)``.
    cg_tol:
        CG residual tolerance; default the forcing term ``min(0.5, sqrt(|g|)) |g|``.
    damping:
        Levenberg-Marquardt term lambda: solve ``(H + lambda I) d = -g`` (>= 0).
    lr:
        First step length tried by the line search (1 = the full Newton step).
    callback:
        ``callback(x, loss)`` after every iteration.

    Returns
    -------
    OptimizeResult

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> A = np.array([[3.0, 1.0], [1.0, 2.0]]); b = np.array([1.0, -1.0])
    >>> f = lambda x: 0.5 * (x @ (cr.tensor(A) @ x)) - (cr.tensor(b) * x).sum()
    >>> res = cr.optim.minimize(f, np.zeros(2), method="newton")
    >>> res.n_iter, np.allclose(res.x, np.linalg.solve(A, b))
    (1, True)
    """
    if method not in _METHODS:
        raise ValueError(f"minimize: method must be one of {_METHODS}, got {method!r}")
    arr = np.array(x0.data if isinstance(x0, Tensor) else x0, copy=True)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    shape = arr.shape
    if arr.size == 0:
        raise ValueError("minimize: x0 is empty")
    tol = _check_hyper("minimize", "tol", tol)
    damping = _check_hyper("minimize", "damping", damping)
    lr = _check_hyper("minimize", "lr", lr)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ValueError(f"minimize: max_iter must be an int >= 0, got {max_iter!r}")
    cg_iters = min(arr.size, 200) if cg_max_iter is None else int(cg_max_iter)
    if cg_iters < 1:
        raise ValueError(f"minimize: cg_max_iter must be >= 1, got {cg_max_iter!r}")

    def flat_fn(flat: Tensor) -> Tensor:
        return f(flat.reshape(shape))

    problem = _Problem(flat_fn)
    x = arr.reshape(-1)
    fx = problem.value(x)
    history = [(problem.passes, fx)]
    message = f"reached max_iter={max_iter}"
    converged = False
    n_iter = 0
    gmax = np.inf
    for n_iter in range(max_iter + 1):
        if n_iter == max_iter:
            # One last gradient to report the final gradient norm honestly.
            fx, g = problem.value_and_grad(x)
            gmax = float(np.abs(g).max())
            converged = gmax <= tol
            if converged:
                message = "gradient below tol"
            break
        x_new, f_new, alpha, g, f0 = _iterate(
            problem, x, method, lr, damping, cg_iters, cg_tol, tol
        )
        gmax = float(np.abs(g).max())
        if gmax <= tol:
            fx, converged, message = f0, True, "gradient below tol"
            break
        if alpha == 0.0:
            fx, message = f0, "line search found no decrease"
            break
        x, fx = x_new, f_new
        history.append((problem.passes, fx))
        if callback is not None:
            callback(x.reshape(shape), fx)
    return OptimizeResult(
        x=x.reshape(shape),
        fun=fx,
        grad_norm=gmax,
        n_iter=n_iter,
        converged=converged,
        n_fev=problem.n_fev,
        n_grad=problem.n_grad,
        n_hvp=problem.n_hvp,
        n_hess=problem.n_hess,
        passes=problem.passes,
        history=history,
        message=message,
    )


# ---------------------------------------------------------------------- optimizer classes


def _bound(params: Sequence[Tensor], flat: Tensor) -> Any:
    """While the closure runs, each parameter stands for its slice of ``flat`` (the
    argument the transforms differentiate), through the core's ``cr.substitute``."""
    pieces, offset = [], 0
    for p in params:
        pieces.append((p, flat[offset : offset + p.size].reshape(p.shape)))
        offset += p.size
    return substitute(pieces)


class _SecondOrder(Optimizer):
    """Shared machinery: all parameters form one vector and one Newton system."""

    _method = "newton-cg"

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)
        name = type(self).__name__
        if len(self.param_groups) != 1:
            raise ValueError(
                f"{name}: all parameters form one Newton system, so per-group options are "
                f"not supported (got {len(self.param_groups)} parameter groups)"
            )
        self._params: list[Tensor] = self.param_groups[0]["params"]
        dtypes = {p.dtype for p in self._params}
        self._dtype = np.result_type(*dtypes)
        self.n_passes = 0
        self.last_step_size: float | None = None

    def _validate_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        group["lr"] = _check_hyper(name, "lr", group["lr"])
        group["damping"] = _check_hyper(name, "damping", group["damping"])

    def _flat(self, params: list[Tensor]) -> np.ndarray:
        return np.concatenate([np.asarray(p.data, dtype=self._dtype).ravel() for p in params])

    def _write(self, params: list[Tensor], flat: np.ndarray) -> None:
        offset = 0
        for p in params:
            # A fresh array (as load_state_dict does) so graphs that saved the old value
            # keep seeing it.
            p.data = flat[offset : offset + p.size].reshape(p.shape).astype(p.dtype, copy=True)
            offset += p.size

    def _check_size(self, n: int) -> None:
        pass

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One Newton iteration. ``closure()`` must compute and return the loss from the
        parameters (it is called several times: gradient, curvature, line search); it need
        not call ``backward``. Returns the loss before the step.
        """
        not_traced(self)
        name = type(self).__name__
        if closure is None:
            raise TypeError(f"{name}.step: needs a closure that returns the loss")
        # Frozen parameters (requires_grad=False) stay constants of the closure.
        params = [p for p in self._params if p.requires_grad]
        if not params:
            raise ValueError(f"{name}.step: every parameter is frozen (requires_grad=False)")

        def fn(flat: Tensor) -> Tensor:
            with _bound(params, flat), enable_grad():
                loss = closure()
            if not isinstance(loss, Tensor) or loss.size != 1:
                shape = getattr(loss, "shape", type(loss).__name__)
                raise ValueError(
                    f"{name}.step: the closure must return a one-element loss Tensor, got {shape}"
                )
            return loss

        group = self.param_groups[0]
        x = self._flat(params)
        self._check_size(x.size)
        problem = _Problem(fn)
        cg_iters = group.get("cg_max_iter") or min(x.size, 200)
        x_new, _f_new, alpha, _g, f0 = _iterate(
            problem, x, self._method, group["lr"], group["damping"], cg_iters, group.get("cg_tol")
        )
        self._write(params, x_new)
        self.n_passes += problem.passes
        self.last_step_size = alpha
        return as_tensor(np.asarray(f0, dtype=self._dtype))


class Newton(_SecondOrder):
    """Newton's method with the exact Hessian (``cr.hessian``) and an Armijo line search:
    for small problems (the n x n Hessian is formed and factorized each step).

    Each ``step(closure)`` solves ``(H + lambda I) d = -g`` (lambda >= ``damping``, raised
    until the matrix is positive definite, so ``d`` always goes downhill) and moves by
    ``alpha d``, ``alpha`` the first of ``lr, lr/2, ...`` that decreases the loss enough.
    On a convex quadratic the first step lands on the minimum.

    Parameters
    ----------
    params:
        Tensors to optimize (e.g. ``model.parameters()``), all in one group.
    lr:
        First step length tried (1: the full Newton step).
    damping:
        Smallest Levenberg-Marquardt term lambda (>= 0).
    max_params:
        Refuse problems with more parameters (the Hessian has ``n * n`` entries);
        use :class:`NewtonCG` for those.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, -1.0], requires_grad=True)
    >>> opt = cr.optim.Newton([w])
    >>> loss = opt.step(lambda: ((w - 1.0) ** 2).sum() + (w[0] - w[1]) ** 2)
    >>> w
    tensor([1., 1.], requires_grad=True)
    """

    _method = "newton"

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        damping: float = 0.0,
        max_params: int = 5000,
    ) -> None:
        super().__init__(params, {"lr": lr, "damping": damping})
        self.max_params = int(max_params)

    def _check_size(self, n: int) -> None:
        if n > self.max_params:
            raise ValueError(
                f"Newton: {n} parameters would need a {n} x {n} Hessian "
                f"({n * n * 8 / 1e6:,.0f} MB); the limit is max_params={self.max_params}. "
                f"Use cr.optim.NewtonCG, which never forms the Hessian"
            )


class NewtonCG(_SecondOrder):
    """Hessian-free Newton (truncated Newton-CG): conjugate gradient on Hessian-vector
    products from ``cr.hvp`` (forward over reverse), never forming the Hessian, so memory
    stays O(parameters); then an Armijo backtracking line search.

    Each ``step(closure)`` runs CG on ``(H + damping I) d = -g`` until the residual is
    below ``cg_tol`` (default ``min(0.5, sqrt(|g|)) |g|``, which makes convergence
    superlinear), ``cg_max_iter`` products were used, or negative curvature shows up.

    Parameters
    ----------
    params:
        Tensors to optimize, all in one group.
    lr:
        First step length tried by the line search (1: the full Newton step).
    cg_max_iter:
        Most Hessian-vector products per step (default ``min(n, 200)``).
    cg_tol:
        CG residual tolerance (default: the forcing term above).
    damping:
        Levenberg-Marquardt term added to the curvature (>= 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, -1.0], requires_grad=True)
    >>> opt = cr.optim.NewtonCG([w], cg_tol=1e-12)
    >>> loss = opt.step(lambda: ((w - 1.0) ** 2).sum() + (w[0] - w[1]) ** 2)
    >>> w
    tensor([1., 1.], requires_grad=True)
    """

    _method = "newton-cg"

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        cg_max_iter: int | None = None,
        cg_tol: float | None = None,
        damping: float = 0.0,
    ) -> None:
        if cg_max_iter is not None and (
            isinstance(cg_max_iter, bool) or not isinstance(cg_max_iter, int) or cg_max_iter < 1
        ):
            raise ValueError(f"NewtonCG: cg_max_iter must be an int >= 1, got {cg_max_iter!r}")
        if cg_tol is not None:
            cg_tol = _check_hyper("NewtonCG", "cg_tol", cg_tol)
        defaults = {"lr": lr, "damping": damping, "cg_max_iter": cg_max_iter, "cg_tol": cg_tol}
        super().__init__(params, defaults)
