"""Meta-World preference beyond success: ``make_env(preference="cross_high")`` (reach-v3)."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.rollout.record import record_episode
from robopref_envs.metaworld import MetaWorldExpert, make_env
from robopref_envs.metaworld.preference import CROSS_BAND, CROSS_HEIGHT, DEFAULT_PENALTY, CrossHigh, make_preference
from tests.test_cli import robopref


def state_with(hand, goal=(0.0, 0.85, 0.1)) -> np.ndarray:
    """A 39-d reach-v3 observation with the hand and goal where a test wants them."""
    s = np.zeros(39)
    s[:3], s[-3:] = hand, goal
    return s


@pytest.mark.parametrize(
    "hand, broken",
    [
        ((0.0, 0.73, 0.20), True),  # inside the strip, low
        ((0.3, 0.70, 0.299), True),  # on its near edge, just below the height, anywhere across the table
        ((0.0, 0.76, 0.05), True),  # on its far edge
        ((0.0, 0.73, 0.30), False),  # inside, at the height
        ((0.0, 0.65, 0.05), False),  # before it, low
        ((0.0, 0.78, 0.05), False),  # past it, low (where the goals are)
    ],
)
def test_cross_high_violation_and_pref_score_on_hand_made_states(hand, broken):
    pref = CrossHigh()
    assert pref.violated(state_with(hand)) is broken
    info = pref.evaluate(state_with(hand), task_reward=7.0)
    assert info == {"pref_score": 7.0 - DEFAULT_PENALTY * broken, "violation": broken}
    assert CrossHigh(penalty=3.0).evaluate(state_with(hand), 7.0)["pref_score"] == 7.0 - 3.0 * broken


def test_aligned_waypoints_rise_before_the_strip_then_cross_then_descend():
    pref, goal = CrossHigh(), (0.05, 0.85, 0.1)
    up = pref.waypoint(state_with((0.0, 0.6, 0.2), goal))
    assert up[1] < CROSS_BAND[0] and up[2] > CROSS_HEIGHT  # rise, short of the strip
    over = pref.waypoint(state_with((0.0, 0.68, 0.33), goal))
    assert over[1] == goal[1] and over[2] > CROSS_HEIGHT  # high enough: cross at height
    assert np.allclose(pref.waypoint(state_with((0.02, 0.8, 0.33), goal)), goal)  # past it: to the goal
    inside = pref.waypoint(state_with((0.0, 0.72, 0.2), goal))
    assert inside[:2].tolist() == [0.0, 0.72] and inside[2] > CROSS_HEIGHT  # caught low inside (noise): straight up
    action = pref.aligned_action(state_with((0.0, 0.6, 0.2), goal))
    assert action.shape == (4,) and action[2] > 0 and np.all(np.abs(action) <= 1)


def test_env_info_carries_violation_and_pref_score_only_with_a_preference():
    env = make_env("reach-v3", horizon=60, preference="cross_high", preference_penalty=20.0)
    ep = record_episode(env, MetaWorldExpert(env, aligned=False, seed=0), seed=3, store_next_obs=True)
    np.testing.assert_allclose(ep.infos["pref_score"], ep.infos["task_reward"] - 20.0 * ep.infos["violation"])
    # the rule is judged on the state each step leads to
    assert ep.infos["violation"].astype(bool).tolist() == [CrossHigh().violated(s) for s in ep.next_obs["state"]]
    assert ep.infos["violation"].any()
    env.close()
    plain = make_env("reach-v3", horizon=5)
    plain.reset(seed=0)
    *_, info = plain.step(np.zeros(4, np.float32))
    assert "violation" not in info and info["pref_score"] == info["task_reward"]
    plain.close()


def test_aligned_expert_keeps_the_rule_and_succeeds_meta_worlds_breaks_it():
    env = make_env("reach-v3", horizon=100, preference="cross_high")
    for aligned in (True, False):
        expert = MetaWorldExpert(env, noise=0.1, aligned=aligned, seed=0)
        episodes = [record_episode(env, expert, seed=s) for s in range(3)]
        assert all(ep.success for ep in episodes), aligned
        assert [bool(ep.infos["violation"].any()) for ep in episodes] == [not aligned] * 3
    env.close()


def test_bad_preference_settings_fail_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown Meta-World preference 'cross_hi'; choose null or one of \['cross_high'\]"):
        make_env("reach-v3", preference="cross_hi")
    with pytest.raises(ValueError, match=r"'cross_high' is defined for \['reach-v3'\] only, not 'push-v3'"):
        make_env("push-v3", preference="cross_high")
    with pytest.raises(ValueError, match=r"preference_penalty must be a finite number >= 0, got -1"):
        make_preference("cross_high", "reach-v3", penalty=-1)
    assert make_preference(None, "push-v3") is None


def test_cli_rejects_an_unknown_preference(tmp_path):
    out = robopref("collect", "env=metaworld", "env.preference=high", "env.horizon=5", "episodes=1", f"hydra.run.dir={tmp_path / 'c'}", cwd=tmp_path)
    assert out.returncode != 0
    assert "unknown Meta-World preference 'high'; choose null or one of ['cross_high']" in out.stderr


@pytest.mark.slow
def test_expert_rates_over_50_goals():
    """The rates in docs/benchmarks-sim.md: both experts always succeed; only the aligned one keeps the rule."""
    env = make_env("reach-v3", horizon=120, preference="cross_high")
    for aligned in (True, False):
        for noise in (0.0, 0.1):
            expert = MetaWorldExpert(env, noise=noise, aligned=aligned, seed=0)
            episodes = [record_episode(env, expert, seed=s) for s in range(50)]
            assert np.mean([ep.success for ep in episodes]) == 1.0
            assert np.mean([ep.infos["violation"].any() for ep in episodes]) == (0.0 if aligned else 1.0)
    env.close()
