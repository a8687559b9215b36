"""Built-in 2D pushing envs: API conformance, seeding, exact replay, task signals, images, errors."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from robopref_envs.push2d import ENV_IDS, Push2DEnv, Push2DExpert, make_env
from robopref_envs.push2d.layout import GOAL, ZONE
from robopref_envs.push2d.render import GOAL_COLOUR, ROBOT_COLOUR, ZONE_COLOUR
from robopref_envs.push2d.tasks import GROUP_PENALTY, GROUP_THRESHOLD, ZONE_PENALTY

EMBODIMENTS = ["gripper", "short_stick", "medium_stick"]
TASKS = ["push", "avoid", "group"]
INFO_KEYS = {"success", "task_reward", "pref_score", "violation"}


def _state_with(env: gym.Env, robot: tuple[float, float] | None = None, blocks: list[tuple[float, float]] | None = None) -> np.ndarray:
    """The env's current physical state with robot and/or block positions replaced, at rest."""
    state = env.unwrapped.get_state().reshape(-1, 6)
    state[:, 3:] = 0.0
    if robot is not None:
        state[0, :2] = robot
    for i, xy in enumerate(blocks or []):
        state[1 + i, :2] = xy
    return state.ravel()


def _hold(env: gym.Env) -> np.ndarray:
    return np.zeros(env.action_space.shape, dtype=np.float32)


@pytest.mark.parametrize(("task", "embodiment"), [(t, "gripper") for t in TASKS] + [("avoid", e) for e in EMBODIMENTS[1:]])
def test_gymnasium_env_checker_passes_without_warnings(task, embodiment):
    env = make_env(task, embodiment, image_size=32, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env.unwrapped)


@pytest.mark.parametrize("embodiment", EMBODIMENTS)
def test_spaces_per_embodiment(embodiment):
    env = make_env("push", embodiment, num_blocks=3)
    stick = embodiment != "gripper"
    assert env.action_space.shape == ((3,) if stick else (2,))
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"state", "top_image"}
    assert obs["state"].dtype == np.float32 and obs["state"].shape == ((4 if stick else 2) + 4 * 3,)
    assert env.unwrapped.get_state().shape == (6 * 4,) and env.unwrapped.get_state().dtype == np.float64
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize(("embodiment", "size"), [("gripper", 2), ("short_stick", 4)])
def test_robot_obs_is_the_robots_own_part_of_the_state(embodiment, size):
    env = make_env("push", embodiment, robot_obs=True)
    obs, _ = env.reset(seed=1)
    for _ in range(3):
        assert set(obs) == {"state", "robot", "top_image"} and env.observation_space.contains(obs)
        assert obs["robot"].shape == (size,) and np.array_equal(obs["robot"], obs["state"][:size])
        obs, *_ = env.step(env.action_space.sample())
    assert "robot" not in make_env("push", embodiment).reset(seed=1)[0]  # off by default
    with pytest.raises(ValueError, match="robot_obs must be true or false"):
        make_env("push", embodiment, robot_obs="yes")


def test_num_blocks_sets_state_sizes():
    env = make_env("avoid", "gripper", num_blocks=1, image_size=0)
    obs, _ = env.reset(seed=0)
    assert obs["state"].shape == (2 + 4,) and env.unwrapped.get_state().shape == (12,)
    env = make_env("group", "short_stick", num_blocks=4, image_size=0)
    obs, _ = env.reset(seed=0)
    assert obs["state"].shape == (4 + 16,) and env.unwrapped.get_state().shape == (30,)


@pytest.mark.parametrize("task", TASKS)
def test_registered_id_and_spec_rebuild_the_same_env(task):
    env = make_env(task, "short_stick", image_size=32, num_blocks=2)
    assert env.spec.id == ENV_IDS[task]
    assert env.spec.kwargs == {"task": task, "embodiment": "short_stick", "image_size": 32, "num_blocks": 2}
    assert env.spec.max_episode_steps == 150
    again = gym.make(env.spec.id, max_episode_steps=env.spec.max_episode_steps, **env.spec.kwargs)
    a, _ = env.reset(seed=3)
    b, _ = again.reset(seed=3)
    assert np.array_equal(a["state"], b["state"]) and np.array_equal(a["top_image"], b["top_image"])


