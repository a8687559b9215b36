"""Nearest-pair baselines: the label of the closest labelled source pair is copied."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.transfer.baselines import nearest_pair_labels, pad_features
from robopref.transfer.labels import SourceLabels

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5, 3))  # 4 source trajectories, 5 aligned steps, 3 features
LABELS = SourceLabels(first=[0, 1], second=[1, 2], z=[1.0, 0.2])  # x0 ≻ x1; P(x1 ≻ x2) = 0.2


def _query(y, first, second, method):
    return nearest_pair_labels(X, y, LABELS, np.array(first), np.array(second), method).value


@pytest.mark.parametrize("method", ["nearest_distance", "nearest_cosine"])
def test_copies_label_of_matching_pair_in_both_orders(method):
    y = X + 1e-3 * RNG.standard_normal(X.shape)
    # (0,1) → 1; (1,0) → the symmetrised 0; (2,1) → 1 − 0.2
    np.testing.assert_allclose(_query(y, [0, 1, 2], [1, 0, 1], method), [1.0, 0.0, 0.8])


def test_cosine_ignores_scale():
    # target trajectories are the source ones scaled: cosine still matches every pair exactly
    y = 50.0 * X
    np.testing.assert_allclose(_query(y, [0, 1, 2], [1, 2, 1], "nearest_cosine"), [1.0, 0.2, 0.8])


def test_different_feature_sizes_are_zero_padded():
    y = np.concatenate([X, np.zeros((4, 5, 2))], axis=2)  # two extra, constant features
    fx, fy = pad_features(X, y)
    assert fx.shape == fy.shape == (4, 25)
    np.testing.assert_allclose(_query(y, [0, 2], [1, 1], "nearest_distance"), [1.0, 0.8])


def test_bad_method_and_lengths():
    with pytest.raises(ValueError, match="baseline method"):
        _query(X, [0], [1], "nearest_magic")
    with pytest.raises(ValueError, match="share their length"):
        nearest_pair_labels(X, X[:, :4], LABELS, np.array([0]), np.array([1]))
