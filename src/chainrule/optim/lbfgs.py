"""L-BFGS with an optional strong-Wolfe line search, following ``torch.optim.LBFGS`` step
for step (the same two-loop recursion, step-length rules, stopping tests and state).

All parameters form one flat vector; ``step(closure)`` runs up to ``max_iter`` iterations,
calling the closure (which recomputes the loss and its gradients) as often as it needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor, enable_grad
from .optimizer import Optimizer, _check_hyper, _check_int, _writable_data, not_traced

__all__ = ["LBFGS"]


def _cubic_minimizer(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """The minimizer of the cubic through two points with values f and slopes g, kept
    inside ``bounds`` (default: between the points); their midpoint when the cubic has no
    real minimizer."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    # Written from the point farther along the line, so the ratio stays well conditioned.
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
    return min(max(t, lo), hi)


def _strong_wolfe(
    evaluate: Callable[[float], tuple[float, np.ndarray]],
    t: float,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """A step length along ``d`` satisfying the strong Wolfe conditions (Nocedal & Wright,
    algorithms 3.5 and 3.6, with cubic interpolation), as ``torch.optim.LBFGS`` searches.

    ``evaluate(t)`` returns the loss and the flat gradient at ``x + t d``. Returns
    ``(loss, grad, t, evaluations)``.
    """
    d_norm = float(np.max(np.abs(d)))
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = float(g_new @ d)

    # Phase 1: grow the step until an interval is known to contain an acceptable one.
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # Extrapolate: at least 1% beyond the current step, at most ten times it.
        t_next = _cubic_minimizer(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10)
        )
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter >= max_ls:  # out of evaluations while still growing the step
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # Phase 2 (zoom): shrink the interval until a point in it satisfies both conditions.
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimizer(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # A trial too close to an end of the interval makes little progress: after one
        # such trial (or one on the boundary), move it a tenth of the interval inside.
        top, bottom = max(bracket), min(bracket)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:
            if insufficient or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            # Not enough decrease: the trial becomes the high end.
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                # The slope says the minimum lies behind the trial: the old low end
                # becomes the high end.
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """Limited-memory BFGS (``torch.optim.LBFGS``): quasi-Newton steps from the last
    ``history_size`` steps and gradient changes, with a fixed step ``lr`` or a strong-Wolfe
    line search.

    ``step(closure)`` needs a closure that clears the gradients, computes the loss, calls
    ``backward()`` and returns the loss; it runs up to ``max_iter`` iterations and returns
    the loss from before them. Parameters without a gradient count as a zero gradient,
    frozen ones (``requires_grad=False``) are left out and never changed.

    Parameters
    ----------
    params:
        Tensors to optimize, in one group (per-group options are not supported, as in
        PyTorch).
    lr:
        Step length (the first iteration of a fresh optimizer takes
        ``min(1, 1 / ||g||_1) * lr``); with the line search, its first trial step.
    max_iter:
        Iterations per ``step``.
    max_eval:
        Closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
    tolerance_grad:
        Stop when the largest gradient entry is at most this.
    tolerance_change:
        Stop when the loss or the parameters change by less than this.
    history_size:
        Number of (step, gradient change) pairs kept.
    line_search_fn:
        None (fixed steps) or ``"strong_wolfe"``.

    Notes
    -----
    The state (PyTorch's keys, held for the first parameter): ``func_evals``, ``n_iter``,
    ``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``,
    ``prev_loss``, ``al``.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([-1.5, 2.0], dtype="float64", requires_grad=True)
    >>> opt = cr.optim.LBFGS([w], max_iter=100, line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2   # Rosenbrock
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)   # stops once the loss changes by less than 1e-9
    >>> [round(v, 4) for v in w.numpy().tolist()], opt.state[w]["n_iter"]
    ([1.0, 1.0], 41)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        max_iter = _check_int("LBFGS", "max_iter", max_iter, low=1)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError(
                "LBFGS: all parameters form one vector, so per-group options are not "
                "supported (got a second parameter group)"
            )
        super().add_param_group(group)

    def _validate_group(self, group: dict[str, Any]) -> None:
        group["lr"] = _check_hyper("LBFGS", "lr", group["lr"])
        group["max_iter"] = _check_int("LBFGS", "max_iter", group["max_iter"], low=1)
        group["max_eval"] = _check_int("LBFGS", "max_eval", group["max_eval"], low=1)
        group["history_size"] = _check_int("LBFGS", "history_size", group["history_size"], 1)
        for key in ("tolerance_grad", "tolerance_change"):
            group[key] = _check_hyper("LBFGS", key, group[key])
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: invalid line_search_fn {group['line_search_fn']!r}: must be None "
                f"or 'strong_wolfe'"
            )

    # ------------------------------------------------------------------ flat views
    def _active(self) -> list[Tensor]:
        return [p for p in self._params if p.requires_grad]

    def _flat_grad(self, params: list[Tensor], dtype: Any) -> np.ndarray:
        parts = [
            np.zeros(p.size, dtype) if p._grad is None else np.asarray(p._grad.data).ravel()
            for p in params
        ]
        return np.concatenate(parts).astype(dtype, copy=False)

    def _add(self, params: list[Tensor], t: float, d: np.ndarray) -> None:
        offset = 0
        for p in params:
            data = _writable_data(p)
            data += (t * d[offset : offset + p.size]).reshape(p.shape)
            offset += p.size

    # ------------------------------------------------------------------ the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the closure's first loss."""
        not_traced(self)
        if closure is None:
            raise TypeError(
                "LBFGS.step: needs a closure that clears the gradients, computes the loss, "
                "calls backward() and returns the loss"
            )
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        params = self._active()
        if not params:
            raise ValueError("LBFGS.step: every parameter is frozen (requires_grad=False)")
        dtype = np.result_type(*[p.dtype for p in params])

        def evaluate() -> tuple[Any, float]:
            with enable_grad():
                loss = closure()
            arr = np.asarray(loss.data if isinstance(loss, Tensor) else loss)
            if arr.size != 1:
                raise ValueError(
                    f"LBFGS.step: the closure must return a one-element loss, got shape {arr.shape}"
                )
            return loss, float(arr.reshape(()))

        # The state of the whole run lives with the first parameter, as in PyTorch.
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss = evaluate()
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad(params, dtype)
        if np.max(np.abs(flat_grad)) <= tolerance_grad:
            return orig_loss

        d = state.get("d")
        if d is not None and d.shape != flat_grad.shape:
            raise ValueError(
                f"LBFGS.step: the trainable parameters now form a vector of {flat_grad.size} "
                f"entries, but the saved history is over {d.size} (a parameter was frozen or "
                f"unfrozen since the last step); make a new optimizer"
            )
        t = state.get("t")
        old_dirs = state.get("old_dirs")
        old_stps = state.get("old_stps")
        ro = state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # The direction: steepest descent first, then the two-loop recursion
            # d = -H g with H built from the stored (s, y) pairs.
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep only pairs with positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                al = state.setdefault("al", [None] * history_size)
                if len(al) < history_size:
                    al.extend([None] * (history_size - len(al)))
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = float(old_dirs[i] @ d) * ro[i]
                    d = d + (al[i] - be_i) * old_stps[i]

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # The step length: scaled down on the very first iteration (the gradient's
            # size says nothing about the curvature yet), lr afterwards.
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:  # not a descent direction any more
                break

            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = [np.array(p.data, copy=True) for p in params]

                def along(
                    step: float, x0: list[np.ndarray] = x0, d: np.ndarray = d
                ) -> tuple[float, np.ndarray]:
                    self._add(params, step, d)
                    value = evaluate()[1]
                    grad = self._flat_grad(params, dtype)
                    for p, x in zip(params, x0):
                        _writable_data(p)[...] = x
                    return value, grad

                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    along, t, d, loss, flat_grad, gtd, max_ls=max_eval - evals
                )
                self._add(params, t, d)
                opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
            else:
                self._add(params, t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # Re-evaluated except after the last iteration (the next step()
                    # evaluates it anyway).
                    loss = evaluate()[1]
                    flat_grad = self._flat_grad(params, dtype)
                    opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if np.max(np.abs(d * t)) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss

    def _restore_state_value(self, p: Tensor, i: int, key: str, value: Any) -> Any:
        # The state is flat vectors over all trainable parameters (and lists of them),
        # not arrays shaped like the first parameter.
        n = sum(q.size for q in self._active())

        def vector(v: Any, where: str) -> np.ndarray:
            arr = np.asarray(v.data if isinstance(v, Tensor) else v)
            if arr.shape != (n,):
                raise ValueError(
                    f"LBFGS.load_state_dict: state '{where}' has shape {arr.shape}, but the "
                    f"parameters form a vector of shape ({n},)"
                )
            return np.array(arr, copy=True)

        if key in ("d", "prev_flat_grad") and value is not None:
            return vector(value, key)
        if key in ("old_dirs", "old_stps") and value is not None:
            return [vector(v, f"{key}[{j}]") for j, v in enumerate(value)]
        if key in ("ro", "al") and value is not None:
            return [None if v is None else float(np.asarray(v)) for v in value]
        if key in ("func_evals", "n_iter"):
            return int(np.asarray(value))
        if key in ("t", "H_diag", "prev_loss") and value is not None:
            return float(np.asarray(value))
        return value
