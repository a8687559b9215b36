"""Scripted Meta-World experts (``metaworld.policies``) with a noise knob.

``noise`` (ε in [0, 1]) degrades the expert the way offline preference-learning
benchmarks build mixed-quality data from one scripted policy: at each step, with
probability ε the action is uniformly random, otherwise it is the expert's action plus
Gaussian noise of standard deviation ε (actions live in [-1, 1]^4). ε = 0 is the clean
expert, ε = 1 a uniformly random policy. Gaussian noise alone is not enough: many
Meta-World experts still succeed under std-1 noise, because their gains saturate.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import gymnasium as gym
import numpy as np


def expert_policy_for(task: str):
    """The ``metaworld.policies`` object scripted for ``task`` (ValueError if none)."""
    from metaworld.policies import ENV_POLICY_MAP

    if task not in ENV_POLICY_MAP:
        raise ValueError(f"Meta-World ships no scripted policy for task {task!r}; tasks with one: {sorted(ENV_POLICY_MAP)}")
    return ENV_POLICY_MAP[task]()


# metaworld.policies warns on every gain above 1; its scripted gains are deliberate.
warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high", module="metaworld")


class PreferencePolicy:
    """A preference's aligned scripted policy behind the ``metaworld.policies`` interface."""

    def __init__(self, preference) -> None:
        self.preference = preference

    def get_action(self, state: np.ndarray) -> np.ndarray:
        return self.preference.aligned_action(state)


class MetaWorldExpert:
    """Meta-World's scripted policy for the env's task, plus seeded Gaussian action noise.

    ``aligned``: when the env has a preference (``make_env(preference=...)``), True gives
    the preference's scripted expert that keeps the person's rule (e.g. ``cross_high``:
    over the strip, then to the goal) and False Meta-World's own policy, which does the
    task and ignores the rule. Without a preference both are Meta-World's policy.
    """

    def __init__(self, env: gym.Env, noise: float = 0.0, aligned: bool = True, seed: int | None = None) -> None:
        self.task = env.unwrapped.task
        preference = getattr(env.unwrapped, "preference", None)
        self.aligned = bool(aligned)
        self.policy = PreferencePolicy(preference) if (preference is not None and self.aligned) else expert_policy_for(self.task)
        if not 0.0 <= float(noise) <= 1.0:
            raise ValueError(f"Meta-World expert noise must be in [0, 1] (1 = random policy), got {noise}")
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)
        self.intended_action: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        # a copy: some metaworld.policies edit their input in place (door-open shifts the
        # handle x by 5 cm), which would corrupt the observation the rollout records
        state = np.array(obs["state"], dtype=np.float64, copy=True)
        action = np.asarray(self.policy.get_action(state), dtype=np.float64)
        self.intended_action = np.clip(action, -1.0, 1.0).astype(np.float32)  # before the noise (DART data)
        if self.noise > 0:
            if self.rng.random() < self.noise:
                action = self.rng.uniform(-1.0, 1.0, size=action.shape)
            else:
                action = action + self.noise * self.rng.normal(size=action.shape)
        return np.clip(action, -1.0, 1.0).astype(np.float32)
