"""DiffusionRolloutPolicy: a DiffusionPolicy behind the RolloutPolicy protocol.

Receding-horizon execution as in Diffusion Policy: keep the last ``n_obs_steps``
observations; when the action queue is empty, sample a chunk of ``horizon`` actions
and queue the ``n_action_steps`` that start at the current step (index
``n_obs_steps - 1`` of the chunk); pop one action per ``act`` call, replan when empty.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Mapping

import numpy as np
import torch

from robopref.policies.diffusion_policy import DiffusionPolicy

if TYPE_CHECKING:  # imported at call time in batched(): that module imports this one
    from robopref.policies.batched_rollout import BatchedDiffusionActor


class DiffusionRolloutPolicy:
    """Roll a diffusion policy out step by step (``reset``/``act``).

    Args:
        model: the network used for sampling (usually the EMA copy), in eval mode.
        n_action_steps: actions executed per chunk before replanning (default: the model's).
        seed: seed of the sampling noise; ``reset(seed)`` reseeds it per episode.
    """

    def __init__(self, model: DiffusionPolicy, n_action_steps: int | None = None, seed: int | None = 0) -> None:
        self.model = model.eval()
        cfg = model.cfg
        self.n_obs_steps = cfg.n_obs_steps
        self.n_action_steps = n_action_steps or cfg.n_action_steps
        if cfg.n_obs_steps - 1 + self.n_action_steps > cfg.horizon:
            raise ValueError(f"n_action_steps={self.n_action_steps} does not fit in horizon={cfg.horizon} after {cfg.n_obs_steps - 1} past steps")
        self.keys = list(model.obs_encoder.low_dim_keys) + list(model.obs_encoder.image_keys)
        self.generator = torch.Generator(device=model.device)
        self._history: deque[dict[str, np.ndarray]] = deque(maxlen=self.n_obs_steps)
        self._queue: deque[np.ndarray] = deque()
        self.reset(seed)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def reset(self, seed: int | None = None) -> None:
        """Clear the observation history and the action queue; reseed the sampling noise."""
        self._history.clear()
        self._queue.clear()
        if seed is not None:
            self.generator.manual_seed(int(seed))

    def resume(self, history: list[Mapping[str, np.ndarray]], queued: np.ndarray) -> None:
        """Continue an episode midway: ``history`` holds the observations before the current
        one (oldest first), ``queued`` (k, A) the actions to execute before the next replan;
        the next ``act(obs)`` takes the current observation."""
        self._history.clear()
        self._history.extend({k: np.asarray(o[k]) for k in self.keys} for o in history)
        self._queue.clear()
        self._queue.extend(np.asarray(queued, dtype=np.float32))

    def predict_chunk(self, history: list[Mapping[str, np.ndarray]]) -> np.ndarray:
        """One chunk (horizon, A) from a list of ``n_obs_steps`` observation dicts (oldest first)."""
        obs = {k: torch.from_numpy(np.stack([np.asarray(o[k]) for o in history]))[None] for k in self.keys}
        return self.model.predict_action(obs, generator=self.generator)[0].cpu().numpy()

    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The action to execute now; replans when the queue is empty."""
        push_observation(self._history, obs, self.keys, self.n_obs_steps)
        if not self._queue:
            self.queue_chunk(self._queue, self.predict_chunk(list(self._history)))
        return self._queue.popleft()

    def queue_chunk(self, queue: deque[np.ndarray], chunk: np.ndarray) -> None:
        """Queue the ``n_action_steps`` actions of ``chunk`` (horizon, A) that start at the current step."""
        start = self.n_obs_steps - 1
        queue.extend(chunk[start : start + self.n_action_steps].astype(np.float32))

    def batched(self, slots: int) -> BatchedDiffusionActor:
        """An actor for ``slots`` episodes at once (:mod:`robopref.rollout.batched`) with this policy's network and settings."""
        from robopref.policies.batched_rollout import BatchedDiffusionActor

        return BatchedDiffusionActor(self, slots)


def push_observation(history: deque[dict[str, np.ndarray]], obs: Mapping[str, np.ndarray], keys: list[str], n_obs_steps: int) -> None:
    """Append the policy's keys of ``obs`` to ``history``; at an episode's start, repeat it to fill ``n_obs_steps``."""
    missing = [k for k in keys if k not in obs]
    if missing:
        raise KeyError(f"observation lacks key(s) {missing} the policy was trained on; it has {sorted(obs)}")
    history.append({k: np.asarray(obs[k]) for k in keys})
    while len(history) < n_obs_steps:  # episode start: repeat the first observation
        history.appendleft(history[0])
