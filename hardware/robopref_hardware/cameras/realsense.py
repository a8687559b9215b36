"""The ``realsense`` camera: Intel RealSense colour (and optionally aligned depth) via ``pyrealsense2``.

Calls (librealsense's documented Python API): ``rs.pipeline()``, ``rs.config()``,
``config.enable_device(serial)``, ``config.enable_stream(rs.stream.color, w, h,
rs.format.rgb8, fps)``, ``pipeline.start(config) -> profile``,
``profile.get_device().first_depth_sensor().get_depth_scale()``,
``rs.align(rs.stream.color).process(frames)``, ``pipeline.wait_for_frames(timeout_ms)``,
``frames.get_color_frame().get_data()``, ``pipeline.stop()``.
Not run against a real camera in this repository; tested with a double of the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robopref_hardware.cameras.base import CameraConfig, ThreadedCamera
from robopref_hardware.errors import HardwareError, require


@dataclass
class RealSenseCameraConfig(CameraConfig):
    serial: str | None = None  # None: the first RealSense found
    depth: bool = False
    timeout_ms: int = 2000

    def build(self, arm=None) -> "RealSenseCamera":
        return RealSenseCamera(self)


class RealSenseCamera(ThreadedCamera):
    def _open(self) -> None:
        rs = require("pyrealsense2", "realsense camera", "realsense")
        c = self.config
        self._pipe = rs.pipeline()
        cfg = rs.config()
        if c.serial:
            cfg.enable_device(str(c.serial))
        cfg.enable_stream(rs.stream.color, c.width, c.height, rs.format.rgb8, int(c.fps))
        self._align = None
        if c.depth:
            cfg.enable_stream(rs.stream.depth, c.width, c.height, rs.format.z16, int(c.fps))
        profile = self._pipe.start(cfg)
        if c.depth:
            self._depth_scale = float(profile.get_device().first_depth_sensor().get_depth_scale())
            self._align = rs.align(rs.stream.color)

    def _grab(self) -> tuple[np.ndarray, np.ndarray | None]:
        frames = self._pipe.wait_for_frames(self.config.timeout_ms)
        if self._align is not None:
            frames = self._align.process(frames)
        color = frames.get_color_frame()
        if not color:
            raise HardwareError("RealSense returned a frame set without colour")
        image = np.asanyarray(color.get_data()).copy()
        depth = None
        if self._align is not None:
            d = frames.get_depth_frame()
            depth = np.asanyarray(d.get_data()).astype(np.float32) * self._depth_scale
        return image, depth

    def _close(self) -> None:
        if getattr(self, "_pipe", None) is not None:
            self._pipe.stop()
            self._pipe = None
