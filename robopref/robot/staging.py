"""One episode being recorded, in its own HDF5 file in SWMR mode, flushed every second.

Why a separate file: HDF5 is not crash-safe for a writer that adds groups, but a
single-writer/multiple-reader (SWMR) file whose datasets already exist stays readable
whatever instant the writer dies at. Datasets are created at the first step, then the
file switches to SWMR; each step appends one row to every resizable dataset, and every
``flush_every_s`` the row count is committed (``committed``) and the file flushed. A
reader trusts only ``committed`` rows, so a crash loses at most the last second.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from robopref.data.layout import is_image_key

COMMITTED = "committed"


class StagedEpisode:
    """Append-only writer of one episode: ``append(step)`` per control tick, ``close()`` at the end."""

    def __init__(self, path: str | os.PathLike, attrs: Mapping[str, Any] | None = None, flush_every_s: float = 1.0,
                 clock=time.monotonic) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_every_s = float(flush_every_s)
        self.clock = clock
        self._file = h5py.File(self.path, "w", libver="latest")
        for k, v in (attrs or {}).items():
            self._file.attrs[k] = v
        self._ds: dict[str, h5py.Dataset] = {}
        self.n = 0
        self.committed = 0
        self._last_flush = clock()

    def append(self, step: Mapping[str, np.ndarray]) -> None:
        """One row per key (``actions``, ``rewards``, ``dones``, ``obs/<k>``, ``infos/<k>``); same keys every step."""
        if not self._ds:
            self._create(step)
        if set(step) != set(self._ds):
            raise KeyError(f"step keys {sorted(step)} differ from the episode's {sorted(self._ds)}")
        for k, v in step.items():
            ds = self._ds[k]
            ds.resize(self.n + 1, axis=0)
            ds[self.n] = v
        self.n += 1
        if self.clock() - self._last_flush >= self.flush_every_s:
            self.flush()

    def _create(self, step: Mapping[str, np.ndarray]) -> None:
        for k, v in step.items():
            v = np.asarray(v)
            kw: dict[str, Any] = {}
            if is_image_key(k):
                kw = {"compression": "gzip", "compression_opts": 1}
            self._ds[k] = self._file.create_dataset(k, shape=(0,) + v.shape, maxshape=(None,) + v.shape, dtype=v.dtype,
                                                    chunks=(max(1, min(64, (1 << 20) // max(1, v.nbytes))),) + v.shape, **kw)
        self._file.create_dataset(COMMITTED, data=np.zeros(1, np.int64))
        self._file.swmr_mode = True

    def flush(self) -> None:
        """Commit the rows written so far and push them to disk."""
        if self._ds:
            for ds in self._ds.values():
                ds.flush()
            self._file[COMMITTED][0] = self.n
            self._file[COMMITTED].flush()
        self._file.flush()
        self.committed = self.n
        self._last_flush = self.clock()

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None


def read_staged(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The committed rows of a staged episode (also of one whose writer was killed) and its attributes."""
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        if COMMITTED not in f:
            return {}, attrs
        n = int(f[COMMITTED][0])
        out: dict[str, np.ndarray] = {}

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and name != COMMITTED:
                out[name] = obj[:n]

        f.visititems(visit)
    return out, attrs
