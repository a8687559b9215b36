"""What each pushing task asks for, and what the person additionally prefers.

All tasks share the goal (every block in the green strip) and the dense task reward.
They differ in the initial layout and in the person's preference:

- ``push``: no preference; ``pref_score`` equals ``task_reward``.
- ``avoid``: never let the robot or a block touch the red zone; each object inside it
  costs ``ZONE_PENALTY`` per step.
- ``group``: keep the blocks together; the spread (largest distance of a block from the
  blocks' centroid) beyond ``GROUP_THRESHOLD`` costs ``GROUP_PENALTY`` per unit per step
  (``group_penalty`` overrides it, as ``zone_penalty`` does for avoid), and each step
  with any spread beyond it costs ``group_step_penalty`` (default 0) on top.

``pref_score`` is the person's per-step reward, so summing it over a segment ranks
segments the way the person would; ``violation`` says the preference was broken at
this step. Both are hidden ground truth: only scripted teachers and evaluation read them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from robopref_envs.push2d.geometry import Rect, disc_overlaps_rect, polygon_overlaps_rect
from robopref_envs.push2d.layout import BLOCK_HALF, GOAL, ZONE
from robopref_envs.push2d.physics import World
from robopref_envs.push2d.spawn import clustered_blocks, scattered_blocks

REACH_WEIGHT = 0.2  # weight of the robot's distance to the nearest block still to push
ZONE_PENALTY = 1.0
GROUP_THRESHOLD = 0.4
GROUP_PENALTY = 2.0


def blocks_in_goal(world: World) -> np.ndarray:
    """(num_blocks,) bool: whether each block's centre is inside the goal strip."""
    return np.array([GOAL.contains(p) for p in world.block_positions], dtype=bool)


def task_reward(world: World) -> float:
    """Dense, non-positive reward, 0 exactly when every block is in the goal.

    Minus the mean distance of the blocks to the goal, minus a small term pulling the
    robot to the nearest block that is not there yet (so approaching counts as progress).
    """
    positions = world.block_positions
    goal_distance = np.array([GOAL.distance(p) for p in positions])
    remaining = positions[goal_distance > 0]
    reach = 0.0
    if len(remaining):
        contact = BLOCK_HALF + world.embodiment.radius
        reach = max(0.0, float(np.linalg.norm(remaining - world.robot_position, axis=1).min()) - contact)
    return -float(goal_distance.mean()) - REACH_WEIGHT * reach


def block_spread(world: World) -> float:
    """Largest distance of a block centre from the blocks' centroid (0 for one block)."""
    positions = world.block_positions
    return float(np.linalg.norm(positions - positions.mean(axis=0), axis=1).max())


def objects_in_zone(world: World, zone: Rect) -> int:
    """How many of the robot and the blocks overlap ``zone``."""
    robot = world.robot_vertices()
    if robot is None:
        inside = int(disc_overlaps_rect(world.robot_position, world.embodiment.radius, zone))
    else:
        inside = int(polygon_overlaps_rect(robot, zone))
    return inside + sum(polygon_overlaps_rect(block, zone) for block in world.block_vertices())


def _check_penalty(name: str, value: float) -> float:
    """``value`` as a float; a clear error naming ``name`` unless it is finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class Task(ABC):
    """A pushing task: its initial blocks and the person's preference on top of the goal."""

    name: str
    zone: Rect | None = None  # drawn in red when set

    @abstractmethod
    def sample_blocks(self, num_blocks: int, rng: np.random.Generator) -> np.ndarray:
        """Initial block poses, (num_blocks, 3) rows of (x, y, angle)."""

    @abstractmethod
    def preference_penalty(self, world: World) -> tuple[float, bool]:
        """(penalty >= 0 subtracted from the task reward, whether the preference is violated)."""

    def evaluate(self, world: World) -> dict[str, Any]:
        """The per-step info: ``success``, ``task_reward``, ``pref_score``, ``violation``."""
        reward = task_reward(world)
        penalty, violation = self.preference_penalty(world)
        return {
            "success": bool(blocks_in_goal(world).all()),
            "task_reward": reward,
            "pref_score": reward - penalty,
            "violation": bool(violation),
        }


