"""Segment videos for the label page: frames → WebM (VP8), made on demand, cached on disk.

Why WebM/VP8: Debian's Chromium (and other open builds) often ship without the
proprietary H.264 decoder, so an mp4 may not play there; VP8 in WebM plays in every
browser and imageio-ffmpeg's bundled ffmpeg encodes it fast. The cache key is a hash
of everything that changes the pixels (the dataset file's identity, demo, window,
camera, fps, scale), so a re-recorded dataset never serves a stale video. Files are
written to a temporary name and renamed, so a reader never sees half a video; a lock
per key makes concurrent requests for one video encode it once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

import numpy as np

from robopref.app.catalog import Clip, DatasetCatalog

log = logging.getLogger(__name__)

ENCODER_VERSION = "vp8-2"  # bump when the encoding settings change: old cache entries are then ignored
MIN_VIDEO_SIDE = 256  # small renders (64×64) are upscaled by an integer factor to at least this
MAX_PREFETCH = 8  # clips waiting to be encoded in the background; more are dropped (made on demand)


def upscale_factor(height: int, width: int) -> int:
    """Integer factor that brings the shorter side to at least ``MIN_VIDEO_SIDE``."""
    return max(1, -(-MIN_VIDEO_SIDE // max(1, min(height, width))))


def encode_webm(frames: np.ndarray, path: Path, fps: int) -> None:
    """Write uint8 frames (T, H, W, 3) to ``path`` as VP8 WebM (nearest-neighbour upscaled)."""
    import imageio_ffmpeg

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3) or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    k = upscale_factor(*frames.shape[1:3])
    frames = frames.repeat(k, axis=1).repeat(k, axis=2)
    frames = np.pad(frames, ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0)), mode="edge")
    height, width = frames.shape[1:3]
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libvpx",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        quality=None,  # rate control is set below: constant quality, no bitrate cap
        # one thread: libvpx's default thread pool costs 40x more CPU than the encode itself
        # on these tiny clips (1.7 s vs 0.04 s measured); keyframe every second for seeking
        output_params=["-f", "webm", "-threads", "1", "-crf", "8", "-b:v", "2M", "-deadline", "good", "-cpu-used", "4", "-g", str(fps)],
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


class VideoCache:
    """Makes and keeps the WebM of each clip under ``cache_dir``."""

    def __init__(self, catalog: DatasetCatalog, cache_dir: str | os.PathLike[str], fps: int = 10) -> None:
        if fps < 1:
            raise ValueError(f"fps must be >= 1, got {fps}")
        self.catalog = catalog
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.fps = int(fps)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._pending: set[Clip] = set()
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-prefetch")

    def key(self, clip: Clip) -> str:
        """Cache key of a clip: a hash of the file identity, window and encoding settings."""
        _, image_key = self.catalog.dataset(clip.dataset)
        parts = (ENCODER_VERSION, self.catalog.fingerprint(clip.dataset), clip.demo, clip.start, clip.length, image_key, self.fps)
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def path(self, clip: Clip) -> Path:
        """Path of the clip's WebM, encoding it first when it is not cached yet."""
        key = self.key(clip)
        target = self.cache_dir / f"{key}.webm"
        if target.exists():
            return target
        with self._lock(key):
            if not target.exists():
                tmp = target.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.webm")
                try:
                    encode_webm(self.catalog.frames(clip), tmp, self.fps)
                    os.replace(tmp, target)
                finally:
                    tmp.unlink(missing_ok=True)
        return target

    def prefetch(self, clips: Iterable[Clip]) -> None:
        """Encode ``clips`` in the background (one at a time), so the page need not wait.

        At most ``MAX_PREFETCH`` wait at once: when answers come faster than videos
        encode (a script, or a person skipping fast), the rest are made on demand.
        """
        for clip in clips:
            with self._locks_guard:
                if clip in self._pending or len(self._pending) >= MAX_PREFETCH:
                    continue
                self._pending.add(clip)
            try:
                self._background.submit(self._prefetch_one, clip)
            except RuntimeError:  # shutting down
                return

    def _prefetch_one(self, clip: Clip) -> None:
        try:
            self.path(clip)
        except Exception as err:  # a background failure must not kill the worker; the page asks again
            log.warning("could not prefetch video %s: %s", clip, err)
        finally:
            with self._locks_guard:
                self._pending.discard(clip)

    def close(self) -> None:
        """Stop background encoding (what is queued is dropped)."""
        self._background.shutdown(wait=False, cancel_futures=True)
