"""SafeArm: the one door every arm command goes through, whatever the backend.

Order of checks for each command (after :func:`parse_command` has refused malformed
input): emergency stop → target built from the anchor (last accepted target) → step and
speed limit → distance from the measured pose → workspace box → orientation tilt and
rotation step → joint limits and joint step (and the box, via forward kinematics when
the backend has it) → gripper width and force. In ``clamp`` mode a violated limit pulls
the target back inside; in ``refuse`` mode the whole command is dropped. Either way the
violation is counted, logged, and reported back to the sender. A final check re-verifies
the clamped target against every limit and refuses it if anything is still off, so a
clamp that cannot satisfy all limits at once never reaches the arm.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from robopref_hardware.arms.base import Arm
from robopref_hardware.geometry import quat_angle, quat_mul, quat_normalize, quat_slerp, rotvec_to_quat
from robopref_hardware.safety.estop import EStop
from robopref_hardware.safety.eventlog import RateLimitedEventLog
from robopref_hardware.safety.limits import SafetyConfig, SafetyMode
from robopref_hardware.safety.parse import CommandRejected, parse_command
from robopref_hardware.types import ArmCommand, ArmState, CommandKind

log = logging.getLogger(__name__)

_EPS = 1e-9  # float slack in the final verification


@dataclass
class CommandReport:
    """What happened to one command: sent as is, sent clamped, or refused (and why)."""

    accepted: bool
    clamped: bool = False
    violations: list[str] = field(default_factory=list)
    message: str = ""
    executed: dict[str, Any] | None = None  # the absolute command the arm received (or would, in dry run)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "clamped": self.clamped, "violations": list(self.violations),
                "message": self.message, "executed": self.executed, "dry_run": self.dry_run}


class SafeArm:
    """Wraps an :class:`Arm`; enforces :class:`SafetyConfig` on every command.

    Args:
        arm: the backend.
        config: the limits.
        estop: the emergency-stop latch (a new one when None); latching it stops the arm.
        dry_run: check and log commands but never send them to the arm.
        clock: monotonic time source (injectable for tests).
    """

    def __init__(self, arm: Arm, config: SafetyConfig, estop: EStop | None = None, dry_run: bool = False,
                 clock: Callable[[], float] = time.monotonic, log_size: int = 1000) -> None:
        config.check()
        self.arm = arm
        self.config = config
        self.mode = SafetyMode(config.mode)
        self.estop = estop or EStop()
        self.estop.on_latch(self._stop_for_estop)
        self.dry_run = bool(dry_run)
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self.events: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._lock = threading.RLock()
        self._lo = np.asarray(config.workspace_low, np.float64)
        self._hi = np.asarray(config.workspace_high, np.float64)
        self._jlo = None if config.joint_low is None else np.asarray(config.joint_low, np.float64)
        self._jhi = None if config.joint_high is None else np.asarray(config.joint_high, np.float64)
        self._ref_quat: np.ndarray | None = None if config.orientation_ref is None else quat_normalize(config.orientation_ref)
        self._anchor: dict[str, Any] | None = None  # last accepted target and when
        self._log = RateLimitedEventLog(log)

    # -- lifecycle --------------------------------------------------------------------
    def connect(self) -> None:
        self.arm.connect()
        if self.arm.gripper is not None:
            self.arm.gripper.connect()
        if self._ref_quat is None:
            self._ref_quat = quat_normalize(self.arm.observe().ee_quat)
        if self._jlo is not None and self._jlo.shape != (self.arm.n_joints,):
            raise ValueError(f"safety.joint_low has {self._jlo.size} entries, the arm has {self.arm.n_joints} joints")
        if self.dry_run:
            log.warning("DRY RUN: commands are checked and logged, the arm does not move")

    def disconnect(self) -> None:
        self._log.flush()
        try:
            self.arm.stop()
        finally:
            if self.arm.gripper is not None:
                self.arm.gripper.disconnect()
            self.arm.disconnect()

    def observe(self) -> ArmState:
        return self.arm.observe()

    def stop(self, reason: str = "stop requested") -> None:
        """Stop now; the next command's steps are measured from where the arm stopped."""
        with self._lock:
            self.arm.stop()
            self._anchor = None
            self.counters["stops"] += 1
            self._event("stop", [], reason)

    def home(self) -> None:
        if self.estop.latched:
            raise CommandRejectedByEStop(self.estop)
        with self._lock:
            self._event("home", [], "homing")
            if not self.dry_run:
                self.arm.home()
            self._anchor = None

    def _stop_for_estop(self) -> None:
        with self._lock:
            self.arm.stop()
            self._anchor = None
            self._event("estop", ["estop"], self.estop.reason)

    # -- the check ------------------------------------------------------------------
    def command(self, raw: ArmCommand | Mapping[str, Any]) -> CommandReport:
        """Check, clamp or refuse, then send (unless dry run). Never raises for a bad command:
        an unexpected error while checking refuses the command (fail safe) and is logged.
        Errors of the arm itself (``send``) propagate: the server stops the arm and reports them."""
        with self._lock:
            self.counters["commands"] += 1
            if self.estop.latched:
                return self._refuse(["estop"], f"emergency stop latched ({self.estop.reason}); release it first")
            now = self.clock()  # the command's time on the guard's clock: step and speed limits use it
            try:
                checked = self._check(raw, now)
            except CommandRejected as e:
                return self._refuse([e.violation], str(e))
            except Exception as e:
                log.exception("safety check failed: command refused")
                return self._refuse(["internal_error"], f"safety check failed ({type(e).__name__}: {e}); command refused")
            if isinstance(checked, CommandReport):
                return checked
            executed, violations = checked
            self._send(executed)
            self._anchor = {"t": now, "pos": executed.pos, "quat": executed.quat, "joints": executed.joints}
            report = CommandReport(True, clamped=bool(violations), violations=violations,
                                   message="clamped: " + ", ".join(violations) if violations else "ok",
                                   executed=executed.to_dict(), dry_run=self.dry_run)
            self.counters["accepted"] += 1
            if violations:
                self.counters["clamped"] += 1
                self.counters.update(violations)
                self._event("clamp", violations, report.message)
            elif self.dry_run:
                self._event("dry_run", [], f"would send {executed.to_dict()}")
            return report

    def _check(self, raw: ArmCommand | Mapping[str, Any], now: float) -> tuple[ArmCommand, list[str]] | CommandReport:
        """The checked absolute command and its violations, or the refusal report."""
        cmd = parse_command(raw, self.arm.n_joints)
        state = self.arm.measure()
        if cmd.kind is CommandKind.joint:
            executed, violations = self._check_joint(cmd, state, now)
        else:
            executed, violations = self._check_pose(cmd, state, now)
        g_exec, g_viol = self._check_gripper(cmd)
        violations += g_viol
        if violations and self.mode is SafetyMode.refuse:
            return self._refuse(violations, f"limits exceeded: {', '.join(violations)} (safety.mode=refuse)")
        leftover = self._verify(executed, state, now)
        if leftover:
            return self._refuse(violations + leftover, f"no target satisfies every limit at once: {', '.join(leftover)}")
        executed.gripper, executed.gripper_force = g_exec
        return executed, violations

    def _send(self, executed: ArmCommand) -> None:
        if self.dry_run:
            return
        gripper = self.arm.gripper
        if gripper is not None and executed.gripper is not None:
            gripper.move(executed.gripper, executed.gripper_force)
        if executed.kind is CommandKind.joint or executed.pos is not None:
            self.arm.send(executed)

    def _anchor_for(self, state: ArmState, key: str) -> dict[str, Any]:
        """Where step limits are measured from: the last accepted target of the same space
        (``pos`` for Cartesian commands, ``joints`` for joint commands), else the measured state."""
        if self._anchor is not None and self._anchor.get(key) is not None:
            return self._anchor
        return {"t": None, "pos": np.asarray(state.ee_pos, np.float64), "quat": quat_normalize(state.ee_quat),
                "joints": np.asarray(state.joint_pos, np.float64)}

    def _dt(self, anchor: Mapping[str, Any], now: float) -> float:
        # no recent accepted command: allow a full step (max_step), not more
        return float("inf") if anchor.get("t") is None else now - anchor["t"]

    def _check_pose(self, cmd: ArmCommand, state: ArmState, now: float) -> tuple[ArmCommand, list[str]]:
        c, v = self.config, []
        anchor = self._anchor_for(state, "pos")
        a_pos, a_quat = anchor["pos"], anchor["quat"] if anchor.get("quat") is not None else quat_normalize(state.ee_quat)
        if cmd.kind is CommandKind.ee_delta:
            pos = a_pos + (cmd.pos if cmd.pos is not None else 0.0)
            quat = quat_normalize(quat_mul(rotvec_to_quat(cmd.rotvec), a_quat)) if cmd.rotvec is not None else a_quat
        else:
            pos = cmd.pos
            quat = quat_normalize(cmd.quat) if cmd.quat is not None else a_quat
        dt = self._dt(anchor, now)
        # workspace box first, then the step from the anchor: a point between the anchor and
        # a point of the box stays in the box (the box is convex) when the anchor is inside.
        boxed = np.clip(pos, self._lo, self._hi)
        if np.any(boxed != pos):
            v.append("workspace")
            pos = boxed
        pos = self._limit_distance(pos, a_pos, c.step_limit(dt), "step", v)
        if not self.dry_run:
            pos = self._limit_distance(pos, np.asarray(state.ee_pos, np.float64), c.max_lead, "lead", v)
        ref = self._ref_quat if self._ref_quat is not None else a_quat
        tilt = quat_angle(ref, quat)
        if tilt > c.max_tilt:
            v.append("orientation")
            quat = quat_slerp(ref, quat, c.max_tilt / tilt * (1 - 1e-6))
        rot = quat_angle(a_quat, quat)
        lim = c.rotation_limit(dt)
        if rot > lim:
            v.append("rotation_step")
            quat = quat_slerp(a_quat, quat, lim / rot * (1 - 1e-6))
        return ArmCommand(kind=CommandKind.ee_pose, pos=pos, quat=quat), v

    @staticmethod
    def _limit_distance(pos: np.ndarray, center: np.ndarray, limit: float, name: str, v: list[str]) -> np.ndarray:
        d = pos - center
        n = float(np.linalg.norm(d))
        if n > limit:
            v.append(name)
            return center + d * (limit / n) * (1 - 1e-9)
        return pos

    def _check_joint(self, cmd: ArmCommand, state: ArmState, now: float) -> tuple[ArmCommand, list[str]]:
        if self._jlo is None:
            raise CommandRejected("no_joint_limits", "joint commands need safety.joint_low/joint_high in the hardware config")
        v: list[str] = []
        q = np.asarray(cmd.joints, np.float64)
        clipped = np.clip(q, self._jlo, self._jhi)
        if np.any(clipped != q):
            v.append("joint_limits")
            q = clipped
        anchor = self._anchor_for(state, "joints")
        a_q = anchor["joints"]
        lim = self.config.joint_step_limit(self._dt(anchor, now))
        stepped = np.clip(q, a_q - lim, a_q + lim)
        if np.any(stepped != q):
            v.append("joint_step")
            q = stepped
        return ArmCommand(kind=CommandKind.joint, joints=q), v

    def _check_gripper(self, cmd: ArmCommand) -> tuple[tuple[float | None, float | None], list[str]]:
        c, v = self.config, []
        width, force = cmd.gripper, cmd.gripper_force
        if width is not None:
            w = min(max(width, c.gripper_min_width), c.gripper_max_width)
            if abs(w - width) > 1e-6:  # float32 round-off of a width at the limit is not a violation
                v.append("gripper_width")
            width = w
        if force is not None:
            f = min(max(force, 0.0), c.gripper_max_force)
            if f != force:
                v.append("gripper_force")
            force = f
        return (width, force), v

    def _verify(self, cmd: ArmCommand, state: ArmState, now: float) -> list[str]:
        """Every limit, re-checked on the final target (names of those still broken)."""
        c, bad = self.config, []
        anchor = self._anchor_for(state, "joints" if cmd.kind is CommandKind.joint else "pos")
        dt = self._dt(anchor, now)
        if cmd.kind is CommandKind.joint:
            q = cmd.joints
            if np.any(q < self._jlo - _EPS) or np.any(q > self._jhi + _EPS):
                bad.append("joint_limits")
            a_q = anchor["joints"]
            if np.any(np.abs(q - a_q) > c.joint_step_limit(dt) + _EPS):
                bad.append("joint_step")
            fk = self.arm.forward_kinematics(q)
            if fk is not None and (np.any(fk < self._lo - _EPS) or np.any(fk > self._hi + _EPS)):
                bad.append("workspace")
            return bad
        if np.any(cmd.pos < self._lo - _EPS) or np.any(cmd.pos > self._hi + _EPS):
            bad.append("workspace")
        if np.linalg.norm(cmd.pos - anchor["pos"]) > c.step_limit(dt) + _EPS:
            bad.append("step")
        if not self.dry_run and np.linalg.norm(cmd.pos - state.ee_pos) > c.max_lead + _EPS:
            bad.append("lead")
        ref = self._ref_quat if self._ref_quat is not None else cmd.quat
        if quat_angle(ref, cmd.quat) > c.max_tilt + 1e-6:
            bad.append("orientation")
        a_quat = anchor["quat"] if anchor.get("quat") is not None else state.ee_quat
        if quat_angle(a_quat, cmd.quat) > c.rotation_limit(dt) + 1e-6:
            bad.append("rotation_step")
        return bad

    # -- bookkeeping ----------------------------------------------------------------
    def _refuse(self, violations: list[str], message: str) -> CommandReport:
        self.counters["refused"] += 1
        self.counters.update(violations)
        self._event("refuse", violations, message)
        return CommandReport(False, violations=list(violations), message=message, dry_run=self.dry_run)

    def _event(self, what: str, violations: list[str], message: str) -> None:
        self.events.append({"t": time.time(), "what": what, "violations": list(violations), "message": message})
        level = logging.WARNING if what in ("refuse", "estop") else logging.INFO
        self._log.log(level, what, ",".join(violations), message)

    def stats(self) -> dict[str, Any]:
        """Counters and the estop state, for the client and the end-of-session summary."""
        return {"counters": dict(self.counters), "estop": {"latched": self.estop.latched, "reason": self.estop.reason,
                                                          "count": self.estop.count}, "dry_run": self.dry_run,
                "mode": self.mode.value}


class CommandRejectedByEStop(RuntimeError):
    """Raised by :meth:`SafeArm.home` while the emergency stop is latched."""

    def __init__(self, estop: EStop) -> None:
        super().__init__(f"emergency stop latched ({estop.reason}); release it before homing")
