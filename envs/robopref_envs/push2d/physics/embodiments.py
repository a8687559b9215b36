"""Robot bodies: a disc pusher (``gripper``) and two rigid sticks of different length.

An embodiment fixes the robot's shape and its action space. The disc only translates,
so its action is (vx, vy); a stick translates and rotates, so its action is
(vx, vy, omega). Sticks look the same turned by pi, which the expert exploits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymunk

from robopref_envs.push2d.geometry import Rect, rotation

ROBOT_MASS = 2.0  # heavier than a block; much heavier stalls the solver when blocks are squeezed against a wall


@dataclass(frozen=True)
class Embodiment:
    """Shape of the robot.

    ``length`` is the stick length (0 for the disc); ``radius`` is the disc radius or
    the stick's half thickness, i.e. the distance from the robot's centre to the face
    that touches a pushed block.
    """

    name: str
    length: float
    radius: float

    @property
    def is_stick(self) -> bool:
        return self.length > 0

    @property
    def action_dim(self) -> int:
        return 3 if self.is_stick else 2

    @property
    def half_width(self) -> float:
        """Half the robot's extent across the pushing direction."""
        return self.length / 2 if self.is_stick else self.radius

    @property
    def bounding_radius(self) -> float:
        """Radius of the smallest disc around the robot's centre that holds the whole robot."""
        return float(np.hypot(self.length / 2, self.radius)) if self.is_stick else self.radius

    def local_vertices(self) -> np.ndarray:
        """Corners of the stick in its own frame, (4, 2); the stick lies along local x."""
        h, r = self.length / 2, self.radius
        return np.array([[-h, -r], [h, -r], [h, r], [-h, r]])

    def world_vertices(self, position: np.ndarray, angle: float) -> np.ndarray:
        """Corners of the stick in the world, (4, 2). Only for sticks."""
        return position + self.local_vertices() @ rotation(angle).T

    def fits(self, position: np.ndarray, angle: float, rect: Rect) -> bool:
        """Whether the robot at this pose lies inside ``rect`` (e.g. the arena less a margin)."""
        if self.is_stick:
            corners = self.world_vertices(position, angle)
            lo, hi = corners.min(axis=0), corners.max(axis=0)
        else:
            lo, hi = position - self.radius, position + self.radius
        return bool(lo[0] >= rect.x0 and lo[1] >= rect.y0 and hi[0] <= rect.x1 and hi[1] <= rect.y1)

    def make_body(self) -> pymunk.Body:
        """A dynamic body with its collision shape attached (not yet in a space)."""
        if self.is_stick:
            body = pymunk.Body(ROBOT_MASS, pymunk.moment_for_box(ROBOT_MASS, (self.length, 2 * self.radius)))
            pymunk.Poly(body, [tuple(v) for v in self.local_vertices()])
        else:
            # Infinite moment: a disc pusher has no use for spinning, and contact friction
            # would otherwise spin it.
            body = pymunk.Body(ROBOT_MASS, float("inf"))
            pymunk.Circle(body, self.radius)
        return body


EMBODIMENTS: dict[str, Embodiment] = {
    "gripper": Embodiment("gripper", length=0.0, radius=0.08),
    "short_stick": Embodiment("short_stick", length=0.30, radius=0.03),
    "medium_stick": Embodiment("medium_stick", length=0.36, radius=0.03),
}


def get_embodiment(name: str) -> Embodiment:
    """The embodiment called ``name``; an unknown name fails with the valid choices."""
    if name not in EMBODIMENTS:
        raise ValueError(f"unknown embodiment {name!r}; choose one of {sorted(EMBODIMENTS)}")
    return EMBODIMENTS[name]
