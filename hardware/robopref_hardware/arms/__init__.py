"""Arms: the abstract :class:`~robopref_hardware.arms.base.Arm` and one module per backend
(``sim``, ``ur_rtde``, ``franka``, ``xarm``). Backends import their SDK lazily."""

from robopref_hardware.arms.base import Arm, ArmConfig

__all__ = ["Arm", "ArmConfig"]
