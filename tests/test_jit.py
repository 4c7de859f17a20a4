"""cr.jit: compiled code equals the eager engine (values, gradients, HVPs, dtypes) on random
programs at several inputs; the cache; closures read at call time; graph breaks; the
bool-conversion error; a jitted Module trained like an eager one; the passes."""

from __future__ import annotations

import ast
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.ir import trace_program
from chainrule.ir.compile import compile_program
from chainrule.ir.passes import cse, dce, fold, last_uses, memory_plan, simplify_more
from chainrule.jitting import optimize
from test_codegen_random import random_program


def _close(a, b, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


@pytest.mark.parametrize("seed", range(0, 120, 3))
def test_jit_equals_eager_on_random_programs_at_new_inputs(seed):
    program, inputs, rng = random_program(seed, staged=True)
    f = cr.jit(lambda a, b, c: random_program(seed, staged=True)[0](a, b, c))
    g = cr.jit(
        cr.grad(lambda a, b, c: random_program(seed, staged=True)[0](a, b, c), argnums=(0, 1, 2))
    )
    for k in range(3):
        xs = inputs if k == 0 else [x + 0.3 * rng.standard_normal(np.shape(x)) for x in inputs]
        ts = [cr.tensor(x, requires_grad=True) for x in xs]
        eager = random_program(seed, staged=True)[0](*ts)
        eager.backward()
        value = f(*xs)
        _close(value.numpy(), eager.numpy())
        assert value.dtype == eager.dtype
        grads = g(*xs)
        for got, t in zip(grads, ts):
            want = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            _close(got.numpy(), want, rtol=1e-7, atol=1e-10)
        # and through the object API: one node whose backward is the compiled one
        ts2 = [cr.tensor(x, requires_grad=True) for x in xs]
        out = f(*ts2)
        out.backward()
        for t2, t in zip(ts2, ts):
            want = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            got = np.zeros(t.shape) if t2.grad is None else t2.grad.numpy()
            _close(got, want, rtol=1e-7, atol=1e-10)
    assert f.cache_info().misses == 2 and f.cache_info().hits == 4  # arrays, tensors


def test_jit_of_hvp_and_of_value_and_grad_with_argnums():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))

    def f(w):
        return (cr.tanh(cr.tensor(X) @ w) ** 2).sum()

    hvp = cr.jit(lambda w, v: cr.hvp(f, (w,), (v,))[1])
    vg = cr.jit(cr.value_and_grad(lambda w, b: f(w) * b, argnums=(0, 1)))
    for _ in range(3):
        w, v, b = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal()
        _close(hvp(w, v).numpy(), cr.hvp(f, (w,), (v,))[1].numpy())
        value, (gw, gb) = vg(w, np.array(b))
        ev, (ew, eb) = cr.value_and_grad(lambda w, b: f(w) * b, argnums=(0, 1))(w, np.array(b))
        _close(value.numpy(), ev.numpy())
        _close(gw.numpy(), ew.numpy())
        _close(gb.numpy(), eb.numpy())


def test_higher_order_through_a_jitted_function():
    f = cr.jit(lambda x: (x**3).sum() * cr.sin(x).sum())
    eager = lambda x: (x**3).sum() * cr.sin(x).sum()  # noqa: E731
    x = np.array([0.3, -1.2, 2.0])
    _close(cr.grad(f)(x).numpy(), cr.grad(eager)(x).numpy())
    _close(cr.hessian(f)(x).numpy(), cr.hessian(eager)(x).numpy())
    _close(cr.jvp(f, (x,), (np.ones(3),))[1].numpy(), cr.jvp(eager, (x,), (np.ones(3),))[1].numpy())


def test_float32_and_dtypes_are_kept():
    f = cr.jit(cr.grad(lambda x: (cr.maximum(x, 1.0) * 2.0).sum()))
    x = np.array([0.5, 1.5], dtype=np.float32)
    assert f(x).dtype == np.float32
    np.testing.assert_array_equal(f(x).numpy(), [0.0, 2.0])


def test_closure_tensors_are_inputs_read_at_call_time():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    f = cr.jit(lambda x: (x * w).sum())
    assert f(np.ones(2)).item() == 3.0
    with cr.no_grad():
        w.data = np.array([10.0, 20.0])
    assert f(np.ones(2)).item() == 30.0  # not baked in
    out = f(np.array([1.0, 3.0]))
    out.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 3.0])  # .grad fills on backward
    assert f.cache_info().misses == 1


