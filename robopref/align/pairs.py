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
    same_start: bool = False,
    contrast: float | None = None,
) -> list[WeightedPair]:
    """Rank random segment pairs of rollouts by the learned return (μ − κσ for a Gaussian
    reward; trajectory or visual reward); the higher one wins. Pairs whose predicted
    returns differ by less than ``min_gap`` are dropped. ``length=0`` takes whole episodes.

    ``same_start=True`` (whole episodes only) compares only rollouts that began in the
    same initial state (demo attribute ``seed``, see ``robopref collect repeats=``): the
    two chunks of a DPO pair then differ by the policy's choice, not by the situation.

    ``contrast=q`` (whole episodes only) pairs a rollout from the top fraction q of learned
    returns with one from the bottom fraction q: every pair then contrasts clearly good
    with clearly bad behaviour, instead of two middling rollouts the reward barely tells
    apart (see docs/benchmarks-alignment.md for what each choice gave on push2d avoid).
    """
    if same_start and contrast is not None:
        raise ValueError("same_start and contrast are two ways of choosing pairs; set one of them")
    if same_start:
        return _same_start_pairs(model, pool, datasets, n, rng, kappa, min_gap)
    if contrast is not None:
        return _contrast_pairs(model, pool, datasets, n, rng, kappa, contrast)
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


def _same_start_pairs(model: RewardModel, pool: DatasetPool, datasets: Sequence[str], n: int, rng: np.random.Generator,
                      kappa: float | None, min_gap: float) -> list[WeightedPair]:
    """Every (higher, lower) pair of whole rollouts from one initial state, ``n`` of them at random."""
    groups: dict[tuple[str, int], list[SegmentRef]] = {}
    for d in datasets:
        ds = pool.get(d)
        for ref in whole_episodes(ds):
            groups.setdefault((d, int(ds.demo_attrs(ref.demo).get("seed", -1))), []).append(ref)
    groups = {k: v for k, v in groups.items() if len(v) > 1 and k[1] >= 0}
    if not groups:
        raise ValueError(f"same_start=true: no initial state was rolled out twice in {list(datasets)}; record rollouts with `robopref collect repeats=2` or more")
    out: list[WeightedPair] = []
    for refs in groups.values():
        r = segment_returns(model, pool, refs, kappa)
        out += [(refs[i], refs[j], 1.0) if r[i] > r[j] else (refs[j], refs[i], 1.0)
                for i in range(len(refs)) for j in range(i + 1, len(refs)) if abs(r[i] - r[j]) > min_gap]
    if len(out) > n:
        out = [out[i] for i in sorted(rng.choice(len(out), size=n, replace=False))]
    return out


def _contrast_pairs(model: RewardModel, pool: DatasetPool, datasets: Sequence[str], n: int, rng: np.random.Generator,
                    kappa: float | None, fraction: float) -> list[WeightedPair]:
    """``n`` random (top-fraction rollout, bottom-fraction rollout) pairs by learned return."""
    if not 0 < fraction <= 0.5:
        raise ValueError(f"contrast={fraction}: expected a fraction in (0, 0.5] of the rollouts at each end of the ranking")
    refs = [r for d in datasets for r in whole_episodes(pool.get(d))]
    k = int(len(refs) * fraction)
    if k < 1:
        raise ValueError(f"contrast={fraction} of {len(refs)} rollouts leaves none at either end; record more rollouts or raise contrast")
    order = np.argsort(segment_returns(model, pool, refs, kappa), kind="stable")
    low, high = [refs[i] for i in order[:k]], [refs[i] for i in order[-k:]]
    return [(high[int(rng.integers(k))], low[int(rng.integers(k))], 1.0) for _ in range(n)]
