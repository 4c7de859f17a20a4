"""cr.jit reads what a function takes from outside its arguments at every call, as eager
code does: a global, closure variable, list item, object or Module attribute bound to
another value since the compile (a new tensor, ``lr = lr * 0.9``, ``model.act = Tanh()``)
compiles again, and a NumPy array read from outside is an input of the program (a change
made in place is seen), never a constant holding the traced value. Each test here gave the
traced call's value, silently, before."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr

nn = cr.nn
x0 = np.array([0.5, -1.0, 2.0])


def _jit_and_eager(f, *args):
    jf = cr.jit(f)
    assert np.allclose(np.asarray(jf(*args)), np.asarray(f(*args)))
    return jf


W = cr.tensor(np.ones(3), requires_grad=True)


def _reads_global_tensor(x):
    return (x * W).sum()


def test_global_tensor_rebound_is_read_and_gets_the_gradient():
    global W
    jf = _jit_and_eager(_reads_global_tensor, x0)
    old = W
    W = cr.tensor(np.array([2.0, 3.0, 4.0]), requires_grad=True)
    try:
        assert float(jf(x0)) == pytest.approx(float(_reads_global_tensor(x0)))
        jf(x0).backward()
        assert np.allclose(W.grad.numpy(), x0)  # the new tensor's gradient
        assert old.grad is None
    finally:
        W = old


def test_closure_variable_rebound():
    def make():
        v = cr.tensor(np.ones(3))

        def g(x):
            return (x * v).sum()

        def rebind(t):
            nonlocal v
            v = t

        return g, rebind

    g, rebind = make()
    jg = _jit_and_eager(g, x0)
    rebind(cr.tensor(np.full(3, 5.0)))
    assert float(jg(x0)) == pytest.approx(float(g(x0))) == pytest.approx(5 * x0.sum())


def test_list_item_rebound():
    items = [cr.tensor(np.ones(3))]

    def h(x):
        return (x * items[0]).sum()

    jh = _jit_and_eager(h, x0)
    items[0] = cr.tensor(np.full(3, 7.0))
    assert float(jh(x0)) == pytest.approx(7 * x0.sum())


A = np.ones(3)


def _reads_global_array(x):
    return (x * A).sum()


def test_global_array_is_an_input_changed_in_place_and_rebound():
    global A
    old = A
    try:
        jf = _jit_and_eager(_reads_global_array, x0)
        assert "def _reads_global_array(x, A)" in jf.source(x0)  # an input, named A
        A[...] = 2.0  # in place: the same program reads the new values
        assert float(jf(x0)) == pytest.approx(2 * x0.sum())
        assert jf.cache_info().misses == 1
        A = np.full(3, 5.0)  # rebound: compiled again for the new array
        assert float(jf(x0)) == pytest.approx(5 * x0.sum())
        assert jf.cache_info().misses == 2
    finally:
        A = old


SCALE = 0.5


def _reads_global_number(x):
    return (x * SCALE).sum()


def test_global_number_rebound_compiles_again_an_equal_one_does_not():
    global SCALE
    jf = _jit_and_eager(_reads_global_number, x0)
    try:
        SCALE = 0.5 + 0.0 * SCALE  # an equal float (another object): the code still fits
        jf(x0)
        assert jf.cache_info().misses == 1
        SCALE = 2.0
        assert float(jf(x0)) == pytest.approx(2 * x0.sum())
        assert jf.cache_info().misses == 2
        SCALE = -0.0  # told apart from 0.0 (1 / x differs)
        jf(x0)
        SCALE = 0.0
        jf(x0)
        assert jf.cache_info().misses == 4
    finally:
        SCALE = 0.5


def test_a_learning_rate_schedule_in_a_global_steps_like_eager():
    global SCALE
    w0 = np.array([1.0, -2.0, 0.5])

    def step(w):
        g = cr.grad(lambda w: (w * w).sum())(w)
        return w - SCALE * g

    jstep = cr.jit(step)
    try:
        we, wj = w0.copy(), w0.copy()
        for k in range(5):
            SCALE = 0.1 * 0.5**k
            we = np.asarray(step(we))
            wj = np.asarray(jstep(wj))
            assert np.allclose(we, wj)
    finally:
        SCALE = 0.5


def test_grad_of_a_function_reading_a_global_array():
    global A
    old = A
    try:
        A = np.array([1.0, 2.0, 3.0])

        def f(w):
            return (cr.tanh(w * A) ** 2).sum()

        jg = cr.jit(cr.grad(f))
        assert np.allclose(jg(x0), cr.grad(f)(x0))
        A *= -0.5  # in place
        assert np.allclose(jg(x0), cr.grad(f)(x0))
        assert jg.cache_info().misses == 1
    finally:
        A = old


def test_module_number_attribute_and_submodule_replaced():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2, seed=0)
            self.act = nn.ReLU()
            self.alpha = 0.5

        def forward(self, x):
            return self.act(self.lin(x)) * self.alpha

    m = Scaled()
    jm = cr.jit(m)
    x = cr.tensor(np.array([[1.0, -2.0, 0.5]]))
    assert np.allclose(jm(x).numpy(), m(x).numpy())
    m.alpha = 2.0
    assert np.allclose(jm(x).numpy(), m(x).numpy())
    m.act = nn.Tanh()
    assert np.allclose(jm(x).numpy(), m(x).numpy())
    m.lin.bias = None  # a Linear without bias
    assert np.allclose(jm(x).numpy(), m(x).numpy())
    assert jm.cache_info().misses == 4


def test_layer_hyperparameters_changed():
    act = nn.LeakyReLU(0.1)
    jact = cr.jit(act)
    z = np.array([-1.0, 2.0])
    assert np.allclose(jact(z).numpy(), [-0.1, 2.0])
    act.negative_slope = 0.5
    assert np.allclose(jact(z).numpy(), [-0.5, 2.0])
    drop = nn.Dropout(0.0)
    jdrop = cr.jit(drop)
    ones = np.ones(4)
    assert np.allclose(jdrop(ones).numpy(), ones)
    drop.p = 1.0  # drops everything now
    assert np.allclose(jdrop(ones).numpy(), 0.0)


def test_attribute_of_a_plain_object_read_by_a_bound_method():
    class Scorer:
        def __init__(self):
            self.w = cr.tensor(np.ones(3), requires_grad=True)

        def score(self, x):
            return (x * self.w).sum()

    s = Scorer()
    js = cr.jit(s.score)
    assert float(js(x0)) == pytest.approx(float(s.score(x0)))
    s.w = cr.tensor(np.full(3, 3.0), requires_grad=True)
    assert float(js(x0)) == pytest.approx(3 * x0.sum())


def test_nan_global_still_fits():
    global SCALE
    try:
        SCALE = float("nan")
        jf = cr.jit(_reads_global_number)
        jf(x0)
        SCALE = float("nan")  # another NaN object: the same value to a program
        jf(x0)
        assert jf.cache_info().misses == 1
    finally:
        SCALE = 0.5


def test_a_value_changing_every_call_warns_naming_it():
    global SCALE
    jf = cr.jit(_reads_global_number)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for k in range(10):
                SCALE = 1.0 + k
                assert float(jf(x0)) == pytest.approx((1.0 + k) * x0.sum())
        messages = [str(w.message) for w in caught if "compiled again" in str(w.message)]
        assert len(messages) == 1
        assert "the global 'SCALE'" in messages[0]
    finally:
        SCALE = 0.5


def test_library_names_are_not_guarded():
    """Only the user's own names are watched: the transforms' and NumPy's globals are
    not, so a training loop's repeated call checks a handful of names."""
    model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.ReLU(), nn.Linear(3, 2, seed=1))
    jm = cr.jit(model)
    jm(np.ones((2, 4)))
    entry = next(iter(jm._cache.values()))
    assert all(w.startswith("the attribute ") for w in entry.guards.names)
    jg = cr.jit(cr.grad(_reads_global_number))
    jg(x0)
    entry = next(iter(jg._cache.values()))
    assert {w for w in entry.guards.names if "global" in w} <= {
        "the global 'SCALE'",
        "the global '_reads_global_number'",
    }


