"""Write frame sequences to mp4 (H.264 via the ffmpeg that imageio-ffmpeg ships)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def write_video(frames: np.ndarray, path: str | os.PathLike, fps: int = 10, scale: int = 1) -> Path:
    """Write uint8 frames (T, H, W, 3) to ``path``; ``scale`` upsamples small frames
    (nearest neighbour) so a 64×64 render is watchable. Returns the path."""
    import imageio.v2 as imageio

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3) or frames.dtype != np.uint8:
        raise ValueError(f"write_video expects uint8 frames of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    # H.264 with yuv420p needs even sizes; pad by one row/column when odd.
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial" + path.suffix)
    with imageio.get_writer(tmp, fps=fps, codec="libx264", macro_block_size=1, quality=7, format="FFMPEG") as w:
        for fr in frames:
            w.append_data(fr)
    os.replace(tmp, path)
    return path