def test_cache_hits_misses_bound_and_warning():
    f = cr.jit(lambda x: x * 2.0, cache_size=3)
    f(np.ones(2))
    f(np.ones(2))
    assert f.cache_info()[:2] == (1, 1)
    f(np.ones(3))  # a new shape: a miss
    f(np.ones(2, dtype=np.float32))  # a new dtype: a miss
    assert f.cache_info().misses == 3 and f.cache_info().currsize == 3
    with pytest.warns(RuntimeWarning, match="keeps recompiling"):
        f(np.ones(4))
    assert f.cache_info().currsize == 3 and f.cache_info().maxsize == 3
    assert f.cache_info().compile_seconds > 0


def test_static_argnums_and_pytrees():
    f = cr.jit(lambda x, n, flip: (x**n)[::-1] if flip else x**n, static_argnums=(1, 2))
    np.testing.assert_array_equal(f(np.array([1.0, 2.0]), 3, True).numpy(), [8.0, 1.0])
    np.testing.assert_array_equal(f(np.array([1.0, 2.0]), 2, False).numpy(), [1.0, 4.0])
    assert f.cache_info().misses == 2
    g = cr.jit(lambda p, x: {"y": p["w"] * x, "z": [p["b"] + x]})
    out = g({"w": np.array(2.0), "b": np.array(1.0)}, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(out["y"].numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(out["z"][0].numpy(), [2.0, 3.0])
    with pytest.raises(TypeError, match="static value must be hashable"):
        cr.jit(lambda x, s: x, static_argnums=1)(np.ones(2), [1, 2])


def test_converting_a_traced_value_to_a_python_value_names_the_line():
    def f(x):
        if x.sum() > 0:  # Python control flow on a traced value
            return x
        return -x

    with pytest.raises(
        cr.ConcretizationError, match=r"bool\(\) of a traced value at .*test_jit.py.*cr.where"
    ):
        cr.jit(f)(np.ones(2))
    with pytest.raises(cr.ConcretizationError, match=r"item\(\)"):
        cr.jit(lambda x: x * x.sum().item())(np.ones(2))
    ok = cr.jit(lambda x: cr.where(x.sum() > 0, x, -x))
    np.testing.assert_array_equal(ok(np.array([-1.0, -2.0])).numpy(), [1.0, 2.0])


def test_a_boolean_mask_from_the_inputs_is_refused():
    with pytest.raises(TypeError, match="boolean mask computed from its inputs"):
        cr.jit(lambda x: x[x > 0].sum())(np.array([1.0, -1.0]))


def test_a_custom_function_is_a_graph_break_with_one_warning():
    class Cube(cr.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x**2 * g

    f = cr.jit(lambda x: Cube.apply(x * 2.0).sum())
    with pytest.warns(RuntimeWarning, match="Cube has no generated code"):
        assert f(np.array([1.0, 2.0])).item() == 72.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.jit(lambda x: Cube.apply(x).sum())(np.array([1.0]))  # warned once only
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    f(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [24.0, 96.0])


def test_a_jitted_module_trains_like_the_eager_one_step_for_step():
    nn = cr.nn
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 8)).astype(np.float32)
    y = rng.integers(0, 3, 60)

    def make():
        return nn.Sequential(nn.Linear(8, 16, seed=1), nn.ReLU(), nn.Linear(16, 3, seed=2))

    eager, jitted = make(), make()
    forward = cr.jit(jitted)
    opt_e = cr.optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    opt_j = cr.optim.SGD(jitted.parameters(), lr=0.1, momentum=0.9)
    for _epoch in range(3):
        for start in range(0, 60, 20):
            xb, yb = X[start : start + 20], y[start : start + 20]
            for _model, fwd, opt in ((eager, eager, opt_e), (jitted, forward, opt_j)):
                opt.zero_grad()
                loss = nn.functional.cross_entropy(fwd(cr.tensor(xb)), yb)
                loss.backward()
                opt.step()
            for p, q in zip(eager.parameters(), jitted.parameters()):
                np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-5, atol=1e-6)
    assert forward.cache_info().misses == 1


def test_source_shows_the_generated_code():
    f = cr.jit(lambda x, w: cr.relu(x @ w).sum())
    text = f.source(np.ones((2, 3)), np.ones((3, 4)))
    assert "def " in text and "@" in text and "np.maximum" in text
    compile(text, "<source>", "exec")
    grad_text = f.source(cr.tensor(np.ones((2, 3)), requires_grad=True), np.ones((3, 4)))
    assert "# backward" in grad_text


