"""Gamepad teleoperation through pygame's joystick API (``pip install 'robopref-hardware[gamepad]'``).

Calls (pygame's documented API): ``pygame.init()``, ``pygame.joystick.init()``,
``pygame.joystick.get_count()``, ``pygame.joystick.Joystick(i)``, ``.init()``,
``pygame.event.pump()``, ``.get_axis(i)``, ``.get_button(i)``, ``.quit()``.
Runs headless (``SDL_VIDEODRIVER=dummy``). Tested with a double of pygame only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from robopref_hardware.errors import HardwareError, require
from robopref_hardware.teleop.base import Teleop, TeleopInput


@dataclass
class GamepadTeleopConfig:
    index: int = 0
    max_step: float = 0.01  # metres per tick at full stick
    deadzone: float = 0.15
    axes: list[int] = field(default_factory=lambda: [1, 0, 4])  # left stick y/x -> x/y, right stick y -> z
    signs: list[float] = field(default_factory=lambda: [-1.0, -1.0, -1.0])
    gripper_button: int = 0  # A / cross
    buttons: dict[int, str] = field(default_factory=lambda: {7: "start", 6: "stop", 3: "discard", 1: "estop", 2: "takeover", 4: "pause"})

    def build(self) -> "GamepadTeleop":
        return GamepadTeleop(self)


class GamepadTeleop(Teleop):
    def __init__(self, config: GamepadTeleopConfig | None = None) -> None:
        self.config = config or GamepadTeleopConfig()
        self._pg = None
        self._js = None
        self.gripper_closed = False
        self._prev: dict[int, bool] = {}

    def connect(self) -> None:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        pg = require("pygame", "gamepad teleop", "gamepad")
        pg.init()
        pg.joystick.init()
        if pg.joystick.get_count() <= self.config.index:
            raise HardwareError(f"no gamepad {self.config.index} found ({pg.joystick.get_count()} connected)")
        self._js = pg.joystick.Joystick(self.config.index)
        self._js.init()
        self._pg = pg

    def disconnect(self) -> None:
        if self._pg is not None:
            self._pg.quit()
            self._pg = self._js = None

    def _pressed(self, button: int) -> bool:
        """True on the tick a button goes down (edges, not levels: one event per press)."""
        now = bool(self._js.get_button(button))
        was = self._prev.get(button, False)
        self._prev[button] = now
        return now and not was

    def read(self) -> TeleopInput:
        if self._js is None:
            raise HardwareError("gamepad not connected")
        self._pg.event.pump()
        c = self.config
        delta = np.zeros(3)
        for i, (axis, sign) in enumerate(zip(c.axes, c.signs)):
            v = float(self._js.get_axis(axis))
            if abs(v) > c.deadzone:
                delta[i] = sign * c.max_step * (abs(v) - c.deadzone) / (1 - c.deadzone) * np.sign(v)
        if self._pressed(c.gripper_button):
            self.gripper_closed = not self.gripper_closed
        events = {name for b, name in c.buttons.items() if self._pressed(b)}
        return TeleopInput(delta_pos=delta, gripper_closed=self.gripper_closed, events=events)
