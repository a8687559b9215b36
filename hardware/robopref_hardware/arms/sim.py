"""The ``sim`` backend: Meta-World's Sawyer arm in MuJoCo behind the real-arm interface.

So that the whole real-robot workflow (server, safety, recording, rollouts, faults)
runs with no hardware. The scene is a Meta-World task from ``robopref_envs``
(imported lazily; ``pip install 'robopref-hardware[sim]'``). The arm is driven like a
real servo controller: a physics thread runs in real time at 80 Hz, moving the
mocap-welded hand toward the latest target at most ``speed`` m/s. Joint targets go
through forward kinematics (the Sawyer here is mocap-driven, it has no joint servos).

Every executed mocap target and every measured hand position is kept in
``motion_log`` so tests can prove that nothing outside the limits ever reached the arm.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from robopref_hardware.arms.base import Arm, ArmConfig
from robopref_hardware.errors import NotConnectedError, require
from robopref_hardware.geometry import quat_angle, quat_normalize, quat_slerp
from robopref_hardware.grippers.base import Gripper, GripperConfig
from robopref_hardware.types import ArmCommand, ArmState, CommandKind

log = logging.getLogger(__name__)

SIM_GRIPPER_RANGE = 0.07  # r_close - l_close spans [0, 0.07] from open to closed
ARM_JOINTS = tuple(f"right_j{i}" for i in range(7))


@dataclass
class SimArmConfig(ArmConfig):
    """A Meta-World task as the robot's world."""

    task: str = "reach-v3"
    seed: int = 0
    speed: float = 0.5  # m/s: how fast the simulated servo follows its target (the real arm's own limit)
    angular_speed: float = 2.0  # rad/s
    realtime: bool = True  # False: step as fast as possible (tests that do not need wall-clock physics)
    motion_log_size: int = 200_000

    def build(self) -> "SimArm":
        return SimArm(self)


class SimGripper(Gripper):
    """The Sawyer's two-finger gripper: width in metres mapped to Meta-World's [-1, 1] control."""

    def __init__(self, arm: "SimArm") -> None:
        self.config = GripperConfig(min_width=0.0, max_width=SIM_GRIPPER_RANGE, force=20.0)
        self._arm = arm

    def connect(self) -> None:
        pass  # lives and dies with the arm

    def disconnect(self) -> None:
        pass

    def move(self, width: float, force: float | None = None) -> None:
        self._arm._gripper_ctrl = float(np.clip(1.0 - 2.0 * width / SIM_GRIPPER_RANGE, -1.0, 1.0))  # read by the next tick

    def width(self) -> float:
        return self._arm._gripper_width()


