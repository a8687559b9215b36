"""Motion primitive of the scripted expert: push one block toward a point.

The primitives return a velocity in arena units/s and, for sticks, an angular velocity;
the expert turns them into a normalised action. They are closed-loop: called every
step from the current positions, they correct drift of the pushed block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robopref_envs.push2d.geometry import unit, wrap_half_turn
from robopref_envs.push2d.layout import ARENA, BLOCK_CIRCUMRADIUS, BLOCK_HALF
from robopref_envs.push2d.physics import Embodiment
from robopref_envs.push2d.physics.world import MAX_OMEGA, MAX_SPEED

PUSH_SPEED = 1.0  # units/s while in contact: slower than travel, so steering has room
POSITION_GAIN = 8.0  # 1/s; times the 0.1 s step this closes 80% of a gap per step
ANGLE_GAIN = 8.0
LATERAL_GAIN = 6.0  # 1/s, pulls the robot back onto the line through block and target
APPROACH_GAP = 0.05  # least free space behind a block at the start of a push
SIDE_MARGIN = 0.02  # free space kept between the robot and the block while going around it
MAX_TURN_WHILE_PUSHING = 0.3  # rad; a stick more askew than this turns before pushing
WALL_MARGIN = 0.01  # an approach pose closer than this to a wall counts as out of reach
OFFSET_MARGIN = 0.03  # a shifted stick still overlaps the block's face by this much more than its half
TURN_STEPS = np.deg2rad(np.arange(0, 91, 15))  # tried push-direction changes off a wall


@dataclass
class Motion:
    """A velocity command: ``velocity`` (2,) in units/s and ``omega`` in rad/s."""

    velocity: np.ndarray
    omega: float = 0.0


def toward(position: np.ndarray, waypoint: np.ndarray) -> np.ndarray:
    """Proportional velocity toward ``waypoint``, capped at the robot's top speed."""
    velocity = POSITION_GAIN * (waypoint - position)
    speed = float(np.linalg.norm(velocity))
    return velocity * (MAX_SPEED / speed) if speed > MAX_SPEED else velocity


def turn_toward(angle: float, desired: float) -> float:
    """Angular velocity turning a stick (symmetric under pi) toward ``desired``."""
    return float(np.clip(ANGLE_GAIN * wrap_half_turn(desired - angle), -MAX_OMEGA, MAX_OMEGA))


