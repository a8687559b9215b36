"""GW plans: marginals, invariance to permuting trajectories, quantized vs exact."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.transfer.distances import distance_matrix, pairwise_euclidean, scale_unit
from robopref.transfer.labels import SourceLabels, all_pairs, transfer_labels
from robopref.transfer.plans import gw_entropic, gw_exact, gw_quantized


def _clouds(m: int, n: int, seed: int = 0):
    """Source and target trajectories as points in four clusters of unequal mass and
    spread (quality rises from cluster to cluster and along a direction inside each),
    embedded in spaces of different dimension by random rotations."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [4.0, 6.0, 0.0], [0.0, 6.0, 5.0]])
    spread = np.array([0.3, 0.6, 0.9, 1.2])

    def cloud(k, dim):
        part = rng.choice(4, k, p=[0.4, 0.3, 0.2, 0.1])
        inside = rng.random(k)
        points = centres[part] + spread[part, None] * np.stack([inside, 0.3 * rng.standard_normal(k), 0.3 * rng.standard_normal(k)], 1)
        rot = np.linalg.qr(rng.standard_normal((dim, dim)))[0][:3]
        return points @ rot, part + inside

    return (*cloud(m, 4), *cloud(n, 6))


def _labels(quality: np.ndarray, count: int, seed: int = 1) -> SourceLabels:
    rng = np.random.default_rng(seed)
    i, k = rng.integers(0, len(quality), (2, 3 * count))
    i, k = i[i != k][:count], k[i != k][:count]
    return SourceLabels(i, k, (quality[i] > quality[k]).astype(float))


def test_exact_plan_has_the_marginals_and_finds_the_structure():
    x, qx, y, qy = _clouds(40, 30)
    p = np.random.default_rng(3).random(40) + 0.5
    plan = gw_exact(scale_unit(pairwise_euclidean(x)), scale_unit(pairwise_euclidean(y)), p).dense()
    np.testing.assert_allclose(plan.sum(1), p / p.sum(), atol=1e-8)
    np.testing.assert_allclose(plan.sum(0), 1 / 30, atol=1e-8)
    i, k = all_pairs(40)
    out = transfer_labels(plan, SourceLabels(i, k, (qx[i] > qx[k]).astype(float)), *all_pairs(30))
    truth = qy[out.first] > qy[out.second]
    assert np.mean((out.value > 0.5) == truth) > 0.85


@pytest.mark.parametrize("solver", ["exact", "entropic"])
def test_plan_and_labels_invariant_to_permuting_trajectories(solver):
    x, qx, y, _ = _clouds(25, 20, seed=4)
    cx, cy = scale_unit(pairwise_euclidean(x)), scale_unit(pairwise_euclidean(y))
    px, py = np.random.default_rng(5).permutation(25), np.random.default_rng(6).permutation(20)
    solve = gw_exact if solver == "exact" else (lambda a, b: gw_entropic(a, b, epsilon=0.01))
    plan = solve(cx, cy).dense()
    permuted = solve(cx[np.ix_(px, px)], cy[np.ix_(py, py)]).dense()
    np.testing.assert_allclose(permuted, plan[np.ix_(px, py)], atol=1e-6)
    labels = _labels(qx, 150)
    inv = np.argsort(px)  # source index i is at position inv[i] after permuting
    moved = SourceLabels(inv[labels.first], inv[labels.second], labels.z)
    j, l = all_pairs(20)
    inv_y = np.argsort(py)
    a = transfer_labels(plan, labels, j, l)
    b = transfer_labels(permuted, moved, inv_y[j], inv_y[l])
    np.testing.assert_allclose(a.value, b.value, atol=1e-6)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-6)


def test_quantized_agrees_with_exact_on_a_small_problem():
    x, qx, y, qy = _clouds(300, 240, seed=2)
    i, k = all_pairs(300)
    labels = SourceLabels(i, k, (qx[i] > qx[k]).astype(float))  # a fully labelled source
    j, l = all_pairs(240)
    exact = transfer_labels(gw_exact(scale_unit(pairwise_euclidean(x)), scale_unit(pairwise_euclidean(y))).matrix, labels, j, l)
    plan = gw_quantized(x, y, clusters=24)
    np.testing.assert_allclose(np.asarray(plan.matrix.sum(0)).ravel(), 1 / 240, atol=1e-9)
    np.testing.assert_allclose(np.asarray(plan.matrix.sum(1)).ravel(), 1 / 300, atol=1e-9)
    assert plan.matrix.nnz < 0.05 * 300 * 240  # sparse: never a dense M×N plan
    quant = transfer_labels(plan.matrix, labels, j, l)
    truth = qy[j] > qy[l]
    acc_exact, acc_quant = np.mean((exact.value > 0.5) == truth), np.mean((quant.value > 0.5) == truth)
    assert acc_exact > 0.9 and acc_quant > acc_exact - 0.03
    assert np.mean((exact.value > 0.5) == (quant.value > 0.5)) > 0.9


def test_distances_are_unit_scaled_and_handle_lengths_and_spaces():
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((int(t), 5)).cumsum(0) for t in rng.integers(20, 40, 12)]
    for kind in ("euclidean", "dtw", "embedding"):
        c = distance_matrix(seqs, kind, length=16)
        assert c.shape == (12, 12) and c.max() == pytest.approx(1.0) and np.allclose(np.diag(c), 0)
        np.testing.assert_allclose(c, c.T, atol=1e-12)
    # a time-shifted copy is closer under DTW than under the time-aligned Euclidean distance
    t = np.linspace(0, 6, 60)[:, None]
    waves = [np.sin(t), np.sin(t - 0.8), np.cos(3 * t)]
    e, d = distance_matrix(waves, "euclidean"), distance_matrix(waves, "dtw")
    assert d[0, 1] / d[0, 2] < e[0, 1] / e[0, 2]
    with pytest.raises(ValueError, match="distance="):
        distance_matrix(seqs, "manhattan")
    with pytest.raises(ValueError, match="feature dimension"):
        distance_matrix([np.zeros((5, 2)), np.zeros((5, 3))])
