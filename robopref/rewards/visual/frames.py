"""Reading videos for the visual rewards: whole segments of one camera, lazily from the
datasets, subsampled to a fixed number of frames so that videos of different lengths
batch together (RAPL compares videos, not steps, so a uniform subsample keeps the
ordering information at a fraction of the encoder cost)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef


def subsample_indices(length: int, count: int) -> np.ndarray:
    """``count`` evenly spaced indices over ``length`` steps, first and last included."""
    return np.round(np.linspace(0, length - 1, count)).astype(np.int64)


def read_video(pool: DatasetPool, ref: SegmentRef, count: int | None = None, camera: str | None = None) -> np.ndarray:
    """uint8 (count or length, H, W, 3) frames of a segment."""
    ds = pool.get(ref.dataset)
    frames = ds.read(ref.demo, ds.camera_key(camera, "visual rewards need camera frames"), ref.start, ref.stop)
    return frames if count is None else frames[subsample_indices(len(frames), count)]


def read_videos(pool: DatasetPool, refs: Sequence[SegmentRef], count: int, camera: str | None = None) -> np.ndarray:
    """uint8 (len(refs), count, H, W, 3): every segment subsampled to ``count`` frames."""
    return np.stack([read_video(pool, r, count, camera) for r in refs])
