"""The arm interface every backend implements (LeRobot-style: a short list of abstract members).

A backend only translates: it never decides whether a command is safe. Every command
reaches it through :class:`robopref_hardware.safety.guard.SafeArm`, which enforces the
limits, so the backends stay thin and the safety rules are written once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from robopref_hardware.types import ArmCommand, ArmState

if TYPE_CHECKING:
    from robopref_hardware.grippers.base import Gripper


@dataclass
class ArmConfig:
    """Fields every arm has. Subclasses add the connection details and implement :meth:`build`."""

    n_joints: int = 7
    home_joints: list[float] | None = None  # joint configuration of `home` (None: the backend's default)
    home_pose: list[float] | None = None  # or an end-effector home [x, y, z, qw, qx, qy, qz]
    home_speed: float = 0.1  # m/s or rad/s of the homing motion

    def build(self) -> "Arm":
        raise NotImplementedError(f"{type(self).__name__} does not say which Arm it builds")


class Arm(ABC):
    """A robot arm. Units: metres, radians, quaternions (w, x, y, z), seconds.

    ``send`` receives commands that the safety layer has already checked and clamped.
    ``forward_kinematics`` is optional: when a backend has it, joint targets are also
    checked against the end-effector workspace box.
    """

    config: ArmConfig
    gripper: "Gripper | None" = None

    @abstractmethod
    def connect(self) -> None:
        """Open the connection (and enable the robot); idempotent."""

    @abstractmethod
    def disconnect(self) -> None:
        """Stop any motion and close the connection; idempotent."""

    @abstractmethod
    def observe(self) -> ArmState:
        """The current joint state, end-effector pose and gripper opening."""

    @abstractmethod
    def send(self, command: ArmCommand) -> None:
        """Start moving toward a checked command (non-blocking: streaming servo targets)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop moving now and hold the current pose."""

    @abstractmethod
    def home(self) -> None:
        """Move slowly to the home configuration (blocking)."""

    @property
    def n_joints(self) -> int:
        return int(self.config.n_joints)

    def measure(self) -> ArmState:
        """Joint and end-effector state for the safety checks, as cheaply as the backend can
        (called on every command; ``extra`` may be left empty). Default: :meth:`observe`."""
        return self.observe()

    def forward_kinematics(self, joints: np.ndarray) -> np.ndarray | None:
        """End-effector position (3,) of a joint configuration, or None when unknown."""
        return None

    def __enter__(self) -> "Arm":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

