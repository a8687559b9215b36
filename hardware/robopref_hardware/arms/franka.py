"""The ``franka`` backend: Franka Emika Panda / FR3 through franky (``pip install 'robopref-hardware[franka]'``).

Not run on a real arm in this repository: tested against a double of the SDK that
follows franky's documented Python API:

* ``franky.Robot(host)``; ``robot.relative_dynamics_factor = f``; ``robot.recover_from_errors()``;
  ``robot.move(motion, asynchronous=True)`` (a new asynchronous motion preempts the running one,
  which is what streaming targets need); ``robot.join_motion(timeout)``;
* ``franky.CartesianMotion(franky.Affine(translation, quaternion_xyzw), franky.ReferenceType.Absolute)``,
  ``franky.JointMotion(q)``, ``franky.CartesianStopMotion()``;
* ``robot.current_cartesian_state.pose.end_effector_pose`` (``.translation``, ``.quaternion``
  in x, y, z, w order) and ``robot.current_joint_state`` (``.position``, ``.velocity``);
* ``franky.Gripper(host)``: ``move(width, speed)``, ``grasp(width, speed, force, epsilon_outer)``, ``width``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from robopref_hardware.arms.base import Arm, ArmConfig
from robopref_hardware.errors import NotConnectedError, require
from robopref_hardware.geometry import quat_normalize
from robopref_hardware.grippers.franka import FrankaGripper
from robopref_hardware.types import ArmCommand, ArmState, CommandKind


@dataclass
class FrankaArmConfig(ArmConfig):
    host: str = "172.16.0.2"
    n_joints: int = 7
    relative_dynamics_factor: float = 0.05  # fraction of the arm's velocity/acceleration/jerk limits
    gripper: bool = True
    gripper_speed: float = 0.05  # m/s

    def build(self) -> "FrankaArm":
        return FrankaArm(self)


class FrankaArm(Arm):
    def __init__(self, config: FrankaArmConfig) -> None:
        self.config = config
        self._franky = None
        self._robot = None
        self.gripper = FrankaGripper(config.host, config.gripper_speed) if config.gripper else None

    def connect(self) -> None:
        if self._robot is not None:
            return
        self._franky = require("franky", "franka", "franka")
        self._robot = self._franky.Robot(self.config.host)
        self._robot.recover_from_errors()
        self._robot.relative_dynamics_factor = self.config.relative_dynamics_factor

    def disconnect(self) -> None:
        if self._robot is not None:
            self.stop()
            self._robot = None

    def _require(self):
        if self._robot is None:
            raise NotConnectedError("FrankaArm is not connected: call connect() first")
        return self._robot

    def observe(self) -> ArmState:
        robot = self._require()
        ee = robot.current_cartesian_state.pose.end_effector_pose
        x, y, z, w = np.asarray(ee.quaternion, np.float64)
        js = robot.current_joint_state
        return ArmState(t=time.time(), joint_pos=np.asarray(js.position, np.float64), joint_vel=np.asarray(js.velocity, np.float64),
                        ee_pos=np.asarray(ee.translation, np.float64), ee_quat=quat_normalize(np.array([w, x, y, z])),
                        gripper=self.gripper.width() if self.gripper is not None else 0.0)

    def send(self, command: ArmCommand) -> None:
        robot, fr = self._require(), self._franky
        if command.kind is CommandKind.joint:
            motion = fr.JointMotion([float(q) for q in command.joints])
        else:
            w, x, y, z = command.quat
            motion = fr.CartesianMotion(fr.Affine([float(v) for v in command.pos], [float(x), float(y), float(z), float(w)]),
                                        fr.ReferenceType.Absolute)
        robot.move(motion, asynchronous=True)

    def stop(self) -> None:
        if self._robot is not None:
            self._robot.move(self._franky.CartesianStopMotion(), asynchronous=True)

    def home(self) -> None:
        robot = self._require()
        if self.config.home_joints is None:
            raise ValueError("set hardware.arm.home_joints for a Franka arm")
        robot.move(self._franky.JointMotion([float(q) for q in self.config.home_joints]))
