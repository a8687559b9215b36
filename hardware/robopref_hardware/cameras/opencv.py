"""The ``opencv`` camera: any V4L2/UVC webcam through OpenCV (``pip install 'robopref-hardware[opencv]'``).

Uses ``cv2.VideoCapture(index_or_path)``, ``.set(cv2.CAP_PROP_FRAME_WIDTH/HEIGHT/FPS, v)``,
``.read() -> (ok, BGR image)`` and ``.release()`` (OpenCV's documented VideoCapture API).
Not run against a real camera in this repository; tested with a double of VideoCapture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robopref_hardware.cameras.base import CameraConfig, ThreadedCamera
from robopref_hardware.errors import HardwareError, require


@dataclass
class OpenCVCameraConfig(CameraConfig):
    device: str = "0"  # an index ("0") or a path/URL ("/dev/video2", "rtsp://...")

    def build(self, arm=None) -> "OpenCVCamera":
        return OpenCVCamera(self)


class OpenCVCamera(ThreadedCamera):
    def _open(self) -> None:
        cv2 = require("cv2", "opencv camera", "opencv")
        self._cv2 = cv2
        dev = int(self.config.device) if str(self.config.device).isdigit() else self.config.device
        self._cap = cv2.VideoCapture(dev)
        if not self._cap.isOpened():
            raise HardwareError(f"OpenCV could not open camera {self.config.device!r}")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        self._cap.set(cv2.CAP_PROP_FPS, self.config.fps)

    def _grab(self) -> tuple[np.ndarray, None]:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise HardwareError(f"camera {self.config.device!r} returned no frame (unplugged?)")
        if bgr.shape[:2] != (self.config.height, self.config.width):
            bgr = self._cv2.resize(bgr, (self.config.width, self.config.height))
        return np.ascontiguousarray(bgr[..., ::-1]), None

    def _close(self) -> None:
        if getattr(self, "_cap", None) is not None:
            self._cap.release()
            self._cap = None
