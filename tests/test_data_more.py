"""cr.data additions: collate_fn and default_collate, the transform hooks of TensorDataset,
the seeded image augmentations, the generated shapes images and the sequence tasks."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import data
from chainrule.data import transforms as T

# ---------------------------------------------------------------------- collate


def test_default_collate_keeps_the_structure():
    samples = [
        {"image": np.full((2, 2), i, np.float32), "label": i, "meta": (i * 1.5, f"s{i}")}
        for i in range(3)
    ]
    batch = data.default_collate(samples)
    assert set(batch) == {"image", "label", "meta"}
    assert isinstance(batch["image"], cr.Tensor) and batch["image"].shape == (3, 2, 2)
    assert batch["label"].numpy().tolist() == [0, 1, 2]
    assert batch["label"].dtype == np.int64
    assert isinstance(batch["meta"], tuple)
    assert batch["meta"][0].numpy().tolist() == [0.0, 1.5, 3.0]
    assert batch["meta"][1] == ["s0", "s1", "s2"]
    assert isinstance(data.default_collate([[1, 2], [3, 4]]), list)
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        data.default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="sample 1 has 1 fields, sample 0 has 2"):
        data.default_collate([(1, 2), (3,)])


def test_collate_fn_gets_the_list_of_samples():
    X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    seen = []

    def collate(samples):
        seen.append(samples)
        xs = np.stack([s[0] for s in samples])
        return cr.tensor(xs), [int(s[1]) for s in samples]

    batches = list(data.DataLoader((X, y), batch_size=2, collate_fn=collate))
    assert [len(s) for s in seen] == [2, 2, 1]
    assert all(isinstance(s, tuple) and len(s) == 2 for s in seen[0])
    assert batches[1][1] == [2, 3]
    np.testing.assert_array_equal(batches[2][0].numpy(), X[4:])
    # Shuffled: the collate function sees the samples in the shuffled order.
    a = [b[1] for b in data.DataLoader((X, y), 2, shuffle=True, seed=1, collate_fn=collate)]
    b = [b[1] for b in data.DataLoader((X, y), 2, shuffle=True, seed=1)]
    assert a == [bb.numpy().tolist() for bb in b]
    with pytest.raises(TypeError, match="DataLoader: collate_fn must be callable"):
        data.DataLoader((X, y), collate_fn=3)


def test_variable_length_sequences_padded_by_a_collate_fn():
    class Words(data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.arange(1, i + 2), i

    def pad(samples):
        longest = max(len(s[0]) for s in samples)
        out = np.zeros((len(samples), longest), np.int64)
        for row, (seq, _) in enumerate(samples):
            out[row, : len(seq)] = seq
        return cr.tensor(out), cr.tensor(np.array([s[1] for s in samples]))

    (x1, y1), (x2, y2) = list(data.DataLoader(Words(), batch_size=2, collate_fn=pad))
    assert x1.numpy().tolist() == [[1, 0], [1, 2]] and x2.shape == (2, 4)
    with pytest.raises(ValueError, match="different shapes"):
        list(data.DataLoader(Words(), batch_size=2))  # the default cannot stack them


# ---------------------------------------------------------------------- dataset transforms


def test_tensor_dataset_transforms_per_sample_and_per_batch():
    X = np.arange(24, dtype=np.float32).reshape(6, 1, 2, 2)
    y = np.arange(6)
    norm = T.Normalize(2.0, 4.0)
    ds = data.TensorDataset(X, y, transform=norm, target_transform=lambda t: t * 10)
    x3, y3 = ds[3]
    np.testing.assert_allclose(x3, (X[3] - 2) / 4)
    assert y3 == 30
    batches = list(data.DataLoader(ds, batch_size=4))
    np.testing.assert_allclose(batches[0][0].numpy(), (X[:4] - 2) / 4)
    assert batches[1][1].numpy().tolist() == [40, 50]  # no batch method: one call per label
    np.testing.assert_array_equal(X, np.arange(24).reshape(6, 1, 2, 2))  # data untouched
    with pytest.raises(TypeError, match="TensorDataset: transform must be callable"):
        data.TensorDataset(X, transform="flip")
    with pytest.raises(ValueError, match="target_transform needs a second array"):
        data.TensorDataset(X, target_transform=abs)


def test_augmented_loader_is_seeded_and_shape_preserving():
    X, y = data.shapes(64, seed=0)

    def loader(seed):
        aug = T.Compose(
            [
                T.RandomCrop(28, padding=3, seed=seed),
                T.RandomHorizontalFlip(seed=seed + 1),
                T.GaussianNoise(sigma=0.05, seed=seed + 2),
            ]
        )
        ds = data.TensorDataset(X, y, transform=aug)
        return data.DataLoader(ds, batch_size=16, shuffle=True, seed=seed)

    first = [(xb.numpy(), yb.numpy()) for xb, yb in loader(5)]
    again = [(xb.numpy(), yb.numpy()) for xb, yb in loader(5)]
    other = [(xb.numpy(), yb.numpy()) for xb, yb in loader(6)]
    for (a, la), (b, lb) in zip(first, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(first[0][0], other[0][0])
    assert all(a.shape == (16, 1, 28, 28) and a.dtype == np.float32 for a, _ in first)
    # Augmented, not replaced: every image is still mostly its original pixels' statistics.
    assert abs(np.mean([a.mean() for a, _ in first]) - X.mean()) < 0.03


# ---------------------------------------------------------------------- augmentations


def _windows(padded, h, w):
    H, W = padded.shape[-2:]
    return [padded[..., i : i + h, j : j + w] for i in range(H - h + 1) for j in range(W - w + 1)]


def test_random_crop_picks_a_window_of_the_padded_image():
    rng = np.random.default_rng(0)
    img = rng.random((2, 6, 5))
    crop = T.RandomCrop((6, 5), padding=2, seed=0)
    padded = np.pad(img, [(0, 0), (2, 2), (2, 2)])
    windows = _windows(padded, 6, 5)
    offsets = set()
    for _ in range(200):
        out = crop(img)
        assert out.shape == img.shape
        hits = [k for k, win in enumerate(windows) if np.array_equal(out, win)]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) == len(windows)  # every one of the 5 x 5 offsets occurs
    # The batch form: each sample gets its own window of its own padded image.
    batch = rng.random((50, 2, 6, 5))
    out = T.RandomCrop((6, 5), padding=2, seed=1).batch(batch)
    assert out.shape == batch.shape
    chosen = set()
    for b, o in zip(batch, out):
        wins = _windows(np.pad(b, [(0, 0), (2, 2), (2, 2)]), 6, 5)
        hits = [k for k, win in enumerate(wins) if np.array_equal(o, win)]
        assert hits
        chosen.add(hits[0])
    assert len(chosen) > 5


def test_random_crop_options_and_errors():
    img = np.arange(16.0).reshape(4, 4)
    assert T.RandomCrop(2, seed=0)(img).shape == (2, 2)
    out = T.RandomCrop(6, pad_if_needed=True, fill=-1.0, seed=0)(img)
    assert out.shape == (6, 6) and (out == -1).sum() == 20
    edge = T.RandomCrop(4, padding=(1, 0), padding_mode="edge", seed=0)(img)  # left/right only
    assert edge.shape == (4, 4) and set(edge[:, 0]) <= set(img[:, 0]) | set(img[:, 1])
    asym = T.RandomCrop((5, 4), padding=(0, 1, 0, 0), seed=0)(img)  # one row on top
    np.testing.assert_array_equal(asym, np.vstack([np.zeros((1, 4)), img]))
    for mode in ("reflect", "symmetric"):
        assert T.RandomCrop(4, padding=2, padding_mode=mode, seed=0)(img).shape == (4, 4)
    with pytest.raises(ValueError, match=r"RandomCrop: crop size \(5, 5\) is larger"):
        T.RandomCrop(5)(img)
    with pytest.raises(ValueError, match="RandomCrop: padding_mode must be one of"):
        T.RandomCrop(4, padding=1, padding_mode="wrap")
    with pytest.raises(ValueError, match="RandomCrop: size must be a positive int"):
        T.RandomCrop(0)
    with pytest.raises(ValueError, match=r"RandomCrop: expected a sample .* shape \(4,\)"):
        T.RandomCrop(2)(np.zeros(4))
    with pytest.raises(ValueError, match="RandomCrop.batch: expected a batch"):
        T.RandomCrop(2).batch(img)


def test_random_horizontal_flip():
    img = np.arange(6.0).reshape(1, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(img), img)
    batch = np.stack([img] * 400)
    out = T.RandomHorizontalFlip(seed=0).batch(batch)
    flipped = np.array([np.array_equal(o, img[..., ::-1]) for o in out])
    kept = np.array([np.array_equal(o, img) for o in out])
    assert (flipped ^ kept).all() and 150 < flipped.sum() < 250
    again = T.RandomHorizontalFlip(seed=0).batch(batch)
    np.testing.assert_array_equal(out, again)
    np.testing.assert_array_equal(batch[0], img)  # the input is not modified
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: p must be in \[0, 1\]"):
        T.RandomHorizontalFlip(p=2.0)


def test_gaussian_noise():
    x = np.full((200, 1, 10, 10), 0.5, dtype=np.float32)
    out = T.GaussianNoise(sigma=0.1, seed=0).batch(x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert abs(float((out - x).mean())) < 0.005 and abs(float((out - x).std()) - 0.1) < 0.005
    np.testing.assert_array_equal(out, T.GaussianNoise(sigma=0.1, seed=0).batch(x))
    big = T.GaussianNoise(sigma=2.0, seed=0)(x[0])
    assert big.min() == 0.0 and big.max() == 1.0  # clipped to the image range
    free = T.GaussianNoise(mean=1.0, sigma=0.5, clip=False, seed=0)(x[0])
    assert free.max() > 1.0 and abs(float(free.mean()) - 1.5) < 0.2
    with pytest.raises(ValueError, match="GaussianNoise: sigma must be >= 0"):
        T.GaussianNoise(sigma=-1)


def test_normalize_per_channel_and_errors():
    x = np.ones((2, 3, 2, 2), dtype=np.float32)
    norm = T.Normalize([1.0, 0.0, 0.5], [1.0, 2.0, 0.25])
    out = norm.batch(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 0, 0], [[0.0, 0.5, 2.0]] * 2)
    np.testing.assert_allclose(norm(x[0]), out[0])
    with pytest.raises(ValueError, match=r"Normalize: 3 channel means/stds.*\(2, 2, 2\)"):
        norm(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="Normalize: std must not be 0"):
        T.Normalize(0.0, 0.0)


# ---------------------------------------------------------------------- shapes images


def test_shapes_are_deterministic_balanced_and_in_range():
    X, y = data.shapes(1003, seed=3)
    assert X.shape == (1003, 1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.max() - counts.min() <= 1
    assert X.min() >= 0.0 and X.max() <= 1.0
    X2, y2 = data.shapes(1003, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, y3 = data.shapes(1003, seed=4)
    assert not np.array_equal(X, X3) and not np.array_equal(y, y3)
    Xs, ys = data.shapes(90, n_classes=3, size=16, noise=0.0, seed=0, dtype=np.float64)
    assert Xs.shape == (90, 1, 16, 16) and Xs.dtype == np.float64
    assert np.bincount(ys).tolist() == [30, 30, 30]
    clean, _ = data.shapes(500, noise=0.0, seed=0)
    border = np.concatenate([clean[..., 0, :], clean[..., -1, :], clean[..., 0], clean[..., -1]])
    assert border.max() == 0.0  # every shape lies inside the frame
    assert (clean.reshape(500, -1).max(axis=1) >= 0.65).all()  # and is drawn
    assert data.SHAPE_CLASSES[:3] == ("disk", "ring", "square")


def test_shapes_classes_differ_from_each_other():
    # A nearest-class-mean classifier on the pixels, fitted on one set and scored on
    # another: far above chance (10%), so each class has a shape of its own.
    Xtr, ytr = data.shapes(2000, seed=0)
    Xte, yte = data.shapes(1000, seed=1)
    flat_tr, flat_te = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
    means = np.stack([flat_tr[ytr == k].mean(axis=0) for k in range(10)])
    dist = ((flat_te[:, None, :] - means[None]) ** 2).sum(axis=-1)
    accuracy = (dist.argmin(axis=1) == yte).mean()
    assert accuracy > 0.4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_classes": 11}, "n_classes must be between 2 and 10"),
        ({"n_classes": 1}, "n_classes must be between 2 and 10"),
        ({"n_samples": 5}, r"n_samples must be >= n_classes \(10\)"),
        ({"size": 4}, "size must be an int >= 8"),
        ({"noise": -0.1}, "noise must be >= 0"),
        ({"n_samples": 10.5}, "n_samples must be an int"),
    ],
)
def test_shapes_errors(kwargs, message):
    with pytest.raises(ValueError, match="shapes: " + message):
        data.shapes(**{"n_samples": 100, **kwargs})


# ---------------------------------------------------------------------- sequences


def test_adding_problem():
    X, y = data.adding_problem(5000, seq_len=30, seed=0)
    assert X.shape == (5000, 30, 2) and y.shape == (5000, 1) and X.dtype == np.float32
    markers = X[:, :, 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :15].sum(axis=1) == 1).all() and (markers[:, 15:].sum(axis=1) == 1).all()
    np.testing.assert_allclose((X[:, :, 0] * markers).sum(axis=1), y[:, 0], rtol=1e-6)
    assert 0.0 <= X[:, :, 0].min() and X[:, :, 0].max() <= 1.0
    baseline = float(((y - 1.0) ** 2).mean())  # predicting the mean: 1/6
    assert baseline == pytest.approx(1 / 6, abs=0.01)
    X2, y2 = data.adding_problem(5000, seq_len=30, seed=0)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, data.adding_problem(5000, seq_len=30, seed=1)[0])
    with pytest.raises(ValueError, match="adding_problem: seq_len must be an int >= 2"):
        data.adding_problem(10, seq_len=1)


def test_parity_is_balanced_and_correct():
    X, y = data.parity(2001, seq_len=12, seed=0)
    assert X.shape == (2001, 12, 1) and y.dtype == np.int64
    assert sorted(set(X.ravel().tolist())) == [0.0, 1.0]
    np.testing.assert_array_equal(X[:, :, 0].sum(axis=1) % 2, y)
    assert abs(np.bincount(y)[0] - np.bincount(y)[1]) <= 1
    assert abs(float(X.mean()) - 0.5) < 0.02  # flipping one bit kept the bits fair
    np.testing.assert_array_equal(X, data.parity(2001, seq_len=12, seed=0)[0])
    with pytest.raises(ValueError, match="parity: n_samples must be an int >= 2"):
        data.parity(1)


def test_noisy_sine_targets_continue_the_clean_wave():
    X, y = data.noisy_sine(50, seq_len=20, horizon=3, noise=0.0, seed=0, dtype=np.float64)
    longer, _ = data.noisy_sine(50, seq_len=23, horizon=1, noise=0.0, seed=0, dtype=np.float64)
    np.testing.assert_allclose(longer[:, :20, 0], X[:, :, 0])
    np.testing.assert_allclose(longer[:, 20:, 0], y)
    assert np.abs(X).max() <= 1.5
    Xn, yn = data.noisy_sine(50, seq_len=20, horizon=3, noise=0.2, seed=0, dtype=np.float64)
    np.testing.assert_allclose(yn, y)  # the targets are noise-free
    assert 0.15 < float((Xn - X).std()) < 0.25
    with pytest.raises(ValueError, match="noisy_sine: horizon must be an int >= 1"):
        data.noisy_sine(5, horizon=0)
    with pytest.raises(ValueError, match="noisy_sine: noise must be >= 0"):
        data.noisy_sine(5, noise=-1.0)
