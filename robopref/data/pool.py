"""Open each dataset a set of segment references names once, and read segments from it."""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np

from robopref.data.dataset import Dataset
from robopref.data.segments import SegmentRef


class DatasetPool:
    """A cache of open :class:`Dataset` objects keyed by path.

    Queries in the preference store name datasets by path; a pool lets teachers, reward
    training and evaluation read many segments without reopening files. ``root`` resolves
    relative dataset paths (e.g. those written relative to a run directory).
    """

    def __init__(self, datasets: Iterable[Dataset] = (), root: str | os.PathLike | None = None) -> None:
        self._open: dict[str, Dataset] = {d.path: d for d in datasets}
        self.root = None if root is None else str(root)

    def get(self, path: str) -> Dataset:
        """The dataset at ``path`` (opened and validated on first use; it must hold episodes)."""
        if path not in self._open:
            full = path if self.root is None or os.path.isabs(path) else os.path.join(self.root, path)
            self._open[path] = Dataset(full).require_episodes("nothing to label or learn from; collect some first")
        return self._open[path]

    def read(self, ref: SegmentRef, key: str) -> np.ndarray:
        """``key`` (e.g. ``infos/pref_score``) over the segment's window."""
        return self.get(ref.dataset).read(ref.demo, key, ref.start, ref.stop)

    def read_many(self, refs: Sequence[SegmentRef], key: str) -> np.ndarray:
        """Stack ``key`` over equal-length segments: shape (N, L, ...)."""
        lengths = {r.length for r in refs}
        if len(lengths) > 1:
            raise ValueError(f"read_many needs segments of one length, got lengths {sorted(lengths)}")
        return np.stack([self.read(r, key) for r in refs])

    def close(self) -> None:
        """Close every open file."""
        for d in self._open.values():
            d.close()
