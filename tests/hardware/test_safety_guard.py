"""SafeArm: every limit clamps or refuses, malformed commands are refused, everything is counted."""

import math

import numpy as np
import pytest

from robopref_hardware.geometry import quat_angle, quat_mul, rotvec_to_quat
from robopref_hardware.safety import EStop, SafeArm, SafetyConfig, Watchdog
from robopref_hardware.types import CommandKind

from tests.hardware.fakes import DOWN, FakeArm


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def make(mode="clamp", dry_run=False, **kw):
    limits = dict(workspace_low=[-0.3, 0.3, 0.05], workspace_high=[0.3, 0.8, 0.4], max_step=0.02, max_speed=0.2,
                  max_lead=0.05, max_tilt=0.3, max_rotation_step=0.1, max_angular_speed=1.0, joint_low=[-1, -1, -1],
                  joint_high=[1, 1, 1], max_joint_step=0.05, max_joint_speed=0.5, gripper_max_width=0.08, gripper_max_force=30)
    cfg = SafetyConfig(mode=mode, **{**limits, **kw})
    clock = Clock()
    arm = FakeArm()
    safe = SafeArm(arm, cfg, dry_run=dry_run, clock=clock)
    safe.connect()
    return safe, arm, clock


def tick(clock, dt=0.1):
    clock.t += dt


def test_small_step_passes_unchanged():
    safe, arm, clock = make()
    r = safe.command({"kind": "ee_delta", "pos": [0.01, 0, 0]})
    assert r.accepted and not r.clamped and r.violations == []
    assert np.allclose(arm.pos, [0.01, 0.5, 0.2])


@pytest.mark.parametrize("field,value,violation", [
    ("pos", [np.nan, 0, 0], "non_finite"), ("pos", [np.inf, 0, 0], "non_finite"), ("pos", [0, 0], "bad_shape"),
    ("pos", [[0, 0, 0]], "bad_shape"), ("pos", "abc", "bad_type"), ("pos", None, "bad_shape"),
    ("quat", [0, 0, 0, 0], "bad_quaternion"), ("quat", [1, 0, 0], "bad_shape"), ("gripper", [0.1, 0.2], "bad_shape"),
    ("gripper", True, "bad_type"), ("gripper", float("nan"), "non_finite"),
])
def test_malformed_commands_are_refused_whatever_the_mode(field, value, violation):
    for mode in ("clamp", "refuse"):
        safe, arm, _ = make(mode)
        cmd = {"kind": "ee_pose", "pos": [0.0, 0.5, 0.2], field: value}
        r = safe.command(cmd)
        assert not r.accepted and violation in r.violations, (mode, r)
        assert arm.sent == [] and safe.counters["refused"] == 1 and safe.counters[violation] == 1


@pytest.mark.parametrize("cmd,violation", [
    ({"kind": "fly"}, "bad_kind"), ({"kind": "ee_pose", "pos": [0, 0.5, 0.2], "extra": 1}, "bad_field"),
    ({"kind": "joint"}, "bad_shape"), ({"kind": "joint", "joints": [0, 0]}, "bad_shape"), ([1, 2, 3], "bad_type"), (None, "bad_type"),
])
def test_bad_kinds_fields_and_types_are_refused(cmd, violation):
    safe, arm, _ = make()
    r = safe.command(cmd)
    assert not r.accepted and r.violations == [violation] and arm.sent == []


def test_workspace_box_clamps_or_refuses():
    safe, arm, clock = make("clamp")
    for _ in range(40):  # walk into the wall at x = 0.3
        tick(clock)
        r = safe.command({"kind": "ee_delta", "pos": [0.02, 0, 0]})
        assert r.accepted
    assert arm.pos[0] == pytest.approx(0.3) and safe.counters["workspace"] > 0
    safe, arm, clock = make("refuse")
    r = safe.command({"kind": "ee_pose", "pos": [0.0, 0.5, 0.01]})
    assert not r.accepted and "workspace" in r.violations and arm.sent == []


def test_step_limit_scales_a_jump_down_to_max_step():
    safe, arm, clock = make()
    r = safe.command({"kind": "ee_pose", "pos": [0.25, 0.5, 0.2]})
    assert r.accepted and "step" in r.violations
    assert np.linalg.norm(arm.pos - [0, 0.5, 0.2]) <= 0.02 + 1e-12
    assert arm.pos[0] > 0.019  # along the requested direction


