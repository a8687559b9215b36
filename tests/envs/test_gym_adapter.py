"""Any Gymnasium env through ``env=gymnasium``: dict observations, images, success, clear
refusals, and the collect → policy → eval loop a user runs on their own task."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from robopref.data import Dataset
from robopref_envs.gym_adapter import make_env
from tests.test_cli import robopref


class CameraTask(gym.Env):
    """A Dict-observation env with a nested group, its own image, ``is_success`` and render()."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = spaces.Dict({
            "pixels": spaces.Box(0, 255, (20, 30, 3), np.uint8),
            "robot": spaces.Dict({"qpos": spaces.Box(-1, 1, (2, 2), np.float64)}),
        })
        self.action_space = spaces.Box(-1, 1, (2,), np.float32)
        self.t = 0

    def _obs(self) -> dict:
        return {"pixels": np.full((20, 30, 3), self.t, np.uint8), "robot": {"qpos": np.full((2, 2), self.t / 10)}}

    def reset(self, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {"is_success": False}

    def step(self, action):
        self.t += 1
        return self._obs(), 1.0, self.t >= 5, False, {"is_success": self.t >= 3}

    def render(self):
        return np.full((40, 40, 3), 200, np.uint8)


if "robopref_test/CameraTask-v0" not in gym.registry:
    gym.register("robopref_test/CameraTask-v0", entry_point=CameraTask)


def test_box_and_dict_observations_become_robopref_keys():
    env = make_env("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"state"} and obs["state"].shape == (3,) and obs["state"].dtype == np.float32
    env = make_env("robopref_test/CameraTask-v0", camera="front", image_size=16)
    assert set(env.observation_space.spaces) == {"pixels_image", "robot_qpos", "front_image"}
    obs, info = env.reset(seed=0)
    for _ in range(3):
        obs, _, _, _, info = env.step(np.zeros(2, np.float32))
    assert obs["pixels_image"].shape == (16, 16, 3) and obs["pixels_image"].mean() == 3
    np.testing.assert_allclose(obs["robot_qpos"], [0.3] * 4)
    assert obs["front_image"].shape == (16, 16, 3)
    assert info["success"] is True


def test_what_robopref_cannot_use_is_named():
    with pytest.raises(ValueError, match=r"CartPole-v1: robopref's policies act in continuous \(Box\) action spaces, this one has Discrete\(2\)"):
        make_env("CartPole-v1")
    with pytest.raises(ValueError, match=r"env.id='Pendulum-v9' is not a registered Gymnasium env \(did you mean \['Pendulum-v1'"):
        make_env("Pendulum-v9")
    with pytest.raises(ValueError, match=r"env.imports: cannot import 'no_such_sim_pkg'"):
        make_env("Pendulum-v1", imports=["no_such_sim_pkg"])
    with pytest.raises(ValueError, match=r"camera='front' needs an image_size"):
        make_env("robopref_test/CameraTask-v0", camera="front", image_size=None)


TINY = ["policy.down_dims=[8,16]", "policy.diffusion_step_embed_dim=8", "policy.horizon=8", "policy.n_action_steps=4",
        "policy.num_inference_steps=2", "batch_size=16", "eval_every=0", "torch_threads=1", "progress=false"]


def test_collect_train_and_evaluate_on_a_gymnasium_env(tmp_path):
    gym_env = ["env=gymnasium", "env.id=Pendulum-v1", "env.max_episode_steps=30"]
    out = robopref("collect", *gym_env, "episodes=3", f"output={tmp_path / 'pend.hdf5'}", cwd=tmp_path)
    assert out.returncode != 0 and "defines no scripted expert" in out.stderr and "policy=random" in out.stderr
    out = robopref("collect", *gym_env, "policy=random", "episodes=3", f"output={tmp_path / 'pend.hdf5'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    with Dataset(tmp_path / "pend.hdf5") as ds:
        assert len(ds.demos) == 3 and ds.lengths == {f"demo_{i}": 30 for i in range(3)} and ds.obs_keys == ["state"]
    out = robopref("policy", f"dataset={tmp_path / 'pend.hdf5'}", *TINY, "epochs=1", "hydra.run.dir=pol", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    ckpt = tmp_path / "pol" / "checkpoints" / "best.ckpt"
    out = robopref("eval", f"policy={ckpt}", *gym_env, "episodes=2", "workers=1", "videos=0", "hydra.run.dir=ev", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert len(result["episodes"]) == 2 and all(e["steps"] == 30 for e in result["episodes"])
    out = robopref("eval", f"policy={ckpt}", "episodes=1", "workers=1", "videos=0", "hydra.run.dir=ev2", cwd=tmp_path)  # the default env: push2d
    assert out.returncode != 0 and "was collected in env=gymnasium" in out.stderr and "++env.id=Pendulum-v1" in out.stderr


def test_the_control_rate_comes_from_the_step_duration_before_the_display_rate():
    from robopref.rollout.factory import control_rate, env_args_of

    env = make_env("Pendulum-v1")  # dt 0.05 s, metadata render_fps 30 (a display rate)
    assert control_rate(env) == 20.0 and env_args_of(env, {"name": "gymnasium", "id": "Pendulum-v1"})["fps"] == 20.0