def test_same_seed_same_episode_other_seed_other_layout():
    env, other = make_env("avoid", "medium_stick"), make_env("avoid", "medium_stick")
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (20, 3)).astype(np.float32)
    a, _ = env.reset(seed=7)
    b, _ = other.reset(seed=7)
    assert np.array_equal(a["state"], b["state"])
    for action in actions:
        a, ra, *_, ia = env.step(action)
        b, rb, *_, ib = other.step(action)
        assert np.array_equal(a["state"], b["state"]) and np.array_equal(a["top_image"], b["top_image"])
        assert ra == rb and ia == ib
    c, _ = env.reset(seed=8)
    assert not np.allclose(c["state"], other.reset(seed=7)[0]["state"])


@pytest.mark.parametrize("embodiment", EMBODIMENTS)
def test_set_state_replays_a_recording_exactly(embodiment):
    """Mid-episode states restored in a fresh env give the same observations, contacts included."""
    env = make_env("push", embodiment)
    expert = Push2DExpert(env, seed=0)
    obs, _ = env.reset(seed=1)
    states, actions, observations = [], [], []
    for _ in range(30):  # long enough to push a block: contacts are part of what must replay
        states.append(env.unwrapped.get_state())
        actions.append(expert.act(obs))
        obs, *_ = env.step(actions[-1])
        observations.append(obs)
    moved = np.abs(states[-1].reshape(-1, 6)[1:, :2] - states[0].reshape(-1, 6)[1:, :2]).max()
    assert moved > 0.1, "the recording should include pushing"
    replay = make_env("push", embodiment)
    replay.reset(seed=123)  # another layout: set_state must overwrite all of it
    start = 10
    replay.unwrapped.set_state(states[start])
    for t in range(start, len(actions)):
        got, *_ = replay.step(actions[t])
        assert np.array_equal(got["state"], observations[t]["state"]), f"step {t}"
        assert np.array_equal(got["top_image"], observations[t]["top_image"]), f"step {t}"
        assert np.array_equal(replay.unwrapped.get_state(), states[t + 1] if t + 1 < len(states) else env.unwrapped.get_state())


