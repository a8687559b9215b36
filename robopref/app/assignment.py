"""Which query an annotator sees next.

Rules, in order:

1. An annotator never gets a query they already answered (a skip is an answer; an
   undone answer is not, so an undone query comes back).
2. A query an annotator was handed and has not answered stays theirs (a *lease*):
   reloading the page, or reopening the laptop, shows the same query again.
3. Overlap: a fixed, pseudo-random fraction ``overlap`` of the queries is meant to be
   answered by ``overlap_annotators`` people (to measure agreement); every other query
   by one person. Answers and live leases of other annotators count against that
   capacity, so two people labelling at once do not both get the same single query.
4. Among what is left: overlap queries that someone already answered come first (to
   finish agreement pairs), then the newest query first (``order="newest"``, so what
   active selection just added is labelled first) or the oldest (``order="oldest"``).

The store is the truth for answers; leases live in memory and only decide who sees a
query first, so a server restart loses nothing that matters.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass
from typing import AbstractSet, Callable, Iterable, Mapping

from robopref.prefs import Label, Query

ORDERS = ("newest", "oldest")


def answered_by(labels: Iterable[Label]) -> dict[int, set[str]]:
    """Query id → annotators who answered it, from effective labels."""
    found: dict[int, set[str]] = {}
    for label in labels:
        found.setdefault(label.query_id, set()).add(label.annotator)
    return found


def in_overlap(query_id: int, overlap: float) -> bool:
    """Whether a query belongs to the overlap set: a stable hash of its id below ``overlap``."""
    return ((query_id * 2654435761) % 2**32) / 2**32 < overlap


@dataclass(frozen=True)
class Assignment:
    """What one annotator should see now: a query (or ``None``) and how many are available."""

    query: Query | None
    available: int
    upcoming: tuple[Query, ...] = ()  # the next few in line, for warming the video cache


class Assigner:
    """Hands out queries to annotators under the overlap rule, with leases.

    ``showable(query)`` says whether the server can show a query (its datasets are
    configured); other queries are never assigned.
    """

    def __init__(
        self,
        overlap: float = 0.2,
        overlap_annotators: int = 2,
        order: str = "newest",
        lease_s: float = 900.0,
        showable: Callable[[Query], bool] = lambda q: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0.0 <= overlap <= 1.0:
            raise ValueError(f"annotator_overlap must be a fraction in [0, 1], got {overlap}")
        if overlap_annotators < 2:
            raise ValueError(f"overlap_annotators must be >= 2 (agreement needs two people), got {overlap_annotators}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        self.overlap = overlap
        self.overlap_annotators = overlap_annotators
        self.order = order
        self.lease_s = lease_s
        self.showable = showable
        self.clock = clock
        self._leases: dict[str, tuple[int, float]] = {}  # annotator -> (query id, expiry time)
        self._lock = threading.Lock()
        self._capacities: dict[int, int] = {}  # query id -> capacity (fixed per id: a cache)
        self._catalogued: tuple[list[Query], float, dict[int, Query], int] | None = None  # see _catalogue

    def capacity(self, query_id: int) -> int:
        """How many people should answer this query."""
        return self.overlap_annotators if in_overlap(query_id, self.overlap) else 1

    def assign(self, annotator: str, queries: Iterable[Query], answered_by: Mapping[int, AbstractSet[str]]) -> Assignment:
        """The query ``annotator`` should answer now, given all queries and, per query id,
        the annotators with an effective answer to it (see :func:`answered_by`).

        Leases the returned query to ``annotator``. Thread-safe: concurrent callers see
        each other's leases.
        """
        empty: frozenset[str] = frozenset()
        listed = queries if isinstance(queries, list) else list(queries)
        with self._lock:
            now = self.clock()
            self._leases = {a: lease for a, lease in self._leases.items() if lease[1] > now}
            held_by: dict[int, set[str]] = {}
            for other, (query_id, _) in self._leases.items():
                if other != annotator:
                    held_by.setdefault(query_id, set()).add(other)
            by_id, showable_count = self._catalogue(listed)
            mine = self._leases.get(annotator, (None, 0.0))[0]
            if mine is not None and (mine not in by_id or annotator in answered_by.get(mine, empty) or not self.showable(by_id[mine])):
                mine = None
            # Only queries someone answered or holds need a closer look; the untouched rest
            # are all available, so they are counted, and scanned only until 3 are found.
            order = (lambda qid: -qid) if self.order == "newest" else (lambda qid: qid)
            touched = set(answered_by) | set(held_by)
            ranked: list[tuple[int, int, int]] = []  # (rank, order key, query id)
            touched_showable = 0
            for qid in touched:
                query = by_id.get(qid)
                if query is None or not self.showable(query):
                    continue
                touched_showable += 1
                if qid == mine:
                    continue
                answerers = answered_by.get(qid, empty)
                if annotator in answerers:
                    continue
                holders = held_by.get(qid)
                taken = len(answerers) + (len(holders - answerers) if holders else 0)
                if taken < self._capacity(qid):
                    ranked.append((1 if answerers else 2, order(qid), qid))
            untouched = showable_count - touched_showable - (1 if mine is not None and mine not in touched else 0)
            found = 0
            for query in (reversed(listed) if self.order == "newest" else listed):
                if found == 3:
                    break
                if query.id in touched or query.id == mine or not self.showable(query):
                    continue
                ranked.append((2, order(query.id), query.id))
                found += 1
            if mine is not None:
                ranked.append((0, 0, mine))
            available = untouched + len(ranked) - found
            if not ranked:
                self._leases.pop(annotator, None)
                return Assignment(None, 0)
            first = [by_id[c[2]] for c in heapq.nsmallest(3, ranked)]
            self._leases[annotator] = (first[0].id, now + self.lease_s)
        return Assignment(first[0], available, tuple(first[1:]))

    def _catalogue(self, queries: list[Query]) -> tuple[dict[int, Query], int]:
        """Queries by id and how many are showable, remembered for the same list object
        (the server passes the same list until the store gains queries) for a few seconds,
        since a dataset can gain demos and make more queries showable."""
        now = time.monotonic()
        cached = self._catalogued
        if cached is None or cached[0] is not queries or len(queries) != len(cached[2]) or now - cached[1] > 5.0:
            by_id = {q.id: q for q in queries}
            self._catalogued = (queries, now, by_id, sum(1 for q in queries if self.showable(q)))
        return self._catalogued[2], self._catalogued[3]

    def _capacity(self, query_id: int) -> int:
        found = self._capacities.get(query_id)
        if found is None:
            found = self._capacities[query_id] = self.capacity(query_id)
        return found

    def hand_back(self, annotator: str, query_id: int) -> None:
        """Lease ``query_id`` to ``annotator`` now (after an undo, the undone query is next)."""
        with self._lock:
            self._leases[annotator] = (query_id, self.clock() + self.lease_s)

    def release(self, annotator: str, query_id: int) -> None:
        """Drop the annotator's lease if it is on ``query_id`` (the query was answered)."""
        with self._lock:
            if self._leases.get(annotator, (None, 0.0))[0] == query_id:
                del self._leases[annotator]
