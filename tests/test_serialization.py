"""cr.save / cr.load: round trips of models, optimizers and nested values through .npz
without pickle, and errors that name the path."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import SerializationError


def test_model_round_trip_and_plain_numpy_keys(tmp_path):
    model = cr.nn.mlp([4, 6, 3], seed=0)
    path = tmp_path / "model.npz"
    cr.save(model.state_dict(), path)
    loaded = cr.load(path)
    assert list(loaded) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(v, cr.Tensor) for v in loaded.values())
    other = cr.nn.mlp([4, 6, 3], seed=1)
    other.load_state_dict(loaded)
    for p, q in zip(model.parameters(), other.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        assert q.dtype == np.float32
    with np.load(path) as npz:  # readable by NumPy alone, pickle-free
        np.testing.assert_array_equal(npz["0.weight"], model[0].weight.numpy())


def test_nested_values_keep_their_types(tmp_path):
    obj = {
        "model": {"w": np.arange(3.0), "t": cr.tensor([1, 2])},
        "optimizer": {
            "state": {0: {"step": 3, "buf": np.ones((2, 2), np.float32)}},
            "param_groups": [
                {
                    "lr": 0.1,
                    "betas": (0.9, 0.999),
                    "nesterov": False,
                    "params": [0, 1],
                    "note": None,
                    "name": "adam",
                }
            ],
        },
        "epoch": 7,
        "empty": {},
        "nothing": [],
    }
    cr.save(obj, tmp_path / "ck.npz")
    back = cr.load(tmp_path / "ck.npz")
    assert isinstance(back["model"]["w"], np.ndarray)
    assert isinstance(back["model"]["t"], cr.Tensor) and back["model"]["t"].dtype == np.int64
    state = back["optimizer"]["state"]
    assert list(state) == [0] and state[0]["step"] == 3 and isinstance(state[0]["step"], int)
    assert state[0]["buf"].dtype == np.float32
    group = back["optimizer"]["param_groups"][0]
    assert group == {
        "lr": 0.1,
        "betas": (0.9, 0.999),
        "nesterov": False,
        "params": [0, 1],
        "note": None,
        "name": "adam",
    }
    assert isinstance(group["lr"], float)
    assert back["epoch"] == 7 and back["empty"] == {} and back["nothing"] == []


def test_optimizer_round_trip(tmp_path):
    model = cr.nn.mlp([2, 3, 2], seed=0)
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    loss = cr.nn.functional.cross_entropy(model(cr.ones(4, 2, dtype=np.float32)), [0, 1, 0, 1])
    loss.backward()
    opt.step()
    cr.save(opt.state_dict(), tmp_path / "opt.npz")
    opt2 = cr.optim.Adam(model.parameters(), lr=0.5)
    opt2.load_state_dict(cr.load(tmp_path / "opt.npz"))
    assert opt2.param_groups[0]["lr"] == 0.01
    for p in model.parameters():
        np.testing.assert_array_equal(opt2.state[p]["exp_avg"], opt.state[p]["exp_avg"])
        assert opt2.state[p]["step"] == 1


def test_plain_numpy_npz_loads_as_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(2), b=np.zeros(3))
    back = cr.load(tmp_path / "plain.npz")
    assert sorted(back) == ["a", "b"]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such.npz"):
        cr.load(tmp_path / "no_such.npz")
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        cr.save({"a": np.ones(1)}, tmp_path / "missing_dir" / "x.npz")


def test_corrupt_files_name_the_path(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file at all")
    with pytest.raises(SerializationError, match="garbage.npz' is not a readable"):
        cr.load(garbage)
    good = tmp_path / "good.npz"
    cr.save({"w": np.arange(1000.0)}, good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(SerializationError, match="truncated.npz"):
        cr.load(truncated)
    with pytest.raises(SerializationError, match="is a directory"):
        cr.load(tmp_path)
    # A valid zip whose manifest is broken.
    broken = tmp_path / "broken.npz"
    np.savez(broken, __chainrule__=np.array("{not json"))
    with pytest.raises(SerializationError, match="broken.npz' has a corrupt chainrule manifest"):
        cr.load(broken)
    # A pickled object array is refused rather than unpickled.
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(SerializationError, match="pickled.npz"):
        cr.load(pickled)
    assert zipfile.is_zipfile(good)


def test_unsupported_values_are_rejected_with_their_location(tmp_path):
    with pytest.raises(TypeError, match=r"\['model'\]\['f'\] is a function"):
        cr.save({"model": {"f": lambda: 0}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="key"):
        cr.save({(1, 2): np.ones(1)}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
    assert not list(tmp_path.iterdir())  # no temporary file left behind


def test_save_writes_exactly_the_given_path(tmp_path):
    cr.save({"a": np.ones(1)}, tmp_path / "weights.bin")
    assert (tmp_path / "weights.bin").exists() and not (tmp_path / "weights.bin.npz").exists()
    cr.save({"a": np.zeros(1)}, str(tmp_path / "weights.bin"))  # overwrite
    np.testing.assert_array_equal(cr.load(tmp_path / "weights.bin")["a"], [0.0])
