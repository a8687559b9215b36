"""What the page gets for a query, and how a page answer becomes label fields.

A query is shown as its kind and one video URL per segment; the URL names a dataset by
its index in the server's list, never by path. Whether a query can be shown at all
(every segment inside a configured dataset) is remembered once it is true; a false
answer is re-checked after a few seconds, since a dataset may gain demos while the
server runs.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Sequence
from urllib.parse import quote

from robopref.app.catalog import DatasetCatalog, NotShowable
from robopref.prefs import Label, Query

RECHECK_S = 5.0

PAIR_CHOICES: dict[str, dict[str, Any]] = {
    "left": {"kind": "preference", "value": 1.0},
    "right": {"kind": "preference", "value": 0.0},
    "equal": {"kind": "equal", "value": 0.5},
    "skip": {"kind": "skip"},
}


class QueryViews:
    """Turns stored queries into what the page shows, and remembers which are showable."""

    def __init__(self, catalog: DatasetCatalog) -> None:
        self.catalog = catalog
        self._showable: set[int] = set()
        self._not_showable: dict[int, float] = {}  # query id -> time of the check
        self._lock = threading.Lock()

    def showable(self, query: Query) -> bool:
        """Whether every segment of ``query`` lies inside a configured dataset."""
        if query.id in self._showable:  # fast path without the lock: set lookups are atomic
            return True
        with self._lock:
            if query.id in self._showable:
                return True
            checked = self._not_showable.get(query.id)
            if checked is not None and time.monotonic() - checked < RECHECK_S:
                return False
        try:
            for segment in query.segments:
                self.catalog.clip_of(segment)
        except NotShowable:
            with self._lock:
                self._not_showable[query.id] = time.monotonic()
            return False
        with self._lock:
            self._showable.add(query.id)
            self._not_showable.pop(query.id, None)
        return True

    def view(self, query: Query) -> dict[str, Any]:
        """JSON for the page: id, kind and per segment a video URL (and its demo's task text, if any).

        For a query :meth:`showable` accepted: its windows are not checked against the
        files again (that is a ``stat`` per segment on every ``/api/next``).
        """
        segments = []
        for segment in query.segments:
            clip = self.catalog.address(segment)
            url = f"/api/videos/{clip.dataset}/{quote(clip.demo, safe='')}/{clip.start}/{clip.length}.webm"
            seg = {"video": url, "dataset": clip.dataset, "demo": clip.demo, "start": clip.start, "length": clip.length}
            task = self.catalog.task(clip)
            if task:
                seg["task"] = task
            segments.append(seg)
        return {"id": query.id, "kind": query.kind, "origin": query.origin, "segments": segments}


def answer_fields(query: Query, choice: str | None, ranking: Sequence[int] | None) -> dict[str, Any]:
    """Label fields (``kind``, ``value``/``ranking``) for a page answer; ``ValueError`` if it does not fit."""
    if query.kind == "pair":
        if ranking is not None:
            raise ValueError(f"query {query.id} is a pair: answer with choice left, right, equal or skip, not a ranking")
        return dict(PAIR_CHOICES[choice])  # type: ignore[index]
    if choice == "skip":
        return {"kind": "skip"}
    if ranking is None:
        raise ValueError(f"query {query.id} is a triplet: answer with ranking (positions best first) or choice skip, not {choice!r}")
    return {"kind": "preference", "ranking": list(ranking)}


def describe(label: Label) -> dict[str, Any]:
    """A label as the page shows it ("you chose left"), for the undo button."""
    if label.kind == "skip":
        choice = "skip"
    elif label.ranking is not None:
        choice = "ranking"
    elif label.kind == "equal":
        choice = "equal"
    else:
        choice = "left" if (label.value or 0.0) > 0.5 else "right"
    return {"label_id": label.id, "query_id": label.query_id, "choice": choice,
            "ranking": None if label.ranking is None else list(label.ranking), "note": label.note, "timestamp": label.timestamp}
