"""Camera interface: the latest frame with its capture timestamp, never a stale queue.

Each camera captures in its own thread at its own rate and keeps only the newest frame
(as diffusion_policy's real-robot code and LeRobot's ``async_read`` do): a slow reader
then sees fresh images with a gap, not an ever-growing backlog. ``ThreadedCamera``
holds that thread; a backend only implements ``_open``, ``_grab`` and ``_close``, all
called from the capture thread (some SDKs, and EGL contexts, want one thread).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from robopref_hardware.errors import HardwareError, NotConnectedError
from robopref_hardware.types import Frame

log = logging.getLogger(__name__)


@dataclass
class CameraConfig:
    """Fields every camera has."""

    width: int = 640
    height: int = 480
    fps: float = 30.0

    def build(self) -> "Camera":
        raise NotImplementedError(f"{type(self).__name__} does not say which Camera it builds")


class Camera(ABC):
    """A camera that always has its newest frame ready."""

    config: CameraConfig

    @abstractmethod
    def connect(self) -> None:
        """Start capturing; returns once a first frame exists (or raises)."""

    @abstractmethod
    def disconnect(self) -> None:
        """Stop capturing; idempotent."""

    @abstractmethod
    def latest(self) -> Frame:
        """The newest frame and its capture time (does not block for a new one)."""


class ThreadedCamera(Camera):
    """A camera read by a background thread that keeps the newest frame."""

    first_frame_timeout_s: float = 20.0

    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        self._frame: Frame | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.frames_captured = 0

    # backend hooks, called from the capture thread ------------------------------
    @abstractmethod
    def _open(self) -> None:
        """Open the device."""

    @abstractmethod
    def _grab(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Block until the next image is available; return (RGB uint8 HxWx3, depth or None)."""

    @abstractmethod
    def _close(self) -> None:
        """Release the device."""

    # Camera -----------------------------------------------------------------------
    def connect(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"camera-{type(self).__name__}", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.first_frame_timeout_s):
            self.disconnect()
            raise HardwareError(f"{type(self).__name__}: no frame within {self.first_frame_timeout_s:.0f} s of connect()")
        if self._error is not None:
            err = self._error
            self.disconnect()
            raise HardwareError(f"{type(self).__name__} failed to start: {err}") from err

    def disconnect(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def latest(self) -> Frame:
        with self._lock:
            frame = self._frame
        if frame is None:
            if self._error is not None:
                raise HardwareError(f"{type(self).__name__} stopped: {self._error}")
            raise NotConnectedError(f"{type(self).__name__} has no frame: call connect() first")
        return frame

    def _run(self) -> None:
        period = 1.0 / float(self.config.fps) if self.config.fps > 0 else 0.0
        try:
            self._open()
            next_t = time.monotonic()
            while not self._stop.is_set():
                image, depth = self._grab()
                t = time.time()
                with self._lock:
                    seq = self._frame.seq + 1 if self._frame is not None else 0
                    self._frame = Frame(image=image, t=t, seq=seq, depth=depth)
                self.frames_captured += 1
                self._ready.set()
                if period:  # backends whose _grab does not block on the device pace here
                    next_t += period
                    delay = next_t - time.monotonic()
                    if delay > 0:
                        self._stop.wait(delay)
                    else:
                        next_t = time.monotonic()
        except BaseException as e:  # reported by connect()/latest(), logged for the server operator
            self._error = e
            log.exception("%s capture thread failed", type(self).__name__)
            self._ready.set()
        finally:
            try:
                self._close()
            except Exception:  # closing a failed device must not hide the first error
                log.exception("%s close failed", type(self).__name__)
