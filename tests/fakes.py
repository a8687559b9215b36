"""A tiny deterministic env and expert for testing the data path without a simulator.

Point robot on a line: state x, action dx; success when x > 1. It has a camera so
image datasets can be exercised, and get_state/set_state for replay tests.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class LineEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, image_size: int = 16, horizon: int = 12) -> None:
        self.image_size = image_size
        self.horizon = horizon
        spaces = {"state": gym.spaces.Box(-10, 10, (2,), np.float32)}
        if image_size:
            spaces["top_image"] = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        self.x = 0.0
        self.t = 0

    def _obs(self) -> dict[str, np.ndarray]:
        obs = {"state": np.array([self.x, self.t / self.horizon], np.float32)}
        if self.image_size:
            img = np.zeros((self.image_size, self.image_size, 3), np.uint8)
            col = int(np.clip((self.x + 2) / 4, 0, 0.999) * self.image_size)
            img[:, col, 0] = 255
            obs["top_image"] = img
        return obs

    def reset(self, *, seed: int | None = None, options: Any = None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-0.5, 0.5))
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.x += 0.25 * float(np.clip(action[0], -1, 1))
        self.t += 1
        success = self.x > 1.0
        reward = -abs(1.0 - self.x)
        info = {"success": success, "task_reward": reward, "pref_score": reward - 0.5 * (self.x < 0), "violation": self.x < 0}
        return self._obs(), reward, False, self.t >= self.horizon, info

    def get_state(self) -> np.ndarray:
        return np.array([self.x, self.t], np.float64)

    def set_state(self, state: np.ndarray) -> None:
        self.x, self.t = float(state[0]), int(state[1])


class LineExpert:
    def __init__(self, env: gym.Env, noise: float = 0.0, aligned: bool = True, seed: int | None = None) -> None:
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, obs) -> np.ndarray:
        return np.clip(np.array([1.0]) + self.noise * self.rng.normal(size=1), -1, 1).astype(np.float32)


def make_line_env(image_size: int = 16, horizon: int = 12) -> gym.Env:
    if "robopref-test/Line-v0" not in gym.registry:
        gym.register("robopref-test/Line-v0", entry_point=LineEnv)
    return gym.make("robopref-test/Line-v0", image_size=image_size, horizon=horizon)


LINE_ENV_CFG = {
    "name": "line",
    "_target_": "tests.fakes.make_line_env",
    "image_size": 16,
    "horizon": 12,
    "expert": {"_target_": "tests.fakes.LineExpert"},
}
