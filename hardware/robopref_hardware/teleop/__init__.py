"""Teleoperation devices: the keyboard (terminal raw mode) and a gamepad (pygame).

Both produce a :class:`~robopref_hardware.teleop.base.TeleopInput` per control tick:
an end-effector translation, a gripper state and session events (start, stop, discard,
quit, emergency stop, pause, takeover, home).
"""

from robopref_hardware.teleop.base import EVENTS, Teleop, TeleopInput

__all__ = ["EVENTS", "Teleop", "TeleopInput"]
