"""Meta-World adapter: creation, observations, cameras, seeding, expert, exact replay."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.rollout.record import record_episode
from robopref.rollout.replay import replay_episode
from robopref_envs.metaworld import MetaWorldExpert, make_env


def test_unknown_task_lists_close_matches():
    with pytest.raises(ValueError, match=r"unknown Meta-World task 'drawer-opne-v3'.*drawer-open-v3"):
        make_env("drawer-opne-v3")


def test_unknown_camera_names_the_cameras():
    with pytest.raises(ValueError, match=r"no camera 'front'.*corner2"):
        make_env("reach-v3", camera="front")


def test_obs_keys_camera_image_and_info():
    env = make_env("push-v3", camera="corner2", image_size=32, horizon=5)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"state", "corner2_image"}
    assert obs["state"].shape == (39,) and obs["corner2_image"].shape == (32, 32, 3)
    assert obs["corner2_image"].dtype == np.uint8 and obs["corner2_image"].std() > 5  # a scene, not a blank frame
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert isinstance(info["success"], bool) and info["task_reward"] == reward == info["pref_score"]
    assert env.spec.kwargs["task"] == "push-v3" and env.spec.kwargs["camera"] == "corner2"
    for _ in range(4):
        *_, truncated, _ = env.step(np.zeros(4, np.float32))
    assert truncated
    env.close()


def test_goals_are_random_per_episode_and_seeded():
    env = make_env("reach-v3", horizon=10)
    a, _ = env.reset(seed=1)
    b, _ = env.reset(seed=1)
    c, _ = env.reset(seed=2)
    assert np.array_equal(a["state"], b["state"])
    assert not np.allclose(a["state"][-3:], c["state"][-3:])  # the goal moved
    env.close()


def test_expert_solves_reach():
    env = make_env("reach-v3", horizon=150, terminate_on_success=True)
    expert = MetaWorldExpert(env, seed=0)
    episodes = [record_episode(env, expert, seed=s) for s in range(3)]
    assert all(ep.success for ep in episodes)
    assert all(len(ep) < 150 for ep in episodes)  # ended at success
    env.close()


def test_expert_does_not_corrupt_recorded_observations():
    # metaworld's door-open policy shifts its input in place; the recorded obs must not move
    env = make_env("door-open-v3", horizon=5)
    obs, _ = env.reset(seed=0)
    before = obs["state"].copy()
    MetaWorldExpert(env, seed=0).act(obs)
    assert np.array_equal(obs["state"], before)
    env.close()


def test_replay_from_initial_state_reproduces_observations_and_images():
    env = make_env("pick-place-v3", camera="corner", image_size=32, horizon=40)
    ep = record_episode(env, MetaWorldExpert(env, noise=0.3, seed=0), seed=5)
    assert ep.states is not None and len(ep) == 40
    report = replay_episode(env, ep, atol=1e-8)
    assert report.ok, report
    assert report.obs_error["corner_image"] == 0
    # the noisy expert's clean actions ride along: the scripted policy's own action at each recorded state
    clean = MetaWorldExpert(env)
    expected = np.stack([clean.act({"state": s}) for s in ep.obs["state"]])
    np.testing.assert_allclose(ep.action_dict["intended"], expected, atol=1e-6)
    assert not np.allclose(ep.action_dict["intended"], ep.actions)
    # a different action sequence does not pass the check
    ep.actions[5:] = -ep.actions[5:]
    assert not replay_episode(env, ep, atol=1e-8).ok
    env.close()
