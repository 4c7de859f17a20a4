"""cr.jit's signature: a call runs compiled code only when everything the code was made for
is the same (the tree's structure with list and tuple apart, each leaf's shape and dtype,
which tensors require grad, static values and their types, grad mode). The fast reading of
the common calls (positional arrays and tensors, flat lists and tuples of them) must give
the same key as the full pytree walk, and keys must be equal exactly when a description of
the call written here independently is; a call that differs in one thing must never run
the program of another (each case checked against the eager function)."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import Parameter
from chainrule.pytree import tree_map

# ---------------------------------------------------------------------- random calls

SHAPES = [(), (2,), (3,), (2, 1)]
DTYPES = [np.float64, np.float32]


def _leaf(rnd: random.Random, static: bool) -> object:
    """A random leaf: arrays, NumPy scalars, tensors (requiring grad or not), parameters,
    and (when ``static``) Python numbers."""
    shape, dtype = rnd.choice(SHAPES), rnd.choice(DTYPES)
    kinds = ["array", "array", "npscalar", "tensor", "tensor", "param"]
    if static:
        kinds += ["float", "int"]
    kind = rnd.choice(kinds)
    value = np.full(shape, rnd.choice([0.5, -1.5]), dtype=dtype)
    if kind == "array":
        return value
    if kind == "npscalar":
        return dtype(rnd.choice([0.5, 2.0]))
    if kind == "tensor":
        return cr.tensor(value, requires_grad=rnd.random() < 0.5)
    if kind == "param":
        return Parameter(value)
    if kind == "float":
        return rnd.choice([2.0, 3.0])
    return rnd.choice([2, 3])


def _arg(rnd: random.Random, full: bool) -> object:
    """A random argument: a leaf, a flat list or tuple of leaves, or (``full``: only the
    full path reads them) a nested list, a dict, None, Python numbers."""
    r = rnd.random()
    if r < 0.3:
        return _leaf(rnd, full)
    if r < 0.8 or not full:
        kind = rnd.choice([list, tuple])
        return kind(_leaf(rnd, full) for _ in range(rnd.randrange(4)))
    if r < 0.9:
        return [_leaf(rnd, full), (_leaf(rnd, full),)]
    return {"w": _leaf(rnd, full), "b": None}


def _call(rnd: random.Random, full: bool) -> tuple:
    return tuple(_arg(rnd, full) for _ in range(rnd.randrange(1, 4)))


def _describe(tree: object) -> object:
    """What a call's signature must tell apart, read from the call directly."""
    if type(tree) in (list, tuple):
        return (type(tree).__name__, tuple(_describe(v) for v in tree))
    if isinstance(tree, dict):
        return ("dict", tuple(tree), tuple(_describe(v) for v in tree.values()))
    if tree is None:
        return ("none",)
    if isinstance(tree, cr.Tensor):
        return ("array", np.shape(tree.data), tree.data.dtype, tree.requires_grad)
    if isinstance(tree, (np.ndarray, np.generic)):
        return ("array", tree.shape, tree.dtype, False)
    return ("static", type(tree), tree)


def _mutate(rnd: random.Random, call: tuple) -> tuple:
    """The same call with (often) one thing changed: a leaf's shape, dtype, kind or
    requires_grad, a list for a tuple, one leaf more or less."""
    args = list(call)
    k = rnd.randrange(len(args))
    a = args[k]
    r = rnd.random()
    if type(a) in (list, tuple) and a and r < 0.3:
        items = list(a)
        j = rnd.randrange(len(items))
        items[j] = _leaf(rnd, False) if rnd.random() < 0.5 else _same_kind(items[j])
        args[k] = type(a)(items)
    elif type(a) in (list, tuple) and r < 0.45:
        args[k] = (tuple if type(a) is list else list)(a)
    elif type(a) in (list, tuple) and r < 0.6:
        args[k] = type(a)([*a, _leaf(rnd, False)])
    elif r < 0.8:
        args[k] = _same_kind(a) if type(a) not in (list, tuple) else type(a)(a)
    else:
        args[k] = _leaf(rnd, False)
    return tuple(args)


def _same_kind(leaf: object) -> object:
    """A fresh leaf that describes the same (a new object, an equal signature)."""
    if isinstance(leaf, cr.Tensor):
        return cr.tensor(np.array(leaf.data), requires_grad=leaf.requires_grad)
    if isinstance(leaf, np.ndarray):
        return leaf.copy()
    return leaf


