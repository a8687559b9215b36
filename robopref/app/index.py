"""In-memory views of the store that ``/api/next`` needs on every request, kept fresh cheaply.

Reading every query and every human label per request costs tens of milliseconds once
a store holds a thousand of each, and ten annotators ask several times a second. Both
tables are append-only, so row counts tell whether anything changed:

- queries never change once stored, so the list is re-read only when their count moves;
- human answers are kept as an :class:`~robopref.app.assignment.AnswerPool` (who
  answered which query) and, per annotator, their effective labels (session progress,
  the answer to undo). This server's own writes are recorded by the answer writer right
  after their commit, before the request that made them gets its response; any other
  writer (a second server, an import) shows up as a label count the index did not
  expect, and the index is rebuilt from the store.

The store stays the truth: a count mismatch always means a full re-read.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from robopref.app.assignment import AnswerPool
from robopref.prefs import Label, PreferenceStore, Query


class QueryList:
    """All queries of a store, re-read when their number changes."""

    def __init__(self, store: PreferenceStore) -> None:
        self.store = store
        self._queries: list[Query] = []
        self._by_id: dict[int, Query] = {}
        self._lock = threading.Lock()

    def get(self) -> list[Query]:
        """Every query, by id (fresh as of this call); the same list object until the store gains queries."""
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
    """Effective answers of one ``source``: who answered which query, and each annotator's labels.

    ``new_pool`` makes the (empty) pool the answers are kept in; the server passes its
    assigner's, so that assignment uses the pool as it is.
    """

    def __init__(self, store: PreferenceStore, source: str = "human",
                 new_pool: Callable[[], AnswerPool] = AnswerPool) -> None:
        self.store = store
        self.source = source
        self._new_pool = new_pool
        self._pool = new_pool()
        self._mine: dict[str, dict[int, Label]] = {}  # annotator -> their effective labels by id
        self._rows = -1  # label rows (all sources, history included) the index reflects
        self._pending = 0  # rows this server is committing (see expect) and has not recorded yet
        self._rebuilt_at = -1  # row count at the last rebuild: labels up to this id are in it
        self._lock = threading.RLock()

    @contextmanager
    def current(self) -> Iterator[AnswerPool]:
        """The answers as of now (re-read if another writer added labels), locked against
        updates while the block runs: keep the block short."""
        with self._lock:
            self._refresh()
            yield self._pool

    def get(self) -> dict[int, frozenset[str]]:
        """Query id → annotators with an effective answer to it (a copy, safe to keep)."""
        with self.current() as pool:
            return {q: frozenset(a) for q, a in pool.items()}

    def session(self, annotator: str, since: float) -> tuple[int, Label | None]:
        """How many effective answers ``annotator`` gave at or after ``since``, and the latest."""
        with self._lock:
            labels = [label for label in self._mine.get(annotator, {}).values() if label.timestamp >= since]
        return len(labels), max(labels, key=lambda label: label.id, default=None)

    def expect(self, rows: int) -> None:
        """This server is about to commit ``rows`` label rows. Until each is recorded, a
        store holding up to that many more rows is not a sign of another writer (the
        commit lands before the rows are recorded)."""
        with self._lock:
            self._pending += rows

    def record(self, label: Label) -> None:
        """This server committed ``label`` (an answer or an undo): update in place.

        If other rows were written meanwhile, the count will not match and the next
        :meth:`current` rebuilds, so a missed write can only cost time, never correctness.
        """
        with self._lock:
            self._pending = max(0, self._pending - 1)
            if self._rows < 0 or label.id <= self._rebuilt_at:
                return  # never built, or the rebuild already read this label (ids are max + 1)
            self._rows += 1
            if label.source == self.source:
                self._apply(label)

    def lost(self) -> None:
        """A commit failed: what was announced may or may not be stored, so re-read at next use."""
        with self._lock:
            self._rows, self._pending = -1, 0

    def _refresh(self) -> None:
        rows = self.store.count_labels(include_superseded=True)
        if self._rows < 0 or not self._rows <= rows <= self._rows + self._pending:
            self._rebuild()

    def _rebuild(self) -> None:
        with self.store.snapshot():
            labels = self.store.labels(source=self.source)
            rows = self.store.count_labels(include_superseded=True)
        self._pool, self._mine = self._new_pool(), {}
        for label in labels:
            self._apply(label)
        self._rows = self._rebuilt_at = rows

    def _apply(self, label: Label) -> None:
        """A new row of this source: it may supersede an answer, and may be an answer itself."""
        if label.supersedes is not None:
            self._forget(label.supersedes, label.query_id)
        if label.kind != "retract":
            self._mine.setdefault(label.annotator, {})[label.id] = label
            self._pool.add(label.query_id, label.annotator)

    def _forget(self, label_id: int, query_id: int) -> None:
        """Label ``label_id`` (an answer to ``query_id``) was superseded: drop it, and its
        annotator from the query unless they still have another effective answer to it."""
        for annotator, labels in self._mine.items():
            if labels.pop(label_id, None) is not None:
                if not any(label.query_id == query_id for label in labels.values()):
                    self._pool.remove(query_id, annotator)
                return
