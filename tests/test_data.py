"""cr.data: DataLoader batching and seeded shuffling, generated datasets, the digits set,
the stratified split, and the IDX reader with its error cases."""

from __future__ import annotations

import gzip
import struct
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule import data


def test_dataloader_batches_in_order_with_a_partial_last_batch():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    loader = data.DataLoader((X, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    xb, yb = batches[-1]
    assert isinstance(xb, cr.Tensor) and isinstance(yb, cr.Tensor)
    np.testing.assert_array_equal(xb.numpy(), X[8:])
    np.testing.assert_array_equal(yb.numpy(), [8, 9])
    dropped = data.DataLoader((X, y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b[1]) for b in dropped] == [4, 4]


def test_shuffling_is_seeded_differs_per_epoch_and_covers_everything():
    X = np.arange(50)
    a = data.DataLoader((X,), batch_size=7, shuffle=True, seed=3)
    b = data.DataLoader((X,), batch_size=7, shuffle=True, seed=3)
    epoch_a1 = np.concatenate([xb.numpy() for (xb,) in a])
    epoch_a2 = np.concatenate([xb.numpy() for (xb,) in a])
    epoch_b1 = np.concatenate([xb.numpy() for (xb,) in b])
    np.testing.assert_array_equal(epoch_a1, epoch_b1)  # same seed, same order
    assert not np.array_equal(epoch_a1, epoch_a2)  # a new order each epoch
    assert not np.array_equal(epoch_a1, X)
    np.testing.assert_array_equal(np.sort(epoch_a1), X)  # every sample exactly once


def test_generic_map_style_dataset_is_collated():
    class Squares(data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float64), i % 2

    batches = list(data.DataLoader(Squares(), batch_size=2))
    np.testing.assert_array_equal(batches[1][0].numpy(), [[2, 4], [3, 9]])
    np.testing.assert_array_equal(batches[2][1].numpy(), [0])


def test_loader_and_dataset_errors():
    with pytest.raises(ValueError, match="array 1 has 3 rows but array 0 has 4"):
        data.TensorDataset(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader((np.zeros(3),), batch_size=0)
    with pytest.raises(TypeError, match="len"):
        data.DataLoader(5)


@pytest.mark.parametrize(
    "maker, n_classes", [(data.moons, 2), (data.circles, 2), (data.spirals, 3)]
)
def test_generated_datasets(maker, n_classes):
    X, y = maker(301, seed=0)
    assert X.shape == (301, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert sorted(np.unique(y).tolist()) == list(range(n_classes))
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1  # balanced classes
    X2, y2 = maker(301, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = maker(301, seed=1)
    assert not np.array_equal(X, X3)
    Xq, _ = maker(301, noise=0.0, seed=0)
    assert np.isfinite(Xq).all()
    with pytest.raises(ValueError, match="noise"):
        maker(100, noise=-1.0)
    with pytest.raises(ValueError, match="n_samples"):
        maker(1)


def test_moons_without_noise_lie_on_the_half_circles():
    X, y = data.moons(200, noise=0.0, seed=0, dtype=np.float64)
    outer = X[y == 0]
    inner = X[y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0)
    assert (outer[:, 1] >= -1e-12).all() and (inner[:, 1] <= 0.5 + 1e-12).all()


def test_train_test_split_is_stratified_and_disjoint():
    X = np.arange(100).reshape(100, 1)
    y = np.repeat([0, 1, 2, 3], 25)
    Xtr, ytr, Xte, yte = data.train_test_split(X, y, test_size=0.2, seed=0)
    assert len(yte) == 20 and len(ytr) == 80
    assert np.bincount(yte).tolist() == [5, 5, 5, 5]
    assert set(Xtr[:, 0]).isdisjoint(Xte[:, 0])
    np.testing.assert_array_equal(y[Xtr[:, 0]], ytr)
    with pytest.raises(ValueError, match="test_size"):
        data.train_test_split(X, y, test_size=1.0)


def test_load_dataset_registry():
    split = data.load_dataset("spirals", n_samples=200, seed=1)
    assert split.n_classes == 3 and split.n_features == 2
    assert len(split.y_train) + len(split.y_test) == 200
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.load_dataset("cifar")


def test_digits():
    pytest.importorskip("sklearn")
    X, y = data.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0 and sorted(set(y.tolist())) == list(range(10))


# ---------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data.write_idx(tmp_path / "a.idx", arr)
    back = data.read_idx(tmp_path / "a.idx")
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, arr)


def test_idx_header_is_the_documented_layout(tmp_path):
    labels = np.array([7, 2, 1], dtype=np.uint8)
    data.write_idx(tmp_path / "labels-idx1-ubyte", labels)
    raw = (tmp_path / "labels-idx1-ubyte").read_bytes()
    assert raw == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])  # magic 0x00000801, N=3, data
    data.write_idx(tmp_path / "labels.gz", labels)
    assert gzip.decompress((tmp_path / "labels.gz").read_bytes()) == raw
    np.testing.assert_array_equal(data.read_idx(tmp_path / "labels.gz"), labels)


def test_idx_truncated_data_names_path_and_sizes(tmp_path):
    path = tmp_path / "images.idx"
    data.write_idx(path, np.zeros((4, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        data.IDXError,
        match=r"images.idx' is truncated.*\(4, 28, 28\).*"
        r"3136 data bytes, found 3036",
    ):
        data.read_idx(path)


def test_idx_truncated_header(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 4]))  # declares 3 dims, gives 1
    with pytest.raises(data.IDXError, match="short.idx' is truncated.*3 dimensions"):
        data.read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(data.IDXError, match="truncated: 2 bytes"):
        data.read_idx(path)


def test_idx_wrong_magic_number(tmp_path):
    path = tmp_path / "notidx.bin"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(
        data.IDXError,
        match=r"notidx.bin' is not an IDX file: bad magic "
        r"number 0x504b0304",
    ):
        data.read_idx(path)
    path.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 0]))
    with pytest.raises(data.IDXError, match="unknown IDX type byte 0x42"):
        data.read_idx(path)


