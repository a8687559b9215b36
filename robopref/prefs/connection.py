"""Opening one SQLite connection to a store with the settings that make it safe.

Why these settings:

- WAL journal: readers never block the writer and vice versa (the label app reads
  while a teacher writes), and a commit is one append to the ``-wal`` file.
- ``synchronous=FULL`` (default): in WAL mode every commit is fsynced, so a committed
  label survives power loss and OS crashes, not only a killed process. ``NORMAL``
  already survives SIGKILL (the WAL frames are in the OS page cache when COMMIT
  returns) and may lose the last commits on power loss; it is offered for bulk
  scripted runs, although batching writes with ``store.batch()`` is the better fix.
- ``busy_timeout``: several processes may write; a writer waits for the lock instead
  of failing at once.
- ``foreign_keys``: labels and segments must point at rows that exist.
- Autocommit mode (``isolation_level=None``): the store issues BEGIN/COMMIT itself,
  so a transaction is exactly what the code says, never one Python opened implicitly.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from robopref.prefs.errors import StoreError
from robopref.prefs.schema import check_header, migrate, read_header

BUSY_TIMEOUT_S = 30.0
SYNCHRONOUS_MODES = ("FULL", "NORMAL", "EXTRA")


def connect(path: Path, *, readonly: bool, synchronous: str) -> sqlite3.Connection:
    """Open ``path`` as a store: recognise it, configure it, create or upgrade it.

    The file is identified before anything is written to it, so opening a file that is
    not a store leaves it exactly as it was.
    """
    if readonly and not path.exists():
        raise FileNotFoundError(f"preference store {path} does not exist (opened readonly)")
    if path.is_dir():
        raise StoreError(f"preference store path {path} is a directory, expected a file")
    target = f"{path.absolute().as_uri()}?mode=ro" if readonly else str(path.absolute())
    try:
        conn = sqlite3.connect(
            target, uri=readonly, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as err:
        raise StoreError(f"cannot open preference store {path}: {err}") from None
    try:
        header = read_header(conn, path)
        needs_migration = check_header(path, *header, readonly=readonly)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if readonly:
            conn.execute("PRAGMA query_only = ON")
        else:
            _enable_wal(conn, path)
        if needs_migration:
            migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Switch the file to WAL (a no-op when it already is).

    Changing the journal mode does not wait on the busy handler: when several processes
    open a brand-new file at once, one may be creating the schema while another asks
    for WAL and gets "database is locked" at once. So retry, up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
    if mode.lower() != "wal":
        raise StoreError(
            f"cannot put preference store {path} in WAL mode (journal_mode is {mode!r}); "
            f"WAL needs a local filesystem with shared-memory support"
        )
