"""The numbers the report shows, read from the steps' outputs or computed on rollouts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from scipy.stats import spearmanr

from robopref.data.pool import DatasetPool
from robopref.data.sampling import whole_episodes
from robopref.rewards.loading import load_reward, segment_returns
from robopref.teachers import segment_returns as true_returns


@dataclass(frozen=True)
class Rate:
    """A rate with its 95% interval and the number of episodes behind it."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{100 * self.mean:.0f}% [{100 * self.low:.0f}, {100 * self.high:.0f}]"


def rate(metrics: Mapping[str, Any], key: str, complement: bool = False) -> Rate | None:
    """``metrics[key]`` (an evaluation Estimate dict) as a Rate; ``complement`` gives 1 − rate
    (the share of episodes that honour the preference from the violation rate)."""
    m = metrics.get(key)
    if not m:
        return None
    if complement:
        return Rate(1 - m["mean"], 1 - m["high"], 1 - m["low"], int(m["n"]))
    return Rate(m["mean"], m["low"], m["high"], int(m["n"]))


def policy_rates(evaluation: Mapping[str, Any]) -> tuple[Rate | None, Rate | None, float | None]:
    """(success, honours the preference, mean preference return) of one evaluation."""
    m = evaluation.get("metrics", {})
    pref = m.get("pref_return", {}).get("mean") if m.get("pref_return") else None
    return rate(m, "success"), rate(m, "violation", complement=True), pref


def reward_vs_truth(checkpoint: str, dataset: str, signal: str = "pref_score") -> tuple[np.ndarray, np.ndarray, float]:
    """(true return, learned return, Spearman ρ) over the whole episodes of ``dataset``."""
    pool = DatasetPool()
    refs = whole_episodes(pool.get(dataset))
    truth = true_returns(pool, refs, signal)
    learned = segment_returns(load_reward(checkpoint), pool, refs)
    rho = float(spearmanr(truth, learned).statistic) if len(refs) > 2 and np.ptp(learned) > 0 else float("nan")
    return truth, learned, rho
