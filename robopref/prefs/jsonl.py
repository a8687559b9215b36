"""JSONL export and import of a preference store.

Format: one JSON object per line, every query first, then every label (superseded
labels and retracts included, so the history survives), each in id order and with a
``"type"`` of ``"query"`` or ``"label"``; the other fields are those of
:meth:`Query.to_dict` / :meth:`Label.to_dict`. Keys are in a fixed order and floats are
written by ``repr``, so store → JSONL → new store → JSONL gives byte-identical files.

Import policy: ids in the file are kept, which is only possible in an empty store;
importing into a store that holds anything is refused with a message, unless
``remap_ids=True``, which gives every imported query and label a fresh id and rewrites
``query_id`` and ``supersedes`` to match. A label's ``request_id`` that the store
already holds is refused either way (it usually means the file was imported before).
An import is one transaction: a bad line leaves the store as it was.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from robopref.data.segments import SegmentRef
from robopref.prefs.records import check_id, make_label, make_query
from robopref.prefs.writer import Writer

if TYPE_CHECKING:
    from robopref.prefs.store import PreferenceStore

QUERY_FIELDS = ("type", "id", "kind", "segments", "created", "origin", "meta")
LABEL_FIELDS = (
    "type", "id", "query_id", "annotator", "source", "kind", "value", "ranking",
    "confidence", "timestamp", "note", "supersedes", "request_id",
)  # fmt: skip


@dataclass(frozen=True)
class ImportResult:
    """What an import added: ids in the file mapped to ids in the store (equal unless remapped)."""

    query_ids: dict[int, int]
    label_ids: dict[int, int]


def _line(record_type: str, fields: dict[str, Any]) -> str:
    return json.dumps({"type": record_type, **fields}, ensure_ascii=False, allow_nan=False) + "\n"


def export_jsonl(store: "PreferenceStore", path: Path) -> None:
    """Write ``store`` to ``path`` from one consistent snapshot.

    The file is written next to ``path`` and renamed over it once complete and
    fsynced, so a crash never leaves a half-written export under the final name.
    """
    with store.snapshot():
        queries = store.queries()
        labels = store.labels(include_superseded=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(_line("query", q.to_dict()) for q in queries)
            f.writelines(_line("label", label.to_dict()) for label in labels)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; refuses what is not an object."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({err})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
            yield lineno, record


def _check_fields(record: dict[str, Any], expected: tuple[str, ...]) -> None:
    missing = [k for k in expected if k not in record]
    unknown = [k for k in record if k not in expected]
    if missing or unknown:
        raise ValueError(f"{record['type']} record has missing fields {missing} / unknown fields {unknown}")
    for name in ("created", "timestamp"):
        if name in record and record[name] is None:
            raise ValueError(f"{name} must be seconds since the epoch, got null")


_NOUNS = {"queries": "query", "labels": "label"}


class _Importer:
    """Turns records into rows, keeping the maps from file ids to store ids."""

    def __init__(self, writer: Writer, remap_ids: bool) -> None:
        self.writer = writer
        self.remap_ids = remap_ids
        self.query_ids: dict[int, int] = {}
        self.label_ids: dict[int, int] = {}

    def _new_id(self, table: str, file_id: object, seen: dict[int, int]) -> tuple[int, int]:
        """``(id in the file, id in the store)`` for the next record of ``table``."""
        file_id = check_id("id", file_id)
        if file_id in seen:
            raise ValueError(f"duplicate {_NOUNS[table]} id {file_id} in the file")
        return file_id, self.writer.next_id(table) if self.remap_ids else file_id

    @staticmethod
    def _earlier(name: str, file_id: object, seen: dict[int, int], what: str) -> int:
        file_id = check_id(name, file_id)
        if file_id not in seen:
            raise ValueError(f"{name} {file_id} is not a {what} earlier in the file")
        return seen[file_id]

    def add_query(self, record: dict[str, Any]) -> None:
        _check_fields(record, QUERY_FIELDS)
        file_id, new_id = self._new_id("queries", record["id"], self.query_ids)
        if not isinstance(record["segments"], list) or not all(isinstance(s, dict) for s in record["segments"]):
            raise ValueError(f"segments must be a list of segment objects, got {record['segments']!r}")
        segments = [SegmentRef.from_dict(s) for s in record["segments"]]
        query = make_query(
            id=new_id, segments=segments, created=record["created"], origin=record["origin"], meta=record["meta"]
        )
        if record["kind"] != query.kind:
            raise ValueError(f"kind {record['kind']!r} does not match {len(segments)} segments ({query.kind!r})")
        self.writer.insert_queries([query])
        self.query_ids[file_id] = new_id

    def add_label(self, record: dict[str, Any]) -> None:
        _check_fields(record, LABEL_FIELDS)
        file_id, new_id = self._new_id("labels", record["id"], self.label_ids)
        query_id = self._earlier("query_id", record["query_id"], self.query_ids, "query")
        supersedes = record["supersedes"]
        if supersedes is not None:
            supersedes = self._earlier("supersedes", supersedes, self.label_ids, "label")
        fields = {k: record[k] for k in LABEL_FIELDS if k not in ("type", "id", "query_id", "supersedes")}
        label = make_label(
            id=new_id, query_id=query_id, query_kind=self.writer.query_kind(query_id), supersedes=supersedes, **fields
        )
        self.writer.insert_label(label)
        self.label_ids[file_id] = new_id


def import_jsonl(store: "PreferenceStore", path: Path, *, remap_ids: bool = False) -> ImportResult:
    """Read an export into ``store`` (see the module docstring for the id policy)."""
    with store._writer() as writer:
        if not remap_ids:
            held = (store.count_queries(), store.count_labels(include_superseded=True))
            if any(held):
                raise ValueError(
                    f"cannot import {path} into {store.path}: the store already holds {held[0]} queries "
                    f"and {held[1]} labels, and the ids in the file could clash with theirs; pass "
                    f"remap_ids=True to give the imported records new ids, or import into a new store"
                )
        importer = _Importer(writer, remap_ids)
        for lineno, record in _records(path):
            handler = {"query": importer.add_query, "label": importer.add_label}.get(record.get("type"))
            if handler is None:
                raise ValueError(f"{path}:{lineno}: type must be 'query' or 'label', got {record.get('type')!r}")
            try:
                handler(record)
            except (ValueError, TypeError) as err:
                raise ValueError(f"{path}:{lineno}: {err}") from None
    return ImportResult(query_ids=importer.query_ids, label_ids=importer.label_ids)
