"""Feature visualization: gradient ascent on the input (arg max_x y_j - lambda ||x||^2)
lifts class scores and hidden units well above every training example's."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from attacks_support import load_default

A = cr.attacks


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    pytest.importorskip("sklearn")  # the default model trains on scikit-learn's digits
    return load_default(tmp_path_factory.getbasetemp())


def test_every_class_score_rises_well_above_every_training_example(digits):
    model, split = digits
    x = A.visualize(model, range(10), shape=64, clip=(0.0, 1.0)).numpy()
    assert x.shape == (10, 64) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    scores = A.unit_scores(model, x)
    best_train = A.unit_scores(model, split.X_train).max(axis=0)
    for c in range(10):
        assert scores[c, c] > 1.5 * best_train[c], (c, scores[c, c], best_train[c])
        # The input made for class c is classified as c.
        assert np.argmax(scores[c]) == c


def test_hidden_unit_rises_above_every_training_example(digits):
    model, split = digits
    # Module 1 is the first ReLU. Start each unit from its most exciting training example
    # (a ReLU unit that is off at the start has no gradient).
    units = [0, 5, 17]
    train_acts = A.unit_scores(model, split.X_train, units=units, layer=1)
    x0 = split.X_train[np.argmax(train_acts, axis=0)]
    x = A.visualize(model, units, layer=1, x0=x0, steps=100, clip=(0.0, 1.0)).numpy()
    acts = A.unit_scores(model, x, units=units, layer=1)
    assert np.all(np.diag(acts) > train_acts.max(axis=0))


def test_ascent_follows_the_lecture_update_to_its_fixed_point():
    # y(x) = w . x: the maximum of y - lambda ||x||^2 is x* = w / (2 lambda).
    w = np.array([1.0, -2.0, 0.5])

    def model(inputs):
        return (inputs @ cr.tensor(w)).reshape(-1, 1)

    x = A.visualize(model, 0, x0=np.zeros((1, 3)), steps=400, lr=0.1, l2=0.5, dtype="float64")
    np.testing.assert_allclose(x.numpy()[0], w / (2 * 0.5), atol=1e-8)
    # One step is exactly x + lr * (w - 2 lambda x).
    x1 = A.visualize(model, 0, x0=np.ones((1, 3)), steps=1, lr=0.1, l2=0.5, dtype="float64")
    np.testing.assert_allclose(x1.numpy()[0], 1 + 0.1 * (w - 1.0))


def test_a_larger_penalty_gives_a_smaller_input(digits):
    model, _ = digits
    small = A.visualize(model, [3], shape=64, l2=0.1, clip=(0.0, 1.0)).numpy()
    large = A.visualize(model, [3], shape=64, l2=20.0, clip=(0.0, 1.0)).numpy()
    assert np.linalg.norm(large) < 0.8 * np.linalg.norm(small)


def test_bad_units_and_layers(digits):
    model, _ = digits
    with pytest.raises(IndexError, match=r"unit 10 is out of range for 10 units"):
        A.visualize(model, 10, shape=64)
    with pytest.raises(IndexError, match="layer 7 is out of range"):
        A.visualize(model, 0, shape=64, layer=7)
    with pytest.raises(ValueError, match="give shape"):
        A.visualize(model, 0)
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        A.visualize(model, 0, shape=64, l2=-1.0)
    with pytest.raises(ValueError, match=r"x0 must have shape \(2, ...\)"):
        A.visualize(model, [0, 1], x0=np.zeros((3, 64)))