class PushTask(Task):
    name = "push"

    def sample_blocks(self, num_blocks: int, rng: np.random.Generator) -> np.ndarray:
        return scattered_blocks(num_blocks, rng)

    def preference_penalty(self, world: World) -> tuple[float, bool]:
        return 0.0, False


class AvoidTask(PushTask):
    """``zone_penalty``: what each object in the zone costs per step, i.e. how strongly
    the person cares. At the default 1.0 a long detour around the zone can cost about
    as much task reward as a short crossing, so whole-episode preferences are mixed; a
    person for whom the zone is a hard rule is better modelled by 5 or more."""

    name = "avoid"
    zone = ZONE

    def __init__(self, zone_penalty: float = ZONE_PENALTY) -> None:
        self.zone_penalty = _check_penalty("zone_penalty", zone_penalty)

    def preference_penalty(self, world: World) -> tuple[float, bool]:
        inside = objects_in_zone(world, ZONE)
        return self.zone_penalty * inside, inside > 0


class GroupTask(Task):
    """``group_penalty``: what each unit of spread beyond ``GROUP_THRESHOLD`` costs per
    step; ``step_penalty``: what each step with any spread beyond it costs on top.

    At the defaults (2.0, 0.0) the person prefers the fast expert that spreads the
    blocks (about 40 steps, penalty ~4.5 per episode) to the one that keeps them
    together (about 60 steps, ~9 more task reward lost), and a step barely beyond the
    threshold costs next to nothing. A person for whom "together" is a rule, as the
    honoured rate counts it, is better modelled with a step penalty too: with 10 and 2
    the summed score ranks successful episodes that never spread above those that do
    with an AUC of 0.98-0.99 (0.56-0.61 at the defaults; docs/benchmarks-alignment.md).
    """

    name = "group"

    def __init__(self, group_penalty: float = GROUP_PENALTY, step_penalty: float = 0.0) -> None:
        self.group_penalty = _check_penalty("group_penalty", group_penalty)
        self.step_penalty = _check_penalty("group_step_penalty", step_penalty)

    def sample_blocks(self, num_blocks: int, rng: np.random.Generator) -> np.ndarray:
        return clustered_blocks(num_blocks, rng)

    def preference_penalty(self, world: World) -> tuple[float, bool]:
        excess = block_spread(world) - GROUP_THRESHOLD
        violated = excess > 0
        return self.group_penalty * max(excess, 0.0) + self.step_penalty * violated, violated


TASKS: dict[str, type[Task]] = {"push": PushTask, "avoid": AvoidTask, "group": GroupTask}


def make_task(name: str, zone_penalty: float | None = None, group_penalty: float | None = None,
              group_step_penalty: float | None = None) -> Task:
    """The task called ``name``; an unknown name fails with the valid choices.
    ``zone_penalty`` (avoid only) overrides ``ZONE_PENALTY``; ``group_penalty`` and
    ``group_step_penalty`` (group only) override ``GROUP_PENALTY`` and 0."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    given = {"zone_penalty": (zone_penalty, "avoid"), "group_penalty": (group_penalty, "group"),
             "group_step_penalty": (group_step_penalty, "group")}
    for key, (value, task) in given.items():
        if value is not None and name != task:
            raise ValueError(f"{key} applies to the {task} task only, not {name!r}")
    if name == "avoid" and zone_penalty is not None:
        return AvoidTask(zone_penalty)
    if name == "group" and (group_penalty is not None or group_step_penalty is not None):
        return GroupTask(GROUP_PENALTY if group_penalty is None else group_penalty,
                         0.0 if group_step_penalty is None else group_step_penalty)
    return TASKS[name]()
