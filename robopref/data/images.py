"""Camera frames as robopref stores them: uint8 RGB, resized to a square where asked."""

from __future__ import annotations

import numpy as np


def square_rgb(frames: np.ndarray, size: int | None) -> np.ndarray:
    """uint8 frames (T, H, W, 1 or 3) as RGB (T, size, size, 3), bilinear; ``size=None`` keeps H × W."""
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    if not size or frames.shape[1:3] == (size, size):
        return frames
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR), dtype=np.uint8) for f in frames])
