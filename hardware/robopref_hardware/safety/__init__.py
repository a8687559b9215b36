"""Safety layer that every arm command passes through, whatever the backend.

:class:`SafetyConfig` holds the limits, :class:`SafeArm` enforces them (clamp or refuse,
count, log), :class:`Watchdog` stops the arm when commands stop arriving, and
:class:`EStop` is the latched emergency stop reachable from the keyboard and the client.
"""

from robopref_hardware.safety.estop import EStop
from robopref_hardware.safety.guard import CommandReport, SafeArm
from robopref_hardware.safety.limits import SafetyConfig, SafetyMode
from robopref_hardware.safety.watchdog import Watchdog

__all__ = ["CommandReport", "EStop", "SafeArm", "SafetyConfig", "SafetyMode", "Watchdog"]
