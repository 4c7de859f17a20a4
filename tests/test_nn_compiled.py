"""cr.nn.CompiledLoss: the generated flat code trains exactly like the eager engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr

nn = cr.nn


def _model(seed: int = 0, dtype=np.float32) -> cr.nn.Module:
    return nn.Sequential(
        nn.Linear(6, 16, dtype=dtype, seed=seed),
        nn.Tanh(),
        nn.Linear(16, 8, dtype=dtype, seed=seed + 1),
        nn.ReLU(),
        nn.Linear(8, 4, dtype=dtype, seed=seed + 2),
    )


def _data(n: int = 50, dtype=np.float32):
    rng = np.random.default_rng(3)
    return rng.standard_normal((n, 6)).astype(dtype), rng.integers(0, 4, n)


@pytest.mark.parametrize("loss", ["softmax", "svm"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_training_matches_eager_training(loss, dtype):
    X, y = _data(dtype=dtype)
    eager, compiled = _model(dtype=dtype), _model(dtype=dtype)
    opt_e = cr.optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    opt_c = cr.optim.SGD(compiled.parameters(), lr=0.1, momentum=0.9)
    step = nn.CompiledLoss(compiled, loss=loss)
    lossfn = nn.functional.cross_entropy if loss == "softmax" else nn.functional.svm_loss
    loader = cr.data.DataLoader((X, y), batch_size=16, shuffle=True, seed=0)
    for _ in range(3):  # 4 batches an epoch, the last one partial (2 samples)
        for xb, yb in loader:
            opt_e.zero_grad()
            le = lossfn(eager(xb), yb)
            le.backward()
            opt_e.step()
            lc = step(xb, yb)
            opt_c.step()
            tol = 1e-4 if dtype == np.float32 else 1e-10
            assert lc == pytest.approx(le.item(), rel=tol, abs=tol)
    for pe, pc in zip(eager.parameters(), compiled.parameters()):
        np.testing.assert_allclose(
            pc.numpy(),
            pe.numpy(),
            rtol=1e-3 if dtype == np.float32 else 1e-9,
            atol=1e-5 if dtype == np.float32 else 1e-12,
        )
    assert len(step._compiled) == 2  # batch shapes (16, 6) and (2, 6)


def test_the_generated_code_is_readable_flat_code():
    X, y = _data()
    step = nn.CompiledLoss(_model())
    step(X[:8], y[:8])
    source = step.source((8, 6))
    assert "def flat(X, y, params0" in source
    assert "dparams0 = " in source and "dX" not in source  # no gradient for the data
    assert ("np.tanh(" in source or "_tanh(" in source) and "@" in source


def test_gradients_replace_like_backward_after_zero_grad():
    X, y = _data()
    model = _model()
    step = nn.CompiledLoss(model)
    step(X[:8], y[:8])
    first = model[0].weight.grad.numpy().copy()
    step(X[:8], y[:8])  # same batch, same parameters: same gradient (not doubled)
    np.testing.assert_allclose(model[0].weight.grad.numpy(), first)


def test_refuses_dropout_in_training_mode_and_bad_inputs():
    model = nn.Sequential(nn.Linear(6, 4, seed=0), nn.Dropout(0.5))
    X, y = _data()
    with pytest.raises(ValueError, match="Dropout in training mode"):
        nn.CompiledLoss(model)(X, y)
    model.eval()
    nn.CompiledLoss(model)(X, y)  # fine in eval mode
    step = nn.CompiledLoss(_model())
    step(X[:3], np.array([0, 3, 1]))  # compiled for this shape: the checks below are
    before = [p.grad.numpy().copy() for p in step.params]  # the per-step ones
    with pytest.raises(IndexError, match=r"label 7 is out of range for 4 classes \(sample 1"):
        step(X[:3], np.array([0, 7, 1]))
    with pytest.raises(IndexError, match=r"label -1 is out of range .*\(sample 2"):
        step(X[:3], np.array([0, 1, -1], dtype=np.int8))
    with pytest.raises(IndexError, match="label 4 is out of range"):
        step(X[:3], np.array([4, 1, 1], dtype=np.uint8))
    for p, grad in zip(step.params, before):  # a refused batch leaves the gradients alone
        np.testing.assert_array_equal(p.grad.numpy(), grad)
    svm = nn.CompiledLoss(_model(), loss="svm")
    svm(X[:3], np.array([0, 3, 1]))
    with pytest.raises(IndexError, match="label -2 is out of range"):
        svm(X[:3], np.array([0, -2, 1]))
    with pytest.raises(ValueError, match=r"labels must be 3 integers"):
        step(X[:3], np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"X must be \(N, features\)"):
        step(X[0], y[:1])
    with pytest.raises(ValueError, match="loss must be one of"):
        nn.CompiledLoss(_model(), loss="hinge")
    with pytest.raises(KeyError, match=r"nothing compiled for shape \(9, 6\)"):
        step.source((9, 6))


def test_train_cli_compile_option_trains_like_the_eager_loop(tmp_path):
    import json

    from chainrule.cli import main

    args = [
        "train",
        "--dataset",
        "moons",
        "--samples",
        "200",
        "--epochs",
        "5",
        "--progress",
        "none",
        "--no-plots",
    ]
    assert main([*args, "--out", str(tmp_path / "eager")]) == 0
    assert main([*args, "--jit", "--out", str(tmp_path / "compiled")]) == 0
    eager = json.loads((tmp_path / "eager" / "metrics.json").read_text())
    compiled = json.loads((tmp_path / "compiled" / "metrics.json").read_text())
    losses_e = [row["loss"] for row in eager["history"]]
    losses_c = [row["loss"] for row in compiled["history"]]
    np.testing.assert_allclose(losses_c, losses_e, rtol=1e-4)
    assert compiled["history"][-1]["test_acc"] == eager["history"][-1]["test_acc"]


def test_the_cache_of_compiled_shapes_is_bounded_and_warns_when_it_thrashes():
    model = _model()
    step = nn.CompiledLoss(model, cache_size=3)
    X, y = _data(20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n in (5, 6, 7, 5, 6, 7):  # three shapes fit: compiled once each, no warning
            step(X[:n], y[:n])
    assert len(step._compiled) == 3
    with pytest.warns(RuntimeWarning, match=r"CompiledLoss: .*recompil.*batch shape") as rec:
        for n in (8, 9, 10, 11, 5, 6):
            step(X[:n], y[:n])
    assert len(rec) == 1  # warned once, not at every recompilation
    assert len(step._compiled) == 3 and len(step._sources) == 3
    assert step.source((6, 6)) and set(step._compiled) == {
        ((n, 6), np.dtype(np.float32)) for n in (11, 5, 6)
    }
    with pytest.raises(KeyError, match=r"nothing compiled for shape \(8, 6\)"):
        step.source((8, 6))  # evicted: least recently used
    # The default keeps 8 shapes.
    assert nn.CompiledLoss(model)._cache_size == 8
    with pytest.raises(ValueError, match="cache_size"):
        nn.CompiledLoss(model, cache_size=0)
