"""The policy interface every rollout uses: scripted experts, learned policies, replay.

Kept to two members so that anything with ``reset`` and ``act`` can be rolled out,
recorded and evaluated (the same shape as LeRobot's ``select_action``/``reset``).
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np


@runtime_checkable
class RolloutPolicy(Protocol):
    """Maps the latest observation dict to one action; keeps its own history if it needs one."""

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode (clear action queues, observation history, reseed noise)."""

    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The action to execute now."""


class RandomPolicy:
    """Uniform random actions from the env's action space (the near-random end of mixed data)."""

    def __init__(self, env: gym.Env, seed: int | None = None) -> None:
        self.space = env.action_space
        self.space.seed(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.space.seed(seed)

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(self.space.sample(), dtype=np.float32)
