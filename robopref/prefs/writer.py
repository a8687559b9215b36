"""SQL that writes validated records, with the checks that need the database.

A :class:`Writer` is only ever used inside a write transaction (``BEGIN IMMEDIATE``,
opened by the store), so the checks and the insert that follows see the same data even
with other processes writing: ids taken from ``max(id) + 1`` cannot collide, a
``request_id`` cannot be stored twice, a label cannot be superseded twice.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

from robopref.prefs.records import Label, Query, canonical_meta, check_id


class Writer:
    """Inserts queries and labels through one connection that holds the write lock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def next_id(self, table: str) -> int:
        """The next free id of ``queries`` or ``labels``."""
        return self.conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]

    def query_kind(self, query_id: object, *, field: str = "query_id") -> str:
        """``"pair"``/``"triplet"`` of a stored query; ``ValueError`` naming ``field`` if unknown."""
        query_id = check_id(field, query_id)
        row = self.conn.execute("SELECT kind FROM queries WHERE id = ?", (query_id,)).fetchone()
        if row is None:
            raise ValueError(f"{field} {query_id} is not a query in this store")
        return row[0]

    def label_for_request(self, request_id: str) -> tuple[int, int] | None:
        """``(label id, query id)`` of the label stored with ``request_id``, if any."""
        return self.conn.execute(
            "SELECT id, query_id FROM labels WHERE request_id = ?", (request_id,)
        ).fetchone()

    def insert_queries(self, queries: Iterable[Query]) -> None:
        """Insert validated queries (ids already assigned) with their segments."""
        queries = list(queries)
        self.conn.executemany(
            "INSERT INTO queries (id, kind, created, origin, meta) VALUES (?, ?, ?, ?, ?)",
            [(q.id, q.kind, q.created, q.origin, canonical_meta(q.meta)) for q in queries],
        )
        self.conn.executemany(
            "INSERT INTO segments (query_id, position, dataset, demo, start, length) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (q.id, position, s.dataset, s.demo, s.start, s.length)
                for q in queries
                for position, s in enumerate(q.segments)
            ],
        )

    def insert_label(self, label: Label) -> None:
        """Insert a validated label after checking what it supersedes and its request id."""
        if label.supersedes is not None:
            self._check_supersedes(label)
        if label.request_id is not None:
            existing = self.label_for_request(label.request_id)
            if existing is not None:
                raise ValueError(f"request_id {label.request_id!r} is already stored, by label {existing[0]}")
        self.conn.execute(
            "INSERT INTO labels (id, query_id, annotator, source, kind, value, ranking, confidence,"
            " timestamp, note, supersedes, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                label.id,
                label.query_id,
                label.annotator,
                label.source,
                label.kind,
                label.value,
                None if label.ranking is None else "".join(map(str, label.ranking)),
                label.confidence,
                label.timestamp,
                label.note,
                label.supersedes,
                label.request_id,
            ),
        )

    def _check_supersedes(self, label: Label) -> None:
        """The superseded label exists, answers the same query, and is still the latest."""
        old = self.conn.execute(
            "SELECT query_id, kind FROM labels WHERE id = ?", (label.supersedes,)
        ).fetchone()
        if old is None:
            raise ValueError(f"supersedes {label.supersedes} is not a label in this store")
        if old[0] != label.query_id:
            raise ValueError(
                f"supersedes: label {label.supersedes} answers query {old[0]}, not query {label.query_id}"
            )
        if old[1] == "retract" and label.kind == "retract":
            raise ValueError(
                f"supersedes: label {label.supersedes} is already a retract; to restore an answer, "
                f"add a new label that supersedes it"
            )
        newer = self.conn.execute(
            "SELECT id FROM labels WHERE supersedes = ?", (label.supersedes,)
        ).fetchone()
        if newer is not None:
            raise ValueError(
                f"supersedes: label {label.supersedes} is already superseded by label {newer[0]}; "
                f"supersede label {newer[0]} instead"
            )
