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

Cost: picking a query must not grow with the number of answers, or every request of a
long campaign gets slower. An :class:`AnswerPool` keeps, next to who answered what,
the overlap queries still waiting for another person and the sorted ids of the queries
nobody answered; the server keeps one up to date as answers arrive, so :meth:`Assigner.assign`
looks only at leases, waiting queries and the first few unanswered ones in order.
"""

from __future__ import annotations

import bisect
import heapq
import threading
import time
from dataclasses import dataclass
from typing import AbstractSet, Callable, Iterable, Iterator, Mapping

from robopref.prefs import Label, Query

ORDERS = ("newest", "oldest")
RECHECK_S = 5.0
"""How often queries that could not be shown are looked at again (a dataset may gain demos)."""

Ranked = tuple[int, int, int]
"""A candidate query: (rank: 0 own lease, 1 finishes an overlap, 2 new; order key; query id)."""


def answered_by(labels: Iterable[Label]) -> dict[int, set[str]]:
    """Query id → annotators who answered it, from effective labels."""
    found: dict[int, set[str]] = {}
    for label in labels:
        found.setdefault(label.query_id, set()).add(label.annotator)
    return found


def in_overlap(query_id: int, overlap: float) -> bool:
    """Whether a query belongs to the overlap set: a stable hash of its id below ``overlap``."""
    return ((query_id * 2654435761) % 2**32) / 2**32 < overlap


class AnswerPool(Mapping[int, AbstractSet[str]]):
    """Query id → annotators with an effective answer, updated in place, plus what
    assignment needs without scanning every answered query:

    - :attr:`waiting`: answered queries with fewer answers than their ``capacity`` (overlap
      queries waiting for another person; few, since they are handed out first);
    - :attr:`fresh`: the sorted ids of the showable queries nobody answered.

    Queries that cannot be shown are set aside and checked again every ``RECHECK_S``
    seconds. Not thread-safe: its owner serialises updates and reads.
    """

    def __init__(self, capacity: Callable[[int], int] = lambda qid: 1,
                 showable: Callable[[Query], bool] = lambda query: True) -> None:
        self.capacity = capacity
        self.showable = showable
        self.waiting: dict[int, set[str]] = {}
        self.fresh: list[int] = []
        self._by_query: dict[int, set[str]] = {}
        self._by_id: dict[int, Query] = {}
        self._hidden: dict[int, Query] = {}  # unanswered queries that could not be shown
        self._covered: list[Query] | None = None  # the query list last passed to cover()
        self._checked = time.monotonic()

    @classmethod
    def of(cls, answers: Mapping[int, AbstractSet[str]], capacity: Callable[[int], int],
           showable: Callable[[Query], bool]) -> "AnswerPool":
        """A pool holding a plain query id → annotators mapping."""
        pool = cls(capacity, showable)
        for query_id, annotators in answers.items():
            for annotator in annotators:
                pool.add(query_id, annotator)
        return pool

    def __getitem__(self, query_id: int) -> AbstractSet[str]:
        return self._by_query[query_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._by_query)

    def __len__(self) -> int:
        return len(self._by_query)

    def query(self, query_id: int) -> Query | None:
        """A query passed to :meth:`cover`, by id."""
        return self._by_id.get(query_id)

    def is_fresh(self, query_id: int) -> bool:
        """Whether the query is showable and nobody answered it."""
        i = bisect.bisect_left(self.fresh, query_id)
        return i < len(self.fresh) and self.fresh[i] == query_id

    def add(self, query_id: int, annotator: str) -> None:
        """``annotator`` answered ``query_id``."""
        answerers = self._by_query.setdefault(query_id, set())
        if annotator in answerers:
            return
        answerers.add(annotator)
        if len(answerers) == 1:
            self._withdraw(query_id)
        self._file(query_id, answerers)

    def remove(self, query_id: int, annotator: str) -> None:
        """``annotator`` no longer has an answer to ``query_id`` (it was undone)."""
        answerers = self._by_query.get(query_id)
        if answerers is None or annotator not in answerers:
            return
        answerers.discard(annotator)
        if answerers:
            self._file(query_id, answerers)
            return
        del self._by_query[query_id]
        self.waiting.pop(query_id, None)
        query = self._by_id.get(query_id)
        if query is not None:
            self._admit(query)

    def cover(self, queries: list[Query]) -> None:
        """Know every query of ``queries`` (the store's list, which only grows): unanswered
        new ones become fresh. Cheap when the list is the one passed last time."""
        if queries is not self._covered:
            old = self._covered
            if old is not None and len(queries) >= len(old) and (not old or queries[len(old) - 1].id == old[-1].id):
                new = queries[len(old):]
            else:  # not an extension of the last list: start over
                self.fresh, self._hidden, self._by_id = [], {}, {}
                new = queries
            for query in new:
                self._by_id[query.id] = query
                if query.id not in self._by_query:
                    self._admit(query)
            self._covered = queries
        self._recheck_hidden()

    def _file(self, query_id: int, answerers: set[str]) -> None:
        """Put an answered query in :attr:`waiting` or take it out, by its number of answers."""
        if len(answerers) < self.capacity(query_id):
            self.waiting[query_id] = answerers
        else:
            self.waiting.pop(query_id, None)

    def _withdraw(self, query_id: int) -> None:
        """The query got its first answer: it is no longer fresh (nor set aside)."""
        i = bisect.bisect_left(self.fresh, query_id)
        if i < len(self.fresh) and self.fresh[i] == query_id:
            del self.fresh[i]
        self._hidden.pop(query_id, None)

    def _admit(self, query: Query) -> None:
        """An unanswered query: fresh if it can be shown, else set aside."""
        if self.showable(query):
            bisect.insort(self.fresh, query.id)
        else:
            self._hidden[query.id] = query

    def _recheck_hidden(self) -> None:
        """Every ``RECHECK_S``, make the set-aside queries that can now be shown fresh."""
        now = time.monotonic()
        if not self._hidden or now - self._checked < RECHECK_S:
            return
        self._checked = now
        for query in [q for q in self._hidden.values() if self.showable(q)]:
            del self._hidden[query.id]
            bisect.insort(self.fresh, query.id)


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

    def capacity(self, query_id: int) -> int:
        """How many people should answer this query."""
        return self.overlap_annotators if in_overlap(query_id, self.overlap) else 1

    def new_pool(self) -> AnswerPool:
        """An empty :class:`AnswerPool` with this assigner's capacities and showable check,
        for a caller that keeps the answers current itself (the server's answer index)."""
        return AnswerPool(self.capacity, self.showable)

    def assign(self, annotator: str, queries: Iterable[Query], answered_by: Mapping[int, AbstractSet[str]]) -> Assignment:
        """The query ``annotator`` should answer now, given all queries and, per query id,
        the annotators with an effective answer to it (see :func:`answered_by`).

        ``answered_by`` may be a pool from :meth:`new_pool` that the caller keeps current
        (and does not change during the call): then nothing is rebuilt. Leases the
        returned query to ``annotator``. Thread-safe: concurrent callers see each
        other's leases.
        """
        listed = queries if isinstance(queries, list) else list(queries)
        pool = self._pool_of(answered_by)
        pool.cover(listed)
        with self._lock:
            now = self.clock()
            held_by = self._held_by_others(annotator, now)
            mine = self._current_lease(annotator, pool)
            ranked, held_fresh = self._touched(annotator, pool, held_by, mine)
            found = self._untouched(pool, held_by, mine)
            ranked += [(2, self._order_key(qid), qid) for qid in found]
            if mine is not None:
                ranked.append((0, 0, mine))
            untouched = len(pool.fresh) - held_fresh - (1 if mine is not None and pool.is_fresh(mine) else 0)
            available = untouched + len(ranked) - len(found)
            if not ranked:
                self._leases.pop(annotator, None)
                return Assignment(None, 0)
            first = [pool.query(c[2]) for c in heapq.nsmallest(3, ranked)]
            picked = [query for query in first if query is not None]  # all known: candidates come from the pool
            self._leases[annotator] = (picked[0].id, now + self.lease_s)
        return Assignment(picked[0], available, tuple(picked[1:]))

    def _pool_of(self, answers: Mapping[int, AbstractSet[str]]) -> AnswerPool:
        """``answers`` itself if it is a pool with this assigner's rules, else a new pool holding it."""
        if isinstance(answers, AnswerPool) and answers.capacity == self.capacity and answers.showable is self.showable:
            return answers
        return AnswerPool.of(answers, self.capacity, self.showable)

    def _order_key(self, query_id: int) -> int:
        return -query_id if self.order == "newest" else query_id

    def _held_by_others(self, annotator: str, now: float) -> dict[int, set[str]]:
        """Drop expired leases; query id → the other annotators holding it."""
        self._leases = {a: lease for a, lease in self._leases.items() if lease[1] > now}
        held_by: dict[int, set[str]] = {}
        for other, (query_id, _) in self._leases.items():
            if other != annotator:
                held_by.setdefault(query_id, set()).add(other)
        return held_by

    def _current_lease(self, annotator: str, pool: AnswerPool) -> int | None:
        """The query leased to ``annotator``, if it still exists, is showable and they did not answer it."""
        mine = self._leases.get(annotator, (None, 0.0))[0]
        if mine is None:
            return None
        query = pool.query(mine)
        if query is None or annotator in pool.get(mine, ()) or not self.showable(query):
            return None
        return mine

    def _touched(self, annotator: str, pool: AnswerPool, held_by: Mapping[int, AbstractSet[str]],
                 mine: int | None) -> tuple[list[Ranked], int]:
        """Candidates among the queries someone answered or holds, and how many fresh
        queries (other than ``mine``) other people hold."""
        ranked: list[Ranked] = []
        for qid, answerers in pool.waiting.items():
            query = pool.query(qid)
            if qid == mine or annotator in answerers or query is None or not self.showable(query):
                continue
            holders = held_by.get(qid)
            if len(answerers) + (len(holders - answerers) if holders else 0) < self.capacity(qid):
                ranked.append((1, self._order_key(qid), qid))
        held_fresh = 0
        for qid, holders in held_by.items():
            if qid == mine or not pool.is_fresh(qid):
                continue
            held_fresh += 1
            if len(holders) < self.capacity(qid):
                ranked.append((2, self._order_key(qid), qid))
        return ranked, held_fresh

    def _untouched(self, pool: AnswerPool, held_by: Mapping[int, AbstractSet[str]], mine: int | None) -> list[int]:
        """The first three fresh queries in order that nobody holds."""
        found: list[int] = []
        for qid in reversed(pool.fresh) if self.order == "newest" else pool.fresh:
            query = pool.query(qid)
            if qid in held_by or qid == mine or query is None or not self.showable(query):
                continue
            found.append(qid)
            if len(found) == 3:
                break
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
