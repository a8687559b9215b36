"""How an action drives the robot: velocity commands (the default) or position targets.

- ``velocity``: the first two action entries are the robot's velocity, 1 = ``MAX_SPEED``.
- ``position``: they are the point in the arena ([-1, 1]^2, the same units as the
  state) the robot should be at after this step; the env turns that into the velocity
  that gets there in one control step, capped at ``MAX_SPEED`` per axis (a P controller).
  Diffusion Policy (Chi et al. 2023) found position targets much easier to learn than
  velocities for pushing: a chunk of targets stays valid while it is executed, where a
  chunk of velocities accumulates every error.

Sticks' third entry is the angular velocity in both modes (1 = ``MAX_OMEGA``).
"""

from __future__ import annotations

import numpy as np

from robopref_envs.push2d.physics.world import CONTROL_DT, MAX_SPEED

CONTROLS = ("velocity", "position")
STEP_REACH = MAX_SPEED * CONTROL_DT  # how far the robot moves in one step at full speed


def check_control(control: str) -> str:
    """``control`` if it is a known mode, else a ValueError naming the choices."""
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {list(CONTROLS)}, got {control!r}")
    return control


def position_to_velocity(action: np.ndarray, robot_position: np.ndarray) -> np.ndarray:
    """A position-target action as the velocity action that reaches the target in one step."""
    out = np.array(action, dtype=np.float64)
    out[:2] = np.clip((np.clip(out[:2], -1.0, 1.0) - robot_position) / STEP_REACH, -1.0, 1.0)
    return out


def velocity_to_position(action: np.ndarray, robot_position: np.ndarray) -> np.ndarray:
    """A velocity action as the position target it would reach in one free step (inside the arena)."""
    out = np.array(action, dtype=np.float64)
    out[:2] = np.clip(robot_position + np.clip(out[:2], -1.0, 1.0) * STEP_REACH, -1.0, 1.0)
    return out
