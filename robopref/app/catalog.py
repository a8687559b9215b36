"""The datasets a label server may read, and the mapping from query segments to them.

The browser never names a file: it names a dataset by its index in the list the server
was started with, plus a demo, a start and a length, and every one of those is checked
here against the open file. So nothing outside the configured datasets can be read
through the server, whatever the request says (``../../etc/passwd`` is simply not a
demo of any configured dataset).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from robopref.data.dataset import Dataset
from robopref.data.segments import SegmentRef

MAX_SEGMENT_LENGTH = 2000
"""Longest window a video may show: bounds the work one request can cause."""


class NotShowable(LookupError):
    """A request names data the server does not serve; the message says why."""


@dataclass(frozen=True)
class Clip:
    """A validated window of one configured dataset: what one video shows."""

    dataset: int
    demo: str
    start: int
    length: int


@dataclass(frozen=True)
class _Open:
    """One open dataset with what requests check against it, read once per file version."""

    fingerprint: str
    dataset: Dataset
    image_key: str
    lengths: dict[str, int]
    tasks: dict[str, str]  # demo -> its 'task' attribute (a LeRobot import's instruction), where it has one


class DatasetCatalog:
    """Configured datasets, opened once, addressed by index.

    ``camera`` picks the image key (``<camera>_image``); ``None`` takes each dataset's
    first image key. A dataset without images is refused at start-up: a person cannot
    label what they cannot see.
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]], camera: str | None = None) -> None:
        if not paths:
            raise ValueError("datasets is empty: give the dataset files the queries refer to, e.g. datasets=[data.hdf5]")
        missing = [str(p) for p in paths if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"datasets: {missing} not found; give the robomimic-layout .hdf5 files the queries refer to")
        self.paths = [str(p) for p in paths]
        self.real = [os.path.realpath(p) for p in self.paths]
        self.camera = camera
        self._lock = threading.Lock()
        self._open: list[_Open] = [self._load(i) for i in range(len(self.paths))]

    def _load(self, index: int) -> "_Open":
        fingerprint = self.fingerprint(index)
        dataset = Dataset(self.paths[index])
        tasks = {d: str(t) for d in dataset.demos if (t := dataset.demo_attrs(d).get("task"))}
        return _Open(fingerprint, dataset, dataset.camera_key(self.camera, "there is nothing to show a person"), dataset.lengths, tasks)

    def _current(self, index: int) -> "_Open":
        """The open dataset, reopened if the file changed on disk.

        Recording appends demos by writing a new file and renaming it over the old one,
        so a long-running server must notice, or new rollouts would never be shown.
        """
        fingerprint = self.fingerprint(index)
        with self._lock:
            if self._open[index].fingerprint != fingerprint:
                self._open[index].dataset.close()
                self._open[index] = self._load(index)
            return self._open[index]

    def dataset(self, index: int) -> tuple[Dataset, str]:
        """The open dataset and its image key (see :meth:`_current`)."""
        current = self._current(index)
        return current.dataset, current.image_key

    def __len__(self) -> int:
        return len(self.paths)

    def index_of(self, dataset: str) -> int | None:
        """Index of the configured dataset a segment's ``dataset`` string names, if any.

        Matches the string as written or the file it resolves to (relative paths are
        taken from the server's working directory).
        """
        if dataset in self.paths:
            return self.paths.index(dataset)
        real = os.path.realpath(dataset)
        return self.real.index(real) if real in self.real else None

    def clip(self, dataset: int, demo: str, start: int, length: int) -> Clip:
        """Check a requested window against the files; ``NotShowable`` says what is wrong."""
        if not 0 <= dataset < len(self.paths):
            raise NotShowable(f"dataset {dataset} is not configured: this server serves datasets 0..{len(self.paths) - 1}")
        lengths = self._current(dataset).lengths
        if demo not in lengths:
            raise NotShowable(f"dataset {dataset} has no demo {demo!r}")
        if length < 1 or length > MAX_SEGMENT_LENGTH:
            raise NotShowable(f"length must be between 1 and {MAX_SEGMENT_LENGTH}, got {length}")
        steps = lengths[demo]
        if start < 0 or start + length > steps:
            raise NotShowable(f"window [{start}, {start + length}) is outside {demo} of dataset {dataset} ({steps} steps)")
        return Clip(dataset, demo, start, length)

    def clip_of(self, segment: SegmentRef) -> Clip:
        """The clip of a stored segment; ``NotShowable`` if its dataset is not configured
        or the window is not inside it."""
        named = self.address(segment)
        return self.clip(named.dataset, named.demo, named.start, named.length)

    def address(self, segment: SegmentRef) -> Clip:
        """The clip a segment names, without checking its window against the file (no
        ``stat``): for segments already checked with :meth:`clip_of`. ``NotShowable`` if
        its dataset is not configured."""
        index = self.index_of(segment.dataset)
        if index is None:
            raise NotShowable(f"segment dataset {segment.dataset!r} is not one of the datasets this server was started with")
        return Clip(index, segment.demo, segment.start, segment.length)

    def task(self, clip: Clip) -> str | None:
        """The task text of the clip's demo (its ``task`` attribute), or None. Read from the file
        version last opened, without a ``stat``: ``QueryViews.view`` calls it per segment on
        every ``/api/next``, and the checks that reopen a changed file run elsewhere."""
        with self._lock:
            return self._open[clip.dataset].tasks.get(clip.demo)

    def frames(self, clip: Clip) -> np.ndarray:
        """uint8 frames (T, H, W, 3) of a clip."""
        ds, key = self.dataset(clip.dataset)
        return ds.read(clip.demo, key, clip.start, clip.start + clip.length)

    def fingerprint(self, dataset: int) -> str:
        """Changes when the file changes (appended demos, re-collected data): part of the video cache key."""
        st = Path(self.real[dataset]).stat()
        return f"{self.real[dataset]}:{st.st_size}:{st.st_mtime_ns}"

    def close(self) -> None:
        """Close every dataset file."""
        with self._lock:
            for current in self._open:
                current.dataset.close()