def test_idx_extra_bytes_missing_file_and_bad_gzip(tmp_path):
    path = tmp_path / "long.idx"
    data.write_idx(path, np.zeros(3, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(data.IDXError, match="longer than its header says"):
        data.read_idx(path)
    with pytest.raises(FileNotFoundError, match="nothere.idx"):
        data.read_idx(tmp_path / "nothere.idx")
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(data.IDXError, match="bad.gz' is a corrupt gzip file"):
        data.read_idx(bad)


def test_load_mnist_from_small_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 6), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        data.write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        data.write_idx(
            tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8)
        )
    X, y = data.load_mnist(tmp_path, train=True)
    assert X.shape == (6, 784) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert y.dtype == np.int64
    split = data.load_dataset("mnist", data_dir=tmp_path)
    assert split.X_test.shape == (3, 784) and split.n_classes == 10
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        data.load_mnist(tmp_path, train=False)
    data.write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, dtype=np.uint8))
    with pytest.raises(data.IDXError, match=r"shape \(3, 28, 28\).*shape \(2,\)"):
        data.load_mnist(tmp_path, train=False)


def test_idx_gzip_header_is_read_before_decompressing_the_whole_file(tmp_path):
    # A 2-byte array followed by 64 MB of zeros: a gzip bomb of about 64 kB. The header
    # says 2 bytes, so the reader must stop after reading 3 (not inflate all of it).
    path = tmp_path / "bomb.gz"
    body = bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 7]) + bytes(64 << 20)
    path.write_bytes(gzip.compress(body, compresslevel=1))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(data.IDXError, match="bomb.gz' is longer than its header says"):
            data.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


@pytest.mark.parametrize("gz", [False, True])
def test_idx_headers_declaring_huge_shapes_are_idx_errors(tmp_path, gz):
    path = tmp_path / ("huge.idx.gz" if gz else "huge.idx")

    def write(raw):
        path.write_bytes(gzip.compress(raw) if gz else raw)

    # 2^64 * 3 elements: the product wraps to 0 in int64, as if the (empty) data fit.
    write(bytes([0, 0, 8, 5]) + struct.pack(">5I", 65536, 65536, 65536, 65536, 3))
    with pytest.raises(data.IDXError, match=r"huge.idx(.gz)?' is truncated.*found 0"):
        data.read_idx(path)
    # 4 GB declared, 10 bytes given: an error, not a 4 GB allocation.
    write(bytes([0, 0, 8, 1]) + struct.pack(">I", 2**32 - 1) + bytes(10))
    with pytest.raises(data.IDXError, match=r"truncated.*4294967295 data bytes, found 10"):
        data.read_idx(path)
    # More dimensions than NumPy supports.
    write(bytes([0, 0, 8, 70]) + struct.pack(">70I", *([1] * 70)) + b"\x01")
    with pytest.raises(data.IDXError, match="70 dimensions"):
        data.read_idx(path)


def test_idx_random_corruptions_raise_only_idx_errors(tmp_path):
    good = tmp_path / "good.gz"
    data.write_idx(good, np.arange(600, dtype=np.int16).reshape(20, 30))
    raw = good.read_bytes()
    rng = np.random.default_rng(0)
    bad = tmp_path / "bad.gz"
    for trial in range(400):
        corrupt = bytearray(raw)
        if trial % 4 == 0:
            corrupt = corrupt[: rng.integers(0, len(corrupt))]
        else:
            for at in rng.integers(0, len(corrupt), rng.integers(1, 4)):
                corrupt[at] = rng.integers(0, 256)
        bad.write_bytes(bytes(corrupt))
        try:
            data.read_idx(bad)
        except data.IDXError as e:
            assert "bad.gz" in str(e)
