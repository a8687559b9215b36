"""Random initial poses of blocks and robot, drawn from a seeded numpy Generator.

Blocks are either scattered over the spawn area (``push``, ``avoid``) or packed in a
tight cluster (``group``, whose preference is to keep them together). The robot starts
below them. Poses never overlap, so the first physics step does not kick anything.
"""

from __future__ import annotations

import numpy as np

from robopref_envs.push2d.geometry import Rect, rotation
from robopref_envs.push2d.layout import (
    BLOCK_CIRCUMRADIUS,
    BLOCK_SPAWN,
    GROUP_CENTROID_SPAWN,
    GROUP_SPAWN_RADIUS,
    MIN_BLOCK_GAP,
    ROBOT_SPAWN,
    ROBOT_SPAWN_MAX_TILT,
)
from robopref_envs.push2d.physics import Embodiment

MAX_TRIES = 10_000
CLEARANCE = 0.02  # free space between the robot and any block at spawn


def _uniform_in(rect: Rect, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform([rect.x0, rect.y0], [rect.x1, rect.y1])


def _far_enough(points: list[np.ndarray], p: np.ndarray) -> bool:
    return all(np.linalg.norm(p - q) >= MIN_BLOCK_GAP for q in points)


def _poses(points: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """(N, 3) poses from positions with random angles (squares repeat every pi/2)."""
    angles = rng.uniform(0.0, np.pi / 2, size=len(points))
    return np.column_stack([np.array(points).reshape(-1, 2), angles])


def scattered_blocks(num_blocks: int, rng: np.random.Generator) -> np.ndarray:
    """``num_blocks`` poses spread uniformly over the spawn area, pairwise apart."""
    points: list[np.ndarray] = []
    for _ in range(MAX_TRIES):
        if len(points) == num_blocks:
            return _poses(points, rng)
        p = _uniform_in(BLOCK_SPAWN, rng)
        if _far_enough(points, p):
            points.append(p)
    raise RuntimeError(f"could not place {num_blocks} blocks apart in {BLOCK_SPAWN}")


def clustered_blocks(num_blocks: int, rng: np.random.Generator) -> np.ndarray:
    """``num_blocks`` poses packed within ``GROUP_SPAWN_RADIUS`` of a random centre."""
    centre = _uniform_in(GROUP_CENTROID_SPAWN, rng)
    for _ in range(MAX_TRIES):
        points: list[np.ndarray] = []
        for _ in range(50 * num_blocks):
            radius = GROUP_SPAWN_RADIUS * np.sqrt(rng.uniform())
            direction = rng.uniform(0, 2 * np.pi)
            p = centre + radius * np.array([np.cos(direction), np.sin(direction)])
            if _far_enough(points, p):
                points.append(p)
                if len(points) == num_blocks:
                    return _poses(points, rng)
    raise RuntimeError(f"could not pack {num_blocks} blocks within {GROUP_SPAWN_RADIUS} of a centre")


def _robot_clear(embodiment: Embodiment, position: np.ndarray, angle: float, blocks: np.ndarray) -> bool:
    """Whether the robot's shape keeps ``CLEARANCE`` from every block's circumcircle."""
    half = np.array([embodiment.length / 2, 0.0]) @ rotation(angle).T
    for block in blocks[:, :2]:
        # Distance from the block centre to the robot's centre line (a point for the disc).
        t = np.clip(np.dot(block - position, half) / max(np.dot(half, half), 1e-12), -1.0, 1.0)
        if np.linalg.norm(block - (position + t * half)) < embodiment.radius + BLOCK_CIRCUMRADIUS + CLEARANCE:
            return False
    return True


def robot_pose(embodiment: Embodiment, blocks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(x, y, angle) below the blocks, not touching any of them; sticks lie roughly flat."""
    for _ in range(MAX_TRIES):
        position = _uniform_in(ROBOT_SPAWN, rng)
        angle = rng.uniform(-ROBOT_SPAWN_MAX_TILT, ROBOT_SPAWN_MAX_TILT) if embodiment.is_stick else 0.0
        if _robot_clear(embodiment, position, angle, blocks):
            return np.array([position[0], position[1], angle])
    raise RuntimeError("could not place the robot clear of the blocks")