@pytest.mark.parametrize("seed", range(6))
def test_the_fast_reading_gives_the_full_walks_key(seed):
    rnd = random.Random(seed)
    f = cr.jit(lambda *a: a)
    for _ in range(300):
        args = _call(rnd, full=False)
        fast, full = f._signature(args, {}), f._full_signature(args, {})
        assert fast.key == full.key and hash(fast.key) == hash(full.key)
        assert fast.treedef == full.treedef
        assert len(fast.leaves) == len(full.leaves)
        assert all(a is b for a, b in zip(fast.leaves, full.leaves))
        plain = all(isinstance(x, (np.ndarray, np.generic)) for x in fast.leaves)
        assert fast.plain == plain


@pytest.mark.parametrize("seed", range(6))
def test_keys_are_equal_exactly_when_the_calls_are_alike(seed):
    rnd = random.Random(100 + seed)
    f = cr.jit(lambda *a: a)
    for _ in range(300):
        full = rnd.random() < 0.3
        a = _call(rnd, full)
        b = _mutate(rnd, a) if rnd.random() < 0.8 else _call(rnd, full)
        ka, kb = f._signature(a, {}).key, f._signature(b, {}).key
        same = _describe(a) == _describe(b)
        assert (ka == kb) == same, (a, b)
        if same:
            assert hash(ka) == hash(kb)
    with cr.no_grad():
        k_off = f._signature(a, {}).key
    assert k_off != f._signature(a, {}).key  # grad mode is part of it


# ---------------------------------------------------------------------- never the wrong code


def _program(*args):
    """Every leaf shows in the result: arrays and tensors scaled, Python numbers as tensors
    of their own dtype; the containers come back as they went in."""

    def leaf(v):
        if isinstance(v, (cr.Tensor, np.ndarray, np.generic)):
            return cr.tanh(cr.as_tensor(v)) * 2.0 + 1.0
        return cr.tensor(v * 3)

    return tree_map(leaf, args)


def _assert_same(jitted, eager):
    assert type(jitted) is type(eager)
    if isinstance(eager, (list, tuple)):
        assert len(jitted) == len(eager)
        for a, b in zip(jitted, eager):
            _assert_same(a, b)
    elif isinstance(eager, dict):
        assert list(jitted) == list(eager)
        for key in eager:
            _assert_same(jitted[key], eager[key])
    elif eager is None:
        assert jitted is None
    else:
        assert isinstance(jitted, cr.Tensor)
        assert jitted.dtype == eager.dtype and jitted.shape == eager.shape
        assert jitted.requires_grad == eager.requires_grad
        np.testing.assert_allclose(jitted.numpy(), eager.numpy(), rtol=1e-6)


def _grads(args):
    return [
        None if t.grad is None else t.grad.numpy().copy()
        for t in cr.pytree.leaves(args)
        if isinstance(t, cr.Tensor)
    ]


def _check(f, args):
    """f(*args) jitted equals the eager function: values, dtypes, shapes, containers,
    requires_grad, and the gradients backward leaves on the tensors."""
    tensors = [t for t in cr.pytree.leaves(args) if isinstance(t, cr.Tensor)]
    for t in tensors:
        t.grad = None
    eager = _program(*args)
    diff = [o for o in cr.pytree.leaves(eager) if o.requires_grad]
    if diff:
        sum(o.sum() for o in diff).backward()
    want = _grads(args)
    for t in tensors:
        t.grad = None
    out = f(*args)
    _assert_same(out, eager)
    diff = [o for o in cr.pytree.leaves(out) if o.requires_grad]
    if diff:
        sum(o.sum() for o in diff).backward()
    for g, w in zip(_grads(args), want):
        assert (g is None) == (w is None)
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_a_sequence_of_random_calls_runs_the_right_code_each_time(seed):
    rnd = random.Random(200 + seed)
    f = cr.jit(_program, cache_size=8)
    call = _call(rnd, full=False)
    seen = []
    for _ in range(40):
        r = rnd.random()
        if r < 0.3 and seen:
            call = rnd.choice(seen)  # an earlier signature again: from the cache
        elif r < 0.8:
            call = _mutate(rnd, call)
        else:
            call = _call(rnd, full=rnd.random() < 0.3)
        seen.append(call)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the cache's "keeps recompiling"
            _check(f, call)


def _params(n=4, shape=()):
    return [np.full(shape, 0.5 + k) for k in range(n)]


