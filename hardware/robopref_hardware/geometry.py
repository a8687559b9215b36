"""Rotation helpers in plain numpy (quaternions are w, x, y, z, unit norm).

The safety layer needs angles between orientations and a way to pull a target
orientation back toward an allowed one; vendor adapters need rotation-vector (UR)
and roll-pitch-yaw (xArm) conversions. Nothing here allocates more than a few floats.
"""

from __future__ import annotations

import numpy as np


def quat_normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, np.float64)
    n = np.linalg.norm(q)
    if not np.isfinite(n) or n < 1e-9:
        raise ValueError(f"quaternion {q} has no direction (norm {n})")
    q = q / n
    return q if q[0] >= 0 else -q  # one hemisphere: q and -q are the same rotation


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ])


def quat_conj(q: np.ndarray) -> np.ndarray:
    return np.array([q[0], -q[1], -q[2], -q[3]])


def quat_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Rotation angle (radians, in [0, pi]) that takes orientation ``a`` to ``b``."""
    d = abs(float(np.dot(quat_normalize(a), quat_normalize(b))))
    return 2.0 * float(np.arccos(min(1.0, d)))


def quat_slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1) along the short arc."""
    a, b = quat_normalize(a), quat_normalize(b)
    d = float(np.dot(a, b))
    if d < 0:
        b, d = -b, -d
    if d > 0.9995:
        return quat_normalize(a + t * (b - a))
    th = np.arccos(d)
    return quat_normalize((np.sin((1 - t) * th) * a + np.sin(t * th) * b) / np.sin(th))


def rotvec_to_quat(r: np.ndarray) -> np.ndarray:
    r = np.asarray(r, np.float64)
    th = float(np.linalg.norm(r))
    if th < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0])
    axis = r / th
    return np.concatenate([[np.cos(th / 2)], np.sin(th / 2) * axis])


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    q = quat_normalize(q)
    s = float(np.linalg.norm(q[1:]))
    if s < 1e-12:
        return np.zeros(3)
    th = 2.0 * np.arctan2(s, q[0])
    return q[1:] / s * th


def rpy_to_quat(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Fixed-axis X-Y-Z roll, pitch, yaw (R = Rz(yaw) Ry(pitch) Rx(roll)), as xArm uses."""
    cr, sr = np.cos(roll / 2), np.sin(roll / 2)
    cp, sp = np.cos(pitch / 2), np.sin(pitch / 2)
    cy, sy = np.cos(yaw / 2), np.sin(yaw / 2)
    return quat_normalize(np.array([
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    ]))


def quat_to_rpy(q: np.ndarray) -> np.ndarray:
    w, x, y, z = quat_normalize(q)
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.array([roll, pitch, yaw])
