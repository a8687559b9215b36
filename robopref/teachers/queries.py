"""Build candidate queries over datasets and pick the ones to ask, by a selection rule."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from robopref.data.pool import DatasetPool
from robopref.data.sampling import held_out_demos, sample_pairs, sample_segments, whole_episodes
from robopref.data.segments import SegmentRef
from robopref.rewards.model import TrajectoryRewardModel
from robopref.teachers.selection import select


def candidate_queries(
    pool: DatasetPool, datasets: Sequence[str], length: int, n: int, rng: np.random.Generator, k: int = 2, holdout: float = 0.0
) -> list[tuple[SegmentRef, ...]]:
    """``n`` random queries of ``k`` segments of ``length`` steps drawn over ``datasets``
    (segments spread over datasets in proportion to their number of windows);
    ``length=0`` makes every segment a whole episode (video-level queries). The episodes
    :func:`held_out_demos` picks for ``holdout`` are never drawn."""
    segs: list[SegmentRef] = []
    per = max(k, int(np.ceil(2 * n * k / len(datasets))))
    for path in datasets:
        ds = pool.get(path)
        kept = set(held_out_demos(ds, holdout))
        demos = [d for d in ds.demos if d not in kept]
        if not demos:
            raise ValueError(f"{path}: holdout={holdout} keeps all {len(kept)} episodes out of labelling; lower it")
        segs += whole_episodes(ds, demos) if length == 0 else sample_segments(ds, length, per, rng, demos=demos)
    return sample_pairs(segs, n, rng, k=k)


def ensemble_probs(model: TrajectoryRewardModel, pool: DatasetPool, candidates: Sequence[tuple[SegmentRef, ...]]):
    """A ``member_probs(indices)`` callable for :func:`select` over pair candidates."""

    def probs(idx: np.ndarray) -> torch.Tensor:
        x0 = torch.from_numpy(np.stack([model.spec.segment(pool, candidates[i][0]) for i in idx]))
        x1 = torch.from_numpy(np.stack([model.spec.segment(pool, candidates[i][1]) for i in idx]))
        ones = torch.ones(x0.shape[:2])
        return model.member_probs(x0, ones, x1, ones)

    return probs


def choose_queries(
    pool: DatasetPool,
    datasets: Sequence[str],
    n: int,
    length: int,
    rule: str,
    rng: np.random.Generator,
    model: TrajectoryRewardModel | None = None,
    k: int = 2,
    oversample: int = 10,
    holdout: float = 0.0,
) -> list[tuple[SegmentRef, ...]]:
    """``n`` queries picked by ``rule`` from ``n × oversample`` random candidates, none from
    the episodes ``holdout`` keeps out (:func:`robopref.data.sampling.held_out_demos`)."""
    if rule != "uniform" and k != 2:
        raise ValueError(f"selection={rule!r} scores pairs; use selection=uniform for triplet queries")
    cands = candidate_queries(pool, datasets, length, n * (oversample if rule != "uniform" else 1), rng, k, holdout)
    member_probs = ensemble_probs(model, pool, cands) if model is not None else None
    picked = select(len(cands), n, rule, rng, member_probs, oversample=1)
    return [cands[i] for i in picked]