def test_speed_limit_bounds_fast_streams():
    safe, arm, clock = make()
    safe.command({"kind": "ee_delta", "pos": [0.01, 0, 0]})
    start = arm.pos.copy()
    for _ in range(10):  # 10 commands 10 ms apart may move at most 0.2 m/s * 0.1 s
        tick(clock, 0.01)
        safe.command({"kind": "ee_delta", "pos": [0.02, 0, 0]})
    assert np.linalg.norm(arm.pos - start) <= 0.2 * 0.1 + 1e-9
    assert safe.counters["step"] >= 9


def test_lead_limit_keeps_targets_near_the_measured_pose():
    safe, arm, clock = make()
    arm.send = lambda c: arm.sent.append(c)  # an arm that does not follow
    for _ in range(10):
        tick(clock)
        safe.command({"kind": "ee_delta", "pos": [0.02, 0, 0]})
    assert np.linalg.norm(arm.sent[-1].pos - arm.pos) <= 0.05 + 1e-9 and safe.counters["lead"] > 0


def test_orientation_tilt_and_rotation_step():
    safe, arm, clock = make()
    far = quat_mul(rotvec_to_quat([0.0, 0.0, 1.0]), DOWN)  # 1 rad away from the reference
    for _ in range(20):
        tick(clock)
        r = safe.command({"kind": "ee_pose", "pos": [0, 0.5, 0.2], "quat": far})
        assert r.accepted
        assert quat_angle(DOWN, arm.quat) <= 0.3 + 1e-6
    assert safe.counters["orientation"] > 0 and safe.counters["rotation_step"] > 0
    safe, arm, clock = make("refuse")
    assert not safe.command({"kind": "ee_pose", "pos": [0, 0.5, 0.2], "quat": far}).accepted


def test_joint_limits_step_and_forward_kinematics_box():
    safe, arm, clock = make()
    r = safe.command({"kind": "joint", "joints": [5.0, 0.0, 0.0]})
    assert r.accepted and {"joint_limits", "joint_step"} <= set(r.violations) and arm.q[0] == pytest.approx(0.05)
    safe, arm, clock = make()
    # q = (0, 0, -1.6) puts the hand at z = 0.04, below the box; the clamp to joint limits (-1) gives z = 0.1: inside
    for _ in range(40):
        tick(clock)
        safe.command({"kind": "joint", "joints": [0.0, 0.0, -1.6]})
    assert arm.q[2] == pytest.approx(-1.0)
    safe, arm, clock = make(workspace_low=[-0.3, 0.3, 0.15])  # a box that joint targets (via FK) can leave: z >= 0.15
    r = None
    for _ in range(30):
        tick(clock)
        r = safe.command({"kind": "joint", "joints": [0.0, 0.0, -1.0]})
    assert not r.accepted and "workspace" in r.violations and arm.pos[2] >= 0.15 - 1e-9


def test_joint_commands_refused_without_joint_limits():
    arm = FakeArm()
    safe = SafeArm(arm, SafetyConfig(workspace_low=[-1, -1, -1], workspace_high=[1, 1, 1]))
    safe.connect()
    r = safe.command({"kind": "joint", "joints": [0, 0, 0]})
    assert not r.accepted and r.violations == ["no_joint_limits"]


def test_gripper_width_and_force_limits():
    safe, arm, clock = make()
    r = safe.command({"kind": "ee_delta", "pos": [0, 0, 0], "gripper": 0.5, "gripper_force": 500})
    assert r.accepted and set(r.violations) == {"gripper_width", "gripper_force"}
    assert arm.gripper.moves[-1] == (0.08, 30)
    safe, arm, clock = make("refuse")
    assert not safe.command({"kind": "ee_delta", "pos": [0, 0, 0], "gripper": -0.1}).accepted and arm.gripper.moves == []


def test_estop_latches_stops_and_refuses_until_released():
    safe, arm, clock = make()
    safe.estop.latch("test", source="test")
    assert arm.stops, "latching must stop the arm"
    r = safe.command({"kind": "ee_delta", "pos": [0.01, 0, 0]})
    assert not r.accepted and r.violations == ["estop"]
    safe.estop.release()
    assert safe.command({"kind": "ee_delta", "pos": [0.01, 0, 0]}).accepted


