"""The limits: one dataclass, set per arm in the hardware config (conf/hardware/<arm>.yaml).

LeRobot bounds each step with ``max_relative_target`` and the end-effector position
with a box; diffusion_policy's real-robot code bounds the workspace and the speed. Here
every limit is a config field, and ``mode`` says whether a command that breaks one is
pulled back inside (``clamp``) or refused whole (``refuse``). Non-finite numbers and
wrong shapes are always refused: there is nothing sensible to clamp them to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class SafetyMode(str, Enum):
    """What to do with a command that breaks a limit."""

    clamp = "clamp"
    refuse = "refuse"


@dataclass
class SafetyConfig:
    """Limits checked on every command (metres, radians, seconds, newtons).

    Step limits are measured from the last accepted target (or the measured pose after a
    stop), so a stream of small steps cannot add up faster than ``max_speed``.
    """

    mode: SafetyMode = SafetyMode.clamp
    # end-effector position box, base frame
    workspace_low: list[float] = field(default_factory=lambda: [-0.5, 0.3, 0.05])
    workspace_high: list[float] = field(default_factory=lambda: [0.5, 0.9, 0.3])
    max_step: float = 0.02  # largest end-effector translation per command (LeRobot's max_relative_target)
    max_speed: float = 0.25  # end-effector speed bound: a step may not exceed max_speed × time since the last accepted command
    max_lead: float = 0.05  # largest distance of a target from the measured position (the arm may lag its targets)
    # orientation
    orientation_ref: list[float] | None = None  # reference orientation (w, x, y, z); None: the orientation at connect
    max_tilt: float = math.pi  # largest angle between a target orientation and the reference
    max_rotation_step: float = 0.1  # largest rotation per command
    max_angular_speed: float = 1.0  # rad/s
    # joints (None: the backend reports no limits and joint commands are refused)
    joint_low: list[float] | None = None
    joint_high: list[float] | None = None
    max_joint_step: float = 0.05  # rad per command
    max_joint_speed: float = 0.5  # rad/s
    # gripper
    gripper_min_width: float = 0.0
    gripper_max_width: float = 0.08
    gripper_max_force: float = 40.0
    min_dt: float = 1e-3  # floor of the time between commands used in speed limits

    def check(self) -> None:
        """Raise ValueError for limits that contradict each other (caught at server start)."""
        lo, hi = np.asarray(self.workspace_low, float), np.asarray(self.workspace_high, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo >= hi):
            raise ValueError(f"workspace_low {self.workspace_low} must be below workspace_high {self.workspace_high} on x, y and z")
        for name in ("max_step", "max_speed", "max_lead", "max_rotation_step", "max_angular_speed", "max_joint_step", "max_joint_speed", "min_dt"):
            if not getattr(self, name) > 0:
                raise ValueError(f"safety.{name} must be positive, got {getattr(self, name)}")
        if (self.joint_low is None) != (self.joint_high is None):
            raise ValueError("give both safety.joint_low and safety.joint_high, or neither")
        if self.joint_low is not None and np.any(np.asarray(self.joint_low) >= np.asarray(self.joint_high)):
            raise ValueError(f"joint_low {self.joint_low} must be below joint_high {self.joint_high}")
        if not 0 <= self.gripper_min_width < self.gripper_max_width:
            raise ValueError("need 0 <= gripper_min_width < gripper_max_width")
        SafetyMode(self.mode)

    def step_limit(self, dt: float) -> float:
        """Largest translation allowed for a command ``dt`` seconds after the last accepted one."""
        return min(self.max_step, self.max_speed * max(dt, self.min_dt))

    def rotation_limit(self, dt: float) -> float:
        return min(self.max_rotation_step, self.max_angular_speed * max(dt, self.min_dt))

    def joint_step_limit(self, dt: float) -> float:
        return min(self.max_joint_step, self.max_joint_speed * max(dt, self.min_dt))