def test_set_state_rejects_wrong_length_and_nan():
    env = make_env("push", "gripper", image_size=0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(24,\)"):
        env.unwrapped.set_state(np.zeros(18))
    bad = env.unwrapped.get_state()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        env.unwrapped.set_state(bad)


@pytest.mark.parametrize("task", TASKS)
def test_info_keys_and_types_at_reset_and_step(task):
    env = make_env(task, "gripper", image_size=0)
    _, info = env.reset(seed=0)
    assert INFO_KEYS <= set(info)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert INFO_KEYS <= set(info)
    assert isinstance(info["success"], bool) and isinstance(info["violation"], bool)
    assert isinstance(info["task_reward"], float) and isinstance(info["pref_score"], float)
    assert reward == info["task_reward"] and info["task_reward"] < 0  # blocks start outside the goal
    if task == "push":
        assert info["pref_score"] == info["task_reward"] and info["violation"] is False


def test_avoid_penalises_each_object_in_the_zone():
    env = make_env("avoid", "gripper", image_size=0)
    env.reset(seed=0)
    clear = _state_with(env, robot=(0.0, -0.85), blocks=[(-0.6, -0.5), (0.0, -0.5), (0.6, -0.5)])
    env.unwrapped.set_state(clear)
    *_, info = env.step(_hold(env))
    assert info["violation"] is False and info["pref_score"] == info["task_reward"]
    robot_in = _state_with(env, robot=tuple(ZONE.center), blocks=[(-0.6, -0.5), (0.0, -0.5), (0.6, -0.5)])
    env.unwrapped.set_state(robot_in)
    *_, info = env.step(_hold(env))
    assert info["violation"] is True and info["pref_score"] == pytest.approx(info["task_reward"] - ZONE_PENALTY)
    both_in = _state_with(env, robot=(ZONE.x0 - 0.05, ZONE.center[1]), blocks=[(ZONE.x1 + 0.05, ZONE.center[1]), (0.0, -0.5), (0.6, -0.5)])
    env.unwrapped.set_state(both_in)
    *_, info = env.step(_hold(env))
    assert info["violation"] is True and info["pref_score"] == pytest.approx(info["task_reward"] - 2 * ZONE_PENALTY)


def test_zone_penalty_sets_what_the_zone_costs_the_person():
    env = make_env("avoid", "gripper", image_size=0, zone_penalty=5.0)
    env.reset(seed=0)
    env.unwrapped.set_state(_state_with(env, robot=tuple(ZONE.center), blocks=[(-0.6, -0.5), (0.0, -0.5), (0.6, -0.5)]))
    *_, info = env.step(_hold(env))
    assert info["violation"] is True and info["pref_score"] == pytest.approx(info["task_reward"] - 5.0)


def test_group_penalises_spread_beyond_the_threshold():
    env = make_env("group", "gripper", image_size=0)
    env.reset(seed=0)
    env.unwrapped.set_state(_state_with(env, robot=(0.0, -0.85), blocks=[(-0.2, -0.4), (0.0, -0.4), (0.2, -0.4)]))
    *_, info = env.step(_hold(env))
    assert info["violation"] is False and info["pref_score"] == info["task_reward"]
    env.unwrapped.set_state(_state_with(env, robot=(0.0, -0.85), blocks=[(-0.7, -0.4), (0.0, -0.4), (0.7, -0.4)]))
    *_, info = env.step(_hold(env))
    spread = np.linalg.norm(env.unwrapped.world.block_positions - env.unwrapped.world.block_positions.mean(0), axis=1).max()
    assert info["violation"] is True
    assert info["pref_score"] == pytest.approx(info["task_reward"] - GROUP_PENALTY * (spread - GROUP_THRESHOLD))


@pytest.mark.parametrize(("kwargs", "per_unit", "per_step"), [({"group_penalty": 10.0}, 10.0, 0.0),
                                                               ({"group_step_penalty": 2.0}, GROUP_PENALTY, 2.0),
                                                               ({"group_penalty": 10.0, "group_step_penalty": 2.0}, 10.0, 2.0)])
def test_group_penalties_set_what_the_spread_costs_the_person(kwargs, per_unit, per_step):
    env = make_env("group", "gripper", image_size=0, **kwargs)
    env.reset(seed=0)
    env.unwrapped.set_state(_state_with(env, robot=(0.0, -0.85), blocks=[(-0.2, -0.4), (0.0, -0.4), (0.2, -0.4)]))
    *_, info = env.step(_hold(env))
    assert info["violation"] is False and info["pref_score"] == info["task_reward"]  # within the threshold: free
    env.unwrapped.set_state(_state_with(env, robot=(0.0, -0.85), blocks=[(-0.7, -0.4), (0.0, -0.4), (0.7, -0.4)]))
    *_, info = env.step(_hold(env))
    spread = np.linalg.norm(env.unwrapped.world.block_positions - env.unwrapped.world.block_positions.mean(0), axis=1).max()
    assert info["violation"] is True
    assert info["pref_score"] == pytest.approx(info["task_reward"] - per_unit * (spread - GROUP_THRESHOLD) - per_step)


@pytest.mark.parametrize("terminate", [True, False])
def test_success_when_every_block_is_in_the_goal(terminate):
    env = make_env("push", "gripper", image_size=0, terminate_on_success=terminate)
    env.reset(seed=0)
    y = GOAL.y0 + 0.2
    env.unwrapped.set_state(_state_with(env, robot=(0.0, 0.0), blocks=[(-0.5, y), (0.0, y), (0.5, y)]))
    _, reward, terminated, truncated, info = env.step(_hold(env))
    assert info["success"] is True and reward == 0.0
    assert terminated is terminate and truncated is False


def _has_colour(image: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.all(image == np.array(colour, dtype=np.uint8), axis=-1).any())


def test_images_show_goal_robot_and_only_avoid_shows_the_zone():
    avoid, _ = make_env("avoid", "gripper").reset(seed=0)
    push, _ = make_env("push", "gripper").reset(seed=0)
    for obs in (avoid, push):
        image = obs["top_image"]
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        assert _has_colour(image, GOAL_COLOUR) and _has_colour(image, ROBOT_COLOUR)
    assert _has_colour(avoid["top_image"], ZONE_COLOUR) and not _has_colour(push["top_image"], ZONE_COLOUR)


def test_image_size_and_disabling_images():
    assert make_env("push", "gripper", image_size=32).reset(seed=0)[0]["top_image"].shape == (32, 32, 3)
    for env in (make_env("push", "gripper", image_size=0), make_env("push", "gripper", render_images=False)):
        obs, _ = env.reset(seed=0)
        assert set(obs) == {"state"} and set(env.observation_space.spaces) == {"state"}


def test_render_mode_rgb_array():
    env = make_env("avoid", "medium_stick", render_mode="rgb_array", render_size=128)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8 and _has_colour(frame, ZONE_COLOUR)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "sweep"}, r"unknown task 'sweep'; choose one of \['avoid', 'group', 'push'\]"),
        ({"embodiment": "long_stick"}, r"unknown embodiment 'long_stick'; choose one of \['gripper', 'medium_stick', 'short_stick'\]"),
        ({"num_blocks": 0}, r"num_blocks must be an integer in \[1, 4\], got 0"),
        ({"num_blocks": 2.5}, r"num_blocks must be an integer"),
        ({"image_size": 4}, r"image_size must be 0 \(no images\) or at least 8, got 4"),
        ({"zone_penalty": -1.0}, r"zone_penalty must be a finite number >= 0, got -1.0"),
        ({"task": "push", "zone_penalty": 2.0}, r"zone_penalty applies to the avoid task only, not 'push'"),
        ({"task": "group", "group_penalty": float("nan")}, r"group_penalty must be a finite number >= 0, got nan"),
        ({"task": "group", "group_penalty": "high"}, r"group_penalty must be a finite number >= 0, got 'high'"),
        ({"group_penalty": 10.0}, r"group_penalty applies to the group task only, not 'avoid'"),
        ({"task": "group", "group_step_penalty": -2.0}, r"group_step_penalty must be a finite number >= 0, got -2.0"),
        ({"task": "push", "group_step_penalty": 2.0}, r"group_step_penalty applies to the group task only, not 'push'"),
        ({"control": "torque"}, r"control must be one of \['velocity', 'position'\], got 'torque'"),
    ],
)
def test_bad_kwargs_fail_with_the_value_and_the_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_env(**{"task": "avoid", **kwargs})


