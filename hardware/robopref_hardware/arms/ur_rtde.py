"""The ``ur_rtde`` backend: Universal Robots arms (CB3, e-Series) through SDU's ur_rtde.

Not run on a real arm in this repository: tested against a double of the SDK that
follows its documented Python API (``pip install 'robopref-hardware[ur]'``):

* ``rtde_control.RTDEControlInterface(ip, frequency)``: ``servoL(pose, speed,
  acceleration, time, lookahead_time, gain)``, ``servoStop(a)``, ``moveJ(q, speed,
  acceleration)``, ``initPeriod()``, ``waitPeriod(t)``, ``stopScript()``, ``disconnect()``;
* ``rtde_receive.RTDEReceiveInterface(ip, frequency)``: ``getActualQ()``,
  ``getActualQd()``, ``getActualTCPPose()`` (x, y, z, rx, ry, rz: a rotation vector),
  ``disconnect()``.

Like diffusion_policy's RTDEInterpolationController, a servo thread streams ``servoL``
at the controller rate (500 Hz e-Series, 125 Hz CB3), moving an interpolated pose
toward the latest target at ``max_speed``: the 10 Hz targets from the safety layer
become a smooth trajectory. A UR has no built-in gripper: gripper fields are ignored.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from robopref_hardware.arms.base import Arm, ArmConfig
from robopref_hardware.errors import NotConnectedError, require
from robopref_hardware.geometry import quat_angle, quat_slerp, quat_to_rotvec, rotvec_to_quat
from robopref_hardware.types import ArmCommand, ArmState, CommandKind

log = logging.getLogger(__name__)


@dataclass
class URArmConfig(ArmConfig):
    host: str = "192.168.1.10"
    n_joints: int = 6
    frequency: float = 500.0  # RTDE rate: 500 Hz e-Series, 125 Hz CB3
    servo_lookahead: float = 0.1  # s, ur_rtde's range [0.03, 0.2]
    servo_gain: float = 300.0  # ur_rtde's range [100, 2000]
    max_speed: float = 0.25  # m/s of the interpolated servo target (the arm's own bound, below the safety layer's)
    max_angular_speed: float = 0.6  # rad/s

    def build(self) -> "URArm":
        return URArm(self)


class URArm(Arm):
    def __init__(self, config: URArmConfig) -> None:
        self.config = config
        self._c = self._r = None
        self._lock = threading.Lock()
        self._target: tuple[np.ndarray, np.ndarray] | None = None
        self._servo_pose: tuple[np.ndarray, np.ndarray] | None = None
        self._thread: threading.Thread | None = None
        self._stop_evt = threading.Event()
        self._warned_gripper = False

    def connect(self) -> None:
        if self._c is not None:
            return
        rtde_control = require("rtde_control", "ur_rtde", "ur")
        rtde_receive = require("rtde_receive", "ur_rtde", "ur")
        host, hz = self.config.host, float(self.config.frequency)
        self._r = rtde_receive.RTDEReceiveInterface(host, hz)
        self._c = rtde_control.RTDEControlInterface(host, hz)
        self._stop_evt.clear()
        self._thread = threading.Thread(target=self._servo_loop, name="ur-servo", daemon=True)
        self._thread.start()

    def disconnect(self) -> None:
        if self._c is None:
            return
        self.stop()
        self._stop_evt.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._c.stopScript()
        self._c.disconnect()
        self._r.disconnect()
        self._c = self._r = None

    def _require(self) -> None:
        if self._c is None:
            raise NotConnectedError("URArm is not connected: call connect() first")

    def observe(self) -> ArmState:
        self._require()
        pose = np.asarray(self._r.getActualTCPPose(), np.float64)
        return ArmState(t=time.time(), joint_pos=np.asarray(self._r.getActualQ(), np.float64),
                        joint_vel=np.asarray(self._r.getActualQd(), np.float64), ee_pos=pose[:3],
                        ee_quat=rotvec_to_quat(pose[3:]), gripper=0.0)

    def send(self, command: ArmCommand) -> None:
        self._require()
        if command.gripper is not None and not self._warned_gripper:
            log.warning("UR arms have no built-in gripper: gripper targets are ignored (configure a gripper device)")
            self._warned_gripper = True
        if command.kind is CommandKind.joint:
            with self._lock:
                self._target = self._servo_pose = None  # leave servo mode for a joint move
            self._c.servoStop(2.0)
            self._c.moveJ(list(map(float, command.joints)), self.config.home_speed, 0.5, True)  # asynchronous=True
            return
        with self._lock:
            self._target = (np.asarray(command.pos, np.float64), np.asarray(command.quat, np.float64))

    def stop(self) -> None:
        if self._c is None:
            return
        with self._lock:
            self._target = self._servo_pose = None
        self._c.servoStop(2.0)

    def home(self) -> None:
        self._require()
        self.stop()
        if self.config.home_joints is None:
            raise ValueError("set hardware.arm.home_joints for a UR arm")
        self._c.moveJ(list(map(float, self.config.home_joints)), self.config.home_speed, 0.5)

    def _servo_loop(self) -> None:
        dt = 1.0 / float(self.config.frequency)
        while not self._stop_evt.is_set():
            with self._lock:
                target = self._target
            if target is None:
                self._stop_evt.wait(dt)
                continue
            t0 = self._c.initPeriod()
            pose = self._next_pose(target, dt)
            self._c.servoL(pose, 0.0, 0.0, dt, self.config.servo_lookahead, self.config.servo_gain)
            self._c.waitPeriod(t0)

    def _next_pose(self, target: tuple[np.ndarray, np.ndarray], dt: float) -> list[float]:
        """One servo period toward the target at the configured speeds (rotation vector pose for servoL)."""
        with self._lock:
            if self._servo_pose is None:
                cur = self.observe()
                self._servo_pose = (cur.ee_pos, cur.ee_quat)
            pos, quat = self._servo_pose
            d = target[0] - pos
            n = float(np.linalg.norm(d))
            step = self.config.max_speed * dt
            pos = target[0].copy() if n <= step else pos + d * (step / n)
            ang = quat_angle(quat, target[1])
            lim = self.config.max_angular_speed * dt
            quat = target[1] if ang <= lim else quat_slerp(quat, target[1], lim / ang)
            self._servo_pose = (pos, quat)
        return [*map(float, pos), *map(float, quat_to_rotvec(quat))]
