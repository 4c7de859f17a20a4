"""Optimizing inputs instead of weights: adversarial examples (FGSM, PGD in L-inf and L2
balls, targeted or not) and feature visualization (gradient ascent on a class score or unit).

Backprop can optimize any node of the graph against any scalar; here the node is the input
``x`` and the scalar is a loss (attacks) or one output unit minus an L2 penalty
(visualization). Everything is batched: one forward and one backward pass per step for the
whole batch, so attacking a test set costs a few training steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .tensor import Tensor, as_tensor, no_grad
from .transforms import value_and_grad

__all__ = [
    "fgsm",
    "pgd",
    "predict",
    "perturbation_norms",
    "visualize",
    "unit_scores",
]

Model = Callable[[Tensor], Tensor]
Loss = Callable[[Tensor, Any], Tensor]
Clip = tuple[float, float] | None

_NORMS = ("inf", "2")


# ---------------------------------------------------------------------- helpers


def _norm_name(op: str, norm: Any) -> str:
    name = str(norm).lower()
    if name in ("inf", "linf", "l-inf", "l_inf", "infinity") or norm == np.inf:
        return "inf"
    if name in ("2", "l2", "2.0"):
        return "2"
    raise ValueError(f"{op}: norm must be 'inf' or 2, got {norm!r}")


def _check_eps(op: str, eps: Any) -> float:
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: eps must be a number, got {eps!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{op}: eps must be a finite number >= 0, got {eps!r}")
    return value


def _check_clip(op: str, clip: Any) -> Clip:
    if clip is None:
        return None
    try:
        lo, hi = (float(c) for c in clip)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: clip must be a (low, high) pair or None, got {clip!r}") from None
    if not lo < hi:
        raise ValueError(f"{op}: clip must satisfy low < high, got {clip!r}")
    return lo, hi


def _inputs(op: str, x: Any, clip: Clip) -> np.ndarray:
    """``x`` as a floating array (a copy is never needed: attacks build new arrays)."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if arr.dtype.kind not in "f":
        arr = arr.astype(np.float64)
    if arr.ndim < 1 or arr.shape[0] == 0:
        raise ValueError(f"{op}: x must be a batch with at least one sample, got shape {arr.shape}")
    if clip is not None and (arr.min() < clip[0] or arr.max() > clip[1]):
        raise ValueError(
            f"{op}: x has values in [{arr.min():g}, {arr.max():g}], outside clip={clip}; "
            f"the clean inputs must lie in the valid range"
        )
    return arr


def _labels(op: str, y: Any, n: int) -> np.ndarray:
    labels = np.asarray(y.data if isinstance(y, Tensor) else y)
    if labels.ndim == 0:
        labels = np.full(n, labels)  # one target class for the whole batch
    if labels.shape != (n,):
        raise ValueError(
            f"{op}: y must have shape ({n},) (one label per sample), got {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: y must hold integer class labels, got dtype {labels.dtype}")
    return labels.astype(np.int64)


@contextmanager
def _evaluating(model: Any) -> Iterator[None]:
    """Attack the model as it predicts: eval mode (no dropout) inside, old mode restored."""
    was_training = getattr(model, "training", None)
    if was_training and hasattr(model, "eval"):
        model.eval()
    try:
        yield
    finally:
        if was_training and hasattr(model, "train"):
            model.train(True)


