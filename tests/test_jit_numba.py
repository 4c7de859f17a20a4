"""cr.jit(backend="numba"): equals the eager engine on random programs (values and
gradients, float32 and float64, several input points), the 1,000-op chain, the MLP step;
the fusion pass; the disk cache across processes; the error without numba."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import chainrule as cr
from chainrule.ir import trace_program
from chainrule.jitting import optimize
from test_codegen_random import random_program

numba = pytest.importorskip("numba")
from chainrule.ir import numba_backend as nb  # noqa: E402


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "crcache"))


@pytest.fixture
def fuse_everything(monkeypatch):
    # regions of any length are fused, so every program exercises the kernel
    monkeypatch.setattr(nb, "MIN_OPS", 1)


def _close(a, b, rtol, atol):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(0, 120, 4))
def test_numba_equals_eager_on_random_programs(seed, dtype, fuse_everything):
    rtol, atol = (1e-9, 1e-12) if dtype == np.float64 else (2e-4, 2e-5)

    def f(a, b, c):
        return random_program(seed, staged=True)[0](a, b, c)

    program, inputs, rng = random_program(seed, staged=True)
    jf = cr.jit(f, backend="numba")
    jg = cr.jit(cr.grad(f, argnums=(0, 1, 2)), backend="numba")
    for k in range(3):
        xs = inputs if k == 0 else [x + 0.3 * rng.standard_normal(np.shape(x)) for x in inputs]
        xs = [np.asarray(x, dtype=dtype) for x in xs]
        ts = [cr.tensor(x, requires_grad=True) for x in xs]
        with np.errstate(all="ignore"):
            eager = f(*ts)
            eager.backward()
            value = jf(*xs)
            grads = jg(*xs)
        assert value.dtype == eager.dtype
        _close(value.numpy(), eager.numpy(), rtol, atol)
        for got, t in zip(grads, ts):
            want = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            _close(got.numpy(), want, 10 * rtol, 10 * atol)
        # through the object API: the jitted function is one node with a compiled backward
        ts2 = [cr.tensor(x, requires_grad=True) for x in xs]
        with np.errstate(all="ignore"):
            jf(*ts2).backward()
        for t2, t in zip(ts2, ts):
            want = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            got = np.zeros(t.shape) if t2.grad is None else t2.grad.numpy()
            _close(got, want, 10 * rtol, 10 * atol)


def test_fusion_makes_one_region_of_an_elementwise_chain():
    p, _ = trace_program(lambda x: ((x * 2.0).tanh() * x + 1.0).sum(), cr.tensor(np.ones(5)))
    fused, regions = nb.fuse(p)
    assert [e.prim.name for e in fused.eqns] == ["fused", "add_", "sum"]
    # t2 = t1 * x and t3 = t2 + 1.0 are one compound instruction: t1 * x + 1.0
    ops = [list(nb.OPCODES)[op] for op in regions[0].code[:, 0]]
    assert len(regions) == 1 and ops == ["mul", "tanh", "muladd"]
    source = cr.jit(lambda x: ((x * 2.0).tanh() * x + 1.0).sum(), backend="numba").source(
        np.ones(5)
    )
    assert "run_region(" in source and "t1 = np.tanh(t0)" in source


def test_regions_stop_at_other_shapes_and_non_elementwise_ops():
    def f(x, w):
        h = cr.tanh(x * 2.0 + 1.0) * x  # (4, 3): one region
        s = h @ w  # not elementwise
        return (cr.sigmoid(s) * s - 1.0).sum()  # (4, 2): another region

    x, w = np.random.default_rng(0).standard_normal((4, 3)), np.ones((3, 2))
    p, _ = trace_program(f, cr.tensor(x), cr.tensor(w))
    fused, regions = nb.fuse(p)
    assert [r.shape for r in regions] == [(4, 3), (4, 2)]
    jf = cr.jit(f, backend="numba")
    np.testing.assert_allclose(jf(x, w).numpy(), f(cr.tensor(x), cr.tensor(w)).numpy())


def test_nan_inf_and_edge_values_follow_numpy(fuse_everything):
    def f(x):
        return cr.maximum(cr.log(x), -x) / x + cr.tanh(x) + cr.sqrt(x)

    x = np.array([0.0, -1.0, np.inf, np.nan, 1e-300, 3.0, -0.0, 1e-320])
    with np.errstate(all="ignore"):
        want = f(cr.tensor(x)).numpy()
        got = cr.jit(f, backend="numba")(x).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-14)


def test_tanh_kernel_matches_numpy_to_a_few_ulps():
    x = np.concatenate([np.linspace(-25, 25, 100_001), np.geomspace(1e-12, 1, 1001)])
    got = cr.jit(lambda x: cr.tanh(x) * 1.0 + 0.0, backend="numba")(x).numpy()
    want = np.tanh(x)
    assert np.max(np.abs(got - want) / np.spacing(np.abs(want))) <= 8


def test_chain_forward_backward():
    rng = np.random.default_rng(0)
    x0, c, d = rng.standard_normal(16), 1.0 + 0.01 * rng.standard_normal(16), 0.01 * rng.random(16)

    def chain(x):
        h = x
        for i in range(1000):
            h = h * c if i % 3 == 0 else (h + d if i % 3 == 1 else h.tanh())
        return h.sum()

    g = cr.jit(cr.grad(chain), backend="numba")
    np.testing.assert_allclose(g(x0).numpy(), cr.grad(chain)(x0).numpy(), rtol=1e-10)
    text = g.source(x0)
    assert text.count("run_region(") == 1  # forward and backward: one region
    # 2,331 equations, about 666 instructions: tanh(h * c + d) forward, g * (1 - y*y) * c back
    p = optimize(trace_program(cr.grad(chain), cr.tensor(x0))[0])
    (region,) = nb.fuse(p)[1]
    names = [list(nb.OPCODES)[op] for op in region.code[:, 0]]
    assert names.count("tanh_muladd") == 333 and names.count("mul_one_minus_sq_mul") == 333
    assert len(names) <= 670


def test_mlp_step_equals_eager():
    rng = np.random.default_rng(0)
    params = [
        rng.standard_normal((32, 20)).astype(np.float32) * 0.1,
        np.zeros(32, np.float32),
        rng.standard_normal((10, 32)).astype(np.float32) * 0.1,
        np.zeros(10, np.float32),
    ]
    X = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 10, 64)

    def loss(ps, X, y):
        W1, b1, W2, b2 = ps
        return cr.softmax_cross_entropy(cr.linear(cr.relu(cr.linear(X, W1, b1)), W2, b2), y)

    def step(ps, X, y):
        value, grads = cr.value_and_grad(loss)(ps, X, y)
        return value, [p - 0.1 * g for p, g in zip(ps, grads)]

    jstep = cr.jit(step, backend="numba")
    ps_e, ps_j = list(params), list(params)
    for _ in range(3):
        ve, ps_e = step(ps_e, X, y)
        vj, ps_j = jstep(ps_j, X, y)
        np.testing.assert_allclose(vj.numpy(), ve.numpy(), rtol=1e-5)
        for a, b in zip(ps_j, ps_e):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_a_second_process_loads_the_kernel_from_the_disk_cache(tmp_path):
    script = textwrap.dedent(
        """
        import time, numpy as np, chainrule as cr
        from chainrule.ir import numba_backend as nb
        f = cr.jit(lambda x: (cr.tanh(x * 2.0) + x * x).sum(), backend="numba")
        t = time.perf_counter()
        f(np.ones(8))
        kernel = nb._kernel()
        print(len(kernel.stats.cache_hits), len(kernel.stats.cache_misses))
        """
    )
    env = {**__import__("os").environ, "CHAINRULE_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0] == ["0", "1"]  # compiled the first time
    assert runs[1] == ["1", "0"]  # loaded from the cache the second time: not compiled
    assert list((tmp_path / "numba").glob("fused_*.py"))


def test_without_numba_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # "import numba" raises ImportError
    monkeypatch.setattr(nb, "_LOADED", {})
    with pytest.raises(ImportError, match=r"pip install chainrule\[fast\]"):
        cr.jit(lambda x: x * 2.0, backend="numba")(np.ones(2))


def test_numba_programs_read_labels_write_back_and_update_batch_norm():
    nn, F = cr.nn, cr.nn.functional
    rng = np.random.default_rng(0)
    loss = cr.jit(lambda s, y: F.cross_entropy(s, y, ignore_index=1), backend="numba")
    s = rng.standard_normal((4, 3))
    for y in ([0, 1, 2, 0], [2, 2, 1, 0]):
        want = F.cross_entropy(cr.tensor(s), np.array(y), ignore_index=1).item()
        assert loss(s, np.array(y)).item() == pytest.approx(want, rel=1e-12)
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        with cr.no_grad():
            w.sub_(0.1 * x)
        return (w * x).sum()

    jitted = cr.jit(step, backend="numba")
    for _ in range(3):
        jitted(cr.tensor([1.0, 1.0]))
    np.testing.assert_allclose(w.numpy(), [0.7, 1.7])
    eager = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4))
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4))
    forward = cr.jit(model, backend="numba")
    for _ in range(3):
        X = cr.tensor(rng.standard_normal((8, 3)))
        np.testing.assert_allclose(forward(X).numpy(), eager(X).numpy(), rtol=1e-6)
    np.testing.assert_allclose(model[1].running_var.numpy(), eager[1].running_var.numpy())
