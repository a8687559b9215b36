"""Means with 95% confidence intervals for per-episode evaluation metrics.

Success is a proportion: its interval is Wilson's score interval, which stays inside
[0, 1] and does not collapse to a point at 0% or 100% the way a t interval does.
Returns and other continuous metrics use Student's t interval (few episodes).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A sample mean with its confidence interval [low, high] and sample size n."""

    mean: float
    low: float
    high: float
    n: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Mean and Student-t interval: mean ± t_{(1+c)/2, n-1} · s / √n (s with ddof=1).

    One value gives a zero-width interval (nothing to estimate the spread from)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value")
    m = float(x.mean())
    if x.size == 1:
        return Estimate(m, m, m, 1, "t")
    from scipy.special import stdtrit  # Student-t quantile; lazy: worker processes never need it

    half = float(stdtrit(x.size - 1, (1 + confidence) / 2) * x.std(ddof=1) / math.sqrt(x.size))
    return Estimate(m, m - half, m + half, int(x.size), "t")


def proportion_ci(successes: Sequence[bool], confidence: float = 0.95) -> Estimate:
    """Success rate and Wilson score interval:
    (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)."""
    x = np.asarray(successes, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        raise ValueError("proportion_ci needs at least one outcome")
    p = float(x.mean())
    from scipy.special import ndtri  # standard normal quantile

    z = float(ndtri((1 + confidence) / 2))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n, "wilson")
