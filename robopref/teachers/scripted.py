"""Scripted teachers from B-Pref (Lee et al. 2021): simulated people with known flaws.

One configurable teacher covers the six B-Pref behaviours; the presets in
:data:`TEACHER_PRESETS` name them. For a pair with ground-truth returns (R0, R1):

1. myopic: returns are Σ γ^(H-1-t) r_t, so later steps weigh more (γ < 1);
2. skip: if max(R0, R1) < skip threshold, the query is skipped;
3. equal: if |R0 - R1| < equal threshold, the answer is "equal" (0.5);
4. rationality: β = inf picks the better segment, finite β samples from the
   Bradley–Terry model P(σ0 ≻ σ1) = σ(β (R0 - R1));
5. mistake: the answer is flipped with probability ε.

Thresholds are absolute when given; otherwise they are set from the batch being
labelled, as B-Pref does relative to the average segment return: skip below the
``skip_quantile`` of the batch's returns, equal when |ΔR| is below ``equal_fraction``
× the standard deviation of the batch's returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np


@dataclass(frozen=True)
class TeacherAnswer:
    """What a teacher says about one query: a store label kind with its value or ranking."""

    kind: str  # "preference" | "equal" | "skip"
    value: float | None = None  # pairs: P(first ≻ second)
    ranking: tuple[int, ...] | None = None  # triplets: positions, best first


@dataclass(frozen=True)
class ScriptedTeacher:
    """A B-Pref teacher. ``beta=inf`` is perfectly rational; see the module docstring."""

    name: str = "oracle"
    beta: float = math.inf
    eps_mistake: float = 0.0
    gamma: float = 1.0
    skip_threshold: float | None = None
    skip_quantile: float | None = None
    equal_threshold: float | None = None
    equal_fraction: float | None = None

    def __post_init__(self) -> None:
        if not (self.beta > 0):
            raise ValueError(f"teacher {self.name}: beta must be > 0 (inf = rational), got {self.beta}")
        if not 0.0 <= self.eps_mistake <= 1.0:
            raise ValueError(f"teacher {self.name}: eps_mistake must be in [0, 1], got {self.eps_mistake}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"teacher {self.name}: gamma must be in (0, 1], got {self.gamma}")

    @property
    def annotator(self) -> str:
        """The annotator name written with its labels, e.g. ``scripted:mistake``."""
        return f"scripted:{self.name}"

    def thresholds(self, returns: np.ndarray) -> tuple[float, float]:
        """(skip, equal) thresholds for a batch of segment returns (N, k)."""
        flat = np.asarray(returns, dtype=np.float64).ravel()
        skip = -math.inf
        if self.skip_threshold is not None:
            skip = self.skip_threshold
        elif self.skip_quantile is not None:
            skip = float(np.quantile(flat, self.skip_quantile))
        equal = 0.0
        if self.equal_threshold is not None:
            equal = self.equal_threshold
        elif self.equal_fraction is not None:
            equal = float(self.equal_fraction * flat.std())
        return skip, equal

    def answer_batch(self, returns: np.ndarray, rng: np.random.Generator) -> list[TeacherAnswer]:
        """Answer N queries given their (already myopic-weighted) returns, shape (N, k), k = 2 or 3."""
        returns = np.asarray(returns, dtype=np.float64)
        if returns.ndim != 2 or returns.shape[1] not in (2, 3):
            raise ValueError(f"answer_batch expects returns of shape (N, 2) or (N, 3), got {returns.shape}")
        skip, equal = self.thresholds(returns)
        return [self._answer(r, skip, equal, rng) for r in returns]

    def _answer(self, r: np.ndarray, skip: float, equal: float, rng: np.random.Generator) -> TeacherAnswer:
        if r.max() < skip:
            return TeacherAnswer("skip")
        if len(r) == 2:
            return self._answer_pair(r, equal, rng)
        return TeacherAnswer("preference", ranking=self._rank(r, rng))

    def _answer_pair(self, r: np.ndarray, equal: float, rng: np.random.Generator) -> TeacherAnswer:
        diff = r[0] - r[1]
        if abs(diff) <= equal:
            return TeacherAnswer("equal", value=0.5)
        if math.isinf(self.beta):
            first = diff > 0
        else:
            p_first = 1.0 / (1.0 + math.exp(-float(np.clip(self.beta * diff, -700, 700))))
            first = rng.random() < p_first
        if self.eps_mistake and rng.random() < self.eps_mistake:
            first = not first
        return TeacherAnswer("preference", value=1.0 if first else 0.0)

    def _rank(self, r: np.ndarray, rng: np.random.Generator) -> tuple[int, ...]:
        """Rank a triplet: sorted for a rational teacher, Plackett–Luce sampling with β
        otherwise; a mistake swaps two random positions of the ranking."""
        if math.isinf(self.beta):
            order = list(np.argsort(-r, kind="stable"))
        else:
            remaining, order = list(range(len(r))), []
            while remaining:
                logits = self.beta * r[remaining]
                p = np.exp(logits - logits.max())
                pick = rng.choice(len(remaining), p=p / p.sum())
                order.append(remaining.pop(pick))
        if self.eps_mistake and rng.random() < self.eps_mistake:
            i, j = rng.choice(len(order), size=2, replace=False)
            order[i], order[j] = order[j], order[i]
        return tuple(int(i) for i in order)


TEACHER_PRESETS: dict[str, ScriptedTeacher] = {
    "oracle": ScriptedTeacher("oracle"),
    "noisy": ScriptedTeacher("noisy", beta=1.0),
    "mistake": ScriptedTeacher("mistake", eps_mistake=0.1),
    "myopic": ScriptedTeacher("myopic", gamma=0.9),
    "skip": ScriptedTeacher("skip", skip_quantile=0.1),
    "equal": ScriptedTeacher("equal", equal_fraction=0.1),
}


def make_teacher(name: str, /, **overrides: float | None) -> ScriptedTeacher:
    """A preset by name (``oracle``, ``noisy``, ``mistake``, ``myopic``, ``skip``,
    ``equal``) with some parameters overridden (``None`` values are ignored)."""
    if name not in TEACHER_PRESETS:
        raise ValueError(f"teacher={name!r}: expected one of {sorted(TEACHER_PRESETS)}")
    known = {f.name for f in fields(ScriptedTeacher)} - {"name"}  # the preset names the teacher
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"teacher_params key(s) {unknown} not recognised; a scripted teacher takes {sorted(known)}")
    return replace(TEACHER_PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
