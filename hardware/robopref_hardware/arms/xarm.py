"""The ``xarm`` backend: UFACTORY xArm 5/6/7 and Lite 6 through xarm-python-sdk (``pip install 'robopref-hardware[xarm]'``).

Not run on a real arm in this repository: tested against a double of the SDK that
follows its documented API (``xarm.wrapper.XArmAPI``): ``XArmAPI(ip, is_radian=True)``,
``motion_enable(enable=True)``, ``clean_error()``, ``clean_warn()``, ``set_mode(mode)``,
``set_state(state)``, ``set_position(x, y, z, roll, pitch, yaw, speed=, is_radian=, wait=)``
(millimetres), ``set_servo_angle(angle=, speed=, is_radian=, wait=)``,
``get_position(is_radian=) -> (code, [x, y, z, roll, pitch, yaw])``,
``get_joint_states(is_radian=) -> (code, [positions, velocities, efforts])``,
``set_gripper_enable(True)``, ``set_gripper_mode(0)``, ``set_gripper_position(pos, wait=, speed=)``
and ``get_gripper_position() -> (code, pos)`` (0..850 ≈ 0..85 mm), ``emergency_stop()``,
``disconnect()``. Streaming uses mode 7 (Cartesian online trajectory planning): each
new ``set_position`` replaces the running motion instead of queueing behind it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from robopref_hardware.arms.base import Arm, ArmConfig
from robopref_hardware.errors import NotConnectedError, require
from robopref_hardware.geometry import quat_to_rpy, rpy_to_quat
from robopref_hardware.grippers.xarm import XArmGripper, xarm_result
from robopref_hardware.types import ArmCommand, ArmState, CommandKind

MODE_POSITION, MODE_ONLINE_CARTESIAN = 0, 7
STATE_READY, STATE_STOP = 0, 4


@dataclass
class XArmConfig(ArmConfig):
    host: str = "192.168.1.185"
    n_joints: int = 7
    gripper: bool = True
    speed_mm_s: float = 100.0
    joint_speed: float = 0.35  # rad/s for joint moves and homing

    def build(self) -> "XArm":
        return XArm(self)


class XArm(Arm):
    def __init__(self, config: XArmConfig) -> None:
        self.config = config
        self._api = None
        self._mode: int | None = None
        self.gripper = XArmGripper(self) if config.gripper else None

    def _set_mode(self, mode: int) -> None:
        """Switch control mode (the xArm needs set_state(0) after every set_mode)."""
        if self._mode != mode:
            xarm_result(self._api.set_mode(mode), "set_mode")
            xarm_result(self._api.set_state(STATE_READY), "set_state")
            self._mode = mode

    def connect(self) -> None:
        if self._api is not None:
            return
        wrapper = require("xarm.wrapper", "xarm", "xarm")
        api = wrapper.XArmAPI(self.config.host, is_radian=True)
        api.clean_error()
        api.clean_warn()
        xarm_result(api.motion_enable(enable=True), "motion_enable")
        self._api = api
        self._mode = None
        self._set_mode(MODE_ONLINE_CARTESIAN)

    def disconnect(self) -> None:
        if self._api is not None:
            self.stop()
            self._api.disconnect()
            self._api = None

    def _require(self):
        if self._api is None:
            raise NotConnectedError("XArm is not connected: call connect() first")
        return self._api

    def observe(self) -> ArmState:
        api = self._require()
        pose = np.asarray(xarm_result(api.get_position(is_radian=True), "get_position"), np.float64)
        pos, vel, _ = xarm_result(api.get_joint_states(is_radian=True), "get_joint_states")
        return ArmState(t=time.time(), joint_pos=np.asarray(pos, np.float64)[: self.n_joints],
                        joint_vel=np.asarray(vel, np.float64)[: self.n_joints], ee_pos=pose[:3] / 1000.0,
                        ee_quat=rpy_to_quat(*pose[3:6]), gripper=self.gripper.width() if self.gripper is not None else 0.0)

    def send(self, command: ArmCommand) -> None:
        api = self._require()
        if command.kind is CommandKind.joint:
            self._set_mode(MODE_POSITION)
            xarm_result(api.set_servo_angle(angle=[float(q) for q in command.joints], speed=self.config.joint_speed, is_radian=True, wait=False),
                "set_servo_angle")
            return
        self._set_mode(MODE_ONLINE_CARTESIAN)
        x, y, z = (np.asarray(command.pos) * 1000.0).tolist()
        roll, pitch, yaw = quat_to_rpy(command.quat).tolist()
        xarm_result(api.set_position(x, y, z, roll, pitch, yaw, speed=self.config.speed_mm_s, is_radian=True, wait=False), "set_position")

    def stop(self) -> None:
        if self._api is None:
            return
        self._api.set_state(STATE_STOP)  # stop the current motion, then be ready for the next command
        self._mode = None
        self._set_mode(MODE_ONLINE_CARTESIAN)

    def home(self) -> None:
        api = self._require()
        if self.config.home_joints is None:
            raise ValueError("set hardware.arm.home_joints for an xArm")
        self._set_mode(MODE_POSITION)
        xarm_result(api.set_servo_angle(angle=[float(q) for q in self.config.home_joints], speed=self.config.joint_speed, is_radian=True, wait=True),
            "set_servo_angle")
        self._set_mode(MODE_ONLINE_CARTESIAN)
