"""Test doubles for the hardware tests: an in-memory arm, and servers run in a thread or a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from robopref_hardware.arms.base import Arm, ArmConfig
from robopref_hardware.grippers.base import Gripper, GripperConfig
from robopref_hardware.server import RobotServer, ServerConfig
from robopref_hardware.types import ArmCommand, ArmState, CommandKind

DOWN = np.array([0.0, 1.0, 0.0, 0.0])  # w, x, y, z: 180 degrees about x (a hand pointing down)


class FakeGripper(Gripper):
    def __init__(self) -> None:
        self.config = GripperConfig()
        self.moves: list[tuple[float, float | None]] = []
        self._w = 0.08

    def connect(self) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def move(self, width: float, force: float | None = None) -> None:
        self.moves.append((width, force))
        self._w = width

    def width(self) -> float:
        return self._w


@dataclass
class FakeArmConfig(ArmConfig):
    n_joints: int = 3

    def build(self) -> "FakeArm":
        return FakeArm(self)


class FakeArm(Arm):
    """Moves to each target at once; joint FK is pos = 0.1 * q + (0, 0.5, 0.2). Records every call."""

    def __init__(self, config: FakeArmConfig | None = None, observe_delay: float = 0.0) -> None:
        self.config = config or FakeArmConfig()
        self.gripper = FakeGripper()
        self.pos = np.array([0.0, 0.5, 0.2])
        self.quat = DOWN.copy()
        self.q = np.zeros(self.config.n_joints)
        self.sent: list[ArmCommand] = []
        self.stops: list[float] = []
        self.homes = 0
        self.connected = False
        self.observe_delay = observe_delay

    def connect(self) -> None:
        self.connected = True

    def disconnect(self) -> None:
        self.connected = False

    def observe(self) -> ArmState:
        if self.observe_delay:
            time.sleep(self.observe_delay)
        return ArmState(t=time.time(), joint_pos=self.q.copy(), joint_vel=np.zeros_like(self.q), ee_pos=self.pos.copy(),
                        ee_quat=self.quat.copy(), gripper=self.gripper.width())

    def send(self, command: ArmCommand) -> None:
        self.sent.append(command)
        if command.kind is CommandKind.joint:
            self.q = np.asarray(command.joints, float).copy()
            self.pos = self.forward_kinematics(self.q)
        else:
            self.pos = np.asarray(command.pos, float).copy()
            self.quat = np.asarray(command.quat, float).copy()

    def stop(self) -> None:
        self.stops.append(time.monotonic())

    def home(self) -> None:
        self.homes += 1
        self.pos = np.array([0.0, 0.5, 0.2])

    def forward_kinematics(self, joints: np.ndarray) -> np.ndarray:
        return 0.1 * np.asarray(joints, float)[:3] + np.array([0.0, 0.5, 0.2])


class ThreadServer:
    """A RobotServer on a free loopback port, served from a thread (the real server code and sockets)."""

    def __init__(self, safe_arm, cameras=None, **cfg) -> None:
        self.server = RobotServer(safe_arm, cameras or {}, ServerConfig(port=0, **cfg))
        self.server.bind()
        self.port = self.server.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ThreadServer":
        self.thread.start()
        self.server.ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_sim_server(port: int, workdir, *overrides: str) -> subprocess.Popen:
    """``robopref-robot serve hardware=sim`` in its own process (what a user runs); log in ``workdir/server.log``."""
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    log = open(os.path.join(workdir, "server.log"), "w")
    return subprocess.Popen([sys.executable, "-m", "robopref_hardware.cli", "serve", "hardware=sim", f"server.port={port}",
                             "stdin_estop=false", f"hydra.run.dir={os.path.join(workdir, 'server')}", *overrides],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
