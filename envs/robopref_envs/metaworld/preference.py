"""What a person prefers in a Meta-World task beyond success (``make_env(preference=...)``).

Meta-World defines only the task reward. A preference adds a rule about *how* the task
is done, which the person checks at every step from the hand position:

- ``cross_high`` (reach-v3): the hand starts at y = 0.6 m and every goal lies beyond
  y = 0.8 m. Across the table between them runs a strip, ``CROSS_BAND`` = 0.70–0.76 m
  in y over the whole width, that the person wants crossed high: a step with the hand
  inside the strip below ``CROSS_HEIGHT`` = 0.30 m breaks the rule. (Think of a cable
  or a shelf edge the arm must be lifted over.) Meta-World's scripted reach policy
  moves straight to the goal and never rises above the goal's height (at most 0.3 m),
  so it breaks the rule on every episode; :class:`CrossHighReachPolicy` lifts the hand
  to ``SAFE_HEIGHT`` before the strip, crosses, then descends to the goal. Every goal
  reach-v3 samples (x in [-0.1, 0.1], y in [0.8, 0.9], z in [0.05, 0.3]) lies beyond
  the strip and the arm reaches z = 0.5, so the rule can always be kept.

Each rule-breaking step costs the person ``penalty`` (default ``DEFAULT_PENALTY`` = 50):
``pref_score`` = task reward − penalty · violation. The task reward is at most 10 per
step. Over 120 steps, the clean aligned expert's task return is 786–1,015 and Meta-World's
policy's 997–1,083 with 7–15 steps in the strip (50 goals), so at 50 every clean episode
that breaks the rule (pref. return 332–667) is worse to the person than every clean one
that keeps it, and still better than standing still (150–204): the person wants the
rule kept, but not at the price of the task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

CROSS_BAND = (0.70, 0.76)  # y range (m) of the strip to cross high
CROSS_HEIGHT = 0.30  # m: below this, the hand inside the strip breaks the rule
SAFE_HEIGHT = 0.34  # m: the aligned expert's crossing height (a 4 cm margin for noise)
DEFAULT_PENALTY = 50.0
GAIN = 10.0  # action per metre to the waypoint (metaworld's reach policy uses 5; 10 keeps the detour short)


class Preference(ABC):
    """A person's rule on top of a task's success; ``tasks`` lists the tasks it is defined for."""

    name: str
    tasks: Sequence[str]

    def __init__(self, penalty: float = DEFAULT_PENALTY) -> None:
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float, np.integer, np.floating)) or not np.isfinite(penalty) or penalty < 0:
            raise ValueError(f"Meta-World preference_penalty must be a finite number >= 0, got {penalty!r}")
        self.penalty = float(penalty)

    @abstractmethod
    def violated(self, state: np.ndarray) -> bool:
        """Whether the observed ``state`` (39,) breaks the rule."""

    def evaluate(self, state: np.ndarray, task_reward: float) -> dict[str, float | bool]:
        """The info entries of one step: ``pref_score`` and ``violation``."""
        violation = self.violated(state)
        return {"pref_score": float(task_reward) - self.penalty * violation, "violation": bool(violation)}

    @abstractmethod
    def aligned_action(self, state: np.ndarray) -> np.ndarray:
        """The clean action (4,) of a scripted expert that keeps the rule and does the task."""


def in_band(y: float) -> bool:
    return CROSS_BAND[0] <= y <= CROSS_BAND[1]


class CrossHigh(Preference):
    """reach-v3: cross the strip ``CROSS_BAND`` with the hand at or above ``CROSS_HEIGHT``."""

    name = "cross_high"
    tasks = ("reach-v3",)

    def violated(self, state: np.ndarray) -> bool:
        _, y, z = np.asarray(state, dtype=np.float64)[:3]
        return bool(in_band(y) and z < CROSS_HEIGHT)

    def waypoint(self, state: np.ndarray) -> np.ndarray:
        """Where the aligned expert heads from ``state``: up before the strip, over it, then to the goal."""
        state = np.asarray(state, dtype=np.float64)
        hand, goal = state[:3], state[-3:]
        lo, hi = CROSS_BAND
        if hand[1] > hi + 0.015:  # past the strip (goals are at y >= 0.8): straight to the goal
            return goal.copy()
        if hand[2] >= CROSS_HEIGHT + 0.02 or hand[1] > hi:  # high enough: cross toward the goal at the safe height
            return np.array([goal[0], goal[1], SAFE_HEIGHT])
        if hand[1] < lo:  # before the strip and low: rise, closing in on the strip's near edge
            return np.array([goal[0], lo - 0.03, SAFE_HEIGHT])
        return np.array([hand[0], hand[1], SAFE_HEIGHT])  # inside the strip and low (noise): straight up

    def aligned_action(self, state: np.ndarray) -> np.ndarray:
        hand = np.asarray(state, dtype=np.float64)[:3]
        move = np.clip(GAIN * (self.waypoint(state) - hand), -1.0, 1.0)
        return np.append(move, 0.0)  # gripper open, as the reach policy


PREFERENCES: dict[str, type[Preference]] = {"cross_high": CrossHigh}


def make_preference(name: str | None, task: str, penalty: float = DEFAULT_PENALTY) -> Preference | None:
    """The preference ``name`` for ``task`` (None: the task reward only); a name that is
    unknown or not defined for ``task`` fails with the valid choices."""
    if name is None:
        return None
    if name not in PREFERENCES:
        raise ValueError(f"unknown Meta-World preference {name!r}; choose null or one of {sorted(PREFERENCES)}")
    cls = PREFERENCES[name]
    if task not in cls.tasks:
        raise ValueError(f"Meta-World preference {name!r} is defined for {list(cls.tasks)} only, not {task!r}")
    return cls(penalty)
