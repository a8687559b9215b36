"""Keyboard teleoperation from the terminal (no display needed): raw-mode key presses.

Default keys (diffusion_policy's real-robot scripts use c/s/backspace/q the same way):

    w / s   +x / -x          a / d   +y / -y          r / f   +z / -z
    g       toggle gripper   c       start episode     b       stop and save
    backspace  discard        q       quit              x or space  EMERGENCY STOP
    u       release the emergency stop                  p       pause / resume
    t       human takeover on / off (rollouts)          h       home

Keys come from a :class:`KeySource`: :class:`TerminalKeys` reads stdin in cbreak mode;
tests inject :class:`ScriptedKeys`.
"""

from __future__ import annotations

import os
import select
import sys
from dataclasses import dataclass, field
from typing import Iterable, Protocol

import numpy as np

from robopref_hardware.teleop.base import Teleop, TeleopInput

DEFAULT_MOVES = {"w": (0, 1), "s": (0, -1), "a": (1, 1), "d": (1, -1), "r": (2, 1), "f": (2, -1)}
DEFAULT_EVENTS = {"c": "start", "b": "stop", "backspace": "discard", "q": "quit", "x": "estop", "space": "estop",
                  "u": "release", "p": "pause", "t": "takeover", "h": "home"}
_SPECIAL = {"\x7f": "backspace", "\x08": "backspace", " ": "space", "\r": "enter", "\n": "enter", "\x1b": "escape",
            "\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left"}


class KeySource(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def poll(self) -> list[str]:
        """Keys pressed since the last poll, as names ("w", "space", "backspace", "up")."""
        ...


class TerminalKeys:
    """Non-blocking key presses from a terminal (termios cbreak mode; restored on stop)."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved = None

    def start(self) -> None:
        import termios
        import tty

        if not os.isatty(self.fd):
            raise RuntimeError("keyboard teleop needs an interactive terminal (stdin is not a TTY)")
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def stop(self) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def poll(self) -> list[str]:
        raw = b""
        while select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 64)
            if not chunk:
                break
            raw += chunk
        return decode_keys(raw.decode(errors="ignore"))


def decode_keys(text: str) -> list[str]:
    """Split terminal input into key names (arrow escape sequences become "up", "down", ...)."""
    keys, i = [], 0
    while i < len(text):
        if text[i] == "\x1b" and text[i : i + 3] in _SPECIAL:
            keys.append(_SPECIAL[text[i : i + 3]])
            i += 3
            continue
        ch = text[i]
        keys.append(_SPECIAL.get(ch, ch.lower()))
        i += 1
    return keys


class ScriptedKeys:
    """A key source that replays a script: one list of keys per poll (tests, demos)."""

    def __init__(self, script: Iterable[Iterable[str] | str | None]) -> None:
        self._script = [[] if s is None else ([s] if isinstance(s, str) else list(s)) for s in script]
        self._i = 0

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def poll(self) -> list[str]:
        if self._i >= len(self._script):
            return ["q"]  # a finished script quits, so a test can never hang on it
        keys = self._script[self._i]
        self._i += 1
        return keys


@dataclass
class KeyboardTeleopConfig:
    step: float = 0.01  # metres per tick while a move key is pressed
    moves: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_MOVES))
    events: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVENTS))
    gripper_key: str = "g"

    def build(self, keys: KeySource | None = None) -> "KeyboardTeleop":
        return KeyboardTeleop(self, keys)


class KeyboardTeleop(Teleop):
    def __init__(self, config: KeyboardTeleopConfig | None = None, keys: KeySource | None = None) -> None:
        self.config = config or KeyboardTeleopConfig()
        self.keys = keys if keys is not None else TerminalKeys()
        self.gripper_closed = False

    def connect(self) -> None:
        self.keys.start()

    def disconnect(self) -> None:
        self.keys.stop()

    def read(self) -> TeleopInput:
        delta = np.zeros(3)
        events: set[str] = set()
        for k in self.keys.poll():
            if k in self.config.moves:
                axis, sign = self.config.moves[k]
                delta[axis] = sign * self.config.step  # auto-repeat within a tick counts once
            elif k == self.config.gripper_key:
                self.gripper_closed = not self.gripper_closed
            elif k in self.config.events:
                events.add(self.config.events[k])
        return TeleopInput(delta_pos=delta, gripper_closed=self.gripper_closed, events=events)


HELP = __doc__.split("Default keys", 1)[1].split("Keys come from", 1)[0]
