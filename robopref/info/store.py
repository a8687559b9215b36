"""Summary of a preference store: queries, labels by source and annotator, agreement, and
which dataset files the queries need (and whether they are where the store says)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any


def describe_store(path: str | os.PathLike) -> dict[str, Any]:
    """Counts from one snapshot of the store (the label page's overview numbers)."""
    from robopref.app.overview import overview
    from robopref.prefs import PreferenceStore

    with PreferenceStore(path, readonly=True) as store:
        ov = overview(store)
        datasets = Counter(s.dataset for q in store.queries() for s in q.segments)
    out: dict[str, Any] = {"kind": "preference store", "path": str(path), "queries": ov["queries"],
                           "queries without a label": ov["queries_without_label"], "labels": ov["labels"],
                           "labels, history included": ov["labels_including_history"], "by source": ov["by_source"],
                           "by annotator": {a["annotator"]: {"source": a["source"], **a["kinds"]} for a in ov["by_annotator"]}}
    agree = ov["agreement"]
    if agree.get("pairs") or agree.get("triplets"):  # queries two people both answered
        out["agreement"] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in agree.items() if k != "by_annotator_pair"}
    out["datasets"] = {d: f"{n} segments" + ("" if os.path.exists(d) else " (file not found from here)") for d, n in datasets.most_common()}
    return out
