"""Write small diffusion_policy-style replay buffers (zarr format 2) for the import tests,
without the zarr package: ``.zgroup`` / ``.zarray`` JSON and Blosc-compressed chunks named
``i.j.k`` (zarr's default layout), as ``ReplayBuffer.save_to_path`` leaves them."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np


def _write(files: dict[str, bytes], key: str, arr: np.ndarray, chunks: tuple[int, ...], compressor: dict | None) -> None:
    import numcodecs

    files[f"{key}/.zarray"] = json.dumps({
        "zarr_format": 2, "shape": list(arr.shape), "chunks": list(chunks), "dtype": arr.dtype.str, "order": "C",
        "fill_value": 0, "filters": None, "compressor": compressor}).encode()
    codec = numcodecs.get_codec(compressor) if compressor else None
    grid = [range(math.ceil(s / c)) for s, c in zip(arr.shape, chunks)]
    for index in np.ndindex(*[len(g) for g in grid]):
        block = np.zeros(chunks, arr.dtype)  # edge chunks are stored whole, padded
        sl = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, arr.shape))
        part = arr[sl]
        block[tuple(slice(0, n) for n in part.shape)] = part
        raw = np.ascontiguousarray(block).tobytes()
        files[f"{key}/" + ".".join(map(str, index))] = codec.encode(raw) if codec else raw


def make_replay(path: Path, data: Mapping[str, np.ndarray], episode_ends: list[int], chunk: int = 16,
                zip_it: bool = False, extra_chunks: Mapping[str, tuple[int, ...]] | None = None) -> Path:
    """A replay buffer at ``path``: ``data/<key>`` chunked ``chunk`` steps at a time (other axes
    whole, unless ``extra_chunks`` says otherwise), Blosc lz4 like diffusion_policy's default,
    ``meta/episode_ends`` uncompressed. ``zip_it``: a ``.zarr.zip`` of the folder's keys."""
    blosc = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 0, "blocksize": 0}
    files: dict[str, bytes] = {".zgroup": b'{"zarr_format": 2}', "data/.zgroup": b'{"zarr_format": 2}', "meta/.zgroup": b'{"zarr_format": 2}'}
    for k, a in data.items():
        chunks = (extra_chunks or {}).get(k, (chunk, *a.shape[1:]))
        _write(files, f"data/{k}", a, chunks, blosc)
    ends = np.asarray(episode_ends, np.int64)
    _write(files, "meta/episode_ends", ends, ends.shape, None)
    if zip_it:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for k, v in files.items():
                z.writestr(k, v)
        return path
    for k, v in files.items():
        f = path / k
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(v)
    return path
