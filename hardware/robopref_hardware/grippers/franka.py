"""Franka Hand through franky's ``Gripper(host)``: ``move(width, speed)``, ``grasp(width, speed, force,
epsilon_outer=...)``, ``width`` (franky's documented API). Not run on hardware here; tested with an SDK double."""

from __future__ import annotations

from robopref_hardware.errors import NotConnectedError, require
from robopref_hardware.grippers.base import Gripper, GripperConfig


class FrankaGripper(Gripper):
    """Franka Hand: ``move`` to open, ``grasp`` (with a force) when closing below the current width."""

    def __init__(self, host: str, speed: float) -> None:
        self.config = GripperConfig(min_width=0.0, max_width=0.08, force=20.0)
        self.host, self.speed = host, float(speed)
        self._g = None

    def connect(self) -> None:
        if self._g is None:
            self._g = require("franky", "franka", "franka").Gripper(self.host)

    def disconnect(self) -> None:
        self._g = None

    def move(self, width: float, force: float | None = None) -> None:
        if self._g is None:
            raise NotConnectedError("Franka gripper not connected")
        if width < self.width() - 1e-3:  # closing: grasp so that an object is held with a bounded force
            self._g.grasp(float(width), self.speed, float(force if force is not None else self.config.force), epsilon_outer=1.0)
        else:
            self._g.move(float(width), self.speed)

    def width(self) -> float:
        return float(self._g.width) if self._g is not None else 0.0
