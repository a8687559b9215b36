"""The per-block geometry: entropic GW that matches every feature block's distances at once."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.transfer.distances import block_distance_matrices, pairwise_euclidean, scale_spread, scale_unit
from robopref.transfer.features import TaskSequences
from robopref.transfer.labels import SourceLabels, all_pairs
from robopref.transfer.pipeline import TransferSettings, transfer
from robopref.transfer.plans import gw_entropic, gw_entropic_blocks


def _points(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).cumsum(1)


def _task(points: np.ndarray, scale_a: float = 1.0, scale_b: float = 1.0) -> TaskSequences:
    """Trajectories that ramp from 0 to a point: its first coordinate in the states block,
    its second in the actions block, each in its own units."""
    ramp = np.linspace(0.0, 1.0, 10)[:, None]
    return TaskSequences({"states": [ramp * scale_a * p[0] for p in points], "actions": [ramp * scale_b * p[1] for p in points]})


def test_one_block_gives_pots_entropic_plan():
    cx, cy = scale_unit(pairwise_euclidean(_points(30, 3, 0))), scale_unit(pairwise_euclidean(_points(25, 5, 1)))
    ours = gw_entropic_blocks([cx], [cy], epsilon=0.01)
    pot = gw_entropic(cx, cy, epsilon=0.01)
    np.testing.assert_allclose(ours.dense(), pot.dense(), atol=1e-7)
    np.testing.assert_allclose(ours.dense().sum(0), 1 / 25, atol=1e-8)
    assert ours.loss == pytest.approx(pot.loss, rel=1e-5)
    with pytest.raises(ValueError, match="same number"):
        gw_entropic_blocks([cx, cx], [cy])


def _off_diagonal(m: np.ndarray) -> np.ndarray:
    return m[~np.eye(len(m), dtype=bool)]


def test_block_matrices_weigh_alike_whatever_the_units():
    task = _task(_points(20, 2, 2), scale_a=1000.0, scale_b=0.001)
    mats = block_distance_matrices(task)
    assert len(mats) == 2
    for m in mats:
        assert m.shape == (20, 20) and _off_diagonal(m).std() == pytest.approx(1.0) and np.allclose(np.diag(m), 0)
    assert len(block_distance_matrices([np.zeros((5, 2)), np.ones((5, 2))])) == 1  # a plain list is one block
    flat = np.ones((6, 6)) - np.eye(6)  # every trajectory equally far from every other: no geometry, left as it is
    np.testing.assert_array_equal(scale_spread(flat), flat)
    np.testing.assert_array_equal(scale_spread(np.zeros((1, 1))), np.zeros((1, 1)))


def test_a_block_weighs_by_its_spread_not_its_size():
    """With fixed marginals a constant added to every entry of a block's matrix does not
    change the GW plan (Σ C_ik T_ij T_kl = Σ C_ik p_i p_k), so it must not change the
    block's weight either: a block that grows by a constant (larger, no more varied) gives
    the same plan. Scaled to an RMS entry of 1 instead, the grown block would shrink its
    own spread and lose weight."""
    xs, ys = _points(24, 2, 10), _points(20, 2, 11)
    cx = [pairwise_euclidean(xs[:, :1]), pairwise_euclidean(xs[:, 1:])]
    cy = [pairwise_euclidean(ys[:, :1]), pairwise_euclidean(ys[:, 1:])]
    grown = cx[1] + 5.0
    plan = gw_entropic_blocks([scale_spread(c) for c in cx], [scale_spread(c) for c in cy]).dense()
    same = gw_entropic_blocks([scale_spread(cx[0]), scale_spread(grown)], [scale_spread(c) for c in cy]).dense()
    np.testing.assert_allclose(same, plan, atol=1e-9)
    rms = lambda m: m / np.sqrt(np.mean(m**2))  # noqa: E731 - the old scaling, for contrast
    before = gw_entropic_blocks([rms(c) for c in cx], [rms(c) for c in cy], epsilon=0.02).dense()
    after = gw_entropic_blocks([rms(cx[0]), rms(grown)], [rms(c) for c in cy], epsilon=0.02).dense()
    assert np.abs(after - before).max() > 100 * np.abs(same - plan).max() + 1e-6


def test_per_block_tells_apart_what_one_joint_distance_cannot():
    """A point set symmetric under swapping its two coordinates (one per block): one joint
    distance is the same for a trajectory and its mirror image, so a joint plan may match
    every target trajectory to its mirror (whose quality a − b has the opposite sign).
    Matching each block's distances on its own leaves only the true matching. The target
    is the source shuffled, in other units."""
    rng = np.random.default_rng(0)
    half = rng.random((15, 2))
    points = np.concatenate([half, half[:, ::-1]])
    quality = points[:, 0] - points[:, 1]
    shuffle = rng.permutation(30)
    i, k = all_pairs(30)
    labels = SourceLabels(i, k, (quality[i] > quality[k]).astype(float))
    j, l = all_pairs(30)
    result, plan = transfer(TransferSettings(method="gw_entropic"), _task(points), labels, _task(points[shuffle], 3.0, 0.5), j, l)
    assert plan.info["geometry"] == "per_block" and plan.info["blocks"] == 2
    truth = quality[shuffle][j] > quality[shuffle][l]
    assert np.mean((result.value > 0.5) == truth) > 0.95


def test_per_block_plan_invariant_to_permuting_trajectories():
    xs, ys = _task(_points(25, 2, 3)), _task(_points(20, 2, 4), 2.0, 5.0)
    px, py = np.random.default_rng(5).permutation(25), np.random.default_rng(6).permutation(20)
    settings = TransferSettings(method="gw_entropic")
    i, k = all_pairs(25)
    labels = SourceLabels(i, k, np.random.default_rng(7).random(len(i)))
    j, l = all_pairs(20)
    _, plan = transfer(settings, xs, labels, ys, j, l)
    _, permuted = transfer(settings, xs[px], labels, ys[py], j, l)
    np.testing.assert_allclose(permuted.dense(), plan.dense()[np.ix_(px, py)], atol=1e-6)


def test_geometry_settings_are_checked_and_recorded():
    with pytest.raises(ValueError, match="geometry='blocks'"):
        TransferSettings(geometry="blocks")
    with pytest.raises(ValueError, match="epsilon=0"):
        TransferSettings(epsilon=0.0)
    assert TransferSettings().entropic_epsilon("per_block") == 0.3 and TransferSettings().entropic_epsilon("joint") == 0.005
    assert TransferSettings(epsilon=0.1).entropic_epsilon("per_block") == 0.1
    with pytest.raises(ValueError, match="length=1"):
        TransferSettings(length=1)
    default = TransferSettings()  # the length follows the geometry the concrete method runs with
    assert default.steps("gw_entropic") == 100 and default.steps("gw_exact") == 50 and default.steps("gw_quantized") == 50
    assert default.steps("nearest_distance") == 50 and TransferSettings(geometry="joint").steps("gw_entropic") == 50
    assert TransferSettings(length=30).steps("gw_entropic") == 30
    xs, ys = _task(_points(12, 2, 8)), _task(_points(10, 2, 9))
    i, k = all_pairs(12)
    labels = SourceLabels(i, k, np.ones(len(i)))
    for method in ("gw_exact", "gw_quantized"):  # these solvers have the joint geometry only, and say so
        _, plan = transfer(TransferSettings(method=method), xs, labels, ys, *all_pairs(10))
        assert plan.info["geometry"] == "joint"
    _, plan = transfer(TransferSettings(method="gw_entropic", geometry="joint"), xs, labels, ys, *all_pairs(10))
    assert plan.info["geometry"] == "joint" and plan.info["epsilon"] == 0.005
