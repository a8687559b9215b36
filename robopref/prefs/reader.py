"""SQL that reads queries and labels back as frozen records.

Functions take an open connection and optional filters (``None`` = no filter); the
store decides which connection and which transaction they run in.
"""

from __future__ import annotations

import json
import sqlite3
from itertools import groupby
from typing import Any

from robopref.data.segments import SegmentRef
from robopref.prefs.records import Label, Query

_QUERY_COLUMNS = "q.id, q.created, q.origin, q.meta, s.dataset, s.demo, s.start, s.length"
_LABEL_COLUMNS = (
    "id, query_id, annotator, source, kind, value, ranking, confidence, timestamp, note, supersedes, request_id"
)


def _where(
    equal: dict[str, Any], extra: tuple[str, ...] = (), extra_params: tuple[Any, ...] = ()
) -> tuple[str, list[Any]]:
    """``WHERE`` clause from column = value filters (``None`` values skipped) and raw clauses."""
    clauses = [f"{column} = ?" for column, value in equal.items() if value is not None]
    params = [value for value in equal.values() if value is not None]
    clauses.extend(extra)
    params.extend(extra_params)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _label_from_row(row: tuple[Any, ...]) -> Label:
    ranking = row[6]
    return Label(
        id=row[0],
        query_id=row[1],
        annotator=row[2],
        source=row[3],
        kind=row[4],
        value=row[5],
        ranking=None if ranking is None else tuple(int(c) for c in ranking),  # type: ignore[arg-type]
        confidence=row[7],
        timestamp=row[8],
        note=row[9],
        supersedes=row[10],
        request_id=row[11],
    )


def fetch_queries(
    conn: sqlite3.Connection,
    *,
    query_id: int | None = None,
    kind: str | None = None,
    origin: str | None = None,
    unlabelled: bool = False,
    annotator: str | None = None,
) -> list[Query]:
    """Queries matching the filters, by id.

    With ``unlabelled``, only queries without an effective label (by ``annotator`` when
    given). A skip counts as an answer, so skipped queries are not asked again; a
    retracted answer does not, so the query comes back.
    """
    extra: tuple[str, ...] = ()
    extra_params: tuple[Any, ...] = ()
    if unlabelled:
        by_annotator = "" if annotator is None else " AND e.annotator = ?"
        extra = (f"NOT EXISTS (SELECT 1 FROM effective_labels AS e WHERE e.query_id = q.id{by_annotator})",)
        extra_params = () if annotator is None else (annotator,)
    where, params = _where({"q.id": query_id, "q.kind": kind, "q.origin": origin}, extra, extra_params)
    rows = conn.execute(
        f"SELECT {_QUERY_COLUMNS} FROM queries AS q JOIN segments AS s ON s.query_id = q.id"
        f"{where} ORDER BY q.id, s.position",
        params,
    )
    result = []
    for _, group in groupby(rows, key=lambda row: row[0]):
        members = list(group)
        qid, created, origin_, meta = members[0][:4]
        result.append(
            Query(
                id=qid,
                segments=tuple(SegmentRef(*row[4:]) for row in members),
                created=created,
                origin=origin_,
                meta=None if meta is None else json.loads(meta),
            )
        )
    return result


def count_queries(conn: sqlite3.Connection, *, kind: str | None = None, origin: str | None = None) -> int:
    """Number of queries matching the filters."""
    where, params = _where({"kind": kind, "origin": origin})
    return conn.execute(f"SELECT count(*) FROM queries{where}", params).fetchone()[0]


def _label_table(include_superseded: bool) -> str:
    """All rows, or only effective labels (not superseded, not retracts)."""
    return "labels" if include_superseded else "effective_labels"


def fetch_labels(
    conn: sqlite3.Connection,
    *,
    label_id: int | None = None,
    source: str | None = None,
    annotator: str | None = None,
    query_id: int | None = None,
    include_superseded: bool = False,
) -> list[Label]:
    """Labels matching the filters, by id."""
    where, params = _where({"id": label_id, "source": source, "annotator": annotator, "query_id": query_id})
    rows = conn.execute(
        f"SELECT {_LABEL_COLUMNS} FROM {_label_table(include_superseded)}{where} ORDER BY id", params
    )
    return [_label_from_row(row) for row in rows]


def count_labels(
    conn: sqlite3.Connection,
    *,
    source: str | None = None,
    annotator: str | None = None,
    query_id: int | None = None,
    include_superseded: bool = False,
) -> int:
    """Number of labels matching the filters."""
    where, params = _where({"source": source, "annotator": annotator, "query_id": query_id})
    return conn.execute(f"SELECT count(*) FROM {_label_table(include_superseded)}{where}", params).fetchone()[0]
