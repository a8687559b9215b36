"""What a trajectory's sequence holds for transfer: named feature blocks.

A task's trajectories are read as one or more *blocks*, each a list of (T_i, D_b)
arrays with one array per trajectory (the blocks of one trajectory share its T_i):

- ``states``: the low-dimensional observation keys, concatenated;
- ``actions``: the action;
- ``action_deltas``: the step-to-step change of the action (0 at the first step). An
  expert's action noise shows up here as jitter, whatever the layout of the scene;
- ``abs_action_deltas``: its absolute value, per action dimension: how much the action
  jitters, not which way. Two trajectories with the same noise level have independent
  signed deltas, far apart in a time-aligned distance (about √2 × the noise), but
  similar absolute ones. In place of ``action_deltas`` it transferred 0.3 points worse to
  1.9 better with entropic GW on the benchmark pairs (better on 15 of 18), but made the quantized solver fall
  into mirror matchings (docs/benchmarks-transfer.md, session 5), so it is not the default;
- ``state_action``: observations and action as one block (the original recipe).

``features`` names the blocks joined by ``+`` (``states+actions+action_deltas``, the
default) or is one of the single-block names above. With more than one block every block
gets the same weight in the distances (:mod:`robopref.transfer.alignment`), so a 39-D
state does not drown a 4-D action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

BLOCKS = ("states", "actions", "action_deltas", "abs_action_deltas", "state_action")
DEFAULT_FEATURES = "states+actions+action_deltas"
RESTING_BLOCKS = ("actions", "action_deltas", "abs_action_deltas")  # zero after an episode ends: the robot rests


def parse_features(features: str) -> tuple[str, ...]:
    """Block names of a ``features`` spec (``+``-joined, no repeats; ``state_action`` alone)."""
    names = tuple(part.strip() for part in str(features).split("+"))
    bad = [n for n in names if n not in BLOCKS]
    if bad or not names:
        raise ValueError(f"features={features!r}: unknown block(s) {bad}; expected block names from {', '.join(BLOCKS)} joined by '+', e.g. {DEFAULT_FEATURES}")
    if len(set(names)) != len(names):
        raise ValueError(f"features={features!r}: a block is named twice")
    if "state_action" in names and len(names) > 1:
        raise ValueError(f"features={features!r}: state_action already holds states and actions; use states+actions to weigh them as blocks")
    return names


def action_deltas(actions: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Step-to-step change of each (T, D) action sequence, 0 at the first step."""
    return [np.diff(np.asarray(a, dtype=np.float64), axis=0, prepend=np.asarray(a, dtype=np.float64)[:1]) for a in actions]


@dataclass
class TaskSequences:
    """One task's trajectories as named feature blocks (see the module doc).

    Behaves like a sequence of trajectories for ``len`` and for subsets
    (``task[:100]``, ``task[[3, 1, 2]]``, a boolean mask); a plain list of (T_i, D) arrays is accepted
    wherever a ``TaskSequences`` is, as a single block.
    """

    blocks: dict[str, list[np.ndarray]]

    def __post_init__(self) -> None:
        if not self.blocks:
            raise ValueError("TaskSequences needs at least one feature block")
        bad = [name for name in self.blocks if name not in BLOCKS]
        if bad:
            raise ValueError(f"unknown feature block(s) {bad}: expected names from {', '.join(BLOCKS)}")
        counts = {name: len(seqs) for name, seqs in self.blocks.items()}
        if len(set(counts.values())) != 1:
            raise ValueError(f"every feature block needs one sequence per trajectory, got {counts}")
        steps = [tuple(len(s) for s in seqs) for seqs in self.blocks.values()]
        if any(s != steps[0] for s in steps):
            raise ValueError(f"the blocks {list(self.blocks)} of a trajectory must have the same number of steps")

    def __len__(self) -> int:
        return len(next(iter(self.blocks.values())))

    def __getitem__(self, index: slice | Sequence[int] | np.ndarray) -> "TaskSequences":
        if isinstance(index, (int, np.integer)):
            raise TypeError("TaskSequences[i] would mix blocks: index with a slice or a list of indices, or read .blocks[name][i]")
        if isinstance(index, slice):
            picked = range(len(self))[index]
        else:
            picked = np.asarray(index)
            picked = np.flatnonzero(picked) if picked.dtype == bool else picked.astype(np.int64)
        return TaskSequences({name: [seqs[i] for i in picked] for name, seqs in self.blocks.items()})


Trajectories = TaskSequences | Sequence[np.ndarray]


def as_blocks(sequences: Trajectories) -> dict[str, list[np.ndarray]]:
    """The blocks of ``sequences``; a plain list of arrays is one ``state_action`` block."""
    if isinstance(sequences, TaskSequences):
        return sequences.blocks
    return {"state_action": list(sequences)}
