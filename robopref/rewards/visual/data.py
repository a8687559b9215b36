"""What the visual recipes read from the preference store and the datasets: ranked
triplets, whole-episode references, and unlabelled videos for pre-training."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from robopref.data.pool import DatasetPool
from robopref.data.sampling import whole_episodes
from robopref.data.segments import SegmentRef
from robopref.prefs import PreferenceStore
from robopref.rewards.preferences import Comparison
from robopref.rewards.visual.frames import read_video

log = logging.getLogger(__name__)

Triplet = tuple[SegmentRef, SegmentRef, SegmentRef]


def comparisons_with_frames(pool: DatasetPool, comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons whose two segments come from datasets that record camera frames.

    A store may also hold labels about low-dim episodes (a pipeline's person ranks the
    demonstrations too, and those are recorded without frames); a visual reward cannot
    read them, so they are left out, and the log says how many and from which datasets.
    """
    framed = {d: bool(pool.get(d).image_keys) for d in {r.dataset for c in comparisons for r in (c.first, c.second)}}
    kept = [c for c in comparisons if framed[c.first.dataset] and framed[c.second.dataset]]
    if len(kept) < len(comparisons):
        log.warning("visual reward: left out %d of %d comparisons about datasets without camera frames: %s",
                    len(comparisons) - len(kept), len(comparisons), sorted(d for d, ok in framed.items() if not ok))
    return kept


def ranked_triplets(store: PreferenceStore, comparisons: Sequence[Comparison]) -> list[Triplet]:
    """Triplet queries with a ranking label, each as its segments best-first.

    Only labels behind ``comparisons`` count, so the stage's ``sources=`` filter applies.
    """
    wanted = {c.label_id for c in comparisons if c.label_id is not None}
    queries = {q.id: q for q in store.queries(kind="triplet")}
    out: list[Triplet] = []
    for label in store.labels():
        if label.id in wanted and label.ranking is not None and label.query_id in queries:
            segs = queries[label.query_id].segments
            out.append(tuple(segs[i] for i in label.ranking))  # type: ignore[arg-type]
    return out


def preferred_videos(triplets: Sequence[Triplet], k: int) -> list[SegmentRef]:
    """The ``k`` most preferred labelled videos, by mean Borda points over their triplets
    (2 for ranked first, 1 second, 0 third; ties broken by more appearances, then first seen).

    Only ever-first videos qualify. Keeping few, clearly preferred references matters: with
    every triplet's winner as a reference, a poor rollout finds a poor "winner" to match.
    """
    points: dict[SegmentRef, list[int]] = {}
    for t in triplets:
        for pos, ref in enumerate(t):
            points.setdefault(ref, []).append(2 - pos)
    winners = [r for r in points if 2 in points[r]]
    order = sorted(range(len(winners)), key=lambda i: (-np.mean(points[winners[i]]), -len(points[winners[i]]), i))
    return [winners[i] for i in order[: max(1, k)]]


def episodes_of(refs: Sequence[SegmentRef]) -> list[tuple[str, str]]:
    """Distinct (dataset, demo) pairs, first-seen order."""
    return list(dict.fromkeys((r.dataset, r.demo) for r in refs))


def heldout_episodes(pool: DatasetPool, datasets: Sequence[str], train: Sequence[Sequence[str]]) -> list[SegmentRef]:
    """Whole episodes of ``datasets`` that no training label touched."""
    used = {(d, e) for d, e in train}
    return [r for d in datasets for r in whole_episodes(pool.get(d)) if (r.dataset, r.demo) not in used]


def unlabelled_videos(pool: DatasetPool, datasets: Sequence[str], limit: int, rng: np.random.Generator, camera: str | None) -> list[np.ndarray]:
    """Up to ``limit`` whole episodes' frames (random episodes) for self-supervised pre-training."""
    refs = [r for d in datasets for r in whole_episodes(pool.get(d))]
    pick = rng.permutation(len(refs))[:limit]
    return [read_video(pool, refs[i], None, camera) for i in sorted(pick)]
