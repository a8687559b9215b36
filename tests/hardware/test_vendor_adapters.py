"""Vendor adapters against doubles of their SDKs (the real SDKs and arms are not available here).

What is checked: the adapter calls the SDK's documented methods with the right units
and conventions (metres vs millimetres, rotation vectors, quaternion order), streams in
the non-blocking mode, stops, and fails with a clear message when the SDK is missing."""

import sys
import time

import numpy as np
import pytest

from robopref_hardware.errors import MissingDependencyError
from robopref_hardware.geometry import quat_angle, quat_to_rotvec, rpy_to_quat
from robopref_hardware.safety import SafeArm, SafetyConfig
from robopref_hardware.types import ArmCommand, CommandKind

from tests.hardware import sdk_doubles


@pytest.mark.parametrize("module,cfg_path,extra", [
    ("rtde_control", "robopref_hardware.arms.ur_rtde:URArmConfig", "ur"),
    ("franky", "robopref_hardware.arms.franka:FrankaArmConfig", "franka"),
    ("xarm.wrapper", "robopref_hardware.arms.xarm:XArmConfig", "xarm"),
])
def test_missing_sdk_names_the_extra_to_install(monkeypatch, module, cfg_path, extra):
    import importlib

    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    mod, cls = cfg_path.split(":")
    arm = getattr(importlib.import_module(mod), cls)().build()
    with pytest.raises(MissingDependencyError, match=rf"pip install 'robopref-hardware\[{extra}\]'"):
        arm.connect()


def test_ur_adapter_streams_servoL_in_metres_and_rotation_vectors(monkeypatch):
    modules, calls, state = sdk_doubles.make_ur_modules()
    for k, v in modules.items():
        monkeypatch.setitem(sys.modules, k, v)
    from robopref_hardware.arms.ur_rtde import URArmConfig

    arm = URArmConfig(host="10.0.0.2", frequency=500, home_joints=[0, -1.57, 1.57, -1.57, -1.57, 0]).build()
    arm.connect()
    try:
        assert ("control_init", "10.0.0.2", 500) in calls and ("receive_init", "10.0.0.2", 500) in calls
        s = arm.observe()
        assert np.allclose(s.ee_pos, [0.1, -0.4, 0.3]) and quat_angle(s.ee_quat, [0, 0, 1, 0]) < 1e-4  # rotvec (0, pi, 0): half turn about y
        target = s.ee_pos + [0.005, 0, 0]
        arm.send(ArmCommand(CommandKind.ee_pose, pos=target, quat=s.ee_quat))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not np.allclose(state["tcp"][:3], target, atol=1e-9):
            time.sleep(0.01)
        servo = [c for c in calls if c[0] == "servoL"]
        assert servo, "no servoL streamed"
        _, pose, speed, acc, dt, lookahead, gain = servo[-1]
        assert np.allclose(pose[:3], target) and np.allclose(pose[3:], quat_to_rotvec(s.ee_quat), atol=1e-6)
        assert dt == pytest.approx(1 / 500) and lookahead == 0.1 and gain == 300
        steps = np.diff(np.array([c[1][:3] for c in servo]), axis=0)
        assert np.all(np.linalg.norm(steps, axis=1) <= 0.25 / 500 + 1e-9)  # interpolated at max_speed
        arm.stop()
        assert calls.names()[-1] == "servoStop"
        arm.home()
        assert calls[-1][0] == "moveJ" and calls[-1][1] == [0, -1.57, 1.57, -1.57, -1.57, 0]
    finally:
        arm.disconnect()
    assert {"stopScript", "control_disconnect", "receive_disconnect"} <= set(calls.names())


