"""Generated flat code against the engine on many random programs.

Each program mixes elementwise ops, broadcasting pairs, forks, matmul, reductions, shape ops
and indexing; its generated NumPy code must run and give the engine's value and gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.primitives import REGISTRY

SHAPES = [(), (3,), (2, 3), (2, 1), (1, 3), (3, 4)]


def _bshape(a, b):
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return None


def _unary_ops():
    return [
        ("tanh", lambda x: x.tanh()),
        ("sigmoid", lambda x: cr.sigmoid(x)),
        ("sin", lambda x: cr.sin(x)),
        ("cos", lambda x: x.cos()),
        ("abs", lambda x: abs(x)),
        ("relu", lambda x: x.relu()),
        ("neg", lambda x: -x),
        ("exp", lambda x: cr.exp(x.tanh())),
        ("log", lambda x: cr.log(x.sigmoid() + 0.5)),
        ("sqrt", lambda x: (x * x + 1.0).sqrt()),
        ("square", lambda x: x**2),
        ("cube", lambda x: x**3),
        ("inv", lambda x: 1.0 / (1 + x * x)),
        ("affine", lambda x: 3.0 * x - 2),
        ("rsub", lambda x: 1 - x),
        ("clip", lambda x: x.clip(-0.5, 0.5)),
        ("copy", lambda x: x.copy()),
    ]


def _binary_ops(staged=False):
    where = (
        ("where", lambda a, b: cr.where(a > 0, a, b))
        if staged
        else ("where", lambda a, b: cr.where(a.numpy() > 0, a, b))
    )
    return [where] + [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / (b * b + 1.0)),
        ("maximum", lambda a, b: cr.maximum(a, b)),
        ("minimum", lambda a, b: cr.minimum(a, b)),
        ("pow", lambda a, b: (a * a + 0.5) ** b.tanh()),
    ]


def _shape_ops(x, rng, staged=False):
    """Shape-changing ops applicable to x: list of (name, fn)."""
    ops = []
    nd = x.ndim
    if nd >= 1:
        axis = int(rng.integers(nd))
        keep = bool(rng.integers(2))
        ops += [
            ("sum_axis", lambda t: t.sum(axis=axis, keepdims=keep)),
            ("mean_axis", lambda t: t.mean(axis=axis, keepdims=keep)),
            ("max_axis", lambda t: t.max(axis=axis, keepdims=keep)),
            ("lse", lambda t: t.logsumexp(axis=axis, keepdims=keep)),
            ("softmax", lambda t: t.softmax(axis=axis)),
            ("log_softmax", lambda t: t.log_softmax(axis=axis)),
            ("index0", lambda t: t[0]),
            ("index_rep", lambda t: t[np.array([0, 0, t.shape[0] - 1])]),
            (
                ("mask", lambda t: t * (t > 0))
                if staged
                else ("mask", lambda t: t[t.numpy() > 0] if (t.numpy() > 0).any() else t)
            ),
            ("reshape", lambda t: t.reshape(-1)),
            ("expand", lambda t: t.expand_dims(0)),
            ("concat", lambda t: cr.concatenate([t, t * 2.0], axis=0)),
            ("stack", lambda t: cr.stack([t, -t], axis=-1)),
        ]
    if nd == 2:
        ops += [
            ("transpose", lambda t: t.T),
            ("slice", lambda t: t[:, 1:]),
            ("sum_both", lambda t: t.sum(axis=(0, 1))),
            ("take", lambda t: cr.take_along_axis(t, np.zeros((t.shape[0], 1), dtype=int), 1)),
        ]
    if nd == 0:
        ops += [("broadcast", lambda t: t.broadcast_to((2, 3)))]
    ops += [("sum_all", lambda t: t.sum())]
    return ops


def _matmul_ops(a, b):
    ops = []
    if a.ndim >= 1 and b.ndim >= 1:
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka == kb and a.ndim <= 2 and b.ndim <= 2:
            ops.append(("matmul", lambda x, y: x @ y))
    return ops


def random_program(seed: int, n_ops: int = 10, staged: bool = False):
    """A random function of 3 inputs, and the inputs to call it with. ``staged`` writes
    value-dependent choices with chainrule operations (cr.where(a > 0, ...)) instead of
    NumPy on the values, as a function cr.jit compiles must."""
    rng = np.random.default_rng(seed)
    shapes = [SHAPES[i] for i in rng.choice(len(SHAPES), size=3)]
    inputs = [rng.standard_normal(s) for s in shapes]
    plan_rng = np.random.default_rng(seed + 10_000)

    def program(a, b, c):
        pool = [a, b, c]
        for _ in range(n_ops):
            kind = plan_rng.integers(4)
            x = pool[int(plan_rng.integers(len(pool)))]
            y = pool[int(plan_rng.integers(len(pool)))]
            if kind == 0:
                ops = _unary_ops()
                _name, fn = ops[int(plan_rng.integers(len(ops)))]
                pool.append(fn(x))
            elif kind == 1:
                mm = _matmul_ops(x, y)
                if mm and plan_rng.integers(2):
                    pool.append(mm[0][1](x, y))
                    continue
                if _bshape(x, y) is None or x.size > 64 or y.size > 64:
                    continue
                ops = _binary_ops(staged)
                _name, fn = ops[int(plan_rng.integers(len(ops)))]
                pool.append(fn(x, y))
            else:
                if x.size > 64:
                    continue
                ops = _shape_ops(x, plan_rng, staged)
                _name, fn = ops[int(plan_rng.integers(len(ops)))]
                pool.append(fn(x))
        # Fork: the last values and an early one all feed the output.
        total = pool[-1].sum()
        for t in pool[-4:-1] + [pool[3 % len(pool)]]:
            total = total + (t * t).sum()
        return total

    return program, inputs, rng


def _engine_grads(program, inputs, seed):
    leaves = [cr.tensor(x, requires_grad=True) for x in inputs]
    # Replay the same plan: programs draw their plan from a generator seeded per call.
    fn, _inputs, _rng = random_program(seed)
    out = fn(*leaves)
    out.backward()
    return out.item(), [
        np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy() for leaf in leaves
    ]


@pytest.mark.parametrize("seed", range(120))
def test_generated_code_matches_engine(seed):
    program, inputs, _ = random_program(seed)
    graph = cr.trace(program, *inputs)
    value, grads = _engine_grads(program, inputs, seed)
    flat = graph.compile_flat()
    got_value, got_grads = flat(*inputs)
    np.testing.assert_allclose(got_value, value, rtol=1e-9, atol=1e-12)
    assert len(got_grads) == 3
    for g_code, g_engine, x in zip(got_grads, grads, inputs):
        assert np.shape(g_code) == x.shape
        np.testing.assert_allclose(g_code, g_engine, rtol=1e-7, atol=1e-10)
    # The separate forward and backward functions agree with the flat one.
    np.testing.assert_allclose(
        flat.forward(*[np.asarray(x) for x in inputs]), value, rtol=1e-9, atol=1e-12
    )
    # The graph's own backward walk (the ComputationalGraph object) agrees too.
    walked = graph.backward()
    for g_walk, g_engine in zip(walked.values(), grads):
        np.testing.assert_allclose(g_walk, g_engine, rtol=1e-9, atol=1e-12)


def test_random_programs_cover_the_interesting_cases():
    """The generator really produces broadcasting, forks, matmul, reductions, indexing."""
    seen: set[str] = set()
    forks = 0
    broadcast = 0
    in_place = 0  # relu gradients updated in place (the upstream array is the code's own)
    for seed in range(120):
        program, inputs, _ = random_program(seed)
        graph = cr.trace(program, *inputs)
        seen.update(v.op for v in graph.ops)
        code = graph.flat_code()
        forks += code.count(" += ")
        in_place += sum(" *= " in line and line.endswith(" > 0") for line in code.splitlines())
        elementwise = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"}
        broadcast += sum(
            1
            for v in graph.ops
            if v.op in elementwise and any(i.shape != v.shape for i in v.inputs)
        )
    for op in [
        "matmul",
        "sum",
        "max",
        "getitem",
        "logsumexp",
        "softmax",
        "concatenate",
        "transpose",
        "reshape",
        "maximum",
        "where",
        "take_along_axis",
        "pow",
    ]:
        assert op in seen, op
    assert forks > 100 and broadcast > 20 and in_place >= 3


def test_every_primitive_has_a_lowering():
    missing = sorted(name for name, prim in REGISTRY.items() if prim.lower is None)
    assert not missing, f"primitives without a lowering: {missing}"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_generated_cross_entropy_matches_the_engine(reduction):
    rng = np.random.default_rng(11)
    x0, w0 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    labels = np.array([0, 3, 3, 1, 2])

    def loss(x, w):
        out = cr.softmax_cross_entropy(x @ w.T, labels, reduction)
        return out if reduction != "none" else out.sum()

    graph = cr.trace(loss, x0, w0)
    value, (dx, dw) = graph.compile_flat()(x0, w0)
    x, w = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
    expected = loss(x, w)
    expected.backward()
    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(dw, w.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_labels_passed_in_stay_an_input_of_the_generated_code(reduction):
    # Traced with one set of labels, run with another: the code must read the labels it
    # is given (not the traced ones baked in), in the flat function and in the separate
    # forward and backward functions (which share the saved log-softmax).
    rng = np.random.default_rng(13)
    x0, w0 = rng.standard_normal((6, 3)), rng.standard_normal((4, 3))

    def loss(x, w, y):
        out = cr.softmax_cross_entropy(x @ w.T, y, reduction)
        return out if reduction != "none" else out.sum()

    fn = cr.trace(loss, x0, w0, np.array([0, 1, 2, 3, 0, 1])).compile_flat()
    assert "CONST" not in fn.source
    other = np.array([3, 3, 0, 2, 1, 1])
    x, w = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
    expected = loss(x, w, other)
    expected.backward()
    value, (dx, dw) = fn(x0, w0, other)
    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(dw, w.grad.numpy(), rtol=1e-10)
    if reduction == "none":
        return
    # the separate passes: forward, then backward from the values it needs
    namespace = fn.backward.__globals__
    np.testing.assert_allclose(fn.forward(x0, w0, other), expected.numpy(), rtol=1e-12)
    matmul0 = x0 @ w0.T
    logp = namespace["log_softmax"](matmul0, 1)
    cache = {"x": x0, "w": w0, "y": other, "transpose0": w0.T, "out_logp": logp}
    names = fn.backward.__code__.co_varnames[: fn.backward.__code__.co_argcount]
    assert names == ("x", "y", "transpose0", "out_logp", "dout")
    grads = fn.backward(*[cache[n] for n in names[:-1]])
    np.testing.assert_allclose(grads[0], x.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads[1], w.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_generated_soft_cross_entropy_matches_the_engine(reduction):
    rng = np.random.default_rng(12)
    x0, t0 = rng.standard_normal((4, 3)), rng.random((4, 3))

    def loss(x, t):
        out = cr.softmax_cross_entropy(x * 2.0, t, reduction)
        return out if reduction != "none" else out.sum()

    value, (dx, dt) = cr.trace(loss, x0, t0).compile_flat()(x0, t0)
    x, t = cr.tensor(x0, requires_grad=True), cr.tensor(t0, requires_grad=True)
    expected = loss(x, t)
    expected.backward()
    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(dt, t.grad.numpy(), rtol=1e-10)


def test_relu_gradient_is_updated_in_place_only_when_no_other_name_holds_it():
    # d(a) and d(b) are both the add's gradient (aliases): relu may not update it in place,
    # or b's gradient would be masked too. A matmul's fresh gradient may be.
    rng = np.random.default_rng(3)
    x0, y0, w0 = (rng.standard_normal(s) for s in ((3, 4), (3, 4), (4, 4)))

    def f(x, y, w):
        a = x.relu()
        s = (a + y).sum()
        h = (x @ w).relu()
        return s + (h @ w).sum() * 2.0  # dh = (...) @ w.T: an array of the code's own

    graph = cr.trace(f, x0, y0, w0)
    code = graph.flat_code()
    assert "da *= a > 0" not in code and "dh *= h > 0" in code
    value, grads = graph.compile_flat()(x0, y0, w0)
    leaves = [cr.tensor(v, requires_grad=True) for v in (x0, y0, w0)]
    f(*leaves).backward()
    for got, leaf in zip(grads, leaves):
        np.testing.assert_allclose(got, leaf.grad.numpy(), rtol=1e-12)
