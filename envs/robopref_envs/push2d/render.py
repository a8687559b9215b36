"""Top-down RGB rendering of a pushing world with PIL, no display needed.

The fixed scene (floor, green goal strip, red zone) is drawn once per image size; each
frame copies it and draws the blocks and the robot on top. Colours are chosen so a
vision model can tell every part apart: the red zone is what the ``avoid`` preference
is about, so it stays visible, and blocks, robot and zone never share a colour.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from robopref_envs.push2d.geometry import Rect
from robopref_envs.push2d.layout import ARENA, GOAL
from robopref_envs.push2d.physics import World

FLOOR = (235, 235, 230)
GOAL_COLOUR = (150, 215, 150)
ZONE_COLOUR = (225, 60, 60)
ROBOT_COLOUR = (40, 40, 40)
BLOCK_COLOURS = ((40, 90, 220), (240, 160, 20), (150, 60, 200), (20, 170, 190), (120, 80, 40))


class Renderer:
    """Draws a ``World`` as a ``size`` x ``size`` uint8 RGB array; ``zone`` is drawn when given."""

    def __init__(self, size: int, zone: Rect | None = None) -> None:
        if size < 8:
            raise ValueError(f"image size must be at least 8 pixels, got {size}")
        self.size = size
        self._scale = size / (ARENA.x1 - ARENA.x0)
        self._background = Image.new("RGB", (size, size), FLOOR)
        draw = ImageDraw.Draw(self._background)
        draw.rectangle(self._pixel_box(GOAL), fill=GOAL_COLOUR)
        if zone is not None:
            draw.rectangle(self._pixel_box(zone), fill=ZONE_COLOUR)

    def _pixels(self, points: np.ndarray) -> np.ndarray:
        """World (..., 2) -> pixel (..., 2) coordinates: x to the right, y downwards."""
        px = (points[..., 0] - ARENA.x0) * self._scale
        py = (ARENA.y1 - points[..., 1]) * self._scale
        return np.stack([px, py], axis=-1)

    def _pixel_box(self, rect: Rect) -> list[float]:
        (x0, y1), (x1, y0) = self._pixels(np.array([[rect.x0, rect.y0], [rect.x1, rect.y1]]))
        # PIL boxes include their last pixel; shrink by one so adjacent rects do not overlap.
        return [x0, y0, x1 - 1, y1 - 1]

    def render(self, world: World) -> np.ndarray:
        image = self._background.copy()
        draw = ImageDraw.Draw(image)
        for i, corners in enumerate(self._pixels(world.block_vertices())):
            draw.polygon([tuple(p) for p in corners], fill=BLOCK_COLOURS[i % len(BLOCK_COLOURS)])
        robot = world.robot_vertices()
        if robot is not None:
            draw.polygon([tuple(p) for p in self._pixels(robot)], fill=ROBOT_COLOUR)
        else:
            cx, cy = self._pixels(world.robot_position)
            r = world.embodiment.radius * self._scale
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=ROBOT_COLOUR)
        return np.array(image)  # a writable copy: observations may be edited by their users