def predict(model: Model, x: Any, batch_size: int = 4096) -> np.ndarray:
    """Predicted class (arg max of the scores) of every sample, without recording a graph.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> net = cr.nn.Linear(2, 3, seed=0)
    >>> cr.attacks.predict(net, np.zeros((4, 2), dtype="float32")).shape
    (4,)
    """
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    out = []
    with no_grad(), _evaluating(model):
        for start in range(0, len(arr), batch_size):
            scores = model(as_tensor(arr[start : start + batch_size]))
            out.append(np.argmax(np.asarray(scores.data), axis=-1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def perturbation_norms(x_adv: Any, x: Any, norm: Any = "inf") -> np.ndarray:
    """Per-sample size of ``x_adv - x`` (computed in float64): max |delta| or ||delta||_2.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> cr.attacks.perturbation_norms(np.array([[3.0, 4.0]]), np.zeros((1, 2)), norm=2)
    array([5.])
    """
    norm = _norm_name("perturbation_norms", norm)
    a = np.asarray(x_adv.data if isinstance(x_adv, Tensor) else x_adv, dtype=np.float64)
    b = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"perturbation_norms: x_adv has shape {a.shape} but x has {b.shape}")
    delta = (a - b).reshape(len(a), -1)
    if norm == "inf":
        return np.abs(delta).max(axis=1)
    return np.sqrt(np.einsum("ij,ij->i", delta, delta))


def _flat_norms(delta: np.ndarray) -> np.ndarray:
    """Per-sample L2 norms of a batch, shaped to broadcast against it."""
    flat = delta.reshape(len(delta), -1)
    norms = np.sqrt(np.einsum("ij,ij->i", flat, flat))
    return norms.reshape((len(delta),) + (1,) * (delta.ndim - 1))


def _project(x: np.ndarray, x_adv64: np.ndarray, eps: float, norm: str, clip: Clip) -> np.ndarray:
    """Project ``x_adv64`` (float64) onto the eps-ball around ``x`` and the clip box, and
    return it in ``x``'s dtype with the constraints holding *exactly* after rounding.

    Rounding to float32 can push a coordinate a few 1e-8 outside the ball (x + eps is not
    representable); those coordinates are moved one ulp back toward ``x`` until they fit.
    """
    x64 = x.astype(np.float64)
    delta = x_adv64 - x64
    if norm == "inf":
        delta = np.clip(delta, -eps, eps)
    else:
        norms = _flat_norms(delta)
        delta = delta * np.minimum(1.0, eps / np.maximum(norms, 1e-300))
    x_new = x64 + delta
    if clip is not None:
        # Clipping moves each coordinate toward x (which is inside the box), so it can
        # only shrink |delta|: the ball constraint still holds afterwards.
        x_new = np.clip(x_new, clip[0], clip[1])
    out = x_new.astype(x.dtype)
    lo = -np.inf if clip is None else clip[0]
    hi = np.inf if clip is None else clip[1]
    for _ in range(64):  # in practice one pass; each pass moves bad entries toward x
        d = out.astype(np.float64) - x64
        if norm == "inf":
            bad = (np.abs(d) > eps) | (out < lo) | (out > hi)
        else:
            bad = ((_flat_norms(d) > eps) & (d != 0)) | (out < lo) | (out > hi)
        if not bad.any():
            return out
        out = np.where(bad, np.nextafter(out, x), out)
    return np.where(bad, x, out)  # pragma: no cover - unreachable in practice


def _input_gradient(model: Model, loss: Loss, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """d loss(model(x), labels) / dx for the whole batch (one forward + one backward)."""

    def objective(inputs: Tensor) -> Tensor:
        return loss(model(inputs), labels)

    _value, grad = value_and_grad(objective)(x)
    g = np.asarray(grad.data)
    if not np.all(np.isfinite(g)):
        raise FloatingPointError("attack: the loss gradient with respect to x is not finite")
    return g.astype(np.float64)


def _default_loss(scores: Tensor, labels: Any) -> Tensor:
    from .nn.functional import cross_entropy

    # "sum": each sample's gradient is its own (not divided by the batch size).
    return cross_entropy(scores, labels, reduction="sum")


def _direction(grad: np.ndarray, norm: str) -> np.ndarray:
    """The steepest-ascent unit step for the norm: sign(g) for L-inf, g / ||g|| for L2."""
    if norm == "inf":
        return np.sign(grad)
    return grad / np.maximum(_flat_norms(grad), 1e-12)


def _prepare(
    op: str, model: Any, x: Any, y: Any, eps: Any, norm: Any, clip: Any, targeted: bool
) -> tuple[np.ndarray, np.ndarray, float, str, Clip]:
    if not callable(model):
        raise TypeError(f"{op}: model must be a Module or a callable, got {type(model).__name__}")
    eps = _check_eps(op, eps)
    norm = _norm_name(op, norm)
    clip = _check_clip(op, clip)
    arr = _inputs(op, x, clip)
    if y is None:
        if targeted:
            raise ValueError(f"{op}: a targeted attack needs y, the target class of each sample")
        # No labels: attack the model's own predictions (avoids "label leaking").
        labels = predict(model, arr)
    else:
        labels = _labels(op, y, len(arr))
    return arr, labels, eps, norm, clip


# ---------------------------------------------------------------------- attacks


def fgsm(
    model: Model,
    x: Any,
    y: Any = None,
    eps: float = 0.1,
    *,
    norm: Any = "inf",
    loss: Loss | None = None,
    targeted: bool = False,
    clip: Clip = None,
) -> Tensor:
    """Fast gradient (sign) method: one step of size ``eps`` along the loss gradient's sign.

    Untargeted: ``x_adv = x + eps * sign(d loss(model(x), y) / dx)`` (the loss goes up).
    Targeted: ``y`` holds the wanted classes and the step goes down the loss toward them.
    With ``norm=2`` the step is ``eps * g / ||g||_2`` per sample (the fast gradient method).

    Parameters
    ----------
    model:
        A ``cr.nn.Module`` or any callable mapping a batch of inputs to class scores.
        Each sample's scores must depend on that sample only (no batch statistics).
    x:
        A batch of clean inputs (array or Tensor), first axis = samples.
    y:
        True labels (untargeted) or target labels (``targeted=True``): one int per sample,
        or one int for the whole batch. None: the model's own predictions.
    eps:
        The budget: ``max |x_adv - x| <= eps`` (``norm="inf"``) or
        ``||x_adv - x||_2 <= eps`` per sample (``norm=2``), in the model's input units.
    loss:
        ``loss(scores, labels) -> one-element Tensor``; default summed cross-entropy.
    clip:
        ``(low, high)``: the valid input range; adversarial inputs are clipped to it.

    Returns
    -------
    Tensor
        The adversarial batch, same shape and dtype as ``x`` (no graph).

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> net = cr.nn.Linear(4, 3, seed=0)
    >>> x = np.full((2, 4), 0.5, dtype="float32")
    >>> x_adv = cr.attacks.fgsm(net, x, [0, 1], eps=0.1, clip=(0.0, 1.0))
    >>> float(np.abs(x_adv.numpy() - x).max()) <= 0.1
    True
    """
    arr, labels, eps, norm, clip = _prepare("fgsm", model, x, y, eps, norm, clip, targeted)
    loss = loss or _default_loss
    with _evaluating(model):
        grad = _input_gradient(model, loss, arr, labels)
    sign = -1.0 if targeted else 1.0
    x_adv = arr.astype(np.float64) + sign * eps * _direction(grad, norm)
    return as_tensor(_project(arr, x_adv, eps, norm, clip))


def pgd(
    model: Model,
    x: Any,
    y: Any = None,
    eps: float = 0.1,
    *,
    norm: Any = "inf",
    steps: int = 40,
    step_size: float | None = None,
    loss: Loss | None = None,
    targeted: bool = False,
    clip: Clip = None,
    random_start: bool = False,
    seed: Any = None,
) -> Tensor:
    """Projected gradient descent (Madry et al.): ``steps`` fast-gradient steps of size
    ``step_size``, each followed by projection onto the eps-ball around ``x`` and onto the
    valid range ``clip``.

    Maximizes ``loss(model(x_adv), y)`` subject to ``||x_adv - x|| <= eps`` (untargeted),
    or minimizes it toward the classes ``y`` (``targeted=True``): the lectures'
    arg max_r p(y = ostrich | x + r) subject to ||r|| < eps.

    Parameters
    ----------
    model, x, y, eps, norm, loss, targeted, clip:
        As in :func:`fgsm`.
    steps:
        Number of gradient steps (>= 1).
    step_size:
        Size of each step in the norm's units; default ``2.5 * eps / steps`` (so the walk
        can cross the ball and back, the usual choice).
    random_start:
        Start from a uniformly random point of the ball (seeded by ``seed``) instead of
        ``x`` itself.
    seed:
        Seed (or ``np.random.Generator``) for the random start.

    Returns
    -------
    Tensor
        The adversarial batch, same shape and dtype as ``x``.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> net = cr.nn.Linear(4, 3, seed=0)
    >>> x = np.full((2, 4), 0.5, dtype="float32")
    >>> x_adv = cr.attacks.pgd(net, x, [2, 2], eps=0.3, norm=2, targeted=True, steps=10)
    >>> bool(np.all(cr.attacks.perturbation_norms(x_adv, x, norm=2) <= 0.3))
    True
    """
    arr, labels, eps, norm, clip = _prepare("pgd", model, x, y, eps, norm, clip, targeted)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"pgd: steps must be an int >= 1, got {steps!r}")
    alpha = 2.5 * eps / steps if step_size is None else float(step_size)
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"pgd: step_size must be a finite number >= 0, got {step_size!r}")
    loss = loss or _default_loss
    sign = -1.0 if targeted else 1.0
    x_adv = arr
    if random_start and eps > 0:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if norm == "inf":
            noise = rng.uniform(-eps, eps, arr.shape)
        else:
            # Uniform in the L2 ball: a random direction, radius eps * u^(1/d).
            direction = rng.standard_normal(arr.shape)
            direction /= np.maximum(_flat_norms(direction), 1e-12)
            d = arr[0].size
            radius = eps * rng.uniform(0, 1, (len(arr),) + (1,) * (arr.ndim - 1)) ** (1 / d)
            noise = direction * radius
        x_adv = _project(arr, arr.astype(np.float64) + noise, eps, norm, clip)
    with _evaluating(model):
        for _ in range(int(steps)):
            grad = _input_gradient(model, loss, x_adv, labels)
            stepped = x_adv.astype(np.float64) + sign * alpha * _direction(grad, norm)
            x_adv = _project(arr, stepped, eps, norm, clip)
    return as_tensor(x_adv)