def test_index_arrays_read_from_outside_changed_in_place_or_rebound():
    idx = np.array([2, 0])
    mask = np.array([True, False, True])

    def f(x):
        return (x[idx] * 10.0).sum() + x[mask].sum()

    jf = _jit_and_eager(f, x0)
    idx[0] = 1  # in place: the index is part of the operation, so this compiles again
    assert float(jf(x0)) == pytest.approx(float(f(x0)))
    mask = np.array([False, True, True])  # (a closure variable: f reads the new one)
    assert float(jf(x0)) == pytest.approx(float(f(x0)))
    assert jf.cache_info().misses == 3
    jf(x0)
    assert jf.cache_info().misses == 3


def test_a_tensor_read_only_for_its_shape_is_guarded_too():
    like = cr.tensor(np.zeros(3))

    def f(x):
        return x * like.shape[0]

    jf = _jit_and_eager(f, x0)
    like = cr.tensor(np.zeros(5))
    assert np.allclose(jf(x0).numpy(), 5 * x0)


GAIN = 1.0


class _Gain(nn.Module):
    """A user layer reading a global and an array attribute of its own."""

    def __init__(self):
        super().__init__()
        self.offsets = np.zeros(2)

    def forward(self, x):
        return x * GAIN + self.offsets


def test_user_layers_inside_a_library_container_are_read_too():
    global GAIN
    model = nn.Sequential(nn.Linear(3, 2, seed=0), _Gain(), _Gain())
    jm = cr.jit(model)
    x = np.array([[1.0, -2.0, 0.5]])
    try:
        assert np.allclose(jm(x).numpy(), model(x).numpy())
        GAIN = 3.0
        assert np.allclose(jm(x).numpy(), model(x).numpy())
        model[2].offsets[...] = 5.0  # the second instance's array, in place
        assert np.allclose(jm(x).numpy(), model(x).numpy())
        assert jm.cache_info().misses == 2
    finally:
        GAIN = 1.0


