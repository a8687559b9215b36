"""In-memory views of the store that ``/api/next`` needs on every request, kept fresh cheaply.

Reading every query and every human label per request costs tens of milliseconds once
a store holds a thousand of each, and ten annotators ask several times a second. Both
tables are append-only, so row counts tell whether anything changed:

- queries never change once stored, so the list is re-read only when their count moves;
- human answers are tracked as (query, annotator) pairs. This server's own writes
  update the index directly; any other writer (a second server, an import) shows up as
  a label count the index did not expect, and the index is rebuilt from the store.

The store stays the truth: a count mismatch always means a full re-read.
"""

from __future__ import annotations

import threading

from robopref.prefs import PreferenceStore, Query


class QueryList:
    """All queries of a store, re-read when their number changes."""

    def __init__(self, store: PreferenceStore) -> None:
        self.store = store
        self._queries: list[Query] = []
        self._by_id: dict[int, Query] = {}
        self._lock = threading.Lock()

    def get(self) -> list[Query]:
        """Every query, by id (fresh as of this call)."""
        count = self.store.count_queries()
        with self._lock:
            if count != len(self._queries):
                self._queries = self.store.queries()
                self._by_id = {q.id: q for q in self._queries}
            return self._queries

    def find(self, query_id: int) -> Query:
        """The query with this id; ``KeyError`` if the store has none."""
        found = self._by_id.get(query_id)
        return found if found is not None else self.store.query(query_id)


class HumanAnswers:
    """Which annotators have an effective answer (``source``-labelled) to which query."""

    def __init__(self, store: PreferenceStore, source: str = "human") -> None:
        self.store = store
        self.source = source
        self._rows = -1  # label rows (all sources, history included) the index reflects
        self._rebuilt_at = -1  # row count at the last rebuild: labels up to this id are in it
        self._by_query: dict[int, set[str]] = {}
        self._lock = threading.Lock()

    def _rebuild(self, rows: int) -> None:
        with self.store.snapshot():
            labels = self.store.labels(source=self.source)
            rows = self.store.count_labels(include_superseded=True)
        by_query: dict[int, set[str]] = {}
        for label in labels:
            by_query.setdefault(label.query_id, set()).add(label.annotator)
        self._by_query, self._rows, self._rebuilt_at = by_query, rows, rows

    def get(self) -> dict[int, frozenset[str]]:
        """Query id → annotators with an effective answer to it (a copy, safe to keep)."""
        rows = self.store.count_labels(include_superseded=True)
        with self._lock:
            if rows != self._rows:
                self._rebuild(rows)
            return {q: frozenset(a) for q, a in self._by_query.items()}

    def added(self, label_id: int, query_id: int, annotator: str, retract: bool = False) -> None:
        """This server stored label ``label_id`` of ``source``: an answer by ``annotator``
        to ``query_id``, or (``retract``) the undo of their answer to it. Updates in place.

        If other rows were written meanwhile, the count will not match and the next
        :meth:`get` rebuilds, so a missed write can only cost time, never correctness.
        """
        with self._lock:
            if self._rows < 0 or label_id <= self._rebuilt_at:
                return  # never built, or the rebuild already read this label (ids are max + 1)
            self._rows += 1
            if retract:
                answerers = self._by_query.get(query_id, set())
                answerers.discard(annotator)
                if not answerers:
                    self._by_query.pop(query_id, None)
            else:
                self._by_query.setdefault(query_id, set()).add(annotator)
