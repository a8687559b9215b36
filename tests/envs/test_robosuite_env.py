"""robosuite adapter: robomimic observation keys, seeding, scripted experts, exact replay."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.rollout.record import record_episode
from robopref.rollout.replay import replay_episode
from robopref_envs.robosuite import PickPlaceExpert, make_env


@pytest.fixture(scope="module")
def lift():
    env = make_env("Lift", cameras=["agentview", "robot0_eye_in_hand"], image_size=32, horizon=60, terminate_on_success=True)
    yield env
    env.close()


def test_unknown_env_lists_close_matches():
    with pytest.raises(ValueError, match=r"unknown robosuite env 'Lfit'.*Lift"):
        make_env("Lfit", cameras=[])


def test_robomimic_keys_images_and_osc_actions(lift):
    obs, _ = lift.reset(seed=0)
    assert set(obs) == {"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object", "agentview_image", "robot0_eye_in_hand_image"}
    assert obs["object"].shape == (10,) and obs["robot0_eef_quat"].shape == (4,)
    for cam in ("agentview_image", "robot0_eye_in_hand_image"):
        assert obs[cam].shape == (32, 32, 3) and obs[cam].dtype == np.uint8 and obs[cam].std() > 5
    # upright: agentview looks down at the table, so the top rows (far wall/sky) differ from the bottom (table)
    assert lift.action_space.shape == (7,)
    _, reward, _, _, info = lift.step(np.zeros(7, np.float32))
    assert isinstance(info["success"], bool) and info["task_reward"] == reward
    assert lift.spec.kwargs["task"] == "Lift"


def test_reset_is_seeded(lift):
    a, _ = lift.reset(seed=3)
    b, _ = lift.reset(seed=3)
    c, _ = lift.reset(seed=4)
    assert np.array_equal(a["object"], b["object"]) and np.array_equal(a["agentview_image"], b["agentview_image"])
    assert not np.allclose(a["object"][:3], c["object"][:3])


def test_expert_lifts_and_replay_reproduces_observations(lift):
    ep = record_episode(lift, PickPlaceExpert(lift, seed=0), seed=1)
    assert ep.success and len(ep) < 60
    noisy = record_episode(lift, PickPlaceExpert(lift, noise=0.3, seed=0), seed=2, max_steps=25)
    report = replay_episode(lift, noisy, atol=1e-8)
    assert report.ok, report
    assert report.obs_error["agentview_image"] == 0
    assert np.allclose(ep.action_dict["intended"], ep.actions)  # no noise: executed = intended
    assert noisy.action_dict["intended"].shape == noisy.actions.shape and not np.allclose(noisy.action_dict["intended"], noisy.actions)


def test_can_expert_places_the_can():
    env = make_env("PickPlaceCan", cameras=[], horizon=200, terminate_on_success=True)
    ep = record_episode(env, PickPlaceExpert(env, seed=0), seed=0)
    assert ep.success, "the scripted expert did not put the can in its bin"
    env.close()
