"""cr.save / cr.load: round trips of models, optimizers and nested values through .npz
without pickle, and errors that name the path."""

from __future__ import annotations

import io
import os
import stat
import struct
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
    with pytest.raises(SerializationError, match="garbage.npz' is not a chainrule weights file"):
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


# ---------------------------------------------------------------------- hardening


def test_a_key_ending_in_npy_round_trips_exactly(tmp_path):
    # np.savez appends ".npy" to every name, so "a.npy" and "a" must not be confused.
    obj = {"a": np.zeros(2), "a.npy": np.ones(3), "b.npy": {"c.npy": np.full(4, 7.0)}}
    cr.save(obj, tmp_path / "k.npz")
    back = cr.load(tmp_path / "k.npz")
    assert list(back) == ["a", "a.npy", "b.npy"]
    np.testing.assert_array_equal(back["a"], np.zeros(2))
    np.testing.assert_array_equal(back["a.npy"], np.ones(3))
    np.testing.assert_array_equal(back["b.npy"]["c.npy"], np.full(4, 7.0))
    # A file that np.savez wrote with such names (member "a.npy.npy") loads exactly too.
    np.savez(tmp_path / "plain.npz", **{"a": np.zeros(1), "a.npy": np.ones(1)})
    plain = cr.load(tmp_path / "plain.npz")
    assert plain["a"][0] == 0.0 and plain["a.npy"][0] == 1.0


def test_a_key_with_a_nul_byte_is_refused_at_save_time(tmp_path):
    with pytest.raises(ValueError, match=r"save: the object\['w'\] has a key 'a\\x00b'.*NUL"):
        cr.save({"w": {"a\x00b": np.ones(2)}}, tmp_path / "nul.npz")
    with pytest.raises(ValueError, match="NUL"):
        cr.save({"x\x00": 1}, tmp_path / "nul.npz")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_files_are_written_with_the_umask_like_np_save(tmp_path, umask):
    old = os.umask(umask)
    try:
        cr.save({"a": np.ones(1)}, tmp_path / "w.npz")
        np.save(tmp_path / "ref.npy", np.ones(1))
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "w.npz").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "ref.npy").stat().st_mode) == 0o666 & ~umask
    # Replacing a file keeps its permissions, as np.save's overwrite in place does.
    os.chmod(tmp_path / "w.npz", 0o640)
    cr.save({"a": np.zeros(1)}, tmp_path / "w.npz")
    assert stat.S_IMODE((tmp_path / "w.npz").stat().st_mode) == 0o640


def _patch_declared_size(path, size):
    """Make the zip's central directory claim ``size`` uncompressed bytes for its member."""
    raw = bytearray(path.read_bytes())
    at = raw.index(b"PK\x01\x02")
    raw[at + 24 : at + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(raw))


def test_archives_that_decompress_beyond_the_limit_are_refused(tmp_path):
    # A real bomb: 64 MB of zeros in a ~64 kB file, read with a 16 MB limit.
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("a.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(8 << 20))
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(SerializationError, match=r"bomb.npz' would decompress to 67,108,992 "):
        cr.load(bomb, max_bytes=16 << 20)
    assert cr.load(bomb, max_bytes=None)["a"].shape == (8 << 20,)  # None: no limit
    # The default limit is checked on the sizes the archive declares, before reading.
    small = tmp_path / "small.npz"
    with zipfile.ZipFile(small, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("a.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(10))
    _patch_declared_size(small, 0xFFFFFFF0)
    with pytest.raises(SerializationError, match=r"small.npz' would decompress to 4,294,967,280"):
        cr.load(small)


def _npz_with_member(path, name, payload):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, payload)


def test_an_array_header_larger_than_its_data_is_an_error_not_a_memory_error(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    path = tmp_path / "liar.npz"
    _npz_with_member(path, "a.npy", header.getvalue() + bytes(8))
    with pytest.raises(SerializationError, match=r"liar.npz'.*'a'.*8,000,000,000,000 bytes"):
        cr.load(path)


def test_deeply_nested_manifests_are_serialization_errors(tmp_path):
    for i, text in enumerate(
        ["[" * 100_000 + "]" * 100_000, '{"list": [' * 20_000 + "]}" * 20_000]
    ):
        path = tmp_path / f"deep{i}.npz"
        manifest = '{"format": "chainrule-npz", "version": 1, "tree": ' + text + "}"
        np.savez(path, __chainrule__=np.array(manifest))
        with pytest.raises(SerializationError, match=f"deep{i}.npz"):
            cr.load(path)


def test_junk_is_not_a_chainrule_weights_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x80\x04junk that NumPy would take for a pickle")
    with pytest.raises(SerializationError, match="junk.npz' is not a chainrule weights file") as e:
        cr.load(junk)
    assert "pickle" not in str(e.value)


@pytest.mark.parametrize("compressed", [False, True])
def test_random_corruptions_raise_only_serialization_errors(tmp_path, compressed):
    good = tmp_path / "good.npz"
    state = {"model": cr.nn.mlp([3, 4, 2], seed=0).state_dict(), "step": 3, "name": "x"}
    cr.save(state, good)
    if compressed:  # the same arrays and manifest, deflated (as np.savez_compressed does)
        with (
            zipfile.ZipFile(good) as src,
            zipfile.ZipFile(tmp_path / "z.npz", "w", zipfile.ZIP_DEFLATED) as dst,
        ):
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info))
        good = tmp_path / "z.npz"
    raw = good.read_bytes()
    rng = np.random.default_rng(0)
    bad = tmp_path / "bad.npz"
    for trial in range(400):
        data = bytearray(raw)
        if trial % 4 == 0:
            data = data[: rng.integers(0, len(data))]
        else:
            for at in rng.integers(0, len(data), rng.integers(1, 4)):
                data[at] = rng.integers(0, 256)
        bad.write_bytes(bytes(data))
        try:
            cr.load(bad)
        except SerializationError as e:
            assert "bad.npz" in str(e)
