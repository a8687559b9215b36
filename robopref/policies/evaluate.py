"""Success rate of a rollout policy over seeded episodes (used for checkpoint selection).

A plain in-process loop over :func:`robopref.rollout.record_episode`: cheap enough to
run every few epochs, with the same seeds each time so epochs are comparable.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from robopref.rollout import RolloutPolicy, record_episode


def evaluate_policy(env: gym.Env, policy: RolloutPolicy, episodes: int, seed: int, max_steps: int | None = None) -> dict[str, Any]:
    """Roll ``policy`` out for ``episodes`` episodes with seeds ``seed + i``; success rate and mean return."""
    successes, returns, lengths = [], [], []
    for i in range(episodes):
        ep = record_episode(env, policy, seed=seed + i, max_steps=max_steps)
        successes.append(ep.success)
        returns.append(ep.total_reward)
        lengths.append(len(ep))
    return {
        "success_rate": float(np.mean(successes)),
        "mean_return": float(np.mean(returns)),
        "mean_length": float(np.mean(lengths)),
        "eval_episodes": episodes,
    }
