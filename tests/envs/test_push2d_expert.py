"""Scripted expert of the 2D pushing tasks: succeeds, honours (or ignores) the preference, noise."""

from __future__ import annotations

import numpy as np
import pytest

from robopref_envs.push2d import Push2DExpert, make_env


def _rollout(task: str, embodiment: str, seed: int, aligned: bool = True, noise: float = 0.0) -> tuple[bool, bool, float]:
    """(success, any violation, summed pref_score) of one expert episode."""
    env = make_env(task, embodiment, image_size=0)
    expert = Push2DExpert(env, noise=noise, aligned=aligned, seed=seed)
    obs, _ = env.reset(seed=seed)
    violated, score = False, 0.0
    while True:
        action = expert.act(obs)
        assert env.action_space.contains(action)
        obs, _, terminated, truncated, info = env.step(action)
        violated |= info["violation"]
        score += info["pref_score"]
        if terminated or truncated:
            return info["success"], violated, score


@pytest.mark.parametrize("task", ["push", "avoid", "group"])
@pytest.mark.parametrize("embodiment", ["gripper", "short_stick", "medium_stick"])
def test_aligned_expert_succeeds_without_violating(task, embodiment):
    success, violated, _ = _rollout(task, embodiment, seed=0)
    assert success and not violated


@pytest.mark.parametrize("task", ["avoid", "group"])
def test_unaligned_expert_succeeds_but_violates_where_aligned_does_not(task):
    seeds = range(4)
    aligned = [_rollout(task, "gripper", s, aligned=True) for s in seeds]
    unaligned = [_rollout(task, "gripper", s, aligned=False) for s in seeds]
    assert all(success for success, _, _ in aligned + unaligned)
    assert sum(v for _, v, _ in aligned) == 0 and sum(v for _, v, _ in unaligned) == len(seeds)
    # The person's score ranks every aligned episode above the unaligned one from the same start.
    assert all(a[2] > u[2] for a, u in zip(aligned, unaligned))


def test_noise_is_seeded_and_changes_the_actions():
    env = make_env("avoid", "short_stick", image_size=0)
    obs, _ = env.reset(seed=0)
    clean = Push2DExpert(env).act(obs)
    noisy = [Push2DExpert(env, noise=0.5, seed=s).act(obs) for s in (1, 1, 2)]
    assert np.array_equal(noisy[0], noisy[1]) and not np.array_equal(noisy[0], noisy[2])
    assert not np.array_equal(clean, noisy[0])


def test_reset_reseeds_the_expert():
    env = make_env("push", "gripper", image_size=0)
    expert = Push2DExpert(env, noise=0.3, seed=5)
    obs, _ = env.reset(seed=0)
    first = [expert.act(obs) for _ in range(3)]
    expert.reset(seed=5)
    assert all(np.array_equal(a, expert.act(obs)) for a in first)


def test_negative_noise_is_refused():
    with pytest.raises(ValueError, match="noise must be >= 0"):
        Push2DExpert(make_env("push", "gripper", image_size=0), noise=-0.1)


@pytest.mark.parametrize("control", ["velocity", "position"])
def test_intended_action_is_the_clean_experts_action(control):
    """A noisy expert executes a perturbed action but reports the one it meant (DART data):
    the clean expert's action at the same state, in the env's action space."""
    env = make_env("push", "short_stick", image_size=0, control=control)
    obs, _ = env.reset(seed=3)
    clean = Push2DExpert(env)
    noisy = Push2DExpert(env, noise=0.5, seed=1)
    for _ in range(5):
        executed = noisy.act(obs)
        meant = clean.act(obs)
        assert np.allclose(noisy.intended_action, meant) and np.array_equal(clean.intended_action, meant)
        assert not np.allclose(executed, meant)
        assert env.action_space.contains(noisy.intended_action)
        obs, *_ = env.step(executed)
