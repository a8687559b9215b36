"""Read diffusion_policy's replay buffers (zarr format 2) as robopref episodes.

diffusion_policy (Chi et al. 2023) stores a dataset as one zarr group: ``data/<key>``
arrays with time as the first axis, all episodes back to back, and ``meta/episode_ends``
(the exclusive end step of each episode). The store is a folder (``*.zarr``) or a zip of
one (``*.zarr.zip``). This module reads format-2 arrays itself (``.zarray``: shape,
chunks, dtype, compressor, filters, order, fill value) and decompresses chunks with
numcodecs, so the zarr package is not needed (``pip install 'robopref[zarr]'``).

Mapping: ``data/action`` → ``actions``; arrays of shape (T, H, W, 3) (``img``, ``camera_0``,
``*_image``) → ``obs/<name>_image`` as uint8 (float frames in 0–255 are rounded, in 0–1
scaled), resized to ``image_size``² when given; every other array → ``obs/<key>``
flattened per step (``keypoint`` (T, 9, 2) → (T, 18)). Rewards are zero, the last step
of an episode is done. Real-robot datasets keep their camera videos outside the zarr
(``videos/<episode>/<camera>.mp4``); those are not read here.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from robopref.data.episode import Episode
from robopref.data.images import square_rgb
from robopref.utils.optional import optional_import

IMAGE_NAMES = ("img", "image", "rgb")


class ZarrError(ValueError):
    """A replay buffer that cannot be read; the message names the store, the array and what is wrong."""


def _numcodecs() -> Any:
    return optional_import("numcodecs", "reading zarr replay buffers", "zarr")


class _Store:
    """Key → bytes over a zarr folder or a zip of one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile as e:
                raise ZarrError(f"{path}: neither a zarr folder nor a zip of one ({e})") from e
            names = self._zip.namelist()
            roots = sorted({n[: -len(".zgroup")] for n in names if n.endswith(".zgroup") and n.count("/") <= 1})
            self._prefix = roots[0] if roots and "" not in roots else ""
        elif not path.is_dir():
            raise ZarrError(f"{path}: not found")

    def get(self, key: str) -> bytes | None:
        if self._zip is not None:
            try:
                return self._zip.read(self._prefix + key)
            except KeyError:
                return None
        f = self.path / key
        return f.read_bytes() if f.is_file() else None

    def json(self, key: str) -> dict[str, Any] | None:
        raw = self.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ZarrError(f"{self.path}: {key} is not JSON ({e})") from e

    def listdir(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (a group path ending in '/')."""
        if self._zip is not None:
            full = self._prefix + prefix
            return sorted({n[len(full):].split("/", 1)[0] for n in self._zip.namelist() if n.startswith(full) and len(n) > len(full)})
        d = self.path / prefix
        return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


class ZarrArray:
    """One zarr format-2 array of a store, read by rows (the first axis)."""

    def __init__(self, store: _Store, key: str) -> None:
        meta = store.json(f"{key}/.zarray")
        if meta is None:
            raise ZarrError(f"{store.path}: {key}/.zarray not found")
        if meta.get("zarr_format") != 2:
            raise ZarrError(f"{store.path}: {key}: zarr_format {meta.get('zarr_format')!r}, expected 2")
        self.store, self.key = store, key
        self.shape = tuple(int(s) for s in meta["shape"])
        self.chunks = tuple(int(c) for c in meta["chunks"])
        try:
            self.dtype = np.dtype(meta["dtype"])
        except TypeError as e:
            raise ZarrError(f"{store.path}: {key}: dtype {meta['dtype']!r} is not supported ({e})") from e
        self.order = meta.get("order", "C")
        self.fill_value = meta.get("fill_value")
        self.separator = meta.get("dimension_separator", ".")
        codecs = _numcodecs()
        self.compressor = codecs.get_codec(meta["compressor"]) if meta.get("compressor") else None
        self.filters = [codecs.get_codec(f) for f in meta.get("filters") or []]

    def _chunk(self, index: tuple[int, ...]) -> np.ndarray:
        raw = self.store.get(f"{self.key}/" + self.separator.join(map(str, index)))
        if raw is None:  # never written: all fill value
            return np.full(self.chunks, self.fill_value if self.fill_value is not None else 0, dtype=self.dtype)
        data: Any = self.compressor.decode(raw) if self.compressor is not None else raw
        for f in reversed(self.filters):
            data = f.decode(data)
        arr = np.frombuffer(data, dtype=self.dtype) if not isinstance(data, np.ndarray) else data.view(self.dtype).reshape(-1)
        if arr.size != math.prod(self.chunks):
            raise ZarrError(f"{self.store.path}: {self.key}: chunk {index} holds {arr.size} values, expected {math.prod(self.chunks)}")
        return arr.reshape(self.chunks, order=self.order)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """``array[start:stop]`` (all other axes whole)."""
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        c0 = self.chunks[0]
        grid = [math.ceil(s / c) for s, c in zip(self.shape[1:], self.chunks[1:])]  # chunks along the other axes
        for i in range(start // c0, math.ceil(stop / c0)):
            lo, hi = max(start, i * c0), min(stop, (i + 1) * c0)
            for rest in np.ndindex(*grid):  # one empty index for 1-d arrays
                chunk = self._chunk((i, *rest))
                src = [slice(lo - i * c0, hi - i * c0)]
                dst = [slice(lo - start, hi - start)]
                for j, r in enumerate(rest):
                    c, size = self.chunks[j + 1], self.shape[j + 1]
                    n = min(c, size - r * c)
                    src.append(slice(0, n))
                    dst.append(slice(r * c, r * c + n))
                out[tuple(dst)] = chunk[tuple(src)]
        return out


def _is_image(name: str, arr: ZarrArray) -> bool:
    return len(arr.shape) == 4 and arr.shape[-1] in (1, 3) and (arr.dtype == np.uint8 or name in IMAGE_NAMES
                                                                 or name.endswith("_image") or name.startswith("camera"))


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    if frames.dtype == np.uint8:
        return frames
    f = frames.astype(np.float32)
    if f.size and float(np.nanmax(f)) <= 1.0:
        f = f * 255.0
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


class ZarrReplayBuffer:
    """A diffusion_policy replay buffer opened for reading (checked up front: ``meta/episode_ends``,
    ``data/action``, every array's length)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.root = Path(path).expanduser()
        self.store = _Store(self.root)
        if self.store.json(".zgroup") is None:
            v3 = self.store.get("zarr.json") is not None
            raise ZarrError(f"{self.root}: no .zgroup" + (" (zarr format 3; save it as format 2, as diffusion_policy does)" if v3
                                                          else " (a replay buffer is a zarr group with data/ and meta/episode_ends)"))
        ends_arr = ZarrArray(self.store, "meta/episode_ends")
        self.ends = ends_arr.rows(0, ends_arr.shape[0]).astype(np.int64)
        if len(self.ends) == 0:
            raise ZarrError(f"{self.root}: meta/episode_ends is empty (no episodes)")
        if np.any(np.diff(self.ends) <= 0) or self.ends[0] <= 0:
            raise ZarrError(f"{self.root}: meta/episode_ends must increase from > 0, got {self.ends[:8].tolist()}...")
        self.arrays = {k: ZarrArray(self.store, f"data/{k}") for k in self.store.listdir("data/") if not k.startswith(".")}
        if "action" not in self.arrays:
            raise ZarrError(f"{self.root}: data/action not found (arrays: {sorted(self.arrays)})")
        for k, a in self.arrays.items():
            if a.shape[0] < self.ends[-1]:
                raise ZarrError(f"{self.root}: data/{k} has {a.shape[0]} steps, meta/episode_ends says {int(self.ends[-1])}")
        self.cameras = [k for k, a in self.arrays.items() if _is_image(k, a)]
        self.fps: float | None = None  # a replay buffer does not record its control rate

    @property
    def episode_indices(self) -> list[int]:
        return list(range(len(self.ends)))

    @staticmethod
    def camera_key(name: str) -> str:
        """robopref's observation key of image array ``name``: ``img`` → ``img_image``."""
        return name if name.endswith("_image") else f"{name}_image"

    def skipped_features(self) -> list[str]:
        """Arrays not carried over: those with no per-step values (0-d or empty rows)."""
        return sorted(k for k, a in self.arrays.items() if len(a.shape) == 0)

    def read_episode(self, index: int, image_size: int | None = None, cameras: Sequence[str] | None = None) -> Episode:
        if not 0 <= index < len(self.ends):
            raise ZarrError(f"{self.root}: no episode {index} (episodes 0–{len(self.ends) - 1})")
        start, stop = (int(self.ends[index - 1]) if index else 0), int(self.ends[index])
        T = stop - start
        chosen = set(self.cameras if cameras is None else cameras)
        obs: dict[str, np.ndarray] = {}
        actions = None
        for k, a in self.arrays.items():
            if len(a.shape) == 0:
                continue
            if k in self.cameras:
                if k in chosen:
                    obs[self.camera_key(k)] = square_rgb(_to_uint8(a.rows(start, stop)), image_size)
                continue
            values = a.rows(start, stop).reshape(T, -1).astype(np.float32)
            if k == "action":
                actions = values
            else:
                obs[k] = values
        dones = np.zeros(T, np.uint8)
        dones[-1] = 1
        return Episode(actions=actions, rewards=np.zeros(T, np.float32), dones=dones, obs=obs,  # type: ignore[arg-type]
                       attrs={"zarr_episode_index": index})

    def iter_episodes(self, indices: Sequence[int] | None = None, image_size: int | None = None,
                      cameras: Sequence[str] | None = None) -> Iterator[Episode]:
        for i in indices if indices is not None else self.episode_indices:
            yield self.read_episode(int(i), image_size=image_size, cameras=cameras)