# --------------------------------------------------------------------------- passes


def _program(f, *args):
    return trace_program(f, *[cr.tensor(a) for a in args])[0]


def test_dce_drops_what_no_output_needs():
    p = _program(lambda x: (x.exp(), x.tanh() * 2)[1], np.ones(3))
    assert [e.prim.name for e in dce(p).eqns] == ["tanh", "mul"]


def test_cse_merges_repeats_only_when_identical():
    p = _program(lambda x: x.exp() + x.exp() + (x * 2.0).exp(), np.ones(3))
    names = [e.prim.name for e in cse(p).eqns]
    assert names.count("exp") == 2 and names.count("mul") == 1


def test_fold_computes_constant_parts():
    c = cr.tensor([1.0, 2.0])
    p = _program(lambda x: x * (c * 3.0 + 1.0), np.ones(2))
    folded = fold(p)
    assert [e.prim.name for e in folded.eqns] == ["mul"]
    np.testing.assert_array_equal(folded.eqns[0].inputs[1].value, [4.0, 7.0])


def test_fold_keeps_a_broadcast_scalar_a_scalar_where_an_elementwise_op_reads_it():
    # the backward of a mean seeds every element with 1/n: g * 0.25, not g * (4 equal values)
    f = cr.jit(cr.grad(lambda x: (x * x).mean()))
    x = np.array([1.0, -2.0, 3.0, 0.5])
    np.testing.assert_allclose(f(x), 2 * x / 4)
    text = f.source(x)
    assert "CONST" not in text and "0.25" in text
    # a broadcast scalar no elementwise op can absorb is still an array of the right shape
    p = _program(lambda x: cr.broadcast_to(cr.tensor(2.0), (3,)) + 0 * x.sum(), np.ones(3))
    out = compile_program(optimize(p)).fn(np.ones(3))[0]
    np.testing.assert_array_equal(out, [2.0, 2.0, 2.0])


def test_simplify_removes_identities():
    p = _program(lambda x: (x.T.T.reshape(2, 3) * 1.0).sum(), np.ones((2, 3)))
    assert [e.prim.name for e in simplify_more(p).eqns] == ["sum"]


def test_optimized_programs_compute_the_same():
    rng = np.random.default_rng(1)
    for seed in range(10):
        program, inputs, _ = random_program(seed, staged=True)
        p, _ = trace_program(program, *inputs)
        fresh = [x + 0.1 * rng.standard_normal(np.shape(x)) for x in inputs]
        _close(optimize(p)(*fresh), p(*fresh))


def test_no_buffer_is_written_after_its_last_use_or_while_alive():
    # For every statement that writes into a buffer (the last argument of a bound ufunc),
    # the buffer's name is not read by any later statement.
    for seed in range(0, 60, 2):
        program, inputs, _ = random_program(seed, staged=True)
        p = optimize(trace_program(cr.grad(program, argnums=(0, 1, 2)), *inputs)[0])
        compiled = compile_program(p)
        body = compiled.source[compiled.source.index("def ") :]
        tree = ast.parse(body).body[0]
        stmts = tree.body
        for k, st in enumerate(stmts):
            if not (isinstance(st, ast.Assign) and isinstance(st.value, ast.Call)):
                continue
            fn = st.value.func
            if not (isinstance(fn, ast.Name) and fn.id.startswith("_")):
                continue
            buf = st.value.args[-1]
            if not isinstance(buf, ast.Name):
                continue
            later = {
                n.id
                for s in stmts[k + 1 :]
                if not isinstance(s, ast.Delete)
                for n in ast.walk(s)
                if isinstance(n, ast.Name)
            }
            assert buf.id not in later or buf.id == st.targets[0].id, (seed, ast.unparse(st))
        fresh = [x + 0.2 for x in inputs]
        _close(compiled.fn(*fresh)[0], p(*fresh)[0] if len(p.outputs) > 1 else p(*fresh))


def test_liveness_and_memory_plan():
    p = _program(lambda x: ((x * 2.0).exp() * x).sum(), np.ones(1000))
    last = last_uses(p)
    assert last[p.inputs[0]] == 2  # read by the first mul and by the second
    plan = memory_plan(p)
    assert plan["peak_bytes"] == 2 * 8000  # two 1000-element float64 values at once


