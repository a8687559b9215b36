"""Scripted expert of the 2D pushing tasks, aligned or not with the person's preference.

It reads the privileged physical state from ``env.unwrapped.world``. ``strategy``
picks one block at a time and a target for it (see there for what aligned and unaligned
do per task), ``planning.BlockPusher`` pushes it, and ``navigation.Navigator`` takes
the robot around the other blocks (and, when aligned in ``avoid``, around the zone).

``noise`` adds Gaussian noise (std ``noise``) to every action and, now and then,
random detours of a few steps (rate grows with ``noise``), which gives rollouts a
spread of quality: some aligned episodes cross the zone, some fail. A robot that stays
jammed for a few steps backs off (at any noise). ``intended_action`` is the action the
expert meant before that noise: recorded next to the executed one, it gives imitation
learning the expert's corrections from the perturbed states (DART, Laskey et al. 2017).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from robopref_envs.push2d.control import velocity_to_position
from robopref_envs.push2d.geometry import unit, wrap_half_turn
from robopref_envs.push2d.layout import ARENA, BLOCK_CIRCUMRADIUS, ZONE
from robopref_envs.push2d.navigation import Navigator
from robopref_envs.push2d.physics.world import MAX_OMEGA, MAX_SPEED
from robopref_envs.push2d.planning import BlockPusher, Motion, toward, turn_toward
from robopref_envs.push2d.strategy import ZONE_CLEARANCE, PushStrategy

TURN_DISTANCE = 0.3  # sticks turn from travelling lengthwise to pushing this far from the approach point
WALL_ROOM = 0.05  # sticks travel lengthwise only where both ends stay this far from the walls
OBSTACLE_MARGIN = 0.02  # room kept from blocks other than the pushed one when travelling
MIN_TURNING_SPEED = 0.25  # fraction of the travel speed left to a stick turned 90 degrees off its heading
STILL_DISTANCE = 0.004  # the robot moved less than this (and turned less than STILL_ANGLE) in a step
STILL_ANGLE = 0.01
STILL_ACTION = 0.1  # ... while its action asked for more than this
STUCK_STEPS = 5  # ... for this many steps: it is jammed
ESCAPE_STEPS = 4
DETOUR_RATE = 0.05  # per-step chance of a random detour at noise 1 (scaled by noise)
DETOUR_STEPS = (3, 9)  # a detour lasts this many steps (low inclusive, high exclusive)


class HeldAction:
    """An action repeated for a set number of steps (a detour, an escape manoeuvre)."""

    def __init__(self) -> None:
        self.action = np.zeros(0)
        self.left = 0

    @property
    def active(self) -> bool:
        return self.left > 0

    def start(self, action: np.ndarray, steps: int) -> None:
        self.action, self.left = action, steps

    def next(self) -> np.ndarray | None:
        """The held action, or None once its steps are used up."""
        if self.left == 0:
            return None
        self.left -= 1
        return self.action.copy()


class Push2DExpert:
    """Scripted policy for ``robopref/Push2D-v0``, ``PushAvoid-v0`` and ``PushGroup-v0``.

    ``act(obs)`` returns an action in the env's action space (a velocity, or the
    position it reaches, per the env's ``control``). ``aligned=False`` gives
    the policy that succeeds while ignoring the preference. ``seed`` seeds the noise.
    """

    def __init__(self, env: gym.Env, noise: float = 0.0, aligned: bool = True, seed: int | None = None) -> None:
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.env = env.unwrapped
        self.world = self.env.world
        self.task = self.env.task.name
        self.embodiment = self.env.embodiment
        self.noise = float(noise)
        self.aligned = bool(aligned)
        e = self.embodiment
        # Sticks travel lengthwise, so blocks they pass need room for their thickness
        # only; the zone needs room for their whole length.
        self.obstacle_clearance = BLOCK_CIRCUMRADIUS + e.radius + OBSTACLE_MARGIN
        zone = ZONE if self.aligned and self.task == "avoid" else None
        self.navigator = Navigator(wall_margin=e.radius + 0.01, zone=zone, zone_margin=e.bounding_radius + ZONE_CLEARANCE)
        self.pusher = BlockPusher(e)
        self.strategy = PushStrategy(self.world, e, self.task, self.aligned, self.pusher)
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """Forget the current plan and reseed the noise (call at every env reset)."""
        self.rng = np.random.default_rng(seed)
        self.pusher.pushing = False
        self.strategy.reset()
        self.detour = HeldAction()
        self.last_pose = np.full(3, np.inf)
        self.still_steps = 0
        self.escape = HeldAction()
        self.intended_action: np.ndarray | None = None

    # Which block, and where to.

    def _motion(self) -> Motion:
        plan = self.strategy.next_push()
        robot, angle = self.world.robot_position, self.world.robot_angle
        if plan is None:
            return Motion(np.zeros(2))
        i, target, offset = plan
        blocks = self.world.block_positions
        block = blocks[i]
        target, offset = self.pusher.reachable_push(block, target, offset)
        if self.pusher.in_position(robot, angle, block, target, offset):
            return self.pusher.push(robot, angle, block, target, offset)
        approach = self.pusher.approach_point(block, target, offset)
        radii = np.full(len(blocks), self.obstacle_clearance)
        radii[i] = min(self.pusher.clearance, float(np.linalg.norm(approach - block)) - 0.01)
        waypoint = self.navigator.waypoint(robot, approach, blocks, radii)
        omega = 0.0
        if self.embodiment.is_stick:
            # Far from the block a stick travels lengthwise (its ends then trail the
            # path instead of sweeping blocks beside it), where the walls leave room;
            # close by it turns to push.
            heading = waypoint - robot
            desired = float(np.arctan2(heading[1], heading[0]))
            far = np.linalg.norm(approach - robot) > TURN_DISTANCE
            if not (far and self.embodiment.fits(robot, desired, ARENA.inflate(-WALL_ROOM))):
                desired = self.pusher.push_angle(block, target)
            omega = turn_toward(angle, desired)
            # Turn first, then go: a stick swinging round while it travels sweeps blocks.
            return Motion(toward(robot, waypoint) * max(MIN_TURNING_SPEED, np.cos(wrap_half_turn(desired - angle))), omega)
        return Motion(toward(robot, waypoint), omega)

    def _detour(self) -> np.ndarray | None:
        """A random constant action for a few steps, started at random when noise > 0."""
        if not self.detour.active and self.rng.uniform() < DETOUR_RATE * min(self.noise, 1.0):
            steps = int(self.rng.integers(*DETOUR_STEPS))
            self.detour.start(self.rng.uniform(-1.0, 1.0, self.embodiment.action_dim), steps)
        return self.detour.next()

    def _escape(self) -> np.ndarray | None:
        """A few steps straight away from the nearest block (turning at random), once the
        robot has not moved for a while although told to: it is jammed, typically a
        stick between a block and a wall."""
        pose = np.array([*self.world.robot_position, self.world.robot_angle])
        moved = np.abs(pose - self.last_pose)
        self.last_pose = pose
        self.still_steps = self.still_steps + 1 if moved[:2].max() < STILL_DISTANCE and moved[2] < STILL_ANGLE else 0
        if not self.escape.active and self.still_steps >= STUCK_STEPS:
            blocks = self.world.block_positions
            nearest = blocks[np.argmin(np.linalg.norm(blocks - pose[:2], axis=1))]
            away = unit(pose[:2] - nearest)
            turn = self.rng.uniform(-1.0, 1.0, self.embodiment.action_dim - 2)
            self.escape.start(np.concatenate([away, turn]), ESCAPE_STEPS)
            self.still_steps = 0
        return self.escape.next()

    def act(self, obs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The next action; ``obs`` is accepted for the policy interface, the state is read from the env."""
        motion = self._motion()
        action = motion.velocity / MAX_SPEED
        if self.embodiment.is_stick:
            action = np.append(action, motion.omega / MAX_OMEGA)
        if np.abs(action).max() > STILL_ACTION:
            escape = self._escape()
            action = escape if escape is not None else action
        intended = np.clip(action, -1.0, 1.0)
        if self.noise > 0:
            detour = self._detour()
            action = (detour if detour is not None else action) + self.rng.normal(0.0, self.noise, action.shape)
        action = np.clip(action, -1.0, 1.0)
        if self.env.control == "position":
            action = velocity_to_position(action, self.world.robot_position)
            intended = velocity_to_position(intended, self.world.robot_position)
        self.intended_action = intended.astype(np.float32)
        return action.astype(np.float32)
