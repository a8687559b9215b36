"""Where DPO's (preferred, dispreferred) segment pairs come from: stored labels, or
rollouts ranked by a learned reward."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from robopref.data.pool import DatasetPool
from robopref.data.sampling import sample_pairs, sample_segments, whole_episodes
from robopref.data.segments import SegmentRef
from robopref.prefs import PreferenceStore
from robopref.rewards.loading import RewardModel, segment_returns
from robopref.rewards.preferences import comparisons_from_store

WeightedPair = tuple[SegmentRef, SegmentRef, float]


def pairs_from_labels(store: PreferenceStore, sources: Sequence[str] | None = None) -> list[WeightedPair]:
    """(winner, loser, weight) from effective labels; ties carry no preference and are
    dropped; weight = confidence × |2y − 1| so soft labels count less."""
    out: list[WeightedPair] = []
    for c in comparisons_from_store(store, sources):
        if c.y == 0.5:
            continue
        win, lose = (c.first, c.second) if c.y > 0.5 else (c.second, c.first)
        out.append((win, lose, c.w * abs(2 * c.y - 1)))
    return out


def pairs_from_reward(
    model: RewardModel,
    pool: DatasetPool,
    datasets: Sequence[str],
    n: int,
    length: int,
    rng: np.random.Generator,
    kappa: float | None = None,
    min_gap: float = 0.0,
) -> list[WeightedPair]:
    """Rank random segment pairs of rollouts by the learned return (μ − κσ for a Gaussian
    reward; trajectory or visual reward); the higher one wins. Pairs whose predicted
    returns differ by less than ``min_gap`` are dropped. ``length=0`` takes whole episodes."""
    segs: list[SegmentRef] = []
    for d in datasets:
        segs += whole_episodes(pool.get(d)) if length == 0 else sample_segments(pool.get(d), length, max(2, 2 * n // len(datasets)), rng)
    unique = list(dict.fromkeys(segs))
    returns = dict(zip(unique, segment_returns(model, pool, unique, kappa).tolist()))
    out: list[WeightedPair] = []
    for a, b in sample_pairs(list(returns), n, rng):
        gap = returns[a] - returns[b]
        if abs(gap) <= min_gap:
            continue
        out.append((a, b, 1.0) if gap > 0 else (b, a, 1.0))
    return out