class SimArm(Arm):
    """Meta-World Sawyer arm with a real-time physics thread (see the module docstring)."""

    def __init__(self, config: SimArmConfig) -> None:
        config.n_joints = 7
        self.config = config
        self.lock = threading.RLock()
        self.gripper = SimGripper(self)
        self.env = None
        self._thread: threading.Thread | None = None
        self._stop_evt = threading.Event()
        self._target: tuple[np.ndarray, np.ndarray] | None = None  # (position, quaternion) the servo follows
        self._gripper_ctrl = -1.0
        self.motion_log: deque[tuple[float, np.ndarray, np.ndarray]] = deque(maxlen=config.motion_log_size)
        self._log_lock = threading.Lock()  # the physics thread appends while readers copy
        self.ticks = 0
        self._task_cache: tuple | None = None
        self._task_wanted = False
        self._snap: dict | None = None

    def motion_snapshot(self, since: float = float("-inf")) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """(time, servo target, hand position) of every physics tick after ``since``,
        copied under the log's lock (iterating ``motion_log`` while the physics thread
        appends raises "deque mutated during iteration")."""
        with self._log_lock:
            return [m for m in self.motion_log if m[0] > since]

    # -- lifecycle --------------------------------------------------------------------
    def connect(self) -> None:
        if self.env is not None:
            return
        require("robopref_envs.metaworld", "sim", "sim")
        import mujoco
        from robopref_envs.metaworld.env import MetaWorldEnv

        self._mj = mujoco
        self.env = MetaWorldEnv(self.config.task)
        self.env.reset(seed=self.config.seed)
        sim = self.env._sim
        self.model, self.data = sim.model, sim.data
        self._hand = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, "hand")
        self._qadr = np.array([self.model.jnt_qposadr[mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, j)] for j in ARM_JOINTS])
        self._dadr = np.array([self.model.jnt_dofadr[mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, j)] for j in ARM_JOINTS])
        self._gq = [self.model.jnt_qposadr[mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, j)] for j in ("r_close", "l_close")]
        self._scratch = mujoco.MjData(self.model)
        self.dt = float(self.model.opt.timestep * sim.frame_skip)
        self._hold()
        with self.lock:
            self._publish()
        self._stop_evt.clear()
        self._thread = threading.Thread(target=self._physics, name="sim-physics", daemon=True)
        self._thread.start()
        log.info("sim arm: Meta-World %s, physics at %.0f Hz", self.config.task, 1 / self.dt)

    def disconnect(self) -> None:
        self._stop_evt.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.env is not None:
            self.env.close()
            self.env = None

    # -- Arm --------------------------------------------------------------------------
    def observe(self) -> ArmState:
        """The state published by the last physics tick: no waiting for the physics lock.

        Meta-World's task state, reward and success cost ~1.5 ms, so the physics thread
        computes them only while someone observes (at most one tick old); after a pause
        they are computed here, under the lock, so they are never stale."""
        self._require()
        snap = self._snap
        self._task_wanted = True
        task = snap["task"]
        if task is None or task[0] < snap["tick"] - 1:
            with self.lock:
                task = self._task_signals()
        task_state, reward, success = task[1], task[2], task[3]
        return ArmState(t=snap["t"], joint_pos=snap["q"].copy(), joint_vel=snap["qd"].copy(), ee_pos=snap["pos"].copy(),
                        ee_quat=snap["quat"].copy(), gripper=snap["gripper"],
                        extra={"task_state": task_state.copy(), "reward": np.array([reward]), "success": np.array([success])})

    def measure(self) -> ArmState:
        """Joints, hand pose and gripper from the last tick, without Meta-World's task signals."""
        self._require()
        snap = self._snap
        return ArmState(t=snap["t"], joint_pos=snap["q"].copy(), joint_vel=snap["qd"].copy(), ee_pos=snap["pos"].copy(),
                        ee_quat=snap["quat"].copy(), gripper=snap["gripper"])

    def _task_signals(self) -> tuple[int, np.ndarray, float, float]:
        """(tick, Meta-World task state, reward, success) now; call with the lock held."""
        sim = self.env._sim
        task_state = np.asarray(sim._get_obs(), np.float64)
        reward, info = sim.evaluate_state(task_state, np.zeros(4))
        self._task_cache = (self.ticks, task_state, float(reward), float(info.get("success", 0.0)))
        return self._task_cache

    def _publish(self) -> None:
        """Snapshot of the state for lock-free observers; call with the lock held."""
        d = self.data
        task = self._task_cache
        if self._task_wanted:
            self._task_wanted = False
            task = self._task_signals()
        self._snap = {"t": time.time(), "tick": self.ticks, "q": d.qpos[self._qadr].copy(), "qd": d.qvel[self._dadr].copy(),
                      "pos": d.xpos[self._hand].copy(), "quat": quat_normalize(d.xquat[self._hand]), "gripper": self._gripper_width(),
                      "task": task}

    def send(self, command: ArmCommand) -> None:
        """Set the servo target. One tuple assignment, no lock: the physics thread reads
        a whole (position, orientation) pair or the previous one, never a mix."""
        self._require()
        if command.kind is CommandKind.joint:
            with self.lock:
                pos = self.forward_kinematics(command.joints)
                quat = self._fk_quat
        elif command.kind is CommandKind.ee_pose:
            pos, quat = command.pos, command.quat
        else:
            raise ValueError("SimArm.send takes absolute commands (SafeArm converts deltas)")
        self._target = (np.asarray(pos, np.float64).copy(), self._target[1] if quat is None else quat_normalize(quat))
        if command.gripper is not None:
            self.gripper.move(command.gripper)

    def stop(self) -> None:
        if self.env is None:
            return
        self._hold()

    def home(self) -> None:
        self._require()
        sim = self.env._sim
        target = np.asarray(self.config.home_pose[:3] if self.config.home_pose else sim.hand_init_pos, np.float64)
        self._target = (target.copy(), quat_normalize(np.array([1.0, 0.0, 1.0, 0.0])))
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if np.linalg.norm(self.observe().ee_pos - target) < 0.01:
                return
            time.sleep(0.02)
        log.warning("sim arm: home not reached within 10 s")

    def prepare_episode(self, seed: int | None = None) -> None:
        """New object and goal positions (a fresh task instance), then home."""
        self._require()
        with self.lock:
            self.env.reset(seed=seed)
            self._hold()
            self._task_signals()
            self._publish()
        self.home()

    def forward_kinematics(self, joints: np.ndarray) -> np.ndarray:
        with self.lock:
            s = self._scratch
            s.qpos[:] = self.data.qpos
            s.qpos[self._qadr] = joints
            self._mj.mj_kinematics(self.model, s)
            self._fk_quat = quat_normalize(s.xquat[self._hand])
            return s.xpos[self._hand].copy()

    # -- internals --------------------------------------------------------------------
    def _require(self) -> None:
        if self.env is None:
            raise NotConnectedError("SimArm is not connected: call connect() first")

    def _hold(self) -> None:
        with self.lock:
            self._target = (self.data.mocap_pos[0].copy(), quat_normalize(self.data.mocap_quat[0]))

    def _gripper_width(self) -> float:
        q = self.data.qpos
        return float(np.clip(SIM_GRIPPER_RANGE - (q[self._gq[0]] - q[self._gq[1]]), 0.0, SIM_GRIPPER_RANGE))

    def _physics(self) -> None:
        next_t = time.monotonic()
        while not self._stop_evt.is_set():
            with self.lock:
                self._tick()
            if self.config.realtime:
                next_t += self.dt
                delay = next_t - time.monotonic()
                if delay > 0:
                    self._stop_evt.wait(delay)
                else:
                    next_t = time.monotonic()  # behind: do not try to catch up in a burst
            else:
                time.sleep(0)

    def _tick(self) -> None:
        """Move the mocap toward the target at the servo's speed, then step the physics."""
        d = self.data
        target_pos, target_quat = self._target
        cur = d.mocap_pos[0].copy()
        delta = target_pos - cur
        n = float(np.linalg.norm(delta))
        step = self.config.speed * self.dt
        d.mocap_pos[0] = target_pos if n <= step else cur + delta * (step / n)
        cq = quat_normalize(d.mocap_quat[0])
        ang = quat_angle(cq, target_quat)
        lim = self.config.angular_speed * self.dt
        d.mocap_quat[0] = target_quat if ang <= lim else quat_slerp(cq, target_quat, lim / ang)
        d.ctrl[:] = [self._gripper_ctrl, -self._gripper_ctrl]
        self._mj.mj_step(self.model, d, nstep=self.env._sim.frame_skip)
        self.ticks += 1
        with self._log_lock:
            self.motion_log.append((time.monotonic(), d.mocap_pos[0].copy(), d.xpos[self._hand].copy()))
        self._publish()
