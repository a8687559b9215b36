"""Which block the scripted expert pushes next, and where to, per task.

- Unaligned (and every ``push`` episode): the nearest block, straight up into the goal
  strip, one after the other. In ``avoid`` this usually crosses the red zone; in
  ``group`` it leaves the other blocks behind.
- Aligned ``avoid``: the outermost block first, sideways into a lane beside the zone,
  then up the lane (a stick shifted outwards so it clears the zone).
- Aligned ``group``: leapfrog: the lowest block to just above the others and towards
  them, so the blocks climb together.
"""

from __future__ import annotations

import numpy as np

from robopref_envs.push2d.geometry import unit
from robopref_envs.push2d.layout import BLOCK_CIRCUMRADIUS, GOAL, ZONE
from robopref_envs.push2d.physics import Embodiment, World
from robopref_envs.push2d.planning import BlockPusher

TARGET_Y = 0.8  # blocks are pushed toward this height inside the goal strip
DONE_Y = GOAL.y0 + 0.1  # a block this high is left alone: it is safely in the goal
MAX_TARGET_X = 0.85  # targets stay this far from the side walls
LATERAL_PUSH_Y = -0.3  # sideways pushes under the zone stay this low: an upright stick clears it
LANE_MARGIN = 0.15  # room between the zone and a block pushed up a lane
LANE_LOOKAHEAD = 0.3  # up a lane, aim this far ahead: a block drifting in is steered back soon
LANE_TOLERANCE = 0.06  # a block this close to its lane goes up rather than sideways
ZONE_CLEARANCE = 0.04  # extra room kept around the zone
LEAP = 0.12  # group: the lowest block is pushed this far above the highest other block
LEAP_REACHED = 0.04  # group: distance to its target at which a leap is over


class PushStrategy:
    """Picks the block to push and its target (and, for sticks in aligned ``avoid``, a
    sideways shift of the stick, see ``BlockPusher``). Keeps the current choice until
    that block is done, so the expert does not dither between blocks."""

    def __init__(self, world: World, embodiment: Embodiment, task: str, aligned: bool, pusher: BlockPusher) -> None:
        self.world = world
        self.embodiment = embodiment
        self.task = task
        self.aligned = aligned
        self.pusher = pusher
        self.avoids_zone = aligned and task == "avoid"
        self.lane_x = ZONE.x1 + BLOCK_CIRCUMRADIUS + LANE_MARGIN + embodiment.half_width / 4  # sticks tilt a little
        self.reset()

    def reset(self) -> None:
        self.block: int | None = None
        self.leap_target: np.ndarray | None = None

    def next_push(self) -> tuple[int, np.ndarray, np.ndarray] | None:
        """(block index, target point, stick offset), or None when every block is done."""
        plan = self._plan()
        if plan is None:
            return None
        i, target = plan
        return i, target, self._offset(self.world.block_positions[i], target)

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
