"""Plane geometry for the 2D pushing tasks: axis-aligned rectangles and overlap tests.

Tasks use these to ask "is this block in the goal?" or "does the robot touch the red
zone?", and the expert uses them to route around the zone. Everything is plain numpy
on world coordinates (metres-like units, arena [-1, 1]^2, y pointing up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle [x0, x1] x [y0, y1]."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2])

    def corners(self) -> np.ndarray:
        """The four corners, counter-clockwise from (x0, y0), shape (4, 2)."""
        return np.array([[self.x0, self.y0], [self.x1, self.y0], [self.x1, self.y1], [self.x0, self.y1]])

    def inflate(self, margin: float) -> Rect:
        return Rect(self.x0 - margin, self.y0 - margin, self.x1 + margin, self.y1 + margin)

    def contains(self, p: np.ndarray) -> bool:
        return bool(self.x0 <= p[0] <= self.x1 and self.y0 <= p[1] <= self.y1)

    def distance(self, p: np.ndarray) -> float:
        """Euclidean distance from ``p`` to the rectangle (0 inside)."""
        dx = max(self.x0 - p[0], 0.0, p[0] - self.x1)
        dy = max(self.y0 - p[1], 0.0, p[1] - self.y1)
        return float(np.hypot(dx, dy))

    def intersects_segment(self, p: np.ndarray, q: np.ndarray) -> bool:
        """Whether the segment p->q touches the open interior of the rectangle (Liang-Barsky)."""
        d = q - p
        t0, t1 = 0.0, 1.0
        for delta, lo, hi, start in ((d[0], self.x0, self.x1, p[0]), (d[1], self.y0, self.y1, p[1])):
            if abs(delta) < 1e-12:
                if not lo < start < hi:
                    return False
                continue
            a, b = (lo - start) / delta, (hi - start) / delta
            t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
            if t0 >= t1:
                return False
        return True


def polygon_overlaps_rect(vertices: np.ndarray, rect: Rect) -> bool:
    """Whether a convex polygon (k, 2) and an axis-aligned rectangle overlap (separating axes)."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    if hi[0] <= rect.x0 or lo[0] >= rect.x1 or hi[1] <= rect.y0 or lo[1] >= rect.y1:
        return False
    corners = rect.corners()
    edges = np.roll(vertices, -1, axis=0) - vertices
    normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
    poly_proj = vertices @ normals.T
    rect_proj = corners @ normals.T
    separated = (poly_proj.max(axis=0) <= rect_proj.min(axis=0)) | (rect_proj.max(axis=0) <= poly_proj.min(axis=0))
    return not bool(separated.any())


def disc_overlaps_rect(center: np.ndarray, radius: float, rect: Rect) -> bool:
    return rect.distance(center) < radius


def rotation(angle: float) -> np.ndarray:
    """2x2 rotation matrix; ``local @ rotation(a).T`` maps local points to world axes."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else np.zeros_like(v)


def wrap_half_turn(angle: float) -> float:
    """Map an angle difference to [-pi/2, pi/2): for shapes that look the same turned by pi."""
    return float((angle + np.pi / 2) % np.pi - np.pi / 2)
