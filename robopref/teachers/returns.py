"""Ground-truth segment returns: what scripted teachers and evaluation compare."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef


def signal_key(signal: str) -> str:
    """Dataset key of a ground-truth signal: ``rewards`` or ``infos/<signal>``."""
    return "rewards" if signal in ("reward", "rewards") else f"infos/{signal}"


def step_signals(pool: DatasetPool, refs: Sequence[SegmentRef], signal: str = "pref_score") -> list[np.ndarray]:
    """Per-step ground-truth values of each segment (segments may differ in length)."""
    key = signal_key(signal)
    return [np.asarray(pool.read(r, key), dtype=np.float64) for r in refs]


def discounted_return(values: np.ndarray, gamma: float | None = None) -> float:
    """Sum of ``values``; with ``gamma``, the myopic sum Σ γ^(H-1-t) r_t that weighs
    later steps more (B-Pref's myopic teacher remembers the end of a clip best)."""
    values = np.asarray(values, dtype=np.float64)
    if gamma is None or gamma == 1.0:
        return float(values.sum())
    weights = gamma ** np.arange(len(values) - 1, -1, -1, dtype=np.float64)
    return float((weights * values).sum())


def segment_returns(pool: DatasetPool, refs: Sequence[SegmentRef], signal: str = "pref_score", gamma: float | None = None) -> np.ndarray:
    """Return of each segment under ``signal`` (``pref_score``, ``task_reward``, ``rewards``)."""
    return np.array([discounted_return(v, gamma) for v in step_signals(pool, refs, signal)])
