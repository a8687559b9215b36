"""Turn an untrusted command (a dict off the wire, or an ArmCommand) into a well-formed one.

Anything that is not a finite float array of the right shape is refused here, before a
single limit is looked at: NaN or Inf, a string, a nested list of the wrong length, a
zero quaternion. The reason names the field, so the client can report it.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from robopref_hardware.types import ArmCommand, CommandKind

_SHAPES = {"pos": 3, "quat": 4, "rotvec": 3}


class CommandRejected(ValueError):
    """A command refused before limits are checked; ``violation`` is the counter name."""

    def __init__(self, violation: str, message: str) -> None:
        super().__init__(message)
        self.violation = violation


def _vector(name: str, value: Any, size: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise CommandRejected("bad_type", f"{name} is not numeric: {value!r:.80}") from e
    if arr.shape != (size,):
        raise CommandRejected("bad_shape", f"{name} must have shape ({size},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise CommandRejected("non_finite", f"{name} holds NaN or Inf: {arr}")
    return arr


def _scalar(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise CommandRejected("bad_type", f"{name} must be a number, got a bool")
    return float(_vector(name, np.reshape(value, -1) if np.ndim(value) else [value], 1)[0])


def parse_command(raw: ArmCommand | Mapping[str, Any], n_joints: int) -> ArmCommand:
    """Validate kinds, shapes, types and finiteness; raise :class:`CommandRejected` otherwise."""
    if isinstance(raw, ArmCommand):
        raw = raw.to_dict()
    if not isinstance(raw, Mapping):
        raise CommandRejected("bad_type", f"a command must be a mapping, got {type(raw).__name__}")
    try:
        kind = CommandKind(raw.get("kind"))
    except ValueError as e:
        raise CommandRejected("bad_kind", f"unknown command kind {raw.get('kind')!r}; use one of {[k.value for k in CommandKind]}") from e
    allowed = {"kind", "gripper", "gripper_force"} | {
        CommandKind.ee_pose: {"pos", "quat"}, CommandKind.ee_delta: {"pos", "rotvec"}, CommandKind.joint: {"joints"}
    }[kind]
    unknown = set(raw) - allowed
    if unknown:
        raise CommandRejected("bad_field", f"{kind.value} command has unexpected field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    cmd = ArmCommand(kind=kind)
    if kind is CommandKind.joint:
        if "joints" not in raw:
            raise CommandRejected("bad_shape", "joint command needs 'joints'")
        cmd.joints = _vector("joints", raw["joints"], n_joints)
    else:
        if kind is CommandKind.ee_pose and raw.get("pos") is None:
            raise CommandRejected("bad_shape", "ee_pose command needs 'pos'")
        for key in ("pos", "quat", "rotvec"):
            if raw.get(key) is not None:
                setattr(cmd, key, _vector(key, raw[key], _SHAPES[key]))
        if cmd.quat is not None:
            n = float(np.linalg.norm(cmd.quat))
            if not 0.5 < n < 1.5:  # far from unit norm: a bug upstream, not a rounding error
                raise CommandRejected("bad_quaternion", f"quat {cmd.quat} is not a unit quaternion (norm {n:.3g})")
            cmd.quat = cmd.quat / n
    for key in ("gripper", "gripper_force"):
        if raw.get(key) is not None:
            setattr(cmd, key, _scalar(key, raw[key]))
    return cmd