def test_unknown_render_mode_is_refused():
    with pytest.raises(ValueError, match=r"unknown render_mode 'ansi'; choose None or one of \['rgb_array'\]"):
        Push2DEnv(render_mode="ansi")


def test_wrong_action_shape_is_refused():
    env = make_env("push", "gripper", image_size=0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(2,\) for gripper"):
        env.step(np.zeros(3, dtype=np.float32))


def test_position_target_moves_the_robot_there_at_most_one_full_speed_step():
    env = make_env("push", "gripper", image_size=0, control="position", num_blocks=1)
    obs, _ = env.reset(seed=3)
    start = obs["state"][:2].astype(np.float64)
    near = start + np.array([0.05, -0.04])  # reachable in one step: the robot gets (nearly: it accelerates) there
    obs, *_ = env.step(near.astype(np.float32))
    assert np.linalg.norm(obs["state"][:2] - near) < 0.15 * np.linalg.norm(near - start)
    far = obs["state"][:2] + np.array([0.0, 0.9])  # beyond one step: full speed toward it
    before = obs["state"][:2].copy()
    obs, *_ = env.step(far.astype(np.float32))
    assert 0.12 < obs["state"][1] - before[1] <= 0.15 + 1e-3  # MAX_SPEED * CONTROL_DT at most


@pytest.mark.parametrize("embodiment", ["gripper", "short_stick"])
def test_expert_drives_position_control_as_it_drives_velocity_control(embodiment):
    # the expert converts its velocity to the target it reaches, so both modes replay the same episode
    finals = {}
    for control in ("velocity", "position"):
        env = make_env("avoid", embodiment, image_size=0, control=control, num_blocks=1)
        expert = Push2DExpert(env, noise=0.1, aligned=True, seed=5)
        obs, _ = env.reset(seed=5)
        for _ in range(150):
            obs, _, terminated, truncated, info = env.step(expert.act(obs))
            if terminated or truncated:
                break
        finals[control] = (info["success"], obs["state"])
    assert finals["velocity"][0] and finals["position"][0]
    np.testing.assert_allclose(finals["velocity"][1], finals["position"][1], atol=0.05)
