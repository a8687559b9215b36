"""The store's SQLite schema, how a file is recognised as a store, and its migrations.

A store is identified by ``PRAGMA application_id`` (a fixed magic number, so ``file``
and other tools can tell what it is) and versioned by ``PRAGMA user_version``. Both live
in the file header and change inside the same transaction as the DDL, so a file is
either a complete store of some version or untouched.

Creating a store is the migration from version 0 (an empty SQLite file) to version 1;
a later schema change appends ``MIGRATIONS[1]`` and bumps ``SCHEMA_VERSION``, and
every writable open upgrades older files in one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from robopref.prefs.errors import NotAStoreError, SchemaVersionError
from robopref.prefs.records import LABEL_KINDS, LABEL_SOURCES, RANKINGS

APPLICATION_ID = 0x52505246  # "RPRF"
SCHEMA_VERSION = 1


def _sql_list(values: object) -> str:
    return ", ".join(f"'{v}'" for v in values)  # type: ignore[attr-defined]


def _append_only(table: str) -> tuple[str, ...]:
    """Triggers that refuse UPDATE and DELETE: rows are history, never rewritten."""
    return tuple(
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} are append-only: add a new row instead'); END"
        for op in ("UPDATE", "DELETE")
    )


_RANKING_TEXTS = _sql_list(sorted("".join(map(str, r)) for r in RANKINGS))

_V1: tuple[str, ...] = (
    """CREATE TABLE queries (
        id      INTEGER PRIMARY KEY,
        kind    TEXT NOT NULL CHECK (kind IN ('pair', 'triplet')),
        created REAL NOT NULL,
        origin  TEXT,
        meta    TEXT
    )""",
    """CREATE TABLE segments (
        query_id INTEGER NOT NULL REFERENCES queries (id),
        position INTEGER NOT NULL CHECK (position BETWEEN 0 AND 2),
        dataset  TEXT NOT NULL,
        demo     TEXT NOT NULL,
        start    INTEGER NOT NULL CHECK (start >= 0),
        length   INTEGER NOT NULL CHECK (length >= 1),
        PRIMARY KEY (query_id, position)
    ) WITHOUT ROWID""",
    f"""CREATE TABLE labels (
        id         INTEGER PRIMARY KEY,
        query_id   INTEGER NOT NULL REFERENCES queries (id),
        annotator  TEXT NOT NULL,
        source     TEXT NOT NULL CHECK (source IN ({_sql_list(LABEL_SOURCES)})),
        kind       TEXT NOT NULL CHECK (kind IN ({_sql_list(LABEL_KINDS)})),
        value      REAL CHECK (value IS NULL OR value BETWEEN 0 AND 1),
        ranking    TEXT CHECK (ranking IS NULL OR ranking IN ({_RANKING_TEXTS})),
        confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
        timestamp  REAL NOT NULL,
        note       TEXT,
        supersedes INTEGER UNIQUE REFERENCES labels (id),
        request_id TEXT UNIQUE
    )""",
    "CREATE INDEX queries_by_origin ON queries (origin)",
    "CREATE INDEX segments_by_demo ON segments (dataset, demo)",
    "CREATE INDEX labels_by_query ON labels (query_id)",
    # A label is effective unless a later label supersedes it; retracts only hide.
    """CREATE VIEW effective_labels AS
        SELECT * FROM labels AS l
        WHERE l.kind != 'retract'
          AND NOT EXISTS (SELECT 1 FROM labels AS s WHERE s.supersedes = l.id)""",
    *_append_only("queries"),
    *_append_only("segments"),
    *_append_only("labels"),
)

MIGRATIONS: dict[int, tuple[str, ...]] = {0: _V1}
"""``MIGRATIONS[v]`` takes a file from schema version ``v`` to ``v + 1``."""


def read_header(conn: sqlite3.Connection, path: Path) -> tuple[int, int, int]:
    """``(application_id, user_version, number of schema objects)`` without writing.

    The three values are read in one transaction (unless the caller holds one), so a
    store being created by another process at this moment is seen before or after,
    never half-way. The first read of a non-SQLite file fails here, so this is where
    that is reported.
    """
    own_transaction = not conn.in_transaction
    try:
        if own_transaction:
            conn.execute("BEGIN")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as err:
        raise NotAStoreError(
            f"{path} is not a robopref preference store: it is not an SQLite database ({err})"
        ) from None
    finally:
        if own_transaction and conn.in_transaction:
            conn.execute("COMMIT")
    return app_id, version, objects


def check_header(path: Path, app_id: int, version: int, objects: int, *, readonly: bool) -> bool:
    """Refuse files that are not stores or are too new; return whether to migrate."""
    if app_id == 0 and version == 0 and objects == 0:
        if readonly:
            raise NotAStoreError(f"{path} is an empty SQLite file, not a robopref preference store")
        return True
    if app_id != APPLICATION_ID:
        raise NotAStoreError(
            f"{path} is an SQLite database but not a robopref preference store "
            f"(application_id {app_id:#x}, a store has {APPLICATION_ID:#x})"
        )
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} has preference-store schema version {version}, newer than version "
            f"{SCHEMA_VERSION} that this robopref understands; upgrade robopref to open it"
        )
    if version < SCHEMA_VERSION and readonly:
        raise SchemaVersionError(
            f"{path} has preference-store schema version {version}, older than version "
            f"{SCHEMA_VERSION}; open it once without readonly to upgrade it"
        )
    return version < SCHEMA_VERSION


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file to ``SCHEMA_VERSION`` in one write transaction.

    The header is read again under the write lock: another process may have created or
    upgraded the file since we first looked.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id, version, objects = read_header(conn, path)
        if check_header(path, app_id, version, objects, readonly=False):
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
