"""Write files so that a process killed mid-write never leaves a truncated file where a
good one (or none) was: write next to it, then rename over it in one step."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` through ``<name>.partial`` and ``os.replace``; creates the folder."""
    import torch  # here, so that the stages that only write text import no torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through ``<name>.partial``, flushed to disk, then
    ``os.replace``; creates the folder. For the JSON and Markdown a run leaves behind
    (summaries, metrics, evaluation results, the pipeline's state and report)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
