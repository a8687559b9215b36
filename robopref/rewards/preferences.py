"""Turn stored labels into training tensors for trajectory rewards.

Every effective label becomes one or more *comparisons* (σ0, σ1, y, w): y is the soft
probability that σ0 is preferred (equal → 0.5), w the label's confidence. A triplet
ranking (a, b, c) yields the three pairs it implies. Skips are dropped. Segments of
different lengths are padded and masked, so sums over steps ignore the padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef
from robopref.prefs import Label, PreferenceStore, Query
from robopref.rewards.features import FeatureSpec


@dataclass(frozen=True)
class Comparison:
    """One training comparison: P(first ≻ second) = ``y`` with weight ``w``."""

    first: SegmentRef
    second: SegmentRef
    y: float
    w: float = 1.0
    label_id: int | None = None


def comparisons_from_label(query: Query, label: Label) -> list[Comparison]:
    """The comparisons a label implies (none for skip/retract)."""
    if label.kind in ("skip", "retract"):
        return []
    segs = query.segments
    if label.ranking is not None:
        order = label.ranking
        return [Comparison(segs[order[i]], segs[order[j]], 1.0, label.confidence, label.id) for i in range(3) for j in range(i + 1, 3)]
    if label.value is None:
        return []
    return [Comparison(segs[0], segs[1], float(label.value), label.confidence, label.id)]


def comparisons_from_store(store: PreferenceStore, sources: Sequence[str] | None = None, annotator: str | None = None) -> list[Comparison]:
    """All comparisons implied by the store's effective labels (optionally by source)."""
    queries = {q.id: q for q in store.queries()}
    out: list[Comparison] = []
    for src in sources or [None]:
        for label in store.labels(source=src, annotator=annotator):
            out.extend(comparisons_from_label(queries[label.query_id], label))
    return out


@dataclass
class ComparisonTensors:
    """Padded features of both sides of N comparisons."""

    x0: torch.Tensor  # (N, L, D)
    m0: torch.Tensor  # (N, L) 1 for real steps
    x1: torch.Tensor
    m1: torch.Tensor
    y: torch.Tensor  # (N,)
    w: torch.Tensor  # (N,)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, idx: torch.Tensor | np.ndarray) -> "ComparisonTensors":
        """Rows ``idx`` of every tensor."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        return ComparisonTensors(self.x0[idx], self.m0[idx], self.x1[idx], self.m1[idx], self.y[idx], self.w[idx])


def _pad(feats: list[np.ndarray], L: int) -> tuple[torch.Tensor, torch.Tensor]:
    D = feats[0].shape[1]
    x = np.zeros((len(feats), L, D), np.float32)
    m = np.zeros((len(feats), L), np.float32)
    for i, f in enumerate(feats):
        x[i, : len(f)] = f
        m[i, : len(f)] = 1.0
    return torch.from_numpy(x), torch.from_numpy(m)


def tensorize(comparisons: Sequence[Comparison], spec: FeatureSpec, pool: DatasetPool) -> ComparisonTensors:
    """Read and normalise the features of every segment (each distinct segment read once)."""
    if not comparisons:
        raise ValueError("no usable labels: every label was a skip/retract, or the store has none for these sources")
    cache: dict[SegmentRef, np.ndarray] = {}

    def feat(ref: SegmentRef) -> np.ndarray:
        if ref not in cache:
            cache[ref] = spec.segment(pool, ref)
        return cache[ref]

    f0 = [feat(c.first) for c in comparisons]
    f1 = [feat(c.second) for c in comparisons]
    L = max(len(f) for f in f0 + f1)
    x0, m0 = _pad(f0, L)
    x1, m1 = _pad(f1, L)
    y = torch.tensor([c.y for c in comparisons], dtype=torch.float32)
    w = torch.tensor([c.w for c in comparisons], dtype=torch.float32)
    return ComparisonTensors(x0, m0, x1, m1, y, w)


def datasets_of(comparisons: Iterable[Comparison]) -> list[str]:
    """Distinct dataset paths the comparisons refer to, in first-seen order."""
    seen: dict[str, None] = {}
    for c in comparisons:
        seen.setdefault(c.first.dataset)
        seen.setdefault(c.second.dataset)
    return list(seen)