CHANGES = {
    "one shape changed": lambda ps, xs: ([*ps[:2], np.ones(3), *ps[3:]], xs),
    "one dtype changed": lambda ps, xs: ([*ps[:2], np.float32(ps[2]), *ps[3:]], xs),
    "a 0-d array became 1-d": lambda ps, xs: ([*ps[:3], np.atleast_1d(ps[3])], xs),
    "the list became a tuple": lambda ps, xs: (tuple(ps), xs),
    "a leaf more": lambda ps, xs: ([*ps, ps[0]], xs),
    "a tensor that requires grad": lambda ps, xs: (
        [cr.tensor(ps[0], requires_grad=True), *ps[1:]],
        xs,
    ),
    "a NumPy float became a Python float": lambda ps, xs: (ps, [float(xs[0]), xs[1]]),
    "a NumPy float became a Python int": lambda ps, xs: (ps, [2, xs[1]]),
    "a list became a nested list": lambda ps, xs: ([ps[:2], *ps[2:]], xs),
    "an argument more": lambda ps, xs: (ps, xs, np.ones(2)),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_call_that_differs_in_one_thing_is_compiled_anew(change):
    f = cr.jit(_program)
    base = (_params(), [np.float64(2.0), np.float64(-1.0)])
    _check(f, base)
    _check(f, base)
    assert f.cache_info()[:2] == (1, 1)
    changed = CHANGES[change](*base)
    _check(f, changed)
    assert f.cache_info().misses == 2
    _check(f, base)  # and back: the first program, from the cache
    assert f.cache_info()[:2] == (2, 2)


def test_a_python_int_and_a_python_float_static_value_are_apart():
    f = cr.jit(lambda x, s: x * s)
    x = np.ones(2)
    assert f(x, 2.0).dtype == np.float64
    assert f(x, 2).dtype == np.float64 and f.cache_info().misses == 2
    np.testing.assert_array_equal(f(x, 3.0).numpy(), [3.0, 3.0])  # a new value: compiled
    assert f.cache_info().misses == 3
    g = cr.jit(lambda xs: xs[0] * xs[1])
    assert g([np.ones(2, np.float32), 2]).dtype == np.float32
    assert g([np.ones(2, np.float32), np.float64(2)]).dtype == np.float64
    assert g([np.ones(2, np.float32), 2.5]).numpy()[0] == np.float32(2.5)


def test_alike_calls_share_one_program():
    """An ndarray, a NumPy scalar and a tensor that does not require grad, of one shape and
    dtype, are the same to the compiled code."""
    f = cr.jit(lambda ps: [p * 2.0 for p in ps])
    f([np.array(1.0), np.float64(2.0)])
    out = f([np.float64(1.0), cr.tensor(2.0)])
    f((np.array(1.0), np.array(2.0)))  # a tuple is not a list
    assert f.cache_info()[:2] == (1, 2)
    assert [o.item() for o in out] == [2.0, 4.0] and not out[0].requires_grad


def test_changes_in_place_between_calls_are_seen():
    """The same objects, changed: the list grows, an array is reshaped in place, a tensor
    starts to require grad."""
    f = cr.jit(lambda ps: sum(p * (k + 1.0) for k, p in enumerate(ps)))
    a, t = np.ones(2), cr.tensor(np.ones(2))
    ps = [a, t]
    np.testing.assert_array_equal(f(ps).numpy(), [3.0, 3.0])
    ps.append(np.ones(2))
    np.testing.assert_array_equal(f(ps).numpy(), [6.0, 6.0])
    a.shape = (2, 1)
    assert f(ps).shape == (2, 2) and f.cache_info().misses == 3
    a.shape = (2,)
    assert not f(ps).requires_grad and f.cache_info().hits == 1
    t.requires_grad_(True)
    out = f(ps)
    assert out.requires_grad and f.cache_info().misses == 4
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 2.0])
    with cr.no_grad():
        assert not f(ps).requires_grad
    assert f.cache_info().misses == 5


def test_which_tensor_requires_grad_is_part_of_the_signature():
    f = cr.jit(lambda ps: ps[0] * 2.0 + ps[1] * 3.0)
    a, b = cr.tensor(1.0, requires_grad=True), cr.tensor(1.0)
    f([a, b]).backward()
    c, d = cr.tensor(1.0), cr.tensor(1.0, requires_grad=True)
    f([c, d]).backward()  # as many tensors requiring grad, another one
    assert f.cache_info().misses == 2
    assert a.grad.item() == 2.0 and b.grad is None
    assert c.grad is None and d.grad.item() == 3.0


