"""Score a trajectory reward on held-out segments against the dataset's ground truth."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Sequence

import numpy as np
import torch

from robopref.data.pool import DatasetPool
from robopref.data.sampling import sample_pairs, sample_segments
from robopref.data.segments import SegmentRef
from robopref.eval.preference_metrics import expected_calibration_error, preference_accuracy, return_correlations
from robopref.rewards.model import TrajectoryRewardModel
from robopref.teachers.returns import segment_returns

log = logging.getLogger(__name__)

MIN_HELDOUT_EPISODES = 5  # held-out segments must come from at least this many episodes (fewer: a ranking within a few episodes)
MIN_HELDOUT_WINDOWS = 50  # fewer disjoint windows than this: evaluate in-sample, and say so
CANDIDATES_PER_SEGMENT = 20  # windows drawn per wanted one when looking for label-free windows


def _distinct_windows(pool: DatasetPool, datasets: Sequence[str], length: int, per: int, rng: np.random.Generator,
                      demos: dict[str, list[str]] | None = None) -> list[SegmentRef]:
    """``per`` random windows drawn from each dataset (from its ``demos`` when given), repeats dropped."""
    return list(dict.fromkeys(s for d in datasets for s in sample_segments(pool.get(d), length, per, rng, demos=None if demos is None else demos[d])))


def heldout_segments(pool: DatasetPool, datasets: Sequence[str], length: int, n: int, rng: np.random.Generator,
                     labelled: Sequence[SegmentRef] | None) -> tuple[list[SegmentRef], str]:
    """Up to ``n`` distinct random windows of ``length`` steps that no label saw, and how
    they were held out.

    ``"episodes"``: from episodes no labelled segment touches (at least
    ``MIN_HELDOUT_EPISODES`` of them); ``"windows"``: windows that share no step with any
    labelled segment, at least ``MIN_HELDOUT_WINDOWS`` of them over at least
    ``MIN_HELDOUT_EPISODES`` episodes (labels usually cover every episode; such windows
    lean towards the parts of episodes the labels covered least); ``"none"``: the labels
    cover (nearly) every window, so the windows are random and the score is in-sample
    (a score over the windows of one or two episodes would rank within them, not say how
    well the reward ranks the data); ``"unknown"``:
    ``labelled`` is None (the caller did not say what the reward was trained on), random windows.
    """
    per = max(2, n // len(datasets))
    if labelled is None:
        return _distinct_windows(pool, datasets, length, per, rng), "unknown"
    touched = {(s.dataset, s.demo) for s in labelled}
    free = {d: [e for e in pool.get(d).demos if (d, e) not in touched and pool.get(d).num_samples(e) >= length] for d in datasets}
    if sum(len(v) for v in free.values()) >= MIN_HELDOUT_EPISODES:
        use = [d for d in datasets if free[d]]
        return _distinct_windows(pool, use, length, max(2, n // len(use)), rng, free)[:n], "episodes"
    candidates = _distinct_windows(pool, datasets, length, per * CANDIDATES_PER_SEGMENT, rng)
    spans: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for s in labelled:
        spans[(s.dataset, s.demo)].append((s.start, s.start + s.length))
    disjoint = [s for s in candidates if all(s.start + s.length <= a or b <= s.start for a, b in spans.get((s.dataset, s.demo), ()))]
    episodes = len({(s.dataset, s.demo) for s in disjoint})
    if len(disjoint) >= min(n, MIN_HELDOUT_WINDOWS) and episodes >= MIN_HELDOUT_EPISODES:
        return [disjoint[i] for i in sorted(rng.permutation(len(disjoint))[:n])], "windows"
    log.warning("the labels cover nearly every %d-step window of %s (%d of %d random windows are label-free, from %d episodes): "
                "the reward is scored in-sample; label part of the data only (label holdout=), or pass dataset= with episodes no "
                "label touched", length, list(datasets), len(disjoint), len(candidates), episodes)
    return [candidates[i] for i in sorted(rng.permutation(len(candidates))[:n])], "none"


def evaluate_reward(
    model: TrajectoryRewardModel,
    pool: DatasetPool,
    datasets: Sequence[str],
    length: int,
    rng: np.random.Generator,
    n_segments: int = 500,
    signal: str = "pref_score",
    labelled: Sequence[SegmentRef] | None = None,
) -> dict[str, Any]:
    """Spearman/Pearson of predicted vs true segment returns, and accuracy + ECE of
    P(σ0 ≻ σ1) on random pairs of those segments against the oracle.

    The segments are held out from ``labelled`` (the segments the reward was trained on)
    as :func:`heldout_segments` describes; ``heldout`` (bool) and ``split`` say how."""
    segs, split = heldout_segments(pool, datasets, length, n_segments, rng, labelled)
    feats = np.stack([model.spec.segment(pool, s) for s in segs])
    mean, _ = model.predict_features(feats)
    pred = mean.sum(1)
    truth = segment_returns(pool, segs, signal)
    out: dict[str, Any] = dict(return_correlations(pred, truth))
    index = {s: i for i, s in enumerate(segs)}
    pairs = sample_pairs(segs, len(segs), rng)
    i0 = np.array([index[a] for a, _ in pairs])
    i1 = np.array([index[b] for _, b in pairs])
    x = torch.from_numpy(feats)
    ones = torch.ones(len(pairs), feats.shape[1])
    p = model.member_probs(x[i0], ones, x[i1], ones).mean(0).numpy()
    y = np.where(truth[i0] == truth[i1], 0.5, (truth[i0] > truth[i1]).astype(float))
    out["accuracy"] = preference_accuracy(p, y)
    out["ece"] = expected_calibration_error(p, y)
    out["segments"] = len(segs)
    out["heldout"] = split in ("episodes", "windows")
    out["split"] = split
    return out