# ---------------------------------------------------------------------- visualization


def _unit_function(model: Any, layer: int | Callable | None) -> Callable[[Tensor], Tensor]:
    """The function whose output columns are the units: the model, one of its prefixes
    (``layer=k``: the output of module k of a Sequential), or a user's callable."""
    if layer is None:
        return model
    if callable(layer) and not isinstance(layer, (int, np.integer)):
        return layer
    if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool):
        raise TypeError(f"visualize: layer must be an int, a callable or None, got {layer!r}")
    try:
        n_modules = len(model)
    except TypeError:
        raise TypeError(
            f"visualize: layer={layer} needs a Sequential model (one that can be sliced), "
            f"got {type(model).__name__}; pass a callable returning the hidden activations"
        ) from None
    if not -n_modules <= layer < n_modules:
        raise IndexError(
            f"visualize: layer {layer} is out of range for a Sequential of {n_modules} modules"
        )
    return model[: layer % n_modules + 1]


def unit_scores(
    model: Model, x: Any, units: Any = None, layer: int | Callable | None = None
) -> np.ndarray:
    """Values of the chosen units (class scores, or hidden units of ``layer``) on a batch,
    without recording a graph: shape ``(N,)`` for one unit, ``(N, units)`` for several,
    ``(N, all units)`` for ``units=None``.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> net = cr.nn.mlp([4, 8, 3], seed=0)
    >>> cr.attacks.unit_scores(net, np.zeros((5, 4), dtype="float32"), units=2).shape
    (5,)
    """
    fn = _unit_function(model, layer)
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    with no_grad(), _evaluating(model):
        out = np.asarray(fn(as_tensor(arr)).data)
    out = out.reshape(len(arr), -1)
    return out if units is None else out[:, units]


