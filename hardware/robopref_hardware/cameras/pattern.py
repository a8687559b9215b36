"""The ``pattern`` camera: a moving test pattern at any size and rate, no device needed.

Like a signal generator on a bench: it measures the server's camera path (encoding,
transport, frame pacing) apart from any sensor or renderer, and each frame carries its
sequence number in its first pixels so a reader can count dropped frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robopref_hardware.cameras.base import CameraConfig, ThreadedCamera


@dataclass
class PatternCameraConfig(CameraConfig):
    def build(self, arm=None) -> "PatternCamera":
        return PatternCamera(self)


class PatternCamera(ThreadedCamera):
    def _open(self) -> None:
        h, w = self.config.height, self.config.width
        self._base = (np.add.outer(np.arange(h), np.arange(w)) % 256).astype(np.uint8)
        self._n = 0

    def _grab(self) -> tuple[np.ndarray, None]:
        n = self._n
        self._n += 1
        img = np.empty((self.config.height, self.config.width, 3), np.uint8)
        img[..., 0] = self._base + np.uint8(n % 256)
        img[..., 1] = self._base
        img[..., 2] = np.uint8((n * 7) % 256)
        img[0, :4, 0] = np.frombuffer(np.uint32(n).tobytes(), np.uint8)  # frame counter, little-endian
        return img, None

    def _close(self) -> None:
        pass


def pattern_frame_number(image: np.ndarray) -> int:
    """The sequence number a :class:`PatternCamera` wrote into a frame."""
    return int(np.frombuffer(np.ascontiguousarray(image[0, :4, 0]).tobytes(), np.uint32)[0])
