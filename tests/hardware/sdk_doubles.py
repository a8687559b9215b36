"""Doubles of the vendor SDKs at their boundary, following each SDK's documented Python API.

Each double records the calls it receives and keeps a minimal state, so the adapters
can be checked for the right method names, argument order and units. They are
installed into ``sys.modules`` by the tests (the real SDKs are not installed here).
"""

from __future__ import annotations

import types

import numpy as np


class Calls(list):
    def names(self) -> list[str]:
        return [c[0] for c in self]


# -- ur_rtde: rtde_control.RTDEControlInterface / rtde_receive.RTDEReceiveInterface -------------
def make_ur_modules():
    calls = Calls()
    state = {"tcp": [0.1, -0.4, 0.3, 0.0, 3.14159, 0.0], "q": [0.0, -1.57, 1.57, -1.57, -1.57, 0.0]}

    class RTDEControlInterface:
        def __init__(self, hostname, frequency=-1.0):
            calls.append(("control_init", hostname, frequency))

        def servoL(self, pose, speed, acceleration, time, lookahead_time, gain):
            assert len(pose) == 6
            calls.append(("servoL", list(pose), speed, acceleration, time, lookahead_time, gain))
            state["tcp"] = list(pose)
            return True

        def servoStop(self, a=10.0):
            calls.append(("servoStop", a))
            return True

        def moveJ(self, q, speed=1.05, acceleration=1.4, asynchronous=False):
            calls.append(("moveJ", list(q), speed, acceleration, asynchronous))
            state["q"] = list(q)
            return True

        def initPeriod(self):
            return 0

        def waitPeriod(self, t_cycle_start):
            import time

            time.sleep(0.002)

        def stopScript(self):
            calls.append(("stopScript",))

        def disconnect(self):
            calls.append(("control_disconnect",))

    class RTDEReceiveInterface:
        def __init__(self, hostname, frequency=-1.0):
            calls.append(("receive_init", hostname, frequency))

        def getActualTCPPose(self):
            return list(state["tcp"])

        def getActualQ(self):
            return list(state["q"])

        def getActualQd(self):
            return [0.0] * 6

        def disconnect(self):
            calls.append(("receive_disconnect",))

    control = types.ModuleType("rtde_control")
    control.RTDEControlInterface = RTDEControlInterface
    receive = types.ModuleType("rtde_receive")
    receive.RTDEReceiveInterface = RTDEReceiveInterface
    return {"rtde_control": control, "rtde_receive": receive}, calls, state


# -- franky: Robot, Gripper, Affine, CartesianMotion, JointMotion, CartesianStopMotion ----------
def make_franky_module():
    calls = Calls()
    fr = types.ModuleType("franky")

    class Affine:
        def __init__(self, translation=(0.0, 0.0, 0.0), quaternion=(0.0, 0.0, 0.0, 1.0)):  # x, y, z, w
            self.translation = np.asarray(translation, float)
            self.quaternion = np.asarray(quaternion, float)

    class ReferenceType:
        Absolute = "Absolute"
        Relative = "Relative"

    class CartesianMotion:
        def __init__(self, target, reference_type=ReferenceType.Absolute):
            self.target, self.reference_type = target, reference_type

    class JointMotion:
        def __init__(self, target):
            self.target = list(target)

    class CartesianStopMotion:
        pass

    class Robot:
        def __init__(self, fci_hostname):
            calls.append(("Robot", fci_hostname))
            self.relative_dynamics_factor = 1.0
            self._pose = Affine([0.4, 0.0, 0.3], [1.0, 0.0, 0.0, 0.0])  # 180 deg about x (x, y, z, w)
            self._q = np.zeros(7)

        def recover_from_errors(self):
            calls.append(("recover_from_errors",))

        def move(self, motion, asynchronous=False):
            calls.append(("move", type(motion).__name__, asynchronous, motion))
            if isinstance(motion, CartesianMotion):
                self._pose = motion.target
            elif isinstance(motion, JointMotion):
                self._q = np.asarray(motion.target)

        @property
        def current_cartesian_state(self):
            return types.SimpleNamespace(pose=types.SimpleNamespace(end_effector_pose=self._pose))

        @property
        def current_joint_state(self):
            return types.SimpleNamespace(position=self._q.copy(), velocity=np.zeros(7))

    class Gripper:
        def __init__(self, fci_hostname):
            calls.append(("Gripper", fci_hostname))
            self.width = 0.08

        def move(self, width, speed):
            calls.append(("gripper_move", width, speed))
            self.width = width
            return True

        def grasp(self, width, speed, force, epsilon_inner=0.005, epsilon_outer=0.005):
            calls.append(("gripper_grasp", width, speed, force, epsilon_outer))
            self.width = width
            return True

    for cls in (Affine, ReferenceType, CartesianMotion, JointMotion, CartesianStopMotion, Robot, Gripper):
        setattr(fr, cls.__name__, cls)
    return fr, calls


# -- xarm: xarm.wrapper.XArmAPI ---------------------------------------------------------------
def make_xarm_modules():
    calls = Calls()

    class XArmAPI:
        def __init__(self, port=None, is_radian=False, **kwargs):
            calls.append(("XArmAPI", port, is_radian))
            self.pose = [300.0, 0.0, 200.0, np.pi, 0.0, 0.0]  # mm, rad
            self.q = [0.0] * 7
            self.gripper_pos = 850.0

        def clean_error(self):
            return 0

        def clean_warn(self):
            return 0

        def motion_enable(self, enable=True, servo_id=None):
            calls.append(("motion_enable", enable))
            return 0

        def set_mode(self, mode=0):
            calls.append(("set_mode", mode))
            return 0

        def set_state(self, state=0):
            calls.append(("set_state", state))
            return 0

        def set_position(self, x=None, y=None, z=None, roll=None, pitch=None, yaw=None, radius=None, speed=None, mvacc=None,
                         mvtime=None, relative=False, is_radian=None, wait=False, timeout=None, **kwargs):
            calls.append(("set_position", [x, y, z, roll, pitch, yaw], speed, is_radian, wait))
            self.pose = [x, y, z, roll, pitch, yaw]
            return 0

        def set_servo_angle(self, servo_id=None, angle=None, speed=None, mvacc=None, mvtime=None, relative=False, is_radian=None,
                            wait=False, timeout=None, **kwargs):
            calls.append(("set_servo_angle", list(angle), speed, is_radian, wait))
            self.q = list(angle)
            return 0

        def get_position(self, is_radian=None):
            return 0, list(self.pose)

        def get_joint_states(self, is_radian=None, num=3):
            return 0, [list(self.q), [0.0] * 7, [0.0] * 7]

        def set_gripper_mode(self, mode, **kwargs):
            return 0

        def set_gripper_enable(self, enable, **kwargs):
            calls.append(("set_gripper_enable", enable))
            return 0

        def set_gripper_position(self, pos, wait=False, speed=None, auto_enable=False, timeout=None, **kwargs):
            calls.append(("set_gripper_position", pos, wait))
            self.gripper_pos = pos
            return 0

        def get_gripper_position(self, **kwargs):
            return 0, self.gripper_pos

        def disconnect(self):
            calls.append(("disconnect",))

    xarm = types.ModuleType("xarm")
    wrapper = types.ModuleType("xarm.wrapper")
    wrapper.XArmAPI = XArmAPI
    xarm.wrapper = wrapper
    return {"xarm": xarm, "xarm.wrapper": wrapper}, calls