def visualize(
    model: Model,
    units: int | Sequence[int],
    *,
    shape: Sequence[int] | int | None = None,
    layer: int | Callable | None = None,
    steps: int = 300,
    lr: float = 0.01,
    l2: float = 1.0,
    clip: Clip = None,
    x0: Any = None,
    seed: Any = 0,
    dtype: Any = None,
) -> Tensor:
    """Feature (unit) visualization: gradient ascent on the input to maximize one unit,
    ``arg max_x y_j(x) - l2 * ||x||^2`` (the lectures' ``arg max_x y_j + lambda R(x)``
    with ``R(x) = -||x||^2``), one input per requested unit, all optimized together::

        x <- clip(x + lr * d(y_j(x) - l2 * ||x||^2) / dx)

    Parameters
    ----------
    model:
        A ``cr.nn.Module`` or callable mapping a batch of inputs to scores.
    units:
        The unit (int) or units (sequence) to maximize: class indices of the model's
        output, or hidden units of ``layer``. One optimized input per unit.
    shape:
        Shape of one input (e.g. ``64`` or ``(64,)``); needed unless ``x0`` is given.
    layer:
        None: maximize the model's outputs. An int ``k`` (Sequential models): the output of
        module ``k`` (e.g. the first ReLU). A callable: ``layer(x)`` returns the
        activations whose columns are the units.
    steps, lr:
        Number of ascent steps and their learning rate.
    l2:
        The penalty weight lambda (>= 0); keeps the input small where it does not help.
    clip:
        ``(low, high)``: keep the input in the valid range after every step.
    x0:
        Starting inputs, shape ``(len(units),) + shape`` (or one input, broadcast);
        default: small seeded noise at the low end of the range. A ReLU unit that is 0
        at the start has zero gradient and stays 0: start where it is active (e.g. from
        the data's mean), or maximize the Linear layer before the ReLU.
    seed:
        Seed of the default starting noise.
    dtype:
        Input dtype; default the first parameter's dtype (float32 for ``nn.mlp``).

    Returns
    -------
    Tensor
        The optimized inputs, one row per unit.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> net = cr.nn.mlp([4, 8, 3], seed=0)
    >>> x = cr.attacks.visualize(net, [0, 2], shape=4, steps=50, clip=(0.0, 1.0))
    >>> x.shape
    (2, 4)
    """
    unit_list = [units] if isinstance(units, (int, np.integer)) else list(units)
    if not unit_list:
        raise ValueError("visualize: units is empty; name at least one unit to maximize")
    for u in unit_list:
        if isinstance(u, bool) or not isinstance(u, (int, np.integer)):
            raise TypeError(f"visualize: units must be ints, got {u!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"visualize: steps must be an int >= 0, got {steps!r}")
    lr, l2 = float(lr), float(l2)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"visualize: lr must be > 0, got {lr}")
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"visualize: l2 must be >= 0, got {l2}")
    clip = _check_clip("visualize", clip)
    fn = _unit_function(model, layer)
    if dtype is None:
        params = list(model.parameters()) if hasattr(model, "parameters") else []
        dtype = params[0].dtype if params else np.float64
    dtype = np.dtype(dtype)
    n = len(unit_list)
    if x0 is not None:
        start = np.asarray(x0.data if isinstance(x0, Tensor) else x0, dtype=np.float64)
        if shape is not None and start.shape == tuple(int(s) for s in np.atleast_1d(shape)):
            start = start[None]  # one input, used for every unit
        if start.ndim < 2 or start.shape[0] not in (1, n):
            raise ValueError(
                f"visualize: x0 must have shape ({n}, ...) or (1, ...) (one input per unit), "
                f"got {start.shape}"
            )
        x = np.broadcast_to(start, (n,) + start.shape[1:]).copy()
    else:
        if shape is None:
            raise ValueError("visualize: give shape (of one input) or x0")
        one = tuple(int(s) for s in np.atleast_1d(shape))
        rng = np.random.default_rng(seed)
        lo, hi = clip if clip is not None else (0.0, 1.0)
        x = lo + 0.01 * (hi - lo) * np.abs(rng.standard_normal((n,) + one))
    if clip is not None:
        x = np.clip(x, clip[0], clip[1])
    rows = np.arange(n)
    picked = np.asarray(unit_list, dtype=np.int64)
    with no_grad(), _evaluating(model):
        n_units = np.asarray(fn(as_tensor(x[:1].astype(dtype))).data).reshape(1, -1).shape[1]
    bad = [u for u in unit_list if not -n_units <= u < n_units]
    if bad:
        raise IndexError(
            f"visualize: unit {bad[0]} is out of range for {n_units} units (0..{n_units - 1})"
        )

    def objective(inputs: Tensor) -> Tensor:
        acts = fn(inputs).reshape(n, -1)
        # Each row maximizes its own unit; rows do not interact, so one sum serves all.
        return acts[rows, picked].sum() - l2 * (inputs * inputs).sum()

    ascent = value_and_grad(objective)
    with _evaluating(model):
        for _ in range(int(steps)):
            _value, grad = ascent(x.astype(dtype))
            x = x + lr * np.asarray(grad.data, dtype=np.float64)
            if clip is not None:
                x = np.clip(x, clip[0], clip[1])
    out = x.astype(dtype)
    if clip is not None:
        out = np.clip(out, dtype.type(clip[0]), dtype.type(clip[1]))
    return as_tensor(out)
