"""The Gymnasium env of the 2D pushing tasks (X-Magical style), one class for every task and robot.

Observation: a dict with
- ``state`` (float32): robot ``x, y`` (sticks add ``cos(angle), sin(angle)``), then per
  block ``x, y, cos(angle), sin(angle)``. The goal strip and red zone never move, so
  they are not in it. Length ``2 + 4 * num_blocks`` for the gripper, ``4 + 4 *
  num_blocks`` for sticks.
- ``top_image`` (uint8, ``image_size`` x ``image_size`` x 3): the scene from above;
  absent when ``image_size=0`` or ``render_images=False``.
- ``robot`` (float32, only with ``robot_obs=True``): the robot's own values, the first
  2 (gripper) or 4 (sticks) of ``state``: what a real arm knows from its encoders, the
  proprioception an image policy gets beside its camera (Diffusion Policy's PushT
  ``agent_pos``), while the blocks must be seen.

Action: ``Box(-1, 1)``, scaled to velocities: gripper ``(vx, vy)``, sticks ``(vx, vy,
omega)``; 1 is ``MAX_SPEED`` (1.5 arena units/s) and ``MAX_OMEGA`` (3 rad/s). The env
runs at 10 Hz with 10 physics substeps per step; the robot's velocity is the command
unless a wall or a block stops it. ``control="position"`` makes ``(x, y)`` the point the
robot should reach this step instead (see ``control``); the expert follows either mode.

``zone_penalty`` (avoid only; default ``tasks.ZONE_PENALTY``) sets how much each object
in the red zone costs the person per step; ``group_penalty`` (group only; default
``tasks.GROUP_PENALTY``) what each unit of block spread beyond the threshold costs, and
``group_step_penalty`` (group only; default 0) what each step with any such spread costs.

Reward: ``task_reward`` (see ``tasks``). ``info`` carries ``success``, ``task_reward``,
``pref_score`` and ``violation`` at reset and at every step. The episode terminates
when every block is in the goal (unless ``terminate_on_success=False``); the time
limit comes from Gymnasium's ``max_episode_steps``.

``get_state``/``set_state`` expose the full physical state (see ``World``) for
dataset replay: after ``set_state`` the same actions give the same observations.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robopref_envs.push2d.control import check_control, position_to_velocity
from robopref_envs.push2d.physics import World, get_embodiment
from robopref_envs.push2d.render import Renderer
from robopref_envs.push2d.spawn import robot_pose
from robopref_envs.push2d.tasks import make_task

MAX_BLOCKS = 4
STATE_BOUND = 1.5
IMAGE_KEY = "top_image"
ROBOT_KEY = "robot"


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


class Push2DEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Push ``num_blocks`` blocks into the goal strip with a disc or a stick; see the module doc."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        task: str = "push",
        embodiment: str = "gripper",
        num_blocks: int = 3,
        image_size: int = 64,
        render_images: bool = True,
        terminate_on_success: bool = True,
        render_mode: str | None = None,
        render_size: int = 256,
        zone_penalty: float | None = None,
        control: str = "velocity",
        group_penalty: float | None = None,
        group_step_penalty: float | None = None,
        robot_obs: bool = False,
    ) -> None:
        self.task = make_task(task, zone_penalty, group_penalty, group_step_penalty)
        self.control = check_control(control)
        self.embodiment = get_embodiment(embodiment)
        self.num_blocks = _check_int("num_blocks", num_blocks, 1, MAX_BLOCKS)
        image_size = _check_int("image_size", image_size, 0, 1024)
        if 0 < image_size < 8:
            raise ValueError(f"image_size must be 0 (no images) or at least 8, got {image_size}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; choose None or one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        self.terminate_on_success = bool(terminate_on_success)
        self.world = World(self.embodiment, self.num_blocks)
        self._camera = Renderer(image_size, self.task.zone) if render_images and image_size > 0 else None
        self._viewer = Renderer(_check_int("render_size", render_size, 8, 4096), self.task.zone) if render_mode else None

        state_dim = (4 if self.embodiment.is_stick else 2) + 4 * self.num_blocks
        # Bounds: the walls keep everything in [-1, 1]^2 (plus a little contact slack).
        obs_spaces: dict[str, spaces.Space] = {"state": spaces.Box(-STATE_BOUND, STATE_BOUND, (state_dim,), np.float32)}
        self._robot_dim = 4 if self.embodiment.is_stick else 2
        if not isinstance(robot_obs, (bool, np.bool_)):
            raise ValueError(f"robot_obs must be true or false, got {robot_obs!r}")
        self.robot_obs = bool(robot_obs)
        if self.robot_obs:
            obs_spaces[ROBOT_KEY] = spaces.Box(-STATE_BOUND, STATE_BOUND, (self._robot_dim,), np.float32)
        if self._camera is not None:
            obs_spaces[IMAGE_KEY] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(obs_spaces)
        self.action_space = spaces.Box(-1.0, 1.0, (self.embodiment.action_dim,), np.float32)

    def _state_obs(self) -> np.ndarray:
        w = self.world
        robot = [*w.robot_position]
        if self.embodiment.is_stick:
            robot += [np.cos(w.robot_angle), np.sin(w.robot_angle)]
        angles = w.block_angles
        blocks = np.column_stack([w.block_positions, np.cos(angles), np.sin(angles)])
        return np.concatenate([robot, blocks.ravel()]).astype(np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        obs = {"state": self._state_obs()}
        if self.robot_obs:
            obs[ROBOT_KEY] = obs["state"][: self._robot_dim].copy()
        if self._camera is not None:
            obs[IMAGE_KEY] = self._camera.render(self.world)
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Random blocks and robot, drawn from ``self.np_random`` (same seed, same layout)."""
        super().reset(seed=seed)
        blocks = self.task.sample_blocks(self.num_blocks, self.np_random)
        self.world.reset(robot_pose(self.embodiment, blocks, self.np_random), blocks)
        return self._obs(), self.task.evaluate(self.world)

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape} for {self.embodiment.name}, got {action.shape}")
        if self.control == "position":
            action = position_to_velocity(action, self.world.robot_position)
        self.world.step(action)
        info = self.task.evaluate(self.world)
        terminated = self.terminate_on_success and info["success"]
        return self._obs(), info["task_reward"], terminated, False, info

    def render(self) -> np.ndarray | None:
        return self._viewer.render(self.world) if self._viewer is not None else None

    def get_state(self) -> np.ndarray:
        """The full physical state, flat float64 (robot then blocks: x, y, angle, vx, vy, omega)."""
        return self.world.get_state()

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from ``get_state``; fails on a wrong length or non-finite values."""
        self.world.set_state(state)