def test_pytree_fast_paths_keep_the_structure():
    from collections import namedtuple

    from chainrule.pytree import flatten, unflatten

    Pair = namedtuple("Pair", "a b")
    tree = [np.ones(2), (cr.tensor(1.0), 2.0, [np.float32(3)]), Pair(np.zeros(1), None), {"k": 4}]
    leaves, treedef = flatten(tree)
    assert len(leaves) == 6 and treedef.num_leaves == 6
    assert repr(treedef).startswith("[*, (*, *, [*]), ")
    back = unflatten(treedef, leaves)
    assert type(back) is list and type(back[1]) is tuple and type(back[2]) is Pair
    assert back[2].b is None and back[3] == {"k": 4} and back[1][0] is leaves[1]
    assert flatten([1.0, 2.0])[1] != flatten((1.0, 2.0))[1]  # a list is not a tuple


def test_a_jitted_module_names_its_parameters_and_keeps_forward_names_in_the_backward():
    nn = cr.nn
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU(), nn.Linear(4, 2, seed=1))
    X = cr.tensor(np.ones((5, 3)))
    text = cr.jit(model).source(X)
    forward, backward = text.split("# backward")
    assert "def f_forward(x, weight_0, bias_0, weight_2, bias_2)" in forward
    head = [line for line in backward.splitlines() if line.startswith("def ")][0]
    # the backward's inputs are the forward's values under the forward's names
    assert "relu0" in head and "weight_2" in head and "x0" not in head
    assert "dweight_0" in backward and "drelu0" in backward


def test_a_scalar_program_returns_each_output_in_its_own_dtype():
    """Python-float code returns float64 values as float64 and comparisons as bool; an
    integer or float32 constant output sends the program to the NumPy code, which keeps
    its dtype."""

    def f(x):
        return x * 2.0, x > 0.5

    x = np.float64(1.0)
    jitted = cr.jit(f)
    out = jitted(x)
    assert "# Python floats in" in jitted.source(x)  # the float code, not the NumPy code
    assert [o.dtype for o in out] == [np.float64, np.bool_] and out[1].item() is True
    g = cr.jit(lambda x: (x * 2.0, cr.tensor(6), cr.tensor(np.float32(1.5))))
    assert [o.dtype for o in g(x)] == [np.float64, np.int64, np.float32]
    assert [o.item() for o in g(x)] == [2.0, 6, 1.5]


def test_several_differentiable_outputs_of_different_dtypes_keep_theirs():
    def f(a, b, c):
        return a**3, b * 2.0, (c * a.astype(np.float64).sum()).sum()

    def inputs():
        return (
            cr.tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True),
            cr.tensor([1.5, 2.0, 0.25], requires_grad=True),
            cr.tensor(np.array([1.0 + 2.0j, -0.5j]), requires_grad=True),
        )

    results = []
    for fn in (f, cr.jit(f)):
        a, b, c = inputs()
        outs = fn(a, b, c)
        loss = outs[0].sum() + (outs[1] ** 2).sum() + cr.abs(outs[2]) ** 2
        loss.backward()
        results.append(([o.dtype for o in outs], [o.numpy() for o in outs], a, b, c))
    (dt_e, v_e, *t_e), (dt_j, v_j, *t_j) = results
    assert dt_j == dt_e == [np.float32, np.float64, np.complex128]
    for x, y in zip(v_j, v_e):
        _close(x, y, rtol=1e-6)
    for x, y in zip(t_j, t_e):
        assert x.grad.dtype == y.grad.dtype
        _close(x.grad.numpy(), y.grad.numpy(), rtol=1e-6)
    # second order through the cast slices (the recorded backward)
    second = []
    for fn in (lambda a, b: (a**3, b**3), cr.jit(lambda a, b: (a**3, b**3))):
        a, b = inputs()[:2]

        def total(a, b, fn=fn):
            return sum(o.sum() for o in fn(a, b))

        ga, gb = cr.grad(total, argnums=(0, 1))(a, b)
        hess_a = cr.grad(lambda a, b=b, total=total: cr.grad(total)(a, b).sum())(a)
        second.append((ga.dtype, gb.dtype, hess_a.dtype, hess_a.numpy()))
    assert second[1][:3] == second[0][:3] == (np.float32, np.float64, np.float32)
    _close(second[1][3], second[0][3], rtol=1e-6)


