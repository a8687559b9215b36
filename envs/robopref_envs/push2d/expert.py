"""Scripted expert of the 2D pushing tasks, aligned or not with the person's preference.

It reads the privileged physical state from ``env.unwrapped.world`` and picks one
block at a time and a target point for it; ``planning.BlockPusher`` does the pushing.

- Unaligned (and every ``push`` episode): push the nearest block straight up into the
  goal strip, one after the other. In ``avoid`` this usually crosses the red zone; in
  ``group`` it leaves the other blocks behind.
- Aligned ``avoid``: push each block sideways into a lane beside the zone, then up the
  lane, and route the robot around the zone whenever it travels.
- Aligned ``group``: leapfrog: push the lowest block to just above the others and
  towards them, so the blocks climb together.

``noise`` adds Gaussian noise (std ``noise``) to every action and, now and then,
random detours of a few steps (rate grows with ``noise``), which gives rollouts a
spread of quality: some aligned episodes cross the zone, some fail.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from robopref_envs.push2d.geometry import unit, wrap_half_turn
from robopref_envs.push2d.layout import ARENA, BLOCK_CIRCUMRADIUS, GOAL, ZONE
from robopref_envs.push2d.physics.world import MAX_OMEGA, MAX_SPEED
from robopref_envs.push2d.navigation import Navigator
from robopref_envs.push2d.planning import BlockPusher, Motion, toward, turn_toward

TARGET_Y = 0.8  # blocks are pushed toward this height inside the goal strip
DONE_Y = GOAL.y0 + 0.1  # a block this high is left alone: it is safely in the goal
MAX_TARGET_X = 0.85  # targets stay this far from the side walls
LATERAL_PUSH_Y = -0.3  # sideways pushes under the zone stay this low: an upright stick clears it
LANE_MARGIN = 0.15  # room between the zone and a block pushed up a lane
LANE_LOOKAHEAD = 0.3  # up a lane, aim this far ahead: a block drifting in is steered back soon
LANE_TOLERANCE = 0.06  # a block this close to its lane goes up rather than sideways
TURN_DISTANCE = 0.3  # sticks turn from travelling lengthwise to pushing this far from the approach point
WALL_ROOM = 0.05  # sticks travel lengthwise only where both ends stay this far from the walls
OBSTACLE_MARGIN = 0.02  # room kept from blocks other than the pushed one when travelling
ZONE_CLEARANCE = 0.04  # extra room kept around the zone when the robot travels
LEAP = 0.12  # group: the lowest block is pushed this far above the highest other block
LEAP_REACHED = 0.04  # group: distance to its target at which a leap is over
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

    ``act(obs)`` returns an action in the env's action space. ``aligned=False`` gives
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
        self.avoids_zone = self.aligned and self.task == "avoid"
        zone = ZONE if self.avoids_zone else None
        self.navigator = Navigator(wall_margin=e.radius + 0.01, zone=zone, zone_margin=e.bounding_radius + ZONE_CLEARANCE)
        self.lane_x = ZONE.x1 + BLOCK_CIRCUMRADIUS + LANE_MARGIN + e.half_width / 4  # sticks tilt a little
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """Forget the current plan and reseed the noise (call at every env reset)."""
        self.rng = np.random.default_rng(seed)
        self.pusher = BlockPusher(self.embodiment)
        self.block: int | None = None
        self.leap_target: np.ndarray | None = None
        self.detour = HeldAction()
        self.last_pose = np.full(3, np.inf)
        self.still_steps = 0
        self.escape = HeldAction()

    # Which block, and where to.

    def _pending(self) -> list[int]:
        return [i for i, p in enumerate(self.world.block_positions) if p[1] < DONE_Y]

    def _straight_up(self, block: np.ndarray) -> np.ndarray:
        return np.array([np.clip(block[0], -MAX_TARGET_X, MAX_TARGET_X), TARGET_Y])

    def _around_zone(self, block: np.ndarray) -> np.ndarray:
        """Sideways into the nearer lane beside the zone, then up the lane.

        A block under the zone goes sideways low enough for the robot to pass under the
        zone; one between the zone and its lane goes sideways while still well below the
        zone, and otherwise up, leaning out, with the robot below it.
        In the lane, a block pushed up and the robot behind it (a stick shifted outwards,
        see ``_offset``) clear the zone; the push leans outwards to undo any drift in.
        """
        side = 1.0 if block[0] >= 0 else -1.0
        if abs(block[0]) < ZONE.x1 + BLOCK_CIRCUMRADIUS and block[1] < ZONE.y0:
            return np.array([side * self.lane_x, min(block[1], LATERAL_PUSH_Y)])
        if abs(block[0]) < self.lane_x - LANE_TOLERANCE and block[1] < LATERAL_PUSH_Y + LANE_TOLERANCE:
            return np.array([side * self.lane_x, block[1]])
        lane = side * np.clip(abs(block[0]), self.lane_x, MAX_TARGET_X)
        # Lean outwards while below the zone only: beside it, a tilted stick would reach in.
        ahead = LANE_LOOKAHEAD if block[1] < ZONE.y0 - LANE_TOLERANCE else TARGET_Y
        return np.array([lane, min(block[1] + ahead, TARGET_Y)])

    def _target(self, i: int) -> np.ndarray:
        block = self.world.block_positions[i]
        if self.avoids_zone:
            return self._around_zone(block)
        return self._straight_up(block)

    def _choose(self, pending: list[int]) -> int:
        """The block to push next: the nearest one, or in aligned ``avoid`` the outermost,
        which would otherwise be shoved along (towards a wall) when the others are pushed
        sideways into its lane."""
        robot = self.world.robot_position
        positions = self.world.block_positions

        def free_start(i: int) -> bool:
            block, target = positions[i], self._target(i)
            return not self.pusher.start_blocked(block, target, self._offset(block, target), np.delete(positions, i, axis=0))

        # Rather not a block whose push would start by ramming another one.
        candidates = [i for i in pending if free_start(i)] or pending
        if self.avoids_zone:
            return max(candidates, key=lambda i: abs(positions[i][0]))

        def travel(i: int) -> float:
            return float(np.linalg.norm(self.pusher.approach_point(positions[i], self._target(i), np.zeros(2)) - robot))

        return min(candidates, key=travel)

    def _leap(self, pending: list[int]) -> tuple[int, np.ndarray]:
        """Group: the block to push and its target, kept until the leap is over."""
        positions = self.world.block_positions
        if self.block in pending and self.leap_target is not None:
            if np.linalg.norm(positions[self.block] - self.leap_target) > LEAP_REACHED and positions[self.block][1] < self.leap_target[1]:
                return self.block, self.leap_target
        lowest = min(pending, key=lambda i: positions[i][1])
        others = np.delete(positions, lowest, axis=0)
        if len(others) == 0:
            target = self._straight_up(positions[lowest])
        else:
            centre_x = others[:, 0].mean()
            x = centre_x + np.clip(positions[lowest][0] - centre_x, -LEAP, LEAP)
            target = np.array([np.clip(x, -MAX_TARGET_X, MAX_TARGET_X), min(others[:, 1].max() + LEAP, TARGET_Y)])
            target[1] = max(target[1], min(positions[lowest][1] + LEAP, TARGET_Y))
        self.block, self.leap_target = lowest, target
        return lowest, target

    def _plan(self) -> tuple[int, np.ndarray] | None:
        pending = self._pending()
        if not pending:
            return None
        if self.aligned and self.task == "group":
            return self._leap(pending)
        if self.block not in pending:
            self.block = self._choose(pending)
        return self.block, self._target(self.block)

    # How to move.

    def _offset(self, block: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Aligned ``avoid`` with a stick: shift the stick away from the zone when pushing
        up a lane, or sideways close under the zone, so its end on the zone's side does
        not reach past the block (zeros otherwise: a centred stick sweeps fewer other
        blocks along)."""
        if not self.avoids_zone or self.pusher.max_offset == 0:
            return np.zeros(2)
        d = unit(target - block)
        e = self.embodiment
        if abs(d[0]) > abs(d[1]) and block[1] + e.half_width + e.radius + ZONE_CLEARANCE < ZONE.y0:
            return np.zeros(2)  # sideways, low enough for a centred upright stick
        n = np.array([-d[1], d[0]])
        away = float((block - ZONE.center) @ n)
        return n * np.sign(away) * self.pusher.max_offset

    def _motion(self) -> Motion:
        plan = self._plan()
        robot, angle = self.world.robot_position, self.world.robot_angle
        if plan is None:
            return Motion(np.zeros(2))
        i, target = plan
        blocks = self.world.block_positions
        block = blocks[i]
        target, offset = self.pusher.reachable_push(block, target, self._offset(block, target))
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
        if self.noise > 0:
            detour = self._detour()
            action = (detour if detour is not None else action) + self.rng.normal(0.0, self.noise, action.shape)
        return np.clip(action, -1.0, 1.0).astype(np.float32)
