"""Numbers for the overview page: who labelled what, how fast, and how much people agree.

Agreement is measured on queries that two annotators both answered (skips left out):
pairs agree when both chose the same of left / right / equal, triplets when both gave
the same full ranking (and, separately, the same best video). Cohen's kappa corrects
pair agreement for chance, since two people who both mostly press "left" agree often
by accident.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections import Counter
from typing import Any, Iterable

from robopref.prefs import Label, PreferenceStore

SESSION_GAP_S = 300.0
"""A pause longer than this between two answers is a break, not labelling time."""


def pair_choice(label: Label) -> str:
    """``left``, ``right`` or ``equal`` for an answered pair label."""
    if label.kind == "equal" or label.value == 0.5:
        return "equal"
    return "left" if (label.value or 0.0) > 0.5 else "right"


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' categorical answers; ``None`` when undefined."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return None if expected >= 1.0 else (observed - expected) / (1.0 - expected)


def agreement(labels: Iterable[Label]) -> dict[str, Any]:
    """Pairwise agreement between annotators on the queries they both answered."""
    answers: dict[str, dict[int, Label]] = {}
    for label in labels:
        if label.kind != "skip":
            answers.setdefault(label.annotator, {})[label.query_id] = label
    rows = []
    total_pairs = agree_pairs = total_triplets = agree_triplets = agree_best = 0
    for a, b in itertools.combinations(sorted(answers), 2):
        shared = sorted(set(answers[a]) & set(answers[b]))
        if not shared:
            continue
        pa, pb, tri = [], [], []
        for qid in shared:
            la, lb = answers[a][qid], answers[b][qid]
            if la.ranking is None and lb.ranking is None:
                pa.append(pair_choice(la))
                pb.append(pair_choice(lb))
            elif la.ranking is not None and lb.ranking is not None:
                tri.append((la.ranking, lb.ranking))
        same = sum(x == y for x, y in zip(pa, pb))
        same_t = sum(x == y for x, y in tri)
        same_best = sum(x[0] == y[0] for x, y in tri)
        rows.append({
            "annotators": [a, b],
            "pairs": len(pa),
            "pair_agreement": same / len(pa) if pa else None,
            "pair_kappa": cohen_kappa(pa, pb),
            "triplets": len(tri),
            "ranking_agreement": same_t / len(tri) if tri else None,
            "best_agreement": same_best / len(tri) if tri else None,
        })
        total_pairs, agree_pairs = total_pairs + len(pa), agree_pairs + same
        total_triplets, agree_triplets, agree_best = total_triplets + len(tri), agree_triplets + same_t, agree_best + same_best
    return {
        "by_annotator_pair": rows,
        "pairs": total_pairs,
        "pair_agreement": agree_pairs / total_pairs if total_pairs else None,
        "triplets": total_triplets,
        "ranking_agreement": agree_triplets / total_triplets if total_triplets else None,
        "best_agreement": agree_best / total_triplets if total_triplets else None,
    }


def rate(timestamps: list[float]) -> dict[str, Any]:
    """Labelling speed from answer times: active time (breaks left out) and labels per hour."""
    stamps = sorted(timestamps)
    gaps = [b - a for a, b in zip(stamps, stamps[1:]) if b - a <= SESSION_GAP_S]
    active = sum(gaps)
    return {
        "labels": len(stamps),
        "active_minutes": active / 60.0,
        "labels_per_hour": 3600.0 * len(gaps) / active if active > 0 else None,
        "median_seconds_per_label": statistics.median(gaps) if gaps else None,
    }


def hourly(timestamps: Iterable[float]) -> list[dict[str, Any]]:
    """Labels per clock hour (UTC), oldest first."""
    counts = Counter(time.strftime("%Y-%m-%d %H:00", time.gmtime(t)) for t in timestamps)
    return [{"hour": h, "labels": n} for h, n in sorted(counts.items())]


def overview(store: PreferenceStore) -> dict[str, Any]:
    """Everything the overview page shows, read from one snapshot of the store."""
    with store.snapshot():
        n_queries = {"pair": store.count_queries(kind="pair"), "triplet": store.count_queries(kind="triplet")}
        effective = store.labels()
        every = store.labels(include_superseded=True)
    unanswered = n_queries["pair"] + n_queries["triplet"] - len({l.query_id for l in effective})
    annotators: dict[str, dict[str, Any]] = {}
    for label in effective:
        row = annotators.setdefault(label.annotator, {"source": label.source, "kinds": Counter(), "times": []})
        row["kinds"][label.kind] += 1
        row["times"].append(label.timestamp)
    undone = Counter(l.annotator for l in every if l.kind == "retract")
    human = [l for l in effective if l.source == "human"]
    return {
        "queries": n_queries,
        "queries_without_label": unanswered,
        "labels": len(effective),
        "labels_including_history": len(every),
        "by_source": dict(Counter(l.source for l in effective)),
        "by_annotator": [
            {"annotator": name, "source": row["source"], "kinds": dict(row["kinds"]), "undone": undone.get(name, 0),
             **rate(row["times"])}
            for name, row in sorted(annotators.items())
        ],
        "human_rate": rate([l.timestamp for l in human]),
        "hourly": hourly(l.timestamp for l in human),
        "agreement": agreement(human),
    }
