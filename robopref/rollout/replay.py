"""Replay recorded actions from a recorded simulator state and compare observations.

A dataset is only trustworthy for training and evaluation if what it stores is what
the simulator does: restoring ``states[0]`` and stepping ``actions`` must reproduce
``obs`` (and ``states``). This is the check; it also re-creates env from the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import gymnasium as gym
import numpy as np

from robopref.data.episode import Episode
from robopref.data.layout import is_image_key


@dataclass
class ReplayReport:
    """How far a replay drifted from the recording (max absolute error per key)."""

    demo: str
    steps: int
    obs_error: dict[str, float] = field(default_factory=dict)
    state_error: float | None = None
    ok: bool = True


def replay_episode(
    env: gym.Env, episode: Episode, demo: str = "", atol: float = 1e-6, image_atol: int = 0, state_atol: float = 1e-4
) -> ReplayReport:
    """Restore ``episode.states[0]``, step every action, compare each next observation.

    ``obs[k][t + 1]`` (stored) is compared with the observation after ``actions[t]``;
    ``states[t + 1]`` with ``get_state()`` when stored. ``ok`` when every low-dim error
    is at most ``atol``, every image error (uint8 levels) at most ``image_atol`` and the
    state error at most ``state_atol`` (looser: MuJoCo states include the constraint
    solver's warm start, which drifts at rounding level without changing observations).
    """
    if episode.states is None:
        raise ValueError(f"demo {demo or '?'} stores no states: it cannot be replayed from its initial state")
    unwrapped = env.unwrapped
    if not (hasattr(unwrapped, "set_state") and hasattr(unwrapped, "get_state")):
        raise ValueError(f"env {type(unwrapped).__name__} has no get_state/set_state: it cannot replay demos")
    seed = int(episode.attrs.get("seed", -1))
    env.reset(seed=seed if seed >= 0 else None)  # builds the episode's scene; set_state then restores it exactly
    unwrapped.set_state(episode.states[0])
    T = len(episode)
    errors = {k: 0.0 for k in episode.obs}
    state_error = 0.0 if T > 1 else None
    for t in range(T - 1):
        obs, *_ = env.step(episode.actions[t])
        for k in errors:
            a = np.asarray(obs[k]).astype(np.float64)
            b = np.asarray(episode.obs[k][t + 1]).astype(np.float64)
            errors[k] = max(errors[k], float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf"))
        state = np.asarray(unwrapped.get_state(), dtype=np.float64)
        ref = episode.states[t + 1]
        state_error = max(state_error, float(np.max(np.abs(state - ref))) if state.shape == ref.shape else float("inf"))
    ok = all(err <= (image_atol if is_image_key(k) else atol) for k, err in errors.items())
    ok = ok and (state_error is None or state_error <= state_atol)
    return ReplayReport(demo=demo, steps=T, obs_error=errors, state_error=state_error, ok=ok)


def replay_dataset(
    path: str | os.PathLike, demos: Sequence[str] | None = None, atol: float = 1e-6, image_atol: int = 0, state_atol: float = 1e-4
) -> list[ReplayReport]:
    """Re-create the env stored in the file's ``env_args`` and replay ``demos`` (default all)."""
    from robopref.data.dataset import Dataset
    from robopref.rollout.factory import make_env_from_dataset

    ds = Dataset(path)
    env = make_env_from_dataset(ds)
    try:
        return [replay_episode(env, ds.episode(d), demo=d, atol=atol, image_atol=image_atol, state_atol=state_atol) for d in (demos or ds.demos)]
    finally:
        env.close()
