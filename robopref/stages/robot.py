"""``robopref robot record|rollout``: real-robot sessions through a robot server.

* ``robopref robot record hardware=sim episodes=3``: keyboard teleoperation; c starts,
  b saves, backspace discards, q quits, x/space is the emergency stop.
* ``robopref robot rollout hardware=sim policy=path/to/best.ckpt episodes=3``: fixed-rate
  policy rollouts with latency compensation, pause (p) and human takeover (t).

Both append to the same dataset (``output``, default ``data/robot.hdf5``) with one mp4
per episode in ``data/robot_videos/``, crash-safe to the last second, and print a
summary (also ``summary.json`` in the run directory). The robot server must be running:
``robopref-robot serve hardware=sim``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, OmegaConf

from robopref.config import StageConfig, register_schema
from robopref.utils.atomic import atomic_write_text
from robopref.utils.checks import check_at_least, check_positive

log = logging.getLogger(__name__)


class RobotMode(str, Enum):
    record = "record"
    rollout = "rollout"


class TeleopKind(str, Enum):
    keyboard = "keyboard"
    gamepad = "gamepad"
    script = "script"  # replay `key_script` (one entry per tick): demos and CI without a person
    none = "none"


@dataclass
class RobotHardwareConfig:
    """Where the robot server is and how to drive it (conf/hardware/<name>.yaml)."""

    name: str = MISSING
    host: str = "127.0.0.1"
    port: int = 5555
    token: Optional[str] = None
    timeout_s: float = 1.0
    connect_timeout_s: float = 5.0
    hz: float = 10.0
    action_mode: str = "ee_position"  # ee_position: [x, y, z, gripper] | ee_pose: [x, y, z, qw, qx, qy, qz, gripper]
    cameras: Optional[list] = None  # None: all the server's cameras
    teleop_step: float = 0.01  # metres per tick of a held key


@dataclass
class RobotConfig(StageConfig):
    """Config of ``robopref robot`` (see conf/robot.yaml)."""

    mode: RobotMode = RobotMode.record
    hardware: RobotHardwareConfig = field(default_factory=RobotHardwareConfig)
    episodes: int = 3
    max_steps: int = 200
    output: str = "data/robot.hdf5"  # relative to the working directory, shared by record and rollout
    policy: Optional[str] = None  # rollout: a checkpoint path, or scripted:reach
    teleop: TeleopKind = TeleopKind.keyboard
    key_script: list = field(default_factory=list)
    latency_compensation: bool = True
    stop_on_success: bool = False
    flush_every_s: float = 1.0


register_schema("robot", RobotConfig)

MODES = [m.value for m in RobotMode]


def preprocess_args(args: list[str]) -> list[str]:
    """``robopref robot rollout ...`` → ``robopref robot mode=rollout ...`` (the sub-command is a config field)."""
    return [f"mode={args[0]}", *args[1:]] if args and args[0] in MODES else list(args)


def _teleop(cfg: DictConfig):
    from robopref_hardware.teleop.keyboard import KeyboardTeleop, KeyboardTeleopConfig, ScriptedKeys

    kind = TeleopKind(cfg.teleop)
    if kind is TeleopKind.none:
        return None
    if kind is TeleopKind.gamepad:
        from robopref_hardware.teleop.gamepad import GamepadTeleop, GamepadTeleopConfig

        return GamepadTeleop(GamepadTeleopConfig(max_step=cfg.hardware.teleop_step))
    keys = ScriptedKeys(OmegaConf.to_container(cfg.key_script)) if kind is TeleopKind.script else None
    return KeyboardTeleop(KeyboardTeleopConfig(step=cfg.hardware.teleop_step), keys)


def check_settings(cfg: DictConfig) -> None:
    """Refuse settings that would only fail after connecting to the robot (or mid-session)."""
    hw = cfg.hardware
    check_at_least("", cfg, 1, "episodes", "max_steps")
    check_positive("hardware", hw, "hz", "timeout_s", "connect_timeout_s", "teleop_step")
    check_positive("", cfg, "flush_every_s")
    from robopref.robot.session import ACTION_MODES

    if hw.action_mode not in ACTION_MODES:
        raise ValueError(f"hardware.action_mode={hw.action_mode!r}: expected one of {list(ACTION_MODES)}")
    mode = RobotMode(cfg.mode)
    if mode is RobotMode.record and TeleopKind(cfg.teleop) is TeleopKind.none:
        raise ValueError("robot record needs a teleop device: teleop=keyboard|gamepad|script")
    if mode is RobotMode.rollout:
        if not cfg.policy:
            raise ValueError("robot rollout needs policy=<checkpoint path> (or policy=scripted:reach with hardware=sim)")
        if not str(cfg.policy).startswith("scripted:") and not Path(cfg.policy).expanduser().is_file():
            raise FileNotFoundError(f"policy={cfg.policy}: no such checkpoint file (or use policy=scripted:reach with hardware=sim)")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Connect, run the session, print and save the summary."""
    from robopref_hardware.client import RobotClient
    from robopref_hardware.teleop.keyboard import HELP

    from robopref.data.layout import make_env_args
    from robopref.robot.recorder import EpisodeRecorder, recover_staged
    from robopref.robot.session import LoopConfig, record_session, rollout_session
    from robopref.utils.rundir import run_dir

    check_settings(cfg)
    mode = RobotMode(cfg.mode)
    hw = cfg.hardware
    output = Path(cfg.output).expanduser()
    client = RobotClient(hw.host, hw.port, token=hw.token, timeout_s=hw.timeout_s, connect_timeout_s=hw.connect_timeout_s)
    info = client.connect()
    env_args = make_env_args(f"robopref_robot/{hw.name}", env_kwargs={"arm": info.get("arm"), "hardware": info.get("hardware"),
                                                                       "action_mode": hw.action_mode, "hz": hw.hz})
    recovered = recover_staged(output, env_args, video_fps=int(hw.hz))
    if recovered:
        print(f"recovered {len(recovered)} episode(s) left by an interrupted session: {recovered}")
    recorder = EpisodeRecorder(output, env_args, flush_every_s=cfg.flush_every_s, video_fps=int(round(hw.hz)))
    loop_cfg = LoopConfig(hz=hw.hz, max_steps=cfg.max_steps, action_mode=hw.action_mode,
                          cameras=None if hw.cameras is None else list(hw.cameras), seed=cfg.seed)
    teleop = _teleop(cfg)
    if teleop is not None:
        teleop.connect()
        if TeleopKind(cfg.teleop) is TeleopKind.keyboard:
            print("keys:" + HELP, flush=True)
    try:
        if mode is RobotMode.record:
            summary = record_session(client, teleop, recorder, loop_cfg, episodes=cfg.episodes)
        else:
            from robopref.robot.policies import load_robot_policy

            policy = load_robot_policy(cfg.policy, device=cfg.device)
            summary = rollout_session(client, policy, recorder, loop_cfg, episodes=cfg.episodes, teleop=teleop,
                                      latency_compensation=cfg.latency_compensation, stop_on_success=cfg.stop_on_success,
                                      attrs={"policy": cfg.policy})
    finally:
        if teleop is not None:
            teleop.disconnect()
        client.close()
    out = summary.to_dict()
    out.update({"dataset": str(output), "recovered": recovered})
    atomic_write_text(run_dir() / "summary.json", json.dumps(out, indent=2, default=str))
    print(json.dumps(out, indent=2, default=str))
    return out
