"""Fault tests against the sim backend through the real server and client.

* 10,000 random and adversarial commands: no motion outside the limits reaches the arm,
  and every refused command is reported back with its reason;
* stalled commands: the watchdog stops the arm within two control periods.
"""

import os
import time

import numpy as np
import pytest

pytest.importorskip("robopref_envs.metaworld")
os.environ.setdefault("MUJOCO_GL", "egl")

from robopref_hardware.arms.sim import SimArm, SimArmConfig  # noqa: E402
from robopref_hardware.client import RobotClient  # noqa: E402
from robopref_hardware.geometry import quat_angle  # noqa: E402
from robopref_hardware.safety import SafeArm, SafetyConfig  # noqa: E402
from robopref_hardware.types import CommandKind  # noqa: E402

from tests.hardware.fakes import ThreadServer  # noqa: E402

LIMITS = dict(workspace_low=[-0.3, 0.45, 0.08], workspace_high=[0.3, 0.85, 0.3], max_step=0.02, max_speed=0.3, max_lead=0.06,
              max_tilt=0.35, max_rotation_step=0.1, max_angular_speed=1.0,
              joint_low=[-3.05, -3.8, -3.04, -3.04, -2.97, -2.97, -4.71], joint_high=[3.05, -0.3, 3.04, 3.04, 2.97, 2.97, 4.71],
              max_joint_step=0.05, max_joint_speed=0.5, gripper_max_width=0.07, gripper_max_force=40.0)
N_FUZZ = 10_000
CONTROL_PERIOD = 0.1  # 10 Hz


class Recorder:
    """Wraps the sim arm's send/stop to log exactly what reached the arm, stamped with the
    safety guard's own clock reading for that command (the timeline its speed limit uses)."""

    def __init__(self, arm: SimArm, safe: SafeArm) -> None:
        self.sent: list[tuple[float, object]] = []
        self.stops: list[float] = []
        self.now = 0.0
        clock, send, stop = safe.clock, arm.send, arm.stop

        def guard_clock() -> float:
            self.now = clock()
            return self.now

        safe.clock = guard_clock
        arm.send = lambda c: (self.sent.append((self.now, c)), send(c))[1]
        arm.stop = lambda: (self.stops.append(time.monotonic()), stop())[1]


@pytest.fixture(scope="module")
def sim():
    arm = SimArm(SimArmConfig(task="reach-v3"))
    safe = SafeArm(arm, SafetyConfig(**LIMITS))
    safe.connect()
    rec = Recorder(arm, safe)
    yield safe, arm, rec
    safe.disconnect()


def adversarial(rng: np.random.Generator, i: int):
    """A command from one of many families: fine, huge, NaN/Inf, wrong shapes and types, joints, gripper."""
    k = i % 16
    small = rng.normal(0, 0.01, 3)
    if k == 0:
        return {"kind": "ee_delta", "pos": small}
    if k == 1:
        return {"kind": "ee_delta", "pos": rng.normal(0, 5.0, 3)}  # huge jump
    if k == 2:
        return {"kind": "ee_pose", "pos": rng.uniform(-10, 10, 3)}  # far out of the workspace
    if k == 3:
        v = small.copy()
        v[rng.integers(3)] = rng.choice([np.nan, np.inf, -np.inf])
        return {"kind": "ee_delta", "pos": v}
    if k == 4:
        return {"kind": "ee_delta", "pos": rng.normal(0, 0.01, int(rng.choice([0, 1, 2, 4, 7])))}  # wrong shape
    if k == 5:
        return {"kind": "ee_pose", "pos": rng.uniform(-1, 1, 3), "quat": rng.normal(0, 1, 4)}  # random orientation
    if k == 6:
        return {"kind": "ee_delta", "pos": small, "rotvec": rng.normal(0, 2.0, 3)}  # big rotation
    if k == 7:
        return {"kind": "joint", "joints": rng.uniform(-6, 6, 7)}  # far joint target
    if k == 8:
        return {"kind": "joint", "joints": rng.uniform(-6, 6, int(rng.choice([3, 6, 8])))}  # wrong joint count
    if k == 9:
        return {"kind": "ee_delta", "pos": small, "gripper": float(rng.uniform(-1, 1)), "gripper_force": float(rng.uniform(-100, 1e4))}
    if k == 10:
        return {"kind": str(rng.choice(["teleport", "", "EE_POSE"])), "pos": small}
    if k == 11:
        return {"kind": "ee_pose", "pos": [str(x) for x in small]}  # strings
    if k == 12:
        junk = [None, 3, "ee_pose", [1, 2, 3]]
        return junk[int(rng.integers(len(junk)))] if i % 32 == 12 else {"kind": "ee_pose"}
    if k == 13:
        return {"kind": "ee_pose", "pos": small + [0, 0.6, 0.2], "quat": [0, 0, 0, 0]}
    if k == 14:
        return {"kind": "ee_delta", "pos": small, "gripper": [0.1, 0.2]}
    return {"kind": "ee_delta", "pos": np.full(3, 1e308) * rng.choice([1, -1])}


