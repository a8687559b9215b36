"""One task's trajectories on a common time axis and scale: (N, L, D) aligned sequences.

Every distance and solver of :mod:`robopref.transfer` starts from these. Per feature
block (:mod:`robopref.transfer.features`), and per task, never across tasks:

1. **time** (``absolute``, the default): trajectories shorter than the task's longest are
   padded to its length as if the episode went on at rest: the last state is held and
   the action blocks are 0 (a plain list of arrays holds its last row). An episode that
   ends early (success) then differs from one that runs to the time limit, which
   ``normalised`` time (each trajectory stretched over [0, 1]) hides. On tasks whose
   episodes all have one length the two are the same.
2. **normalise**: z-score every feature over all steps of the task's trajectories;
3. **resample** each trajectory by linear interpolation to ``length`` steps;
4. **balance** (more than one block): each block is divided by its root-mean-square
   distance between trajectories, so every block adds the same mean square to the
   distances whatever its number of features; the blocks are then concatenated.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from robopref.transfer.features import RESTING_BLOCKS, Trajectories, as_blocks

TIMES = ("absolute", "normalised")


def check_time(time: str) -> str:
    """``time`` if it is a known time axis, else a ValueError naming it."""
    if time not in TIMES:
        raise ValueError(f"time={time!r}: expected one of {', '.join(TIMES)}")
    return time


def normalise_task(sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Z-score every feature over all steps of all ``sequences`` of one task.

    Constant features get std 1 (they stay at 0), so they add nothing to distances.
    """
    if not sequences:
        raise ValueError("no trajectories: a task needs at least one state-action sequence")
    dims = {np.asarray(s).shape[1] for s in sequences}
    if len(dims) != 1:
        raise ValueError(f"trajectories of one task must share their feature dimension, got {sorted(dims)}")
    steps = np.concatenate([np.asarray(s, dtype=np.float64) for s in sequences])
    mean, std = steps.mean(0), steps.std(0)
    std[std < 1e-8] = 1.0
    return [(np.asarray(s, dtype=np.float64) - mean) / std for s in sequences]


def resample(sequence: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of a (T, D) sequence to (length, D) over normalised time [0, 1]."""
    seq = np.asarray(sequence, dtype=np.float64)
    if len(seq) == 0:
        raise ValueError("cannot resample an empty trajectory")
    if len(seq) == 1:
        return np.repeat(seq, length, axis=0)
    src = np.linspace(0.0, 1.0, len(seq))
    dst = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(dst, src, seq[:, d]) for d in range(seq.shape[1])], axis=1)


def pad_to_longest(sequences: Sequence[np.ndarray], resting: bool = False) -> list[np.ndarray]:
    """Each (T_i, D) sequence extended to the longest T: its last row held, or zeros when
    ``resting`` (an action block after the episode ended)."""
    if any(len(s) == 0 for s in sequences):
        raise ValueError("cannot pad an empty trajectory")
    longest = max(len(s) for s in sequences)
    out = []
    for s in sequences:
        s = np.asarray(s, dtype=np.float64)
        tail = np.zeros((longest - len(s), s.shape[1])) if resting else np.repeat(s[-1:], longest - len(s), axis=0)
        out.append(np.concatenate([s, tail]) if len(tail) else s)
    return out


def rms_distance(aligned: np.ndarray) -> float:
    """Root-mean-square per-step Euclidean distance over all ordered pairs of (N, L, D)
    sequences: mean ‖x_i − x_k‖² = 2 × total variance, so O(N L D), no N×N matrix."""
    flat = aligned.reshape(len(aligned), -1)
    return float(np.sqrt(2.0 * flat.var(0).sum() / aligned.shape[1]))


def aligned_blocks(sequences: Trajectories, length: int = 50, time: str = "absolute") -> list[np.ndarray]:
    """Steps 1–3 of the module doc for each feature block on its own: one (N, length, D_b)
    array per block, padded (``time``), normalised and resampled, not yet balanced."""
    check_time(time)
    parts = []
    for name, seqs in as_blocks(sequences).items():
        if time == "absolute":
            seqs = pad_to_longest(seqs, resting=name in RESTING_BLOCKS) if seqs else seqs
        parts.append(np.stack([resample(s, length) for s in normalise_task(seqs)]))
    return parts


def balanced(blocks: list[np.ndarray]) -> np.ndarray:
    """Step 4: with more than one block, each divided by its :func:`rms_distance`; the
    blocks concatenated along the feature axis."""
    if len(blocks) > 1:
        blocks = [b / scale if (scale := rms_distance(b)) > 0 else b for b in blocks]
    return np.concatenate(blocks, axis=2)


def aligned_sequences(sequences: Trajectories, length: int = 50, time: str = "absolute") -> np.ndarray:
    """One task's trajectories padded (``time``), normalised, resampled to ``length`` steps
    and block-balanced, as (N, length, D); see the module doc."""
    return balanced(aligned_blocks(sequences, length, time))
