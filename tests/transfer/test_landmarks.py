"""The landmark solver: per-block GW for thousands of trajectories, kept as a factored plan."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.transfer.features import TaskSequences
from robopref.transfer.labels import SourceLabels, all_pairs, transfer_labels
from robopref.transfer.landmarks import gw_landmarks
from robopref.transfer.pipeline import TransferSettings, random_pairs, transfer


def _task(n: int, seed: int, state_scale: float = 1.0) -> tuple[TaskSequences, np.ndarray]:
    """Trajectories whose shape follows a hidden quality in [0, 1]: the states ramp to
    (q, q²), the action to 1 − q, with a little noise; ``state_scale`` changes the units."""
    rng = np.random.default_rng(seed)
    quality = rng.random(n)
    ramp = np.linspace(0.0, 1.0, 12)[:, None]
    states = [state_scale * (ramp * np.array([v, v**2]) + 0.05 * rng.standard_normal((12, 2))) for v in quality]
    actions = [ramp * (1.0 - v) + 0.05 * rng.standard_normal((12, 1)) for v in quality]
    return TaskSequences({"states": states, "actions": actions}), quality


def test_factored_rule_equals_the_rule_on_the_expanded_plan():
    """The transfer through the clusters gives what transfer_labels gives on the full
    plan it stands for, weighted and repeated labels included, and that plan is a
    coupling of the two marginals."""
    xs, qx = _task(120, 1)
    ys, _ = _task(90, 2)
    rng = np.random.default_rng(0)
    i, k = random_pairs(120, 800, rng)
    labels = SourceLabels(np.r_[i, i[:50]], np.r_[k, k[:50]], np.r_[(qx[i] > qx[k]).astype(float), rng.random(50)], rng.random(850) + 0.5)
    p = rng.random(120) + 0.5
    plan = gw_landmarks(xs, ys, p, landmarks=30)
    assert plan.matrix is None and plan.info["landmarks"][0] <= 30 and plan.shape == (120, 90)
    j, l = all_pairs(90)
    ours, full = plan.transfer(labels, j, l), transfer_labels(plan.factors.expand(), labels, j, l)
    np.testing.assert_allclose(ours.value, full.value, atol=1e-10)
    np.testing.assert_allclose(ours.confidence, full.confidence, atol=1e-10)
    dense = plan.dense()
    np.testing.assert_allclose(dense.sum(1), p / p.sum(), atol=1e-9)
    np.testing.assert_allclose(dense.sum(0), 1 / 90, atol=1e-6)
    assert plan.nonzeros < dense.size
    with pytest.raises(ValueError, match="lie in"):
        plan.transfer(labels, np.array([0]), np.array([90]))


def test_landmarks_transfer_the_ranking_to_a_task_in_other_units():
    """Far fewer landmarks than trajectories, and still the target pairs are ranked as the
    hidden quality says: every target trajectory gets its own plan column."""
    xs, qx = _task(300, 3)
    ys, qy = _task(250, 4, state_scale=7.0)
    i, k = all_pairs(300)
    labels = SourceLabels(i, k, (qx[i] > qx[k]).astype(float))
    j, l = all_pairs(250)
    result, plan = transfer(TransferSettings(method="gw_landmarks", landmarks=25), xs, labels, ys, j, l)
    assert plan.method == "gw_landmarks" and plan.info["geometry"] == "per_block"
    assert np.mean((result.value > 0.5) == (qy[j] > qy[l])) > 0.9
    assert np.mean(result.value == 0.5) < 0.01  # no pair left unanswered


def test_gw_picks_landmarks_above_exact_max_unless_restarts_or_joint():
    big = TransferSettings(exact_max=100)
    assert big.resolve(101, 50) == "gw_landmarks" and big.resolve(100, 100) == "gw_entropic"
    assert TransferSettings(exact_max=100, restarts=2).resolve(101, 50) == "gw_quantized"
    assert TransferSettings(exact_max=100, geometry="joint").resolve(101, 50) == "gw_quantized"
    assert big.steps("gw_landmarks") == 100 and TransferSettings(geometry="joint").steps("gw_landmarks") == 100
    with pytest.raises(ValueError, match="restarts=2: gw_landmarks"):
        TransferSettings(method="gw_landmarks", restarts=2)
    with pytest.raises(ValueError, match="landmarks=1"):
        TransferSettings(landmarks=1)
    xs, qx = _task(40, 5)
    i, k = all_pairs(40)
    with pytest.raises(ValueError, match="distance='dtw'"):
        transfer(TransferSettings(method="gw_landmarks", distance="dtw"), xs, SourceLabels(i, k, (qx[i] > qx[k]).astype(float)), xs, *all_pairs(40))


def test_source_trajectories_without_mass_carry_none():
    """A marginal may leave trajectories out (weight 0); when a whole cluster is left out
    its members get no mass, not NaN."""
    xs, qx = _task(60, 6)
    far = TaskSequences({"states": [s + 100.0 for s in xs.blocks["states"][30:]], "actions": xs.blocks["actions"][30:]})
    xs = TaskSequences({name: xs.blocks[name][:30] + far.blocks[name] for name in xs.blocks})
    ys, _ = _task(40, 7)
    p = np.r_[np.ones(30), np.zeros(30)]
    plan = gw_landmarks(xs, ys, p, landmarks=8)
    dense = plan.dense()
    assert np.isfinite(dense).all() and np.allclose(dense[30:], 0.0) and np.allclose(dense.sum(1), p / 30, atol=1e-9)
    i, k = all_pairs(60)
    result = plan.transfer(SourceLabels(i, k, (qx[i] > qx[k]).astype(float)), *all_pairs(40))
    assert np.isfinite(result.value).all() and np.isfinite(result.confidence).all()
