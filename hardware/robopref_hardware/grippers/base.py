"""The gripper interface: a width target with a force cap, and the current width.

Arms with a built-in gripper (the sim, xArm) expose one as ``arm.gripper``; a separate
gripper (Franka Hand, a Robotiq on a UR) is its own device. The safety layer clamps
width and force before :meth:`Gripper.move` is called.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass
class GripperConfig:
    """Opening range of the gripper (metres) and its default grasp force (newtons)."""

    min_width: float = 0.0
    max_width: float = 0.08
    force: float = 20.0

    def build(self) -> "Gripper":
        raise NotImplementedError(f"{type(self).__name__} does not say which Gripper it builds")


class Gripper(ABC):
    """A parallel gripper."""

    config: GripperConfig

    @abstractmethod
    def connect(self) -> None:
        """Open the connection; idempotent."""

    @abstractmethod
    def disconnect(self) -> None:
        """Close the connection; idempotent."""

    @abstractmethod
    def move(self, width: float, force: float | None = None) -> None:
        """Start moving the fingers to ``width`` metres, squeezing with at most ``force`` newtons (non-blocking)."""

    @abstractmethod
    def width(self) -> float:
        """Current opening in metres."""