def test_dry_run_checks_and_logs_but_never_moves():
    safe, arm, clock = make(dry_run=True)
    r = safe.command({"kind": "ee_pose", "pos": [0.25, 0.5, 0.2], "gripper": 0.01})
    assert r.accepted and r.dry_run and "step" in r.violations
    assert arm.sent == [] and arm.gripper.moves == []
    assert not safe.command({"kind": "ee_pose", "pos": [np.nan, 0, 0]}).accepted
    assert any(e["what"] == "clamp" for e in safe.events)


def test_counters_add_up():
    safe, arm, clock = make()
    cmds = [{"kind": "ee_delta", "pos": [0.001, 0, 0]}, {"kind": "ee_pose", "pos": [9, 9, 9]}, {"kind": "x"}, {"kind": "ee_delta", "pos": [np.nan] * 3}]
    for c in cmds:
        tick(clock)
        safe.command(c)
    c = safe.counters
    assert c["commands"] == 4 and c["accepted"] + c["refused"] == 4 and c["accepted"] == 2 and c["clamped"] == 1


def test_config_check_rejects_contradictions():
    with pytest.raises(ValueError):
        SafetyConfig(workspace_low=[0, 0, 0], workspace_high=[0, 1, 1]).check()
    with pytest.raises(ValueError):
        SafetyConfig(max_step=0).check()
    with pytest.raises(ValueError):
        SafetyConfig(joint_low=[0]).check()


def test_watchdog_fires_once_per_stall():
    t = [0.0]
    fired = []
    wd = Watchdog(0.2, lambda: fired.append(t[0]), clock=lambda: t[0])
    assert not wd.poll()  # not armed before the first command
    wd.feed()
    t[0] = 0.15
    assert not wd.poll()
    t[0] = 0.25
    assert wd.poll() and fired == [0.25]
    t[0] = 1.0
    assert not wd.poll() and wd.fired == 1
    with pytest.raises(ValueError):
        Watchdog(0, lambda: None)


def test_estop_callbacks_all_run_even_if_one_fails():
    e = EStop()
    calls = []
    e.on_latch(lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    e.on_latch(lambda: calls.append(1))
    e.latch("x")
    assert calls == [1] and e.latched and e.count == 1
    assert math.isfinite(e.latched_at)


def test_repeated_events_are_summarised_not_logged_one_by_one():
    import logging

    from robopref_hardware.safety.eventlog import RateLimitedEventLog

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("test.safety.events")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    t = [0.0]
    ev = RateLimitedEventLog(logger, window_s=1.0, clock=lambda: t[0])
    try:
        for _ in range(100):
            ev.log(logging.INFO, "clamp", "step", "clamped: step")
        ev.log(logging.WARNING, "refuse", "non_finite", "NaN")
        ev.log(logging.CRITICAL, "estop", "estop", "a")
        ev.log(logging.CRITICAL, "estop", "estop", "b")
        t[0] = 1.5
        ev.log(logging.INFO, "clamp", "step", "clamped: step")
    finally:
        logger.removeHandler(handler)
    assert lines[0] == "clamp step: clamped: step" and "refuse non_finite: NaN" in lines
    assert sum("estop" in m for m in lines[:-2]) == 2  # emergency stops are never held back
    assert "clamp step ×99" in lines[-2] and lines[-1] == "clamp step: clamped: step"


def test_joint_speed_limit_holds_for_a_stream_of_joint_commands():
    safe, arm, clock = make()  # the fake arm reaches each joint target at once
    for _ in range(10):  # 10 joint targets 10 ms apart may move at most 0.5 rad/s * 0.1 s
        tick(clock, 0.01)
        assert safe.command({"kind": "joint", "joints": [1.0, 0.0, 0.0]}).accepted
    assert arm.sent[-1].joints[0] <= 0.05 + 0.5 * 0.09 + 1e-9  # first command: a full step, then the speed limit
    steps = np.diff([c.joints[0] for c in arm.sent])
    assert np.all(steps <= 0.5 * 0.01 + 1e-9)
