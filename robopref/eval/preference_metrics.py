"""How well a learned reward agrees with ground truth: accuracy, correlation, calibration."""

from __future__ import annotations

import numpy as np
from scipy import stats


def preference_accuracy(p_first: np.ndarray, y: np.ndarray) -> float:
    """Fraction of decided comparisons (y ≠ 0.5) where P(σ0 ≻ σ1) > 0.5 matches y > 0.5."""
    p_first, y = np.asarray(p_first, float), np.asarray(y, float)
    decided = y != 0.5
    if not decided.any():
        return float("nan")
    return float(((p_first > 0.5) == (y > 0.5))[decided].mean())


def return_correlations(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Spearman and Pearson correlation of predicted segment returns with ground truth."""
    predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
    if len(predicted) < 2 or np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return {"spearman": float("nan"), "pearson": float("nan")}
    return {"spearman": float(stats.spearmanr(predicted, truth).statistic), "pearson": float(stats.pearsonr(predicted, truth).statistic)}


def expected_calibration_error(p_first: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE of P(σ0 ≻ σ1) against hard outcomes y > 0.5, equal-width bins over [0, 1]:
    Σ_b (n_b / n) |mean(p in b) − frequency(σ0 ≻ σ1 in b)|; ties (y = 0.5) count as 0.5."""
    p, y = np.asarray(p_first, float), np.asarray(y, float)
    outcome = np.where(y == 0.5, 0.5, (y > 0.5).astype(float))
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(p[sel].mean() - outcome[sel].mean())
    return float(ece)
