"""Plain data that crosses every boundary: arm state, arm commands, camera frames.

Kept as small dataclasses of numpy arrays so the protocol can encode them as dicts and
every backend speaks the same units: metres, radians, quaternions (w, x, y, z),
gripper opening in metres, seconds since the epoch (``time.time()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

import numpy as np


class CommandKind(str, Enum):
    """What a command asks of the arm."""

    ee_pose = "ee_pose"  # absolute end-effector target: pos (3,) and optionally quat (4,)
    ee_delta = "ee_delta"  # relative to the current end-effector pose: pos (3,) and optionally rotvec (3,)
    joint = "joint"  # absolute joint target (n_joints,)


@dataclass
class ArmState:
    """One observation of the arm (and its gripper, when it has one)."""

    t: float
    joint_pos: np.ndarray
    joint_vel: np.ndarray
    ee_pos: np.ndarray  # (3,) metres, base frame
    ee_quat: np.ndarray  # (4,) w, x, y, z
    gripper: float = 0.0  # opening in metres (0 = closed)
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # backend-specific arrays (e.g. the sim's task state)

    def to_dict(self) -> dict[str, Any]:
        """Wire/recording form: every field a float64 array, ``extra`` flattened in."""
        out: dict[str, Any] = {
            "t": float(self.t),
            "joint_pos": np.asarray(self.joint_pos, np.float64),
            "joint_vel": np.asarray(self.joint_vel, np.float64),
            "ee_pos": np.asarray(self.ee_pos, np.float64),
            "ee_quat": np.asarray(self.ee_quat, np.float64),
            "gripper": np.asarray([self.gripper], np.float64),
        }
        for k, v in self.extra.items():
            out[k] = np.asarray(v)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ArmState":
        known = {"t", "joint_pos", "joint_vel", "ee_pos", "ee_quat", "gripper"}
        return cls(
            t=float(d["t"]),
            joint_pos=np.asarray(d["joint_pos"], np.float64),
            joint_vel=np.asarray(d["joint_vel"], np.float64),
            ee_pos=np.asarray(d["ee_pos"], np.float64),
            ee_quat=np.asarray(d["ee_quat"], np.float64),
            gripper=float(np.asarray(d["gripper"]).reshape(-1)[0]),
            extra={k: np.asarray(v) for k, v in d.items() if k not in known},
        )


@dataclass
class ArmCommand:
    """A request to move. Fields a kind does not use stay None.

    ``pos``/``quat`` for ``ee_pose``; ``pos``/``rotvec`` for ``ee_delta``; ``joints`` for
    ``joint``. ``gripper`` (target opening, metres) and ``gripper_force`` (newtons) may
    accompany any kind, or come alone with ``kind=None`` semantics via ``ee_delta`` of zero.
    """

    kind: CommandKind
    pos: np.ndarray | None = None
    quat: np.ndarray | None = None
    rotvec: np.ndarray | None = None
    joints: np.ndarray | None = None
    gripper: float | None = None
    gripper_force: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": CommandKind(self.kind).value}
        for k in ("pos", "quat", "rotvec", "joints"):
            v = getattr(self, k)
            if v is not None:
                out[k] = np.asarray(v)
        for k in ("gripper", "gripper_force"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        return out


@dataclass
class Frame:
    """One camera image with the time it was captured (``time.time()``) and its sequence number."""

    image: np.ndarray  # uint8 (H, W, 3) RGB
    t: float
    seq: int
    depth: np.ndarray | None = None  # float32 (H, W) metres, when the camera gives depth
