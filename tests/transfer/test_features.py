"""Feature blocks, the absolute time axis and block balancing of transfer's aligned sequences."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.transfer.alignment import aligned_sequences, rms_distance
from robopref.transfer.distances import distance_matrix
from robopref.transfer.features import TaskSequences, action_deltas, parse_features
from robopref.transfer.pipeline import TransferSettings


def test_parse_features_names_blocks_and_rejects_bad_specs():
    assert parse_features("states+actions+action_deltas") == ("states", "actions", "action_deltas")
    assert parse_features("state_action") == ("state_action",)
    assert parse_features("states+actions+abs_action_deltas") == ("states", "actions", "abs_action_deltas")
    with pytest.raises(ValueError, match="pixels"):
        parse_features("states+pixels")
    with pytest.raises(ValueError, match="named twice"):
        parse_features("actions+actions")
    with pytest.raises(ValueError, match="state_action already holds"):
        parse_features("state_action+actions")
    with pytest.raises(ValueError, match="time='wall'"):
        TransferSettings(time="wall")


def test_task_sequences_subsets_and_checks_blocks():
    rng = np.random.default_rng(0)
    lengths = [5, 7, 6]
    task = TaskSequences({"states": [rng.standard_normal((t, 3)) for t in lengths], "actions": [rng.standard_normal((t, 2)) for t in lengths]})
    assert len(task) == 3 and len(task[:2]) == 2
    assert [len(s) for s in task[[2, 0]].blocks["actions"]] == [6, 5]
    assert [len(s) for s in task[np.array([False, True, True])].blocks["states"]] == [7, 6]
    with pytest.raises(TypeError, match="mix blocks"):
        task[0]
    with pytest.raises(ValueError, match="one sequence per trajectory"):
        TaskSequences({"states": [np.zeros((5, 3))], "actions": [np.zeros((5, 2))] * 2})
    with pytest.raises(ValueError, match="same number of steps"):
        TaskSequences({"states": [np.zeros((5, 3))], "actions": [np.zeros((4, 2))]})
    deltas = action_deltas([np.array([[0.0], [1.0], [3.0]])])[0]
    np.testing.assert_allclose(deltas.ravel(), [0.0, 1.0, 2.0])


def test_absolute_time_tells_an_early_finish_from_a_slow_one():
    """The same motion done in 20 steps (then at rest) and in 40: one trajectory on a
    normalised time axis, two different ones on the absolute axis."""
    fast, slow = np.linspace(0, 1, 20)[:, None], np.linspace(0, 1, 40)[:, None]
    other = np.linspace(1, 0, 40)[:, None]
    task = TaskSequences({"states": [fast, slow, other], "actions": [np.ones((20, 1)), np.ones((40, 1)), -np.ones((40, 1))]})
    normalised = distance_matrix(task, length=40, time="normalised")
    absolute = distance_matrix(task, length=40, time="absolute")
    # distances come from |a|² + |b|² - 2 a·b: after the square root, rounding leaves up to
    # √(machine ε) ≈ 1.5e-8 of the scale, depending on the BLAS kernel (1.5e-8 on this machine)
    assert normalised[0, 1] == pytest.approx(0.0, abs=1e-6)
    assert absolute[0, 1] > 0.2
    # padding: the state is held, the action rests at 0 (raw units, before normalisation)
    aligned = aligned_sequences(TaskSequences({"states": [fast, slow], "actions": [np.ones((20, 1)), np.ones((40, 1))]}), 40, "absolute")
    assert np.allclose(aligned[0, 20:, 0], aligned[0, 19, 0])  # held
    assert np.allclose(aligned[0, 20:, 1], aligned[0, 20, 1]) and not np.isclose(aligned[0, 20, 1], aligned[1, 20, 1])  # rest != moving


def test_blocks_weigh_the_same_whatever_their_size():
    """Thirty state features do not drown one action feature: each block adds the same
    mean square distance."""
    rng = np.random.default_rng(1)
    states = [rng.standard_normal((30, 30)) for _ in range(25)]
    actions = [rng.standard_normal((30, 1)) * 5 for _ in range(25)]
    aligned = aligned_sequences(TaskSequences({"states": states, "actions": actions}), length=30)
    assert rms_distance(aligned[..., :30]) == pytest.approx(1.0) and rms_distance(aligned[..., 30:]) == pytest.approx(1.0)
    # one block is left as it is: the original state_action recipe is unchanged
    plain = aligned_sequences([np.concatenate([s, a], 1) for s, a in zip(states, actions)], length=30)
    np.testing.assert_allclose(plain, aligned_sequences(TaskSequences({"state_action": [np.concatenate([s, a], 1) for s, a in zip(states, actions)]}), 30))
    assert rms_distance(plain[..., :30]) > 5 * rms_distance(plain[..., 30:])


def test_abs_action_deltas_put_equally_noisy_trajectories_together():
    """Two trajectories with the same action noise have independent signed deltas (far
    apart, farther than from a clean one) but similar absolute ones."""
    rng = np.random.default_rng(0)
    clean = np.zeros((100, 2))
    noisy_a, noisy_b = rng.standard_normal((2, 100, 2))  # the same noise level, independent draws
    signed = action_deltas([clean, noisy_a, noisy_b])
    for name, blocks in (("action_deltas", signed), ("abs_action_deltas", [np.abs(d) for d in signed])):
        d = distance_matrix(TaskSequences({name: blocks}), length=100)
        together = d[1, 2] < d[0, 1]
        assert together == (name == "abs_action_deltas"), (name, d[1, 2], d[0, 1])