def test_alternating_signatures_and_an_evicted_last_entry():
    f = cr.jit(lambda xs: [x + 1.0 for x in xs], cache_size=2)
    one, two = [np.zeros(1)], [np.zeros(2), np.zeros(2)]
    for _ in range(3):
        assert f(one)[0].shape == (1,) and len(f(two)) == 2
    assert f.cache_info()[:2] == (4, 2)
    g = cr.jit(lambda xs: [x + 1.0 for x in xs], cache_size=1)
    g(one)
    with pytest.warns(RuntimeWarning, match="keeps recompiling"):
        g.source(two)  # evicts the entry the last call ran
    assert g(one)[0].shape == (1,) and g.cache_info().misses == 3


def test_closure_tensors_with_a_list_of_arrays():
    """Arrays in a list (the fast path) and a closure tensor that requires grad: the
    program's inputs are the arrays, then the tensor; backward fills its grad."""
    w = cr.tensor(2.0, requires_grad=True)
    f = cr.jit(lambda ps: sum(p * w for p in ps))
    out = f([np.float64(1.0), np.array(3.0)])
    assert out.item() == 8.0 and out.requires_grad
    out.backward()
    assert w.grad.item() == 4.0
    with cr.no_grad():
        w.data = np.float64(5.0)
    assert f([np.float64(1.0), np.array(3.0)]).item() == 20.0
    assert f.cache_info()[:2] == (1, 1)
    w.requires_grad_(False)
    assert not f([np.float64(1.0), np.array(3.0)]).requires_grad
    assert f.cache_info().misses == 2


def test_value_and_grad_of_scalars_returns_what_it_did():
    """The micrograd-style call (a list of 0-d parameters, a list of NumPy floats): the
    value and every gradient are tensors, float64, of the eager values."""

    def loss(ps, xs):
        h = [cr.relu(ps[0] * xs[0] + ps[1] * xs[1]), cr.relu(ps[2] * xs[0] - ps[3])]
        return h[0] * ps[4] + h[1] * ps[5]

    ps = [np.array(v) for v in (0.5, -0.3, 0.8, 0.1, 1.5, -2.0)]
    xs = [np.float64(0.5), np.float64(-1.2)]
    f = cr.jit(cr.value_and_grad(loss))
    for _ in range(2):
        value, grads = f(ps, xs)
        want_value, want = cr.value_and_grad(loss)(ps, xs)
        assert isinstance(value, cr.Tensor) and type(grads) is list and len(grads) == 6
        assert value.item() == want_value.item() and value.dtype == np.float64
        for g, w in zip(grads, want):
            assert isinstance(g, cr.Tensor) and not g.requires_grad
            assert g.shape == () and g.dtype == np.float64 and g.item() == w.item()
    assert f.cache_info()[:2] == (1, 1)


def test_threads_calling_with_their_own_signatures_get_their_own_code():
    import threading

    f = cr.jit(lambda xs: [x * 2.0 for x in xs])
    calls = {n: [np.full(n, float(n)) for _ in range(n)] for n in (1, 2, 3)}
    errors = []

    def work(n):
        for _ in range(150):
            out = f(calls[n])
            if len(out) != n or any(o.shape != (n,) or o.numpy()[0] != 2.0 * n for o in out):
                errors.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and f.cache_info().misses >= 3


def test_static_values_that_compare_equal_but_compute_differently_get_their_own_programs():
    # == would let 0.0 and -0.0 share a program (copysign, 1 / x differ), never find a NaN
    # again, and let (1, True) stand for (1, 1)
    x = np.ones(2)
    h = cr.jit(lambda x, c: cr.tensor(np.copysign(1.0, c)) * x, static_argnums=(1,))
    np.testing.assert_array_equal(h(x, 0.0).numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(h(x, -0.0).numpy(), [-1.0, -1.0])
    np.testing.assert_array_equal(h(x, np.float32(-0.0)).numpy(), [-1.0, -1.0])
    assert h.cache_info().misses == 3
    h(x, float("nan"))
    h(x, float("nan"))
    assert h.cache_info().hits == 1
    k = cr.jit(lambda x, t: x * (2.0 if type(t[1]) is bool else 3.0), static_argnums=(1,))
    np.testing.assert_array_equal(k(x, (1, True)).numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(k(x, (1, 1)).numpy(), [3.0, 3.0])
    c = cr.jit(lambda x, z: x * np.copysign(1.0, z.imag), static_argnums=(1,))
    assert c(x, complex(1, 0.0)).numpy()[0] == 1.0 and c(x, complex(1, -0.0)).numpy()[0] == -1.0
