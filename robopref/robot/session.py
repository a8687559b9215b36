"""The record and rollout loops: robot server ⇄ operator/policy ⇄ episode recorder.

One control tick: read the operator's input, decide the action (teleop target, or the
policy's action for this instant), send it with ``client.step`` (command + new state in
one round trip), fetch the cameras' newest frames, record (observation before the
action, action, reward, infos). Actions are absolute end-effector targets plus the
gripper opening: ``[x, y, z, gripper]`` (``action_mode=ee_position``) or
``[x, y, z, qw, qx, qy, qz, gripper]`` (``ee_pose``), so a policy trained on the
recorded data commands the same quantities it saw.

If the server stops answering, the loop stops, the episode recorded so far is saved
(marked ``interrupted``) and the client's error is raised with its explanation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from robopref.robot.control import PolicyDriver, RateLoop
from robopref.robot.recorder import EpisodeRecorder

log = logging.getLogger(__name__)

ACTION_MODES = ("ee_position", "ee_pose")


@dataclass
class SessionSummary:
    """What a session did, printed and saved as JSON at the end."""

    mode: str
    episodes_saved: list[str] = field(default_factory=list)
    episodes_discarded: int = 0
    steps: int = 0
    successes: int = 0
    returns: list[float] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)
    refused_commands: int = 0
    clamped_commands: int = 0
    stale_actions_dropped: int = 0
    takeover_steps: int = 0
    paused_s: float = 0.0
    loop_overruns: int = 0
    max_loop_lateness_ms: float = 0.0
    mean_inference_ms: float | None = None
    interrupted: str | None = None
    safety: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["success_rate"] = self.successes / len(self.returns) if self.returns else None
        d["mean_return"] = float(np.mean(self.returns)) if self.returns else None
        return d


@dataclass
class LoopConfig:
    """Knobs shared by record and rollout."""

    hz: float = 10.0
    max_steps: int = 200
    action_mode: str = "ee_position"
    cameras: list[str] | None = None  # None: every camera the server has
    gripper_open: float | None = None  # opening when "open" (None: safety.gripper_max_width from the server)
    seed: int = 0


class Robot:
    """The client plus what the loops need from it: observations with images, action → command."""

    def __init__(self, client, cfg: LoopConfig) -> None:
        if cfg.action_mode not in ACTION_MODES:
            raise ValueError(f"action_mode must be one of {ACTION_MODES}, got {cfg.action_mode!r}")
        self.client = client
        self.cfg = cfg
        info = client.info or client.connect()
        self.cameras = list(info.get("cameras", {})) if cfg.cameras is None else list(cfg.cameras)
        missing = [c for c in self.cameras if c not in info.get("cameras", {})]
        if missing:
            raise ValueError(f"camera(s) {missing} not on the server; it has {sorted(info.get('cameras', {}))}")
        safety = info.get("safety", {})
        self.gripper_open = float(cfg.gripper_open if cfg.gripper_open is not None else safety.get("gripper_max_width", 0.08))
        self.gripper_closed = float(safety.get("gripper_min_width", 0.0))
        self.state = None

    def observation(self, state) -> dict[str, np.ndarray]:
        obs = {k: v for k, v in state.to_dict().items() if k != "t" and k not in ("reward", "success")}
        for cam in self.cameras:
            frame = self.client.frame(cam)
            obs[f"{cam}_image"] = np.asarray(frame.image, np.uint8)
        return obs

    def command(self, action: np.ndarray) -> dict[str, Any]:
        a = np.asarray(action, np.float64).reshape(-1)
        if self.cfg.action_mode == "ee_position":
            if a.shape != (4,):
                raise ValueError(f"ee_position actions are [x, y, z, gripper], got shape {a.shape}")
            return {"kind": "ee_pose", "pos": a[:3], "gripper": float(a[3])}
        if a.shape != (8,):
            raise ValueError(f"ee_pose actions are [x, y, z, qw, qx, qy, qz, gripper], got shape {a.shape}")
        return {"kind": "ee_pose", "pos": a[:3], "quat": a[3:7], "gripper": float(a[7])}

    def hold_action(self, state) -> np.ndarray:
        """The action that keeps the arm where it is (teleop start, takeover start)."""
        g = np.array([state.gripper])
        if self.cfg.action_mode == "ee_position":
            return np.concatenate([state.ee_pos, g])
        return np.concatenate([state.ee_pos, state.ee_quat, g])


def _reward_infos(state) -> tuple[float, dict[str, float]]:
    reward = float(np.asarray(state.extra.get("reward", [0.0])).reshape(-1)[0])
    infos = {}
    if "success" in state.extra:
        infos["success"] = float(np.asarray(state.extra["success"]).reshape(-1)[0])
    return reward, infos


def _count_report(report: Mapping[str, Any], summary: SessionSummary) -> None:
    if not report.get("accepted"):
        summary.refused_commands += 1
        log.warning("command refused: %s", report.get("message"))
    elif report.get("clamped"):
        summary.clamped_commands += 1


class _EpisodeTotals:
    def __init__(self) -> None:
        self.ret = 0.0
        self.success = False

    def add(self, reward: float, infos: Mapping[str, float]) -> None:
        self.ret += reward
        self.success = self.success or bool(infos.get("success", 0.0))


def _handle_safety_events(events: set[str], client) -> None:
    if "estop" in events:
        client.estop("operator key")
        log.critical("EMERGENCY STOP sent (press u to release)")
    if "release" in events:
        client.release_estop()
        log.warning("emergency stop released")


def record_session(client, teleop, recorder: EpisodeRecorder, cfg: LoopConfig, episodes: int = 3,
                   attrs: Mapping[str, Any] | None = None) -> SessionSummary:
    """Teleoperate and record until ``episodes`` are saved or the operator quits.

    Keys: c start · b stop and save · backspace discard · q quit · x/space emergency stop · u release.
    Between episodes the operator can still move the arm (nothing is recorded).
    """
    robot = Robot(client, cfg)
    summary = SessionSummary(mode="record")
    loop = RateLoop(cfg.hz)
    state = client.observe()
    target = robot.hold_action(state)
    totals = _EpisodeTotals()
    k = 0
    try:
        while len(recorder.saved) < episodes:
            inp = teleop.read()
            _handle_safety_events(inp.events, client)
            if "quit" in inp.events:
                break
            if "home" in inp.events and not recorder.recording:
                state = client.home()
                target = robot.hold_action(state)
            if "start" in inp.events and not recorder.recording:
                state = client.prepare_episode(seed=cfg.seed + k)
                target = robot.hold_action(state)
                recorder.start({"source": "teleop", "seed": cfg.seed + k, **dict(attrs or {})})
                totals = _EpisodeTotals()
                k += 1
                loop.restart()
                log.info("recording episode (b: save, backspace: discard)")
            if "discard" in inp.events and recorder.recording:
                recorder.discard()
                summary.episodes_discarded += 1
                log.info("episode discarded")
            obs = robot.observation(state)
            target = target.copy()
            target[:3] = target[:3] + inp.delta_pos
            target[-1] = robot.gripper_closed if inp.gripper_closed else robot.gripper_open
            report, new_state = client.step(robot.command(target))
            _count_report(report, summary)
            if report.get("accepted"):  # follow what the arm was really told (clamps included)
                target[:3] = np.asarray(report["executed"]["pos"])
            if recorder.recording:
                reward, infos = _reward_infos(new_state)
                infos["clamped"] = float(bool(report.get("clamped")))
                infos["refused"] = float(not report.get("accepted"))
                recorder.add(obs, target, reward, infos)
                totals.add(reward, infos)
                summary.steps += 1
                if "stop" in inp.events or recorder.steps >= cfg.max_steps:
                    name = recorder.finish()
                    loop.restart()  # publishing and the mp4 took time: not a control overrun
                    if name:
                        summary.returns.append(totals.ret)
                        summary.successes += int(totals.success)
                        log.info("saved %s (%d/%d)", name, len(recorder.saved), episodes)
            state = new_state
            loop.wait()
        recorder.close()  # an episode still running when the operator quits is kept
    except Exception as e:
        summary.interrupted = f"{type(e).__name__}: {e}"
        recorder.close(interrupted_reason=summary.interrupted)
        raise
    finally:
        _finish_summary(summary, recorder, loop, client)
    return summary


def rollout_session(client, policy: Any, recorder: EpisodeRecorder, cfg: LoopConfig, episodes: int = 3, teleop=None,
                    latency_compensation: bool = True, stop_on_success: bool = False,
                    attrs: Mapping[str, Any] | None = None) -> SessionSummary:
    """Roll ``policy`` (``reset``/``act``, optionally ``predict_chunk``) out for ``episodes`` and record them.

    With a ``teleop``: p pauses (the arm holds), t hands control to the operator and back
    (steps flagged ``infos/takeover``), b ends the episode early, backspace discards it,
    x/space is the emergency stop, q quits.
    """
    robot = Robot(client, cfg)
    summary = SessionSummary(mode="rollout")
    driver = PolicyDriver(policy, 1.0 / cfg.hz, latency_compensation=latency_compensation)
    loop = RateLoop(cfg.hz)
    quit_ = False
    try:
        for ep in range(episodes):
            if quit_:
                break
            seed = cfg.seed + ep
            state = client.prepare_episode(seed=seed)
            driver.reset(seed=seed)
            recorder.start({"source": "policy", "seed": seed, **dict(attrs or {})})
            totals, paused, takeover = _EpisodeTotals(), False, False
            target = robot.hold_action(state)
            loop.restart()
            discard = False
            for _ in range(cfg.max_steps):
                inp = teleop.read() if teleop is not None else None
                events = inp.events if inp is not None else set()
                _handle_safety_events(events, client)
                if "quit" in events:
                    quit_ = True
                    break
                if "discard" in events:
                    discard = True
                    break
                if "pause" in events:
                    paused = not paused
                    if paused:
                        client.stop("paused by the operator")
                    log.info("paused" if paused else "resumed")
                if "takeover" in events:
                    takeover = not takeover
                    target = robot.hold_action(state)
                    log.info("human takeover %s", "on" if takeover else "off")
                if paused:
                    t0 = time.monotonic()
                    client.heartbeat()
                    state = client.observe()
                    loop.wait()
                    summary.paused_s += time.monotonic() - t0
                    continue
                t_obs = time.monotonic()
                obs = robot.observation(state)
                if takeover:
                    target = target.copy()
                    target[:3] = target[:3] + inp.delta_pos
                    target[-1] = robot.gripper_closed if inp.gripper_closed else robot.gripper_open
                    action = target
                    summary.takeover_steps += 1
                else:
                    action = driver.act(obs, t_obs)
                report, new_state = client.step(robot.command(action))
                _count_report(report, summary)
                reward, infos = _reward_infos(new_state)
                infos.update(takeover=float(takeover), clamped=float(bool(report.get("clamped"))),
                             refused=float(not report.get("accepted")))
                recorder.add(obs, action, reward, infos)
                totals.add(reward, infos)
                summary.steps += 1
                state = new_state
                if "stop" in events or (stop_on_success and totals.success):
                    break
                loop.wait()
            if discard:
                recorder.discard()
                summary.episodes_discarded += 1
                continue
            saved = recorder.finish({"success": int(totals.success)})
            loop.restart()
            if saved:
                summary.returns.append(totals.ret)
                summary.successes += int(totals.success)
            client.stop("episode over")
    except Exception as e:
        summary.interrupted = f"{type(e).__name__}: {e}"
        recorder.close(interrupted_reason=summary.interrupted)
        raise
    finally:
        summary.stale_actions_dropped = driver.scheduler.dropped
        if driver.inference_s:
            summary.mean_inference_ms = 1000 * float(np.mean(driver.inference_s))
        _finish_summary(summary, recorder, loop, client)
    return summary


def _finish_summary(summary: SessionSummary, recorder: EpisodeRecorder, loop: RateLoop, client) -> None:
    summary.episodes_saved = list(recorder.saved)
    summary.videos = [str(v) for v in recorder.videos]
    summary.loop_overruns = loop.overruns
    summary.max_loop_lateness_ms = 1000 * loop.max_lateness
    if summary.interrupted is None:
        try:
            summary.safety = client.stats().get("safety", {})
        except Exception as e:  # the summary must not hide the session's outcome
            summary.safety = {"unavailable": str(e)}
