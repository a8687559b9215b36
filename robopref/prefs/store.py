"""``PreferenceStore``: queries and labels in one SQLite file, safe across processes and threads.

One store object serves every thread of a process (a connection per thread, see
:mod:`robopref.prefs.sessions`); each process opens its own, and pickling a store (to a
spawned worker) reopens it by path there. Every write is its own transaction unless
grouped with :meth:`PreferenceStore.batch`; other writers wait up to the busy timeout.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from robopref.data.segments import SegmentRef
from robopref.prefs import reader
from robopref.prefs.connection import SYNCHRONOUS_MODES
from robopref.prefs.jsonl import ImportResult, export_jsonl, import_jsonl
from robopref.prefs.records import (
    LABEL_SOURCES,
    QUERY_KINDS,
    Label,
    Query,
    check_choice,
    check_id,
    check_text,
    make_label,
    make_query,
)
from robopref.prefs.sessions import Sessions
from robopref.prefs.writer import Writer


def _reopen(path: str, readonly: bool, synchronous: str) -> "PreferenceStore":
    return PreferenceStore(path, readonly=readonly, synchronous=synchronous)


class PreferenceStore:
    """Queries (pairs/triplets of segments) and labels (answers) in one SQLite file.

    ``PreferenceStore(path)`` creates the file if needed; ``readonly=True`` opens an
    existing store without ever writing. ``synchronous`` is the SQLite durability
    level: ``"FULL"`` (default) survives power loss, ``"NORMAL"`` survives a killed
    process; see :mod:`robopref.prefs.connection`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, readonly: bool = False, synchronous: str = "FULL"
    ) -> None:
        # absolute now: a later os.chdir must not send another thread's connection elsewhere
        self.path = Path(os.fspath(path)).absolute()
        self.readonly = bool(readonly)
        self.synchronous = check_choice("synchronous", synchronous, SYNCHRONOUS_MODES)
        self._sessions = Sessions(self.path, readonly=self.readonly, synchronous=self.synchronous)
        self._sessions.connection()  # open now: a bad file fails here, not at first use

    def __repr__(self) -> str:
        return f"PreferenceStore({str(self.path)!r}{', readonly=True' if self.readonly else ''})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen, (str(self.path), self.readonly, self.synchronous))

    def __enter__(self) -> "PreferenceStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this store opened (in any thread). Idempotent."""
        self._sessions.close()

    @contextmanager
    def _writer(self) -> Iterator[Writer]:
        with self._sessions.transaction(write=True) as conn:
            yield Writer(conn)

    @contextmanager
    def batch(self) -> Iterator["PreferenceStore"]:
        """Group writes into one transaction: all of them are committed, or none.

        Thousands of adds in one batch cost one commit (one fsync) instead of thousands.
        Other writers wait until the batch ends, so keep batches short in a live app.
        Batches nest (inner ones are savepoints); the batch belongs to this thread.
        """
        with self._sessions.transaction(write=True):
            yield self

    @contextmanager
    def snapshot(self) -> Iterator["PreferenceStore"]:
        """Group reads so that they all see the same state of the store."""
        with self._sessions.transaction(write=False):
            yield self

    # -- writing -----------------------------------------------------------------------

    def add_query(
        self,
        segments: Sequence[SegmentRef],
        *,
        origin: str | None = None,
        meta: Mapping[str, Any] | None = None,
        created: float | None = None,
    ) -> int:
        """Store a pair (2 segments) or triplet (3 segments); return its id."""
        created = time.time() if created is None else created
        with self._writer() as writer:
            query_id = writer.next_id("queries")
            query = make_query(id=query_id, segments=segments, created=created, origin=origin, meta=meta)
            writer.insert_queries([query])
        return query.id

    def add_queries(
        self,
        queries: Iterable[Sequence[SegmentRef]],
        *,
        origin: str | None = None,
        meta: Mapping[str, Any] | None = None,
        created: float | None = None,
    ) -> list[int]:
        """Store many queries in one transaction (all or none); return their ids in order.

        ``origin``, ``meta`` and ``created`` apply to every query; for per-query
        values call :meth:`add_query` inside :meth:`batch`.
        """
        created = time.time() if created is None else created
        with self._writer() as writer:
            first = writer.next_id("queries")
            records = []
            for i, segments in enumerate(queries):
                try:
                    query = make_query(id=first + i, segments=segments, created=created, origin=origin, meta=meta)
                    records.append(query)
                except ValueError as err:
                    raise ValueError(f"queries[{i}]: {err}") from None
            writer.insert_queries(records)
        return [q.id for q in records]

    def add_label(
        self,
        query_id: int,
        *,
        annotator: str,
        source: str,
        kind: str = "preference",
        value: float | None = None,
        ranking: Sequence[int] | None = None,
        confidence: float = 1.0,
        timestamp: float | None = None,
        note: str | None = None,
        supersedes: int | None = None,
        request_id: str | None = None,
    ) -> int:
        """Store an answer to query ``query_id``; return the label id.

        If ``request_id`` is already stored for this query, nothing is written and the
        stored label's id is returned (a double-submitted answer is recorded once); the
        same ``request_id`` on another query is an error, since it means a client reused
        its key.
        """
        request_id = check_text("request_id", request_id, optional=True)
        # the time of the answer, not of getting the write lock
        timestamp = time.time() if timestamp is None else timestamp
        with self._writer() as writer:
            query_kind = writer.query_kind(query_id)
            if request_id is not None:
                existing = writer.label_for_request(request_id)
                if existing is not None:
                    if existing[1] != query_id:
                        raise ValueError(
                            f"request_id {request_id!r} was already used for label {existing[0]} "
                            f"on query {existing[1]}, not query {query_id}"
                        )
                    return existing[0]
            label = make_label(
                id=writer.next_id("labels"),
                query_id=query_id,
                query_kind=query_kind,
                annotator=annotator,
                source=source,
                kind=kind,
                value=value,
                ranking=ranking,
                confidence=confidence,
                timestamp=timestamp,
                note=note,
                supersedes=supersedes,
                request_id=request_id,
            )
            writer.insert_label(label)
        return label.id

    def retract(
        self,
        label_id: int,
        *,
        annotator: str,
        source: str,
        note: str | None = None,
        timestamp: float | None = None,
        request_id: str | None = None,
    ) -> int:
        """Undo label ``label_id``: add a ``"retract"`` label that supersedes it."""
        with self._writer():
            try:
                query_id = self.label(label_id).query_id
            except KeyError:
                raise ValueError(f"label_id {label_id} is not a label in this store") from None
            return self.add_label(
                query_id,
                annotator=annotator,
                source=source,
                kind="retract",
                supersedes=label_id,
                note=note,
                timestamp=timestamp,
                request_id=request_id,
            )

    # -- reading -----------------------------------------------------------------------

    def query(self, query_id: int) -> Query:
        """The query with this id; ``KeyError`` if there is none."""
        found = reader.fetch_queries(self._sessions.connection(), query_id=check_id("query_id", query_id))
        if not found:
            raise KeyError(f"query {query_id} is not in preference store {self.path}")
        return found[0]

    def queries(self, kind: str | None = None, origin: str | None = None) -> list[Query]:
        """All queries, by id, optionally only one ``kind`` and/or ``origin``."""
        return reader.fetch_queries(self._sessions.connection(), kind=_query_kind_filter(kind), origin=origin)

    def unlabelled_queries(self, annotator: str | None = None) -> list[Query]:
        """Queries with no effective label (from ``annotator``, when given), by id.

        A skip is an answer; a retracted answer is not, so its query is listed again.
        """
        return reader.fetch_queries(self._sessions.connection(), unlabelled=True, annotator=annotator)

    def label(self, label_id: int) -> Label:
        """The label with this id, superseded or not; ``KeyError`` if there is none."""
        found = reader.fetch_labels(
            self._sessions.connection(), label_id=check_id("label_id", label_id), include_superseded=True
        )
        if not found:
            raise KeyError(f"label {label_id} is not in preference store {self.path}")
        return found[0]

    def labels(
        self,
        source: str | None = None,
        annotator: str | None = None,
        query_id: int | None = None,
        include_superseded: bool = False,
    ) -> list[Label]:
        """Labels by id. By default only *effective* ones: not superseded by a later
        label, and not retracts. ``include_superseded=True`` returns every row."""
        return reader.fetch_labels(
            self._sessions.connection(),
            source=_source_filter(source),
            annotator=annotator,
            query_id=None if query_id is None else check_id("query_id", query_id),
            include_superseded=include_superseded,
        )

    def effective_labels_by_query(
        self, source: str | None = None, annotator: str | None = None
    ) -> dict[int, list[Label]]:
        """Effective labels grouped by query id (queries without one are absent)."""
        grouped: dict[int, list[Label]] = {}
        for label in self.labels(source=source, annotator=annotator):
            grouped.setdefault(label.query_id, []).append(label)
        return grouped

    def count_queries(self, kind: str | None = None, origin: str | None = None) -> int:
        """Number of queries, optionally of one ``kind`` and/or ``origin``."""
        return reader.count_queries(self._sessions.connection(), kind=_query_kind_filter(kind), origin=origin)

    def count_labels(
        self,
        source: str | None = None,
        annotator: str | None = None,
        query_id: int | None = None,
        include_superseded: bool = False,
    ) -> int:
        """Number of labels, with the same filters and default as :meth:`labels`."""
        return reader.count_labels(
            self._sessions.connection(),
            source=_source_filter(source),
            annotator=annotator,
            query_id=None if query_id is None else check_id("query_id", query_id),
            include_superseded=include_superseded,
        )

    # -- JSONL -------------------------------------------------------------------------

    def export_jsonl(self, path: str | os.PathLike[str]) -> None:
        """Write every query, then every label (superseded and retracts included), one
        JSON object per line; see :mod:`robopref.prefs.jsonl`."""
        export_jsonl(self, Path(os.fspath(path)))

    def import_jsonl(self, path: str | os.PathLike[str], *, remap_ids: bool = False) -> ImportResult:
        """Read a JSONL export into this store in one transaction (all or nothing).

        Ids are kept, which needs an empty store; with ``remap_ids=True`` records get
        new ids (references rewritten) so an export can be appended to a store that
        already holds data. See :mod:`robopref.prefs.jsonl`.
        """
        return import_jsonl(self, Path(os.fspath(path)), remap_ids=remap_ids)


def _query_kind_filter(kind: str | None) -> str | None:
    return None if kind is None else check_choice("kind", kind, QUERY_KINDS.values())


def _source_filter(source: str | None) -> str | None:
    return None if source is None else check_choice("source", source, LABEL_SOURCES)