def test_rebuilder_makes_what_unflatten_makes():
    """The structure of cr.jit's outputs, rebuilt by code written for it: containers of
    leaves as slices, nesting, namedtuples, dicts, None, empty containers, deep trees."""
    import random
    from collections import namedtuple

    from chainrule.pytree import flatten, rebuilder, unflatten

    Pair = namedtuple("Pair", "a b")
    rnd = random.Random(0)

    def tree(depth):
        r = rnd.random()
        if depth > 3 or r < 0.3:
            return rnd.random()
        if r < 0.4:
            return None
        kids = [tree(depth + 1) for _ in range(rnd.randrange(4))]
        if r < 0.6:
            return kids
        if r < 0.8:
            return tuple(kids)
        if r < 0.9:
            return Pair(tree(depth + 1), tree(depth + 1))
        return {f"k{i}": v for i, v in enumerate(kids)}

    def same(a, b):
        assert type(a) is type(b)
        if isinstance(a, (list, tuple)):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                same(x, y)
        elif isinstance(a, dict):
            assert list(a) == list(b)
            for k in a:
                same(a[k], b[k])
        else:
            assert a is b

    for _ in range(200):
        leaves, treedef = flatten(tree(0))
        same(rebuilder(treedef)(leaves), unflatten(treedef, leaves))
    deep = [1.0]
    for _ in range(80):  # deeper than the written code goes: unflatten itself
        deep = [deep, 2.0]
    leaves, treedef = flatten(deep)
    assert flatten(rebuilder(treedef)(leaves))[1] == treedef


def _changes_in_place(x):
    y = x * 1.0
    y += 5.0  # an operator
    y[0] = 7.0  # an item
    np.add.at(y, [1, 1], 1.0)  # a ufunc method
    return y * 2


@pytest.mark.parametrize("requires_grad", [False, True])
def test_in_place_changes_are_followed_by_traced_programs(requires_grad):
    # a tensor changed in place stands for its new value in the program (it used to keep
    # standing for the value it held before: jit returned x * 2)
    first, second = np.array([1.0, -1.0]), np.array([-1.0, 3.0])
    eager = _changes_in_place(cr.tensor(second)).numpy()
    np.testing.assert_array_equal(eager, [14.0, 20.0])
    program, _ = trace_program(_changes_in_place, first)
    np.testing.assert_array_equal(program(second), eager)
    compiled = cr.jit(_changes_in_place)
    compiled(cr.tensor(first, requires_grad=requires_grad))
    np.testing.assert_array_equal(
        compiled(cr.tensor(second, requires_grad=requires_grad)).numpy(), eager
    )
    batch = cr.vmap(_changes_in_place)(np.stack([first, second]))
    np.testing.assert_array_equal(batch.numpy()[1], eager)
    grad = cr.vmap(cr.grad(lambda x: (_changes_in_place(x) * x).sum()))(np.stack([first, second]))
    # d/dx of 2 (y0 = 7, y1 = x1 + 7) . x: (14, 4 x1 + 14)
    np.testing.assert_array_equal(grad.numpy()[1], [14.0, 26.0])


def test_casts_to_integers_and_value_decided_functions_are_never_baked_in():
    # x.astype(int) used to return a constant (the values at trace time): the program ran
    # with them at every later input. It is a recorded cast now; functions whose result's
    # shape or kind the values decide are refused by name under cr.jit
    import chainrule.numpy as cnp

    f = cr.jit(lambda x: x.astype(np.int64) * 2 + (x > 1).astype(np.int32))
    np.testing.assert_array_equal(f(np.array([1.5, 0.5])).numpy(), [3, 0])
    np.testing.assert_array_equal(f(np.array([7.5, 9.5])).numpy(), [15, 19])
    g = cr.jit(lambda x: x.astype(bool))
    np.testing.assert_array_equal(g(np.array([0.0, 2.0])).numpy(), [False, True])
    np.testing.assert_array_equal(g(np.array([3.0, 0.0])).numpy(), [True, False])
    x = cr.tensor([1.5], requires_grad=True)
    assert not x.astype(np.int32).requires_grad
    p = np.array([1.0, -3.0, 2.0])
    for fn, arg in [
        (cnp.roots, p),
        (cnp.trim_zeros, p),
        (cnp.real_if_close, p + 0j),
        (lambda t: cr.tensor(cnp.allclose(t, 1.0)), p),
    ]:
        with pytest.raises(cr.ConcretizationError):
            cr.jit(fn)(arg)
    # vmap checks each example against its program instead: agreeing examples are fine
    np.testing.assert_allclose(
        cr.vmap(cnp.roots)(np.array([[1.0, -3.0, 2.0], [1.0, -5.0, 6.0]])).numpy(),
        [[2.0, 1.0], [3.0, 2.0]],
    )
