"""Query selection: which candidate pairs to ask about next.

``uniform`` picks at random; ``disagreement`` picks the pairs where the ensemble
members disagree most about P(σ0 ≻ σ1) (variance across members); ``entropy`` picks
the pairs whose mean prediction is closest to a coin flip. Both need a reward
ensemble; as in B-Pref, scoring runs on a random pool of ``oversample`` × n candidates.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from robopref.teachers.rules import SELECTION_RULES


def disagreement_scores(member_probs: torch.Tensor | np.ndarray) -> np.ndarray:
    """Variance across members of P(σ0 ≻ σ1): (K, N) → (N,)."""
    p = np.asarray(member_probs, dtype=np.float64)
    return p.var(axis=0)


def entropy_scores(member_probs: torch.Tensor | np.ndarray) -> np.ndarray:
    """Binary entropy (nats) of the mean prediction: (K, N) → (N,)."""
    p = np.clip(np.asarray(member_probs, dtype=np.float64).mean(axis=0), 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def select(
    n_candidates: int,
    n: int,
    rule: str,
    rng: np.random.Generator,
    member_probs: Callable[[np.ndarray], torch.Tensor | np.ndarray] | None = None,
    oversample: int = 10,
) -> np.ndarray:
    """Indices of ``n`` candidates chosen by ``rule``.

    ``member_probs(indices)`` returns the (K, len(indices)) ensemble predictions for
    those candidates; it is required by the model-based rules.
    """
    if rule not in SELECTION_RULES:
        raise ValueError(f"selection={rule!r}: expected one of {list(SELECTION_RULES)}")
    n = min(n, n_candidates)
    if rule == "uniform":
        return rng.choice(n_candidates, size=n, replace=False)
    if member_probs is None:
        raise ValueError(f"selection={rule!r} needs a reward ensemble to score candidates (train one first, or use selection=uniform)")
    pool = rng.choice(n_candidates, size=min(n_candidates, n * oversample), replace=False)
    probs = member_probs(pool)
    scores = disagreement_scores(probs) if rule == "disagreement" else entropy_scores(probs)
    return pool[np.argsort(-scores, kind="stable")[:n]]
