"""Opening files: a new store is WAL and versioned; wrong files give errors naming them."""

from __future__ import annotations

import re
import sqlite3

import pytest

from robopref.prefs import SCHEMA_VERSION, NotAStoreError, PreferenceStore, SchemaVersionError, StoreError
from robopref.prefs.schema import APPLICATION_ID


def pragma(path, name):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def test_new_store_is_wal_and_versioned(store_path):
    PreferenceStore(store_path).close()
    assert pragma(store_path, "journal_mode") == "wal"
    assert pragma(store_path, "user_version") == SCHEMA_VERSION
    assert pragma(store_path, "application_id") == APPLICATION_ID
    with PreferenceStore(store_path) as store:  # reopening an existing store
        conn = store._sessions.connection()
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with PreferenceStore(store_path, synchronous="NORMAL") as store:
        assert store._sessions.connection().execute("PRAGMA synchronous").fetchone()[0] == 1


def test_newer_schema_version_is_refused(store_path):
    PreferenceStore(store_path).close()
    conn = sqlite3.connect(store_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    for readonly in (False, True):
        with pytest.raises(SchemaVersionError) as err:
            PreferenceStore(store_path, readonly=readonly)
        message = str(err.value)
        assert str(store_path) in message
        assert f"schema version {SCHEMA_VERSION + 1}" in message and f"version {SCHEMA_VERSION} " in message


def test_text_file_is_not_a_store(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 100)
    for readonly in (False, True):
        expected = f"{path} is not a robopref preference store: it is not an SQLite database"
        with pytest.raises(NotAStoreError, match=re.escape(expected)):
            PreferenceStore(path, readonly=readonly)
    assert path.read_text().startswith("these are my notes")


def test_foreign_sqlite_file_is_not_a_store_and_is_left_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE experiments (name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    expected = f"{path} is an SQLite database but not a robopref preference store"
    with pytest.raises(NotAStoreError, match=re.escape(expected)):
        PreferenceStore(path)
    assert path.read_bytes() == before and pragma(path, "journal_mode") == "delete"


def test_empty_file_becomes_a_store_but_not_readonly(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    with pytest.raises(NotAStoreError, match=re.escape(f"{path} is an empty SQLite file")):
        PreferenceStore(path, readonly=True)
    with PreferenceStore(path) as store:
        assert store.count_queries() == 0


def test_missing_and_unusable_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.sqlite does not exist \(opened readonly\)"):
        PreferenceStore(tmp_path / "missing.sqlite", readonly=True)
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(StoreError, match=r"is a directory"):
        PreferenceStore(tmp_path)
    with pytest.raises(StoreError, match=r"cannot open preference store .*no_such_dir"):
        PreferenceStore(tmp_path / "no_such_dir" / "prefs.sqlite")
