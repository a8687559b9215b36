"""Score a trajectory reward on held-out segments against the dataset's ground truth."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from robopref.data.pool import DatasetPool
from robopref.data.sampling import sample_pairs, sample_segments
from robopref.eval.preference_metrics import expected_calibration_error, preference_accuracy, return_correlations
from robopref.rewards.model import TrajectoryRewardModel
from robopref.teachers.returns import segment_returns


def evaluate_reward(
    model: TrajectoryRewardModel,
    pool: DatasetPool,
    datasets: Sequence[str],
    length: int,
    rng: np.random.Generator,
    n_segments: int = 500,
    signal: str = "pref_score",
) -> dict[str, float]:
    """Spearman/Pearson of predicted vs true segment returns, and accuracy + ECE of
    P(σ0 ≻ σ1) on random pairs of those segments against the oracle."""
    segs = []
    for path in datasets:
        segs += sample_segments(pool.get(path), length, max(2, n_segments // len(datasets)), rng)
    segs = list(dict.fromkeys(segs))
    feats = np.stack([model.spec.segment(pool, s) for s in segs])
    mean, _ = model.predict_features(feats)
    pred = mean.sum(1)
    truth = segment_returns(pool, segs, signal)
    out = return_correlations(pred, truth)
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
    out["segments"] = float(len(segs))
    return out
