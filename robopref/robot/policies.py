"""Policies the robot stage can load: a trained checkpoint, or a scripted goal-reaching policy.

``GoalReachPolicy`` reads the goal from the sim's ``task_state`` (Meta-World puts it in
the last three entries) and plans straight-line chunks toward it: a real policy with the
chunked interface of robopref's diffusion policies (``n_obs_steps``, ``n_action_steps``,
``predict_chunk``), so the sim workflow and the tests exercise the same latency
compensation path a diffusion checkpoint takes.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np


class GoalReachPolicy:
    """Move the end effector toward the goal in ``task_state[-3:]`` at ``step`` metres per tick."""

    def __init__(self, step: float = 0.015, n_obs_steps: int = 2, n_action_steps: int = 4, horizon: int = 8,
                 gripper: float = 0.07, noise: float = 0.0, seed: int = 0, goal_offset: Sequence[float] = (0.0, 0.0, 0.045)) -> None:
        self.step = float(step)
        self.n_obs_steps, self.n_action_steps, self.horizon = int(n_obs_steps), int(n_action_steps), int(horizon)
        self.gripper = float(gripper)
        self.noise = float(noise)
        self.goal_offset = np.asarray(goal_offset, np.float64)  # hand body sits above the fingertips
        self._rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)

    def _plan(self, obs: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        if "task_state" not in obs:
            raise KeyError("GoalReachPolicy needs the sim's 'task_state' observation (use hardware=sim)")
        pos = np.asarray(obs["ee_pos"], np.float64)
        goal = np.asarray(obs["task_state"], np.float64)[-3:] + self.goal_offset
        out = np.empty((n, 4), np.float32)
        for k in range(n):
            d = goal - pos
            dist = float(np.linalg.norm(d))
            pos = goal.copy() if dist <= self.step else pos + d * (self.step / dist)
            if self.noise:
                pos = pos + self._rng.normal(0.0, self.noise, 3)
            out[k, :3], out[k, 3] = pos, self.gripper
        return out

    def predict_chunk(self, history: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
        """``horizon`` actions; index ``n_obs_steps - 1`` is the one for the latest observation."""
        plan = self._plan(history[-1], self.horizon - self.n_obs_steps + 1)
        pad = np.repeat(plan[:1], self.n_obs_steps - 1, axis=0)
        return np.concatenate([pad, plan])

    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        return self._plan(obs, 1)[0]


def load_robot_policy(spec: str, device: str = "auto", **kwargs: Any) -> Any:
    """``scripted:reach`` → :class:`GoalReachPolicy`; anything else is a checkpoint path for ``load_policy``."""
    if spec.startswith("scripted:"):
        name = spec.split(":", 1)[1]
        if name != "reach":
            raise ValueError(f"unknown scripted robot policy {name!r}; available: scripted:reach")
        return GoalReachPolicy(**kwargs)
    from robopref.policies import load_policy

    return load_policy(spec, device=device)