def test_deeply_nested_modules_are_read_once_each():
    model = nn.Linear(2, 2, seed=0)
    for _ in range(40):  # (each container read once: not once per path to it)
        model = nn.Sequential(model, _Gain())
    jm = cr.jit(model)
    x = np.ones((1, 2))
    assert np.allclose(jm(x).numpy(), model(x).numpy())


# cr.vmap caches its batched program per signature the same way, with the same guards


def test_vmap_reads_a_rebound_number_and_an_array_changed_in_place():
    global SCALE
    table = np.arange(6.0).reshape(3, 2)

    def f(x):
        return cr.tanh(x @ table).sum() * SCALE

    X = np.random.default_rng(0).standard_normal((4, 3))
    batched = {"vmap": cr.vmap(f), "jit(vmap)": cr.jit(cr.vmap(f))}
    batched["vmap(grad)"] = cr.vmap(cr.grad(f))
    try:
        for step in range(3):
            for name, g in batched.items():
                fresh = cr.vmap(cr.grad(f)) if "grad" in name else cr.vmap(f)
                for _ in range(2):  # (the second call runs vmap's generated code)
                    assert np.allclose(g(X).numpy(), fresh(X).numpy()), (name, step)
            table *= 0.5
            SCALE = 1.0 + step
    finally:
        SCALE = 0.5


def test_numpy_random_draws_inside_are_refused_not_frozen():
    rng = np.random.default_rng(0)

    def noisy(x):  # NumPy draws once, at the trace: the program would reuse that draw
        return (x + rng.standard_normal(3)).sum()

    def legacy(x):
        return (x + np.random.rand(3)).sum()

    for transform in (cr.jit, cr.vmap):
        for f, what in ((noisy, "the closure variable 'rng'"), (legacy, "np.random")):
            arg = np.ones(3) if transform is cr.jit else np.ones((2, 3))
            with pytest.raises(RuntimeError, match="draws random numbers with NumPy") as e:
                transform(f)(arg)
            assert what in str(e.value)


def test_dropout_draws_are_part_of_the_program_not_refused():
    model = nn.Sequential(nn.Linear(3, 3, seed=0), nn.Dropout(0.5, seed=1))
    jm = cr.jit(model)
    outs = [jm(np.ones((4, 3))).numpy() for _ in range(3)]
    assert not np.allclose(outs[0], outs[1])  # a new mask at each call


def test_a_numpy_write_into_an_outside_array_is_refused_a_chainrule_one_repeats():
    counts = np.zeros(2)

    def bare(x):
        counts[0] += 1  # NumPy's own write: it would happen at the trace only
        return x.sum()

    with pytest.raises(RuntimeError, match="changes the closure variable 'counts'"):
        cr.jit(bare)(x0)

    total = np.zeros(3)

    def tracked(x):
        t = cr.as_tensor(total)
        with cr.no_grad():
            t.add_(x)  # chainrule's in-place operation: part of the program
        return t.sum()

    jt = cr.jit(tracked)
    assert [float(jt(np.ones(3))) for _ in range(3)] == [3.0, 6.0, 9.0]
    assert np.allclose(total, 3.0)


def test_a_callable_object_is_read_through_its_call():
    class Weighted:
        def __init__(self):
            self.scale = 2.0

        def __call__(self, x):
            return (x * self.scale).sum()

    loss = Weighted()

    def f(x):
        return loss(x) + 1.0

    jf = _jit_and_eager(f, x0)
    loss.scale = 5.0
    assert float(jf(x0)) == pytest.approx(5.0 * x0.sum() + 1.0)


def test_a_user_module_named_like_the_standard_library_is_watched(tmp_path):
    # a function from the user's own code.py (a stdlib name, but not the stdlib's file)
    scope = {"__name__": "code", "__file__": str(tmp_path / "code.py"), "cr": cr, "k": 2.0}
    exec("def f(x):\n    return (x * k).sum()\n", scope)
    jf = _jit_and_eager(scope["f"], x0)
    scope["k"] = 3.0
    assert float(jf(x0)) == pytest.approx(3.0 * x0.sum())


def test_a_0d_array_and_an_array_inside_a_tuple_changed_in_place():
    scale = np.array(2.0)  # 0-d: a constant of the program, compared by contents
    pair = (np.ones(3),)  # an item of a tuple: an input read at every call

    def f(x):
        return (x * scale).sum() + (x * pair[0]).sum()

    jf = _jit_and_eager(f, x0)
    scale[...] = 5.0
    pair[0][...] = 3.0
    assert float(jf(x0)) == pytest.approx(float(f(x0))) == pytest.approx(8.0 * x0.sum())
    counter = np.zeros(())

    def bump(x):
        counter[...] += 1  # a 0-d array written with NumPy: refused, as a larger one is
        return x.sum()

    with pytest.raises(RuntimeError, match="changes the closure variable 'counter'"):
        cr.jit(bump)(x0)
