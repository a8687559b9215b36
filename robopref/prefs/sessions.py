"""Per-thread SQLite connections to one store, and transactions on them.

Why this shape:

- one connection per thread, opened on first use in that thread: the label app's
  worker threads read in parallel (WAL) and never share a cursor or a transaction;
- one set of connections per process: SQLite connections must not cross ``fork``, so
  use from another process raises instead of corrupting locks;
- every write is a ``BEGIN IMMEDIATE`` transaction: it takes the write lock up front,
  waiting up to the busy timeout. A deferred transaction that reads first and writes
  later can fail with SQLITE_BUSY at once when another process committed in between.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from robopref.prefs.connection import connect
from robopref.prefs.errors import StoreError


class _ThreadState(threading.local):
    """This thread's connection and how deep it is inside transactions."""

    conn: sqlite3.Connection | None = None
    depth: int = 0
    writing: bool = False


class Sessions:
    """The connections one store object holds, one per thread, all in one process."""

    def __init__(self, path: Path, *, readonly: bool, synchronous: str) -> None:
        self.path = path
        self.readonly = readonly
        self.synchronous = synchronous
        self._pid = os.getpid()
        self._state = _ThreadState()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the file checked) on first use."""
        if self._closed:
            raise StoreError(f"preference store {self.path} is closed")
        if os.getpid() != self._pid:
            raise StoreError(
                f"preference store {self.path} was opened in process {self._pid} and used in "
                f"process {os.getpid()}; open a new PreferenceStore in each process"
            )
        conn = self._state.conn
        if conn is None:
            conn = connect(self.path, readonly=self.readonly, synchronous=self.synchronous)
            with self._lock:
                if self._closed:
                    conn.close()
                    raise StoreError(f"preference store {self.path} is closed")
                self._connections.append(conn)
            self._state.conn = conn
        return conn

    def close(self) -> None:
        """Close every connection (of any thread). Idempotent.

        In a forked child the inherited connections are left alone: closing them there
        could disturb the parent's locks on the same file.
        """
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        if os.getpid() == self._pid:
            for conn in connections:
                conn.close()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction on this thread's connection; nested ones become savepoints.

        Committed when the block ends, rolled back if it raises. A write cannot nest
        inside a read transaction: its snapshot may be stale, so SQLite would refuse it.
        """
        if write and self.readonly:
            raise StoreError(f"preference store {self.path} was opened readonly; it cannot be written")
        conn = self.connection()
        state = self._state
        nested = state.depth > 0
        savepoint = f"sp{state.depth}"
        if nested:
            if write and not state.writing:
                raise StoreError("cannot write inside snapshot(); use batch() for a write transaction")
            conn.execute(f"SAVEPOINT {savepoint}")
        else:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            state.writing = write
        state.depth += 1
        try:
            yield conn
            conn.execute(f"RELEASE {savepoint}" if nested else "COMMIT")
        except BaseException:
            if nested:
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
            elif conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            state.depth -= 1
