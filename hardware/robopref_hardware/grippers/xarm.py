"""The xArm Gripper through the arm's ``XArmAPI``: ``set_gripper_mode(0)``, ``set_gripper_enable(True)``,
``set_gripper_position(pos, wait=False)``, ``get_gripper_position()`` with positions in 0..850 (≈ 0..85 mm).
Not run on hardware here; tested with an SDK double."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robopref_hardware.errors import HardwareError
from robopref_hardware.grippers.base import Gripper, GripperConfig

if TYPE_CHECKING:
    from robopref_hardware.arms.xarm import XArm

GRIPPER_UNITS_PER_M = 850 / 0.085


def xarm_result(ret, what: str):
    """xArm calls return a code (0 = success) or (code, value)."""
    code, value = (ret[0], ret[1]) if isinstance(ret, tuple) else (ret, None)
    if code != 0:
        raise HardwareError(f"xArm {what} failed with code {code} (see the xArm API code documentation)")
    return value


class XArmGripper(Gripper):
    """The gripper on the xArm's tool flange, driven through the arm's SDK connection."""

    def __init__(self, arm: "XArm") -> None:
        self.config = GripperConfig(min_width=0.0, max_width=0.085, force=20.0)
        self._arm = arm

    def connect(self) -> None:
        api = self._arm._api
        xarm_result(api.set_gripper_mode(0), "set_gripper_mode")
        xarm_result(api.set_gripper_enable(True), "set_gripper_enable")

    def disconnect(self) -> None:
        pass

    def move(self, width: float, force: float | None = None) -> None:
        # the xArm gripper has no force setting in position mode; the safety layer still caps requests
        xarm_result(self._arm._api.set_gripper_position(float(width) * GRIPPER_UNITS_PER_M, wait=False), "set_gripper_position")

    def width(self) -> float:
        return float(xarm_result(self._arm._api.get_gripper_position(), "get_gripper_position")) / GRIPPER_UNITS_PER_M