def test_franka_adapter_moves_asynchronously_with_xyzw_quaternions(monkeypatch):
    fr, calls = sdk_doubles.make_franky_module()
    monkeypatch.setitem(sys.modules, "franky", fr)
    from robopref_hardware.arms.franka import FrankaArmConfig

    arm = FrankaArmConfig(host="172.16.0.2", relative_dynamics_factor=0.07, home_joints=[0.0] * 7).build()
    safe = SafeArm(arm, SafetyConfig(workspace_low=[0.2, -0.3, 0.05], workspace_high=[0.7, 0.3, 0.5]))
    safe.connect()
    robot = arm._robot
    assert robot.relative_dynamics_factor == 0.07 and ("recover_from_errors",) in calls
    s = safe.observe()
    assert np.allclose(s.ee_quat, [0, 1, 0, 0])  # franky's (x, y, z, w) = (1, 0, 0, 0) is w, x, y, z = (0, 1, 0, 0)
    r = safe.command({"kind": "ee_delta", "pos": [0.01, 0, 0], "gripper": 0.02, "gripper_force": 15})
    assert r.accepted
    move = [c for c in calls if c[0] == "move"][-1]
    assert move[1] == "CartesianMotion" and move[2] is True  # asynchronous: the next target preempts it
    assert np.allclose(move[3].target.translation, [0.41, 0.0, 0.3]) and np.allclose(move[3].target.quaternion, [1, 0, 0, 0])
    assert ("gripper_grasp", 0.02, 0.05, 15.0, 1.0) in calls  # closing = grasp with a bounded force
    safe.command({"kind": "ee_delta", "pos": [0, 0, 0], "gripper": 0.08})
    assert calls[-1][0] == "move" and ("gripper_move", 0.08, 0.05) in calls
    safe.stop()
    assert [c for c in calls if c[0] == "move"][-1][1] == "CartesianStopMotion"
    arm.home()
    assert [c for c in calls if c[0] == "move"][-1][1] == "JointMotion"
    safe.disconnect()


def test_xarm_adapter_uses_millimetres_radians_and_online_mode(monkeypatch):
    modules, calls = sdk_doubles.make_xarm_modules()
    for k, v in modules.items():
        monkeypatch.setitem(sys.modules, k, v)
    from robopref_hardware.arms.xarm import XArmConfig

    arm = XArmConfig(host="192.168.1.185", home_joints=[0.0] * 7).build()
    arm.connect()
    arm.gripper.connect()
    assert ("XArmAPI", "192.168.1.185", True) in calls and ("set_mode", 7) in calls and ("set_state", 0) in calls
    s = arm.observe()
    assert np.allclose(s.ee_pos, [0.3, 0.0, 0.2]) and quat_angle(s.ee_quat, rpy_to_quat(np.pi, 0, 0)) < 1e-6
    assert s.gripper == pytest.approx(0.085)
    arm.send(ArmCommand(CommandKind.ee_pose, pos=np.array([0.31, 0.0, 0.2]), quat=s.ee_quat))
    name, pose, speed, is_radian, wait = calls[-1]
    assert name == "set_position" and np.allclose(pose[:3], [310, 0, 200]) and is_radian is True and wait is False
    assert np.allclose(np.abs(pose[3]), np.pi)
    arm.gripper.move(0.04)
    assert calls[-1] == ("set_gripper_position", pytest.approx(400.0), False)
    arm.send(ArmCommand(CommandKind.joint, joints=np.full(7, 0.1)))
    assert ("set_mode", 0) in calls and calls[-1][0] == "set_servo_angle" and calls[-1][3] is True
    arm.send(ArmCommand(CommandKind.ee_pose, pos=np.array([0.3, 0.0, 0.2]), quat=s.ee_quat))
    assert calls[-3:][0] == ("set_mode", 7)  # back to streaming mode before the Cartesian target
    arm.stop()
    assert ("set_state", 4) in calls
    arm.disconnect()
    assert calls.names()[-1] == "disconnect"


def test_xarm_error_codes_raise(monkeypatch):
    modules, calls = sdk_doubles.make_xarm_modules()
    modules["xarm.wrapper"].XArmAPI.set_position = lambda self, *a, **k: 9
    for k, v in modules.items():
        monkeypatch.setitem(sys.modules, k, v)
    from robopref_hardware.arms.xarm import XArmConfig
    from robopref_hardware.errors import HardwareError

    arm = XArmConfig(gripper=False).build()
    arm.connect()
    with pytest.raises(HardwareError, match="set_position failed with code 9"):
        arm.send(ArmCommand(CommandKind.ee_pose, pos=np.array([0.3, 0, 0.2]), quat=np.array([0, 1.0, 0, 0])))
