"""Cameras: the abstract :class:`~robopref_hardware.cameras.base.Camera` and backends
(``sim``, ``opencv``, ``realsense``, ``pattern``). Backends import their SDK lazily."""

from robopref_hardware.cameras.base import Camera, CameraConfig, ThreadedCamera

__all__ = ["Camera", "CameraConfig", "ThreadedCamera"]
