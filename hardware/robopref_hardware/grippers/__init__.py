"""Grippers: the abstract :class:`~robopref_hardware.grippers.base.Gripper` and backends (``franka``: Franka Hand
via franky, ``xarm``: the xArm Gripper; the sim gripper lives with the sim arm, whose physics it shares)."""

from robopref_hardware.grippers.base import Gripper, GripperConfig

__all__ = ["Gripper", "GripperConfig"]
