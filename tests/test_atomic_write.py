"""Text outputs (summaries, metrics, evaluation results) are replaced in one step: a write
that dies part-way leaves the previous file as it was, and a finished one leaves no
temporary file behind."""

from __future__ import annotations

import pytest

from robopref.utils.atomic import atomic_write_text


def test_writes_creates_the_folder_and_leaves_no_partial_file(tmp_path):
    path = atomic_write_text(tmp_path / "run" / "summary.json", '{"episodes": 3}')
    assert path.read_text() == '{"episodes": 3}'
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]


def test_a_write_that_fails_midway_keeps_the_previous_file(tmp_path, monkeypatch):
    path = atomic_write_text(tmp_path / "eval.json", '{"success": 0.8}')

    def disk_full(fd: int) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr("robopref.utils.atomic.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(path, '{"success": 0.9, "episodes": [')
    assert path.read_text() == '{"success": 0.8}'
