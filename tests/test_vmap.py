"""cr.vmap: JAX's semantics (in_axes, out_axes, axis_size, pytrees), composition with every
transform and with the object API, the per-example loop fallback and its warning, the
errors, the cache, and the guards that keep a traced program from being silently wrong."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import batching
from chainrule.batching import BatchingError, BatchingWarning
from chainrule.nn import functional as F
from chainrule.primitives import BATCH, REGISTRY, Primitive, defjvp, deflower, defvjp

rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def fresh_warnings():
    batching._WARNED.clear()
    yield


def loop(f, *args, in_axes=0):
    """The reference: a Python loop over the examples, stacked along axis 0."""
    axes = in_axes if isinstance(in_axes, (tuple, list)) else [in_axes] * len(args)
    size = next(np.shape(a)[ax] for a, ax in zip(args, axes) if ax is not None)
    outs = []
    for b in range(size):
        ex = [a if ax is None else np.take(np.asarray(a), b, axis=ax) for a, ax in zip(args, axes)]
        outs.append(f(*[cr.tensor(e) if isinstance(e, np.ndarray) else e for e in ex]))
    return outs


def close(a, b, **kw):
    a = a.numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, cr.Tensor) else np.asarray(b)
    np.testing.assert_allclose(a, b, **({"rtol": 1e-10, "atol": 1e-12} | kw))


# --------------------------------------------------------------------------- semantics


def test_in_axes_int_none_negative_and_tuple():
    X = rng.standard_normal((4, 3))
    W = rng.standard_normal((3, 2))

    def f(x, w):
        return cr.tanh(x @ w)

    close(cr.vmap(f, in_axes=(0, None))(X, W), np.stack(loop(f, X, W, in_axes=(0, None))))
    XT = X.T.copy()
    close(cr.vmap(f, in_axes=(1, None))(XT, W), np.stack(loop(f, X, W, in_axes=(0, None))))
    close(cr.vmap(f, in_axes=[-1, None])(XT, W), np.stack(loop(f, X, W, in_axes=(0, None))))
    # the weights mapped too: one weight matrix per example
    Ws = rng.standard_normal((4, 3, 2))
    close(cr.vmap(f)(X, Ws), np.stack([f(cr.tensor(x), cr.tensor(w)) for x, w in zip(X, Ws)]))


def test_out_axes_moves_the_batch_axis_and_none_keeps_an_unbatched_output():
    X = rng.standard_normal((5, 2, 3))

    def f(x):
        return x * 2.0, (x * 0 + 1.0).sum() * 0 + 7.0  # the second does not depend on x

    a, b = cr.vmap(f, out_axes=(1, 0))(X)
    assert a.shape == (2, 5, 3) and b.shape == (5,)
    close(a, np.moveaxis(X * 2.0, 0, 1))
    a, b = cr.vmap(f, out_axes=(-1, None))(cr.tensor(X)) if False else (None, None)
    g = cr.vmap(lambda x: (x * 2.0, cr.tensor(7.0)), out_axes=(-1, None))
    a, b = g(X)
    assert a.shape == (2, 3, 5) and b.shape == () and b.item() == 7.0


def test_pytree_arguments_and_outputs_with_dict_in_axes():
    params = {"w": rng.standard_normal(3), "b": np.float64(0.5)}
    batch = {"x": rng.standard_normal((6, 3)), "scale": rng.standard_normal(6)}

    def f(p, d):
        y = (p["w"] * d["x"]).sum() + p["b"]
        return {"y": y * d["scale"], "pair": [y, d["x"] * 2.0]}

    out = cr.vmap(f, in_axes=(None, {"x": 0, "scale": 0}))(params, batch)
    assert set(out) == {"y", "pair"} and isinstance(out["pair"], list)
    for b in range(6):
        ref = f(
            {k: cr.tensor(v) for k, v in params.items()},
            {"x": cr.tensor(batch["x"][b]), "scale": cr.tensor(batch["scale"][b])},
        )
        close(out["y"][b], ref["y"])
        close(out["pair"][0][b], ref["pair"][0])
        close(out["pair"][1][b], ref["pair"][1])
    # a dict in_axes at the top level describes the one positional argument
    out = cr.vmap(lambda d: d["x"].sum() * d["scale"], in_axes={"x": 0, "scale": 0})(batch)
    close(out, batch["x"].sum(axis=1) * batch["scale"])


def test_keyword_arguments_are_mapped_over_axis_0_and_python_numbers_are_static():
    X = rng.standard_normal((4, 3))

    def f(x, power, *, shift):
        return (x + shift) ** power

    shifts = rng.standard_normal((4, 3))
    out = cr.vmap(f, in_axes=(0, None))(X, 2, shift=shifts)
    close(out, (X + shifts) ** 2)
    close(cr.vmap(f, in_axes=(0, None))(X, 3, shift=shifts), (X + shifts) ** 3)  # retraced


def test_axis_size_when_nothing_is_mapped():
    out = cr.vmap(lambda x: x * 2.0, in_axes=None, axis_size=3)(np.array([1.0, 2.0]))
    close(out, [[2.0, 4.0]] * 3)


def test_float32_stays_float32_and_python_scalars_stay_weak():
    X = rng.standard_normal((4, 3)).astype(np.float32)
    out = cr.vmap(lambda x: x * 2.0 + 1)(X)
    assert out.dtype == np.float32


def test_complex_values():
    Z = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))

    def f(z):
        return (z * cr.conj(z)).sum() + cr.exp(z)[0]

    close(cr.vmap(f)(Z), np.stack(loop(f, Z)))


def test_indexing_with_batched_index_arrays_and_a_shared_table():
    table = rng.standard_normal((10, 4))
    idx = rng.integers(0, 10, (5, 3))

    def embed(i, t):
        return t[i].sum(axis=0)

    close(cr.vmap(embed, in_axes=(0, None))(idx, table), table[idx].sum(axis=1))
    # both batched: a gather from each example's own table, through a computed index
    tables = rng.standard_normal((5, 10, 4))

    def pick(t, i):
        return t[i, 1:3] * t[0, :2]

    close(cr.vmap(pick)(tables, idx), np.stack([t[i, 1:3] * t[0, :2] for t, i in zip(tables, idx)]))
    # an index computed from the example itself (argmax): an input of the program
    X = rng.standard_normal((6, 5))
    close(cr.vmap(lambda x: x[x.argmax()])(X), X.max(axis=1))


def test_advanced_indices_separated_by_a_slice_keep_numpy_layout():
    X = rng.standard_normal((4, 3, 5, 6))
    i, j = np.array([0, 2]), np.array([1, 4])
    cases = [
        lambda x: x[i, :, j],  # apart: their dimension first
        lambda x: x[:, i, j],  # adjacent, after a slice
        lambda x: x[i, j],  # adjacent, first
        lambda x: x[:, i, ..., 2],  # an int with an array, apart by ...
        lambda x: x[None, i, :, 1:],
    ]
    for f in cases:
        close(cr.vmap(f)(X), np.stack([f(cr.tensor(x)).numpy() for x in X]))
        # and the gradient (index_add) of each
        g = cr.vmap(cr.grad(lambda x, f=f: (f(x) ** 2).sum()))(X)
        close(g, np.stack([cr.grad(lambda x, f=f: (f(x) ** 2).sum())(x).numpy() for x in X]))


def test_setitem_in_the_function_is_batched():
    X = rng.standard_normal((4, 3))
    V = rng.standard_normal(4)

    def f(x, v):
        y = x * 1.0
        y[1] = v * 2
        return y

    close(cr.vmap(f)(X, V), np.stack(loop(f, X, V)))


# --------------------------------------------------------------------------- composition


def test_vmap_of_grad_is_per_example_gradients():
    w = rng.standard_normal(3)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)

    def loss(w, x, t):
        return (cr.tanh(x @ w) - t) ** 2

    got = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(w, X, y)
    close(got, np.stack(loop(cr.grad(loss), w, X, y, in_axes=(None, 0, 0))))


def test_grad_of_vmap_of_a_scalar_reduction():
    w = rng.standard_normal(3)
    X = rng.standard_normal((8, 3))

    def per_example(w, x):
        return cr.sigmoid(x @ w)

    def total(w):
        return cr.vmap(per_example, in_axes=(None, 0))(w, X).sum()

    close(cr.grad(total)(w), cr.grad(lambda w: cr.sigmoid(cr.tensor(X) @ w).sum())(w))
    # second order through the batched program
    H = cr.hessian(total)(w)
    close(H, cr.hessian(lambda w: cr.sigmoid(cr.tensor(X) @ w).sum())(w))


def test_vmap_of_jvp_and_of_vjp():
    X, T = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))

    def f(x):
        return cr.sin(x) * x.sum()

    got = cr.vmap(lambda x, t: cr.jvp(f, (x,), (t,))[1])(X, T)
    close(got, np.stack([cr.jvp(f, (cr.tensor(x),), (cr.tensor(t),))[1] for x, t in zip(X, T)]))
    got = cr.vmap(lambda x, ct: cr.vjp(f, x)[1](ct)[0])(X, T)
    close(got, np.stack([cr.vjp(f, cr.tensor(x))[1](cr.tensor(t))[0] for x, t in zip(X, T)]))
    # a vjp_fn from an eager forward pass, mapped over cotangents: the rows of a Jacobian
    x0 = cr.tensor(X[0])
    _, vjp_fn = cr.vjp(f, x0)
    rows = cr.vmap(lambda ct: vjp_fn(ct)[0])(np.eye(3))
    close(rows, cr.jacobian(f)(x0))


def test_nested_vmap_equals_a_double_loop():
    X = rng.standard_normal((3, 4, 2))
    W = rng.standard_normal((2, 2))

    def f(x):
        return cr.tanh(x @ W).sum()

    close(cr.vmap(cr.vmap(f))(X), np.array([[f(cr.tensor(x)).item() for x in xs] for xs in X]))
    # the inner function closes over the outer example (a value computed inside the outer f)
    Y = rng.standard_normal((5, 2))

    def outer(x):
        x2 = x * 2.0
        return cr.vmap(lambda y: (x2 * y).sum())(Y)

    close(cr.vmap(outer)(X[:, 0]), (2 * X[:, 0]) @ Y.T)
    # in_axes that differ between the levels
    got = cr.vmap(cr.vmap(lambda a, b: a * b, in_axes=(0, None)), in_axes=(None, 0))(
        np.arange(3.0), np.arange(4.0)
    )
    close(got, np.outer(np.arange(4.0), np.arange(3.0)))


def test_backward_through_a_vmapped_computation_fills_parameter_grads():
    model = cr.nn.Sequential(cr.nn.Linear(3, 4, seed=0), cr.nn.Tanh(), cr.nn.Linear(4, 1, seed=1))
    X = rng.standard_normal((6, 3)).astype(np.float32)
    out = cr.vmap(model)(X)  # the model for one example, mapped
    assert out.requires_grad and out.shape == (6, 1)
    out.sum().backward()
    got = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    model(cr.tensor(X)).sum().backward()
    for g, p in zip(got, model.parameters()):
        close(g, p.grad, rtol=1e-5, atol=1e-6)
    # an optimizer step changes the weights in place: the cached program reads them anew
    with cr.no_grad():
        for p in model.parameters():
            p.data = p.data * 0.5
    close(cr.vmap(model)(X), model(cr.tensor(X)), rtol=1e-5, atol=1e-6)


def test_vmap_of_hessian_and_hessian_of_vmap():
    W = rng.standard_normal((4, 3))

    def f(x):
        return (cr.tanh(x) ** 3).sum()

    got = cr.vmap(cr.hessian(f))(W)
    close(got, np.stack([cr.hessian(f)(cr.tensor(w)) for w in W]))


def test_jit_of_vmap_and_vmap_inside_jit():
    X = rng.standard_normal((4, 3))
    W = rng.standard_normal((2, 3))
    f = cr.jit(cr.vmap(lambda x: cr.tanh(x).sum()))
    close(f(X), np.tanh(X).sum(axis=1))
    close(f(X + 1), np.tanh(X + 1).sum(axis=1))  # the cached program at new values
    # vmap called inside a jitted function, and jit inside vmap
    g = cr.jit(lambda X: cr.vmap(lambda x: cr.tanh(x).sum())(X) * 2)
    close(g(X), 2 * np.tanh(X).sum(axis=1))
    close(cr.vmap(cr.jit(lambda x: cr.tanh(x).sum()))(X), np.tanh(X).sum(axis=1))
    # jit of per-example gradients: jit traces through the batched program, so the
    # generated code is batched array code (no per-example loop, no identity matrix)
    pe = cr.jit(cr.vmap(cr.grad(lambda w, x: cr.tanh(w @ x).sum()), in_axes=(None, 0)))
    want = (1 - np.tanh(X @ W.T) ** 2)[:, :, None] * X[:, None, :]
    close(pe(W, X), want)
    src = pe.source(W, X)
    assert "for " not in src and "eye" not in src, src
    # and gradients through jit(vmap(...))
    close(cr.grad(lambda X: f(X).sum())(X), 1 - np.tanh(X) ** 2)
    close(cr.jit(cr.hessian(lambda x: cr.tanh(x).sum()))(X[0]),
          np.diag(-2 * np.tanh(X[0]) * (1 - np.tanh(X[0]) ** 2)))  # fmt: skip


# --------------------------------------------------------------------------- per-example gradients


def _mlp(dtype):
    r = np.random.default_rng(1)
    return {
        "W1": cr.tensor((r.standard_normal((16, 8)) * 0.3).astype(dtype)),
        "b1": cr.tensor((r.standard_normal(16) * 0.1).astype(dtype)),
        "W2": cr.tensor((r.standard_normal((5, 16)) * 0.3).astype(dtype)),
        "b2": cr.tensor((r.standard_normal(5) * 0.1).astype(dtype)),
    }


def _loss(p, x, t):
    h = cr.relu(cr.linear(x, p["W1"], p["b1"]))
    return F.cross_entropy(cr.linear(h, p["W2"], p["b2"])[None], t[None])


def _einsum_grads(p, X, y):
    """Hand-written per-example gradients of the one-example cross-entropy."""
    W1, b1, W2, b2 = (p[k].numpy() for k in ("W1", "b1", "W2", "b2"))
    h = np.maximum(X @ W1.T + b1, 0)
    z = h @ W2.T + b2
    g = np.exp(z - z.max(axis=1, keepdims=True))
    g /= g.sum(axis=1, keepdims=True)
    g[np.arange(len(y)), y] -= 1
    dh = (g @ W2) * (h > 0)
    return {
        "W1": np.einsum("bi,bj->bij", dh, X),
        "b1": dh,
        "W2": np.einsum("bi,bj->bij", g, h),
        "b2": g,
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_example_gradients_of_an_mlp_equal_the_hand_written_einsum(dtype):
    p = _mlp(dtype)
    X = rng.standard_normal((12, 8)).astype(dtype)
    y = rng.integers(0, 5, 12)
    grads = cr.vmap(cr.grad(_loss), in_axes=(None, 0, 0))(p, X, y)
    want = _einsum_grads(p, X, y)
    tol = {"rtol": 1e-4, "atol": 1e-6} if dtype == np.float32 else {}
    for k in want:
        assert grads[k].dtype == dtype and grads[k].shape == (12, *p[k].shape)
        close(grads[k], want[k], **tol)
    # their mean is the gradient of the mean loss
    mean = cr.grad(lambda p: F.cross_entropy(_logits(p, X), y))(p)
    for k in want:
        close(grads[k].numpy().mean(axis=0), mean[k], **tol)


def _logits(p, X):
    return cr.linear(cr.relu(cr.linear(cr.tensor(X), p["W1"], p["b1"])), p["W2"], p["b2"])


def test_nll_loss_with_labels_read_through_data_is_batched_per_example():
    # nll_loss reads the labels' array (targets.data) and indexes with it: vmap follows
    # the array back to the traced labels instead of freezing the first example's
    p = _mlp(np.float64)
    X, y = rng.standard_normal((7, 8)), rng.integers(0, 5, 7)

    def loss(p, x, t):
        h = cr.relu(cr.linear(x, p["W1"], p["b1"]))
        logits = cr.linear(h, p["W2"], p["b2"])[None]
        return F.nll_loss(cr.log_softmax(logits, axis=1), t[None])

    got = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(p, X, y)
    for b in range(7):
        ref = cr.grad(loss)(p, cr.tensor(X[b]), cr.tensor(y[b]))
        for k in ref:
            close(got[k][b], ref[k])


# --------------------------------------------------------------------------- the cache


def test_the_program_is_cached_per_signature():
    calls = []

    def f(x):
        calls.append(1)
        return x * 2.0

    g = cr.vmap(f)
    g(np.ones((3, 2)))
    n = len(calls)
    g(np.zeros((3, 2)))
    assert len(calls) == n and g._cache_info()["hits"] == 1
    g(np.ones((4, 2)))  # a new batch size: traced again
    assert g._cache_info()["misses"] == 2


def test_tensors_read_from_a_closure_are_read_at_every_call():
    w = cr.tensor([1.0, 2.0])
    g = cr.vmap(lambda x: x * w)
    close(g(np.ones((2, 2))), [[1.0, 2.0], [1.0, 2.0]])
    w.data = np.array([3.0, 4.0])
    close(g(np.ones((2, 2))), [[3.0, 4.0], [3.0, 4.0]])


def test_detach_inside_the_function_is_still_computed_per_example():
    X = rng.standard_normal((4, 3))

    def f(x):
        return x * x.detach().sum()

    close(cr.vmap(f)(X), X * X.sum(axis=1, keepdims=True))
    # and no gradient flows through the detached factor
    g = cr.vmap(cr.grad(lambda x: f(x).sum()))(X)
    close(g, np.broadcast_to(X.sum(axis=1, keepdims=True), X.shape))


# --------------------------------------------------------------------------- the fallback


class Cube(cr.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


def test_a_custom_function_runs_once_per_example_with_a_one_time_warning():
    X = rng.standard_normal((4, 3))
    f = cr.vmap(lambda x: Cube.apply(x).sum())
    with pytest.warns(BatchingWarning, match="'Cube'"):
        out = f(X)
    close(out, (X**3).sum(axis=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.vmap(lambda x: Cube.apply(x) * 2.0)(X)  # warned once already: silent
    # its gradient, per example, goes through the Function's backward
    g = cr.vmap(cr.grad(lambda x: Cube.apply(x).sum()))(X)
    close(g, 3 * X**2)
    # and grad of the vmapped function too
    close(cr.grad(lambda X: cr.vmap(lambda x: Cube.apply(x).sum())(X).sum())(X), 3 * X**2)


def test_every_built_in_primitive_has_a_batching_rule():
    assert batching.fallbacks() == []
    for name, prim in REGISTRY.items():
        assert prim.batch is not None and BATCH[name] is prim.batch, name


def _temporary(prim):
    REGISTRY.pop(prim.name, None)
    BATCH.pop(prim.name, None)


def test_rules_are_derived_by_kind_for_new_primitives():
    # A new primitive declares only its kind and names its parameters as the table does:
    # vmap derives its rule (here a cumulative sum along an axis, a "shape" kind).
    cumsum = Primitive(
        "test_cumsum", lambda x, axis: np.cumsum(x, axis=axis), kind="shape", differentiable=False
    )
    deflower(cumsum, "np.cumsum({0}, axis={axis!r})")
    prod = Primitive(
        "test_prod",
        lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
        kind="reduction",
        differentiable=False,
    )
    try:
        X = rng.standard_normal((4, 3, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("error", BatchingWarning)
            for axis in (0, 1, -1):
                got = cr.vmap(lambda x, a=axis: cumsum(x, axis=a))(X)
                close(got, np.cumsum(X, axis=axis + 1 if axis >= 0 else axis))
            for axis in (None, 0, (0, 1)):
                got = cr.vmap(lambda x, a=axis: prod(x, axis=a, keepdims=False))(X)
                close(got, np.stack([np.prod(x, axis=axis) for x in X]))
    finally:
        _temporary(cumsum)
        _temporary(prod)


def test_a_parameter_vmap_does_not_know_falls_back_with_its_name():
    tile = Primitive(
        "test_tile", lambda x, reps: np.tile(x, reps), kind="shape", differentiable=False
    )
    try:
        X = rng.standard_normal((4, 3))
        with pytest.warns(BatchingWarning, match="test_tile.*'reps'"):
            got = cr.vmap(lambda x: tile(x, reps=(2,)))(X)
        close(got, np.stack([np.tile(x, (2,)) for x in X]))
    finally:
        _temporary(tile)


def test_a_wrong_rule_is_caught_by_the_check_and_the_loop_answers():
    flip = Primitive("test_flip", lambda x, axis: np.flip(x, axis=axis), kind="shape")
    defvjp(flip, lambda g, ans, x, axis: flip(g, axis=axis))
    defjvp(flip, lambda t, ans, x, axis: flip(t, axis=axis))
    # a broken rule: it forgets to move the axis past the batch axis
    batching.defbatch(flip, lambda ctx, args, batched, axis: flip(args[0], axis=axis))
    try:
        X = rng.standard_normal((4, 3))
        with pytest.warns(BatchingWarning, match="test_flip.*disagreed"):
            got = cr.vmap(lambda x: flip(x, axis=0))(X)
        close(got, X[:, ::-1])
    finally:
        _temporary(flip)


# --------------------------------------------------------------------------- errors


def test_batch_sizes_that_disagree_name_the_arguments_and_the_sizes():
    with pytest.raises(
        ValueError,
        match=r"argument 0 has size 3 along axis 0, argument 1 has "
        r"size 4 along axis 1",
    ):
        cr.vmap(lambda a, b: a * b.sum(), in_axes=(0, 1))(np.ones((3, 2)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"axis_size is 5, but argument 0 has size 3"):
        cr.vmap(lambda a: a, axis_size=5)(np.ones(3))


def test_in_axes_that_do_not_match_the_arguments():
    f = cr.vmap(lambda a, b: a, in_axes=(0, None, 0))
    with pytest.raises(
        ValueError,
        match=r"in_axes has 3 entries, but the function was called "
        r"with 2 positional",
    ):
        f(np.ones(2), np.ones(2))
    g = cr.vmap(lambda d: d["x"], in_axes=({"x": 0, "y": 0},))
    with pytest.raises(ValueError, match=r"argument 0 is a dict with keys \['x'\]"):
        g({"x": np.ones(2)})
    h = cr.vmap(lambda t: t[0], in_axes=((0, 0),))
    with pytest.raises(
        ValueError,
        match=r"in_axes for argument 0 is a tuple of 2 entries, but "
        r"argument 0 is a list of 3",
    ):
        h([np.ones(2)] * 3)
    with pytest.raises(TypeError, match=r"in_axes\[0\] must be an int, None"):
        cr.vmap(lambda a: a, in_axes=("x",))


def test_axes_out_of_range_and_unmappable_arguments():
    with pytest.raises(
        ValueError,
        match=r"in_axes 2 is out of range for argument 0 of shape "
        r"\(3, 4\) \(2 axes: use -2 to 1\)",
    ):
        cr.vmap(lambda a: a, in_axes=2)(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"argument 1, a float, over axis 0"):
        cr.vmap(lambda a, s: a * s)(np.ones(3), 2.0)
    with pytest.raises(ValueError, match=r"0-d value has no axis"):
        cr.vmap(lambda a: a)(np.float64(2.0))
    with pytest.raises(ValueError, match=r"no argument is mapped"):
        cr.vmap(lambda a: a, in_axes=None)(np.ones(3))
    with pytest.raises(ValueError, match=r"out_axes 3 is out of range for output"):
        cr.vmap(lambda a: a, out_axes=3)(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"out_axes is None for output.*depends on the mapped"):
        cr.vmap(lambda a: a * 2, out_axes=None)(np.ones((2, 2)))
    with pytest.raises(ValueError, match="axis_size must be a positive int"):
        cr.vmap(lambda a: a, axis_size=0)
    with pytest.raises(ValueError, match="mapped axis is empty"):
        cr.vmap(lambda a: a)(np.ones((0, 2)))


def test_python_control_flow_on_a_traced_value_raises_naming_the_line():
    def f(x):
        if x.sum() > 0:  # one branch for the whole batch would be wrong
            return x
        return -x

    with pytest.raises(cr.ConcretizationError, match=r"test_vmap.py:\d+: cr.vmap"):
        cr.vmap(f)(np.ones((2, 3)))
    # cr.where is the batched choice
    X = rng.standard_normal((5, 3))
    g = cr.vmap(lambda x: cr.where(x.sum() > 0, x, -x))(X)
    close(g, np.where(X.sum(axis=1, keepdims=True) > 0, X, -X))


def test_values_taken_outside_the_graph_are_refused_not_frozen():
    X = rng.standard_normal((4, 3))
    X[0] = np.abs(X[0])
    X[-1] = -np.abs(X[-1])
    with pytest.raises(BatchingError, match=r"\.data"):
        cr.vmap(lambda x: cr.where(x.data > 0, x, 0.0))(X)  # a mask from the array
    with pytest.raises(BatchingError, match="random numbers"):
        cr.vmap(lambda x: x * cr.randn(3))(X)
    with pytest.raises(BatchingError, match="boolean mask"):
        cr.vmap(lambda x: x[x > 0].sum())(X)


def test_functions_must_return_tensors():
    with pytest.raises(TypeError, match="output 0 is a str"):
        cr.vmap(lambda x: "no")(np.ones(2))


# --------------------------------------------------------------------------- network layers


def _layer_case(name):
    if name == "cnn":
        conv = cr.nn.Conv2d(1, 3, 3, padding=1, stride=2, seed=0)

        def f(x):  # one 6x6 image -> its pooled feature sum per channel
            return F.max_pool2d(cr.relu(conv(x[None, None])), 2).sum(axis=(0, 2, 3))

        return f, rng.standard_normal((4, 6, 6)), list(conv.parameters())
    kind = {"lstm": cr.nn.LSTM, "gru": cr.nn.GRU, "rnn": cr.nn.RNN}[name]
    layer = kind(3, 2, seed=0)

    def f(x):  # one sequence (T, features) -> its last output
        out = layer(x[:, None])[0]
        return out[-1, 0]

    return f, rng.standard_normal((4, 5, 3)), list(layer.parameters())


@pytest.mark.parametrize("name", ["cnn", "lstm", "gru", "rnn"])
def test_layers_with_shared_weights_batch_and_backward_fills_their_grads(name):
    # Convolution, pooling and the fused recurrences with the layer's weights shared: the
    # batch folds into the primitives' sample axis (one scan for every sequence), no loop.
    f, X, params = _layer_case(name)
    X = X.astype(np.float32)  # the layers' weights are float32
    tol = {"rtol": 2e-5, "atol": 1e-6}
    with warnings.catch_warnings():
        warnings.simplefilter("error", BatchingWarning)
        got = cr.vmap(f)(X)
        close(got, np.stack([f(cr.tensor(x)).numpy() for x in X]), **tol)
        # per-example input gradients
        g = cr.vmap(cr.grad(lambda x: f(x).sum()))(X)
        want = [cr.grad(lambda x: f(x).sum())(cr.tensor(x)).numpy() for x in X]
        close(g, np.stack(want), **tol)
        # the object API: backward through the vmapped layer fills the weights' .grad
        for p in params:
            p.grad = None
        (cr.vmap(f)(cr.tensor(X)) ** 2).sum().backward()
    got_grads = [p.grad.numpy().copy() for p in params]
    for p in params:
        p.grad = None
    sum((f(cr.tensor(x)) ** 2).sum() for x in X).backward()
    for a, p in zip(got_grads, params):
        close(a, p.grad, **tol)


# --------------------------------------------------------------------------- compiled reruns


def test_later_calls_run_the_compiled_program_on_new_values_without_touching_arguments():
    # The second call of a signature compiles the batched program (cr.jit's generated
    # NumPy, which computes in place into buffers that die): values must match the
    # interpreter's and the loop's, and no argument or closed-over tensor may change.
    W = cr.tensor(rng.standard_normal((3, 4)))
    W0 = W.numpy().copy()

    def f(x, s):
        h = cr.tanh(W @ x) * 2.0
        return (h * h + s).sum() - cr.exp(x).mean(), h.astype(np.float64)

    mapped = cr.vmap(f, in_axes=(0, None))
    for _ in range(4):
        X = rng.standard_normal((5, 4))
        s = rng.standard_normal(3)
        X0, s0 = X.copy(), s.copy()
        got = mapped(X, s)
        want = loop(lambda x, s_: f(x, s_), X, s, in_axes=(0, None))
        close(got[0], np.stack([w[0].numpy() for w in want]))
        close(got[1], np.stack([w[1].numpy() for w in want]))
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(s, s0)
        np.testing.assert_array_equal(W.numpy(), W0)


def test_a_program_with_a_per_example_loop_reruns_too():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BatchingWarning)
        mapped = cr.vmap(lambda x: Cube.apply(x * 2.0).sum())
        for _ in range(3):
            X = rng.standard_normal((4, 3))
            close(mapped(X), ((2 * X) ** 3).sum(axis=1))


@pytest.mark.parametrize(
    "name,fn,x",
    [
        ("einsum diagonal", lambda a: cr.einsum("ii->i", a) * 1.5, np.arange(9.0).reshape(3, 3)),
        ("real of complex", lambda z: cr.real(z) * 2.0, np.array([1 + 2j, 3 - 1j])),
        ("imag of complex", lambda z: cr.imag(z) * 2.0, np.array([1 + 2j, 3 - 1j])),
        ("real of real", lambda x: cr.real(x) * 2.0, np.array([1.0, 2.0])),
        ("astype, same dtype", lambda x: x.astype(np.float64) * 2.0, np.array([1.0, 2.0])),
    ],
)
def test_generated_code_never_writes_into_an_argument_through_a_view(name, fn, x):
    # np.einsum('ii->i'), np.real, np.imag and np.asarray may return their input or a view
    # of it: compiled code (cr.jit, and vmap from a signature's second call) must not
    # compute in place into those buffers (it did: the caller's matrix changed, and the
    # second call's answer was wrong).
    x0 = x.copy()
    want = fn(cr.tensor(x0.copy())).numpy()
    jitted = cr.jit(fn)
    for _ in range(3):
        close(jitted(x), want)
    np.testing.assert_array_equal(x, x0)
    X = np.stack([x, 2 * x])
    X0 = X.copy()
    mapped = cr.vmap(fn)
    for _ in range(3):
        close(mapped(X), np.stack([want, fn(cr.tensor(2 * x0)).numpy()]))
    np.testing.assert_array_equal(X, X0)