def test_10k_adversarial_commands_never_move_the_arm_outside_its_limits(sim):
    safe, arm, rec = sim
    lo, hi = np.array(LIMITS["workspace_low"]), np.array(LIMITS["workspace_high"])
    jlo, jhi = np.array(LIMITS["joint_low"]), np.array(LIMITS["joint_high"])
    rng = np.random.default_rng(0)
    n_sent0, n_stop0 = len(rec.sent), len(rec.stops)
    before = dict(safe.counters)
    refused = accepted = 0
    t_start = time.monotonic()
    with ThreadServer(safe, watchdog_timeout=5.0) as srv, RobotClient(port=srv.port, timeout_s=5.0) as c:
        for i in range(N_FUZZ):
            r = c.command(adversarial(rng, i))
            if r["accepted"]:
                accepted += 1
            else:
                refused += 1
                assert r["violations"] and r["message"], r  # every refusal says why
        ref_quat = safe._ref_quat
    counters = safe.counters
    assert counters["commands"] - before.get("commands", 0) == N_FUZZ
    assert counters["refused"] - before.get("refused", 0) == refused  # every refusal was counted where it happened
    assert counters["accepted"] - before.get("accepted", 0) == accepted
    assert refused > N_FUZZ * 0.4 and accepted > N_FUZZ * 0.2
    sent = rec.sent[n_sent0:]
    assert len(sent) == accepted  # every accepted command reached the arm, once
    prev_t, prev_pos = None, None
    stops = rec.stops[n_stop0:]
    for t, cmd in sent:
        if cmd.kind is CommandKind.joint:
            assert np.all(cmd.joints >= jlo - 1e-9) and np.all(cmd.joints <= jhi + 1e-9)
            pos = arm.forward_kinematics(cmd.joints)
        else:
            pos = cmd.pos
            assert quat_angle(ref_quat, cmd.quat) <= LIMITS["max_tilt"] + 1e-6
        assert np.all(pos >= lo - 1e-6) and np.all(pos <= hi + 1e-6), pos
        if cmd.kind is not CommandKind.joint and prev_pos is not None and not any(prev_t < s < t for s in stops):
            allowed = min(LIMITS["max_step"], LIMITS["max_speed"] * max(t - prev_t, 1e-3))
            assert np.linalg.norm(pos - prev_pos) <= allowed + 1e-6
        prev_t, prev_pos = t, (pos if cmd.kind is not CommandKind.joint else None)
    # what the physics actually did: the mocap (servo target) and the hand never left the box
    log = [m for m in arm.motion_snapshot() if m[0] >= t_start]
    mocap = np.array([m[1] for m in log])
    hand = np.array([m[2] for m in log])
    assert len(log) > 10
    assert np.all(mocap >= lo - 1e-6) and np.all(mocap <= hi + 1e-6)
    assert np.all(hand >= lo - 0.02) and np.all(hand <= hi + 0.02)  # the welded hand lags its mocap by millimetres


def test_watchdog_stops_the_sim_arm_within_two_control_periods(sim):
    safe, arm, rec = sim
    with ThreadServer(safe, watchdog_timeout=1.5 * CONTROL_PERIOD) as srv, RobotClient(port=srv.port) as c:
        c.stop()
        n_stops = len(rec.stops)
        t_last = None
        for _ in range(8):  # a 10 Hz stream moving the hand, then silence
            c.command({"kind": "ee_delta", "pos": [0.0, 0.0, -0.015]})
            t_last = time.monotonic()
            time.sleep(CONTROL_PERIOD)
        # silence: the policy "hangs" here
        deadline = time.monotonic() + 1.0
        while len(rec.stops) == n_stops and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(rec.stops) > n_stops, "the watchdog never stopped the arm"
        t_stop = rec.stops[n_stops]
        assert t_stop - t_last <= 2 * CONTROL_PERIOD, f"stopped {t_stop - t_last:.3f} s after the last command"
        time.sleep(0.05)
        after = [m[1] for m in arm.motion_snapshot(since=t_stop + 0.03)]
        assert after and np.allclose(after[0], after[-1]), "the servo target kept moving after the stop"
        assert srv.server.counters["watchdog_stops"] >= 1
