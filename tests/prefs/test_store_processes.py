"""Several processes write one store at once; a killed writer loses no committed label."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from robopref.prefs import PreferenceStore

WRITER = Path(__file__).with_name("label_writer.py")


def start_writer(store_path: Path, annotator: str, count: int) -> subprocess.Popen[str]:
    """A child that adds ``count`` labels once told to go, printing each committed id."""
    child = subprocess.Popen(
        [sys.executable, str(WRITER), str(store_path), annotator, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


def make_store(store_path: Path, seg) -> None:
    with PreferenceStore(store_path) as store:
        store.add_query([seg(0), seg(1)])


def test_two_processes_writing_at_once_lose_nothing(store_path, seg):
    make_store(store_path, seg)
    # Both children have the store open before either writes; how their commits
    # interleave is up to SQLite's busy handler (one may well go first and the other
    # wait on the lock): what must hold is that every label of both arrives.
    children = [start_writer(store_path, name, 500) for name in ("proc-a", "proc-b")]
    for child in children:
        child.stdin.write("go\n")  # type: ignore[union-attr]
        child.stdin.flush()  # type: ignore[union-attr]
    reported = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        reported.append([int(line) for line in out.split()])

    with PreferenceStore(store_path, readonly=True) as store:
        labels = store.labels()
        assert len(labels) == 1000 and len({l.id for l in labels}) == 1000
        assert store.count_labels(annotator="proc-a") == store.count_labels(annotator="proc-b") == 500
        assert sorted(reported[0] + reported[1]) == [l.id for l in labels]
        for name in ("proc-a", "proc-b"):
            notes = [l.note for l in store.labels(annotator=name)]
            assert notes == [f"{name} #{i}" for i in range(500)]


def test_sigkill_mid_write_loses_no_committed_label(store_path, seg):
    make_store(store_path, seg)
    child = start_writer(store_path, "doomed", 1_000_000)
    child.stdin.write("go\n")  # type: ignore[union-attr]
    child.stdin.flush()  # type: ignore[union-attr]
    reported: list[int] = []
    while len(reported) < 150:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line, "the writer died before committing 150 labels"
        reported.append(int(line))
    os.kill(child.pid, signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    reported += [int(line) for line in rest.splitlines(keepends=True) if line.endswith("\n")]

    conn = sqlite3.connect(store_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    with PreferenceStore(store_path) as store:
        stored = {l.id for l in store.labels()}
        assert set(reported) <= stored
        assert len(stored) - len(reported) <= 1  # at most the one committed as it was killed
        assert store.add_label(1, annotator="after", source="human", value=1.0) == max(stored) + 1


OPEN_AND_ADD = """
import sys
from robopref.data.segments import SegmentRef
from robopref.prefs import PreferenceStore
print("ready", flush=True)
sys.stdin.readline()
with PreferenceStore(sys.argv[1]) as store:
    store.add_query([SegmentRef("d.hdf5", sys.argv[2], 0, 8), SegmentRef("d.hdf5", "demo_ref", 0, 8)])
"""


def test_processes_creating_one_new_store_at_once(tmp_path):
    for trial in range(2):
        path = tmp_path / f"new-{trial}.sqlite"
        children = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AND_ADD, str(path), f"demo_{i}"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for i in range(3)
        ]  # fmt: skip
        for child in children:
            assert child.stdout.readline() == "ready\n"  # type: ignore[union-attr]
        for child in children:
            child.stdin.write("go\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
        errors = [child.communicate(timeout=60)[1] for child in children]
        assert [child.returncode for child in children] == [0, 0, 0], errors
        with PreferenceStore(path, readonly=True) as store:
            assert store.count_queries() == 3
