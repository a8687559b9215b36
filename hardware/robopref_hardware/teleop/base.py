"""What a teleoperation device gives the control loop on each tick."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

# Session events a device can raise (the record/rollout loops act on them).
EVENTS = ("start", "stop", "discard", "quit", "estop", "release", "pause", "takeover", "home")


@dataclass
class TeleopInput:
    """One tick of operator input."""

    delta_pos: np.ndarray = field(default_factory=lambda: np.zeros(3))  # metres to move the end effector this tick
    gripper_closed: bool = False
    events: set[str] = field(default_factory=set)

    @property
    def moving(self) -> bool:
        return bool(np.any(self.delta_pos != 0))


class Teleop(ABC):
    """A device read once per control tick."""

    @abstractmethod
    def connect(self) -> None:
        """Open the device (terminal raw mode, joystick)."""

    @abstractmethod
    def disconnect(self) -> None:
        """Give the device back (restore the terminal)."""

    @abstractmethod
    def read(self) -> TeleopInput:
        """Input since the last read (never blocks)."""

    def __enter__(self) -> "Teleop":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()
