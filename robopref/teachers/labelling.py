"""Have a scripted teacher answer stored queries and write its labels to the store."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from robopref.data.pool import DatasetPool
from robopref.prefs import PreferenceStore, Query
from robopref.teachers.returns import segment_returns
from robopref.teachers.scripted import ScriptedTeacher, TeacherAnswer


def query_returns(pool: DatasetPool, queries: Sequence[Query], signal: str, gamma: float | None) -> np.ndarray:
    """Ground-truth returns of each query's segments, shape (N, k); queries share k."""
    sizes = {len(q.segments) for q in queries}
    if len(sizes) != 1:
        raise ValueError(f"label pairs and triplets in separate calls (got query sizes {sorted(sizes)})")
    flat = [s for q in queries for s in q.segments]
    return segment_returns(pool, flat, signal, gamma).reshape(len(queries), sizes.pop())


def answer_queries(
    teacher: ScriptedTeacher, pool: DatasetPool, queries: Sequence[Query], rng: np.random.Generator, signal: str = "pref_score"
) -> list[TeacherAnswer]:
    """The teacher's answers to ``queries`` from the datasets' ground truth."""
    if not queries:
        return []
    return teacher.answer_batch(query_returns(pool, queries, signal, teacher.gamma), rng)


def label_queries(
    teacher: ScriptedTeacher,
    store: PreferenceStore,
    pool: DatasetPool,
    queries: Sequence[Query],
    rng: np.random.Generator,
    signal: str = "pref_score",
) -> list[int]:
    """Answer ``queries`` and append the labels (source ``scripted``) in one transaction.

    Pairs and triplets may be mixed; each group is thresholded as its own batch.
    Returns the new label ids in the order of ``queries``.
    """
    ids: dict[int, int] = {}
    with store.batch():
        for k in (2, 3):
            group = [q for q in queries if len(q.segments) == k]
            for q, a in zip(group, answer_queries(teacher, pool, group, rng, signal)):
                ids[q.id] = store.add_label(
                    q.id, annotator=teacher.annotator, source="scripted", kind=a.kind, value=a.value, ranking=a.ranking
                )
    return [ids[q.id] for q in queries]
