"""An in-memory episode: what a rollout produces and what the writer stores as one demo."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Episode:
    """One trajectory in the robomimic layout, arrays with time as the first axis.

    ``obs[k][t]`` is the observation before ``actions[t]``; ``next_obs[k][t]`` the one
    after it. ``states[t]`` is the simulator state before ``actions[t]`` (for replay).
    ``infos`` holds per-step scalars such as ``success``, ``task_reward``, ``pref_score``.
    ``action_dict`` holds other action streams of the same steps, robomimic's
    ``action_dict/<key>`` (e.g. ``intended``: what a noisy scripted expert meant to do).
    ``attrs`` are stored as HDF5 attributes of the demo group (e.g. ``seed``).
    """

    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    obs: dict[str, np.ndarray]
    next_obs: dict[str, np.ndarray] | None = None
    states: np.ndarray | None = None
    infos: dict[str, np.ndarray] = field(default_factory=dict)
    action_dict: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    @property
    def success(self) -> bool:
        """True when the ``success`` info was set at any step (robomimic's convention)."""
        s = self.infos.get("success")
        return bool(np.any(s)) if s is not None else False

    @property
    def total_reward(self) -> float:
        """Sum of the environment reward over the episode."""
        return float(np.sum(self.rewards))