class BlockPusher:
    """Pushes one block along a straight line to a target, for one embodiment.

    Behind the block and lined up: push along the line, steering back onto it.
    Otherwise the expert travels to ``approach_point``, keeping ``clearance`` from the
    block on the way. ``pushing`` adds hysteresis so small drift does not stop a push.

    ``offset`` (a world vector across the push direction, zeros by default) shifts the
    robot sideways from the line: a stick's flat face pushes a block as well off-centre,
    and shifting it keeps one of its ends clear of something (the red zone).
    """

    def __init__(self, embodiment: Embodiment) -> None:
        self.embodiment = embodiment
        self.contact = BLOCK_HALF + embodiment.radius  # centre distance when touching face-on
        # Travelling around the block, the robot may be turned any way: keep its bounding
        # disc off the block. Then approach from just outside that distance, unless a
        # wall is in the way, in which case from closer.
        self.clearance = BLOCK_CIRCUMRADIUS + embodiment.bounding_radius + SIDE_MARGIN
        self.approach_distances = np.linspace(self.clearance + 0.01, self.contact + APPROACH_GAP, 5)
        self.enter_tolerance = 0.03 if not embodiment.is_stick else 0.3 * embodiment.half_width
        self.keep_tolerance = 2 * self.enter_tolerance
        # How far a stick may be shifted with the block still well inside its face.
        self.max_offset = max(embodiment.half_width - BLOCK_HALF - OFFSET_MARGIN, 0.0)
        self.max_wall_offset = max(embodiment.half_width - BLOCK_HALF / 2, 0.0)  # by a wall, push with an end
        self.pushing = False

    def _fits(self, point: np.ndarray, d: np.ndarray) -> bool:
        """Whether the robot, centred at ``point`` and set to push along ``d``, stays inside the arena."""
        return self.embodiment.fits(point, float(np.arctan2(d[1], d[0]) + np.pi / 2), ARENA.inflate(-WALL_MARGIN))

    def approach_point(self, block: np.ndarray, target: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Where to start a push from: behind the block, as far back as the walls allow."""
        d = unit(target - block)
        for distance in self.approach_distances:
            if self._fits(block - d * distance + offset, d):
                break
        return block - d * distance + offset

    def start_blocked(self, block: np.ndarray, target: np.ndarray, offset: np.ndarray, others: np.ndarray) -> bool:
        """Whether another block sits where the robot would stand to start this push."""
        d = unit(target - block)
        centre = self.approach_point(block, target, offset)
        half = np.array([-d[1], d[0]]) * self.embodiment.length / 2  # the stick lies across d
        t = np.clip((others - centre) @ half / max(float(half @ half), 1e-12), -1.0, 1.0)
        gaps = np.linalg.norm(others - (centre + t[:, None] * half), axis=1)
        return bool(np.any(gaps < BLOCK_CIRCUMRADIUS + self.embodiment.radius + SIDE_MARGIN))

    def reachable_push(self, block: np.ndarray, target: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(target, offset) as given, or, when the robot cannot get behind the block (it
        lies by a wall), the nearest push direction it can, away from the wall, with a
        stick shifted along the wall if need be (the block then at one end of it)."""
        d = unit(target - block)
        if self._fits(block - d * self.approach_distances[-1] + offset, d):
            return target, offset
        heading, distance = np.arctan2(d[1], d[0]), float(np.linalg.norm(target - block))
        for turn in TURN_STEPS:
            for sign in (1.0, -1.0):
                e = np.array([np.cos(heading + sign * turn), np.sin(heading + sign * turn)])
                n = np.array([-e[1], e[0]])
                for shift in (0.0, self.max_wall_offset, -self.max_wall_offset):
                    if self._fits(block - e * self.approach_distances[-1] + shift * n, e):
                        return block + e * distance, shift * n
        return target, offset

    def push_angle(self, block: np.ndarray, target: np.ndarray) -> float:
        """Stick angle that lays the stick flat against the block's back."""
        d = unit(target - block)
        return float(np.arctan2(d[1], d[0]) + np.pi / 2)

    @staticmethod
    def _frame(robot: np.ndarray, block: np.ndarray, target: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Push direction d, its normal n, and the robot's position along d and across
        it (from where the offset puts it)."""
        d = unit(target - block)
        n = np.array([-d[1], d[0]])
        rel = robot - block - offset
        return d, n, float(rel @ d), float(rel @ n)

    def in_position(self, robot: np.ndarray, angle: float, block: np.ndarray, target: np.ndarray, offset: np.ndarray) -> bool:
        """Whether the robot is behind the block, on its push line (and, for sticks, flat)."""
        _, _, along, lateral = self._frame(robot, block, target, offset)
        tolerance = self.keep_tolerance if self.pushing else self.enter_tolerance
        aligned = along < -BLOCK_HALF and abs(lateral) < tolerance
        if self.embodiment.is_stick:
            aligned = aligned and abs(wrap_half_turn(self.push_angle(block, target) - angle)) < MAX_TURN_WHILE_PUSHING
        self.pushing = aligned
        return aligned

    def push(self, robot: np.ndarray, angle: float, block: np.ndarray, target: np.ndarray, offset: np.ndarray) -> Motion:
        """Velocity that pushes ``block`` toward ``target``; call only when ``in_position``."""
        d, n, _, lateral = self._frame(robot, block, target, offset)
        velocity = PUSH_SPEED * d - LATERAL_GAIN * lateral * n
        omega = turn_toward(angle, self.push_angle(block, target)) if self.embodiment.is_stick else 0.0
        return Motion(velocity, omega)
