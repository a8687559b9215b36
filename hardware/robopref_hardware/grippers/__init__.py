"""Grippers: the abstract :class:`~robopref_hardware.grippers.base.Gripper` and backends."""

from robopref_hardware.grippers.base import Gripper, GripperConfig

__all__ = ["Gripper", "GripperConfig"]
