"""The fixed scene of every 2D pushing task, X-Magical style.

The arena is the square [-1, 1]^2 seen from above, y pointing up. Blocks start in the
lower half and must reach the goal strip along the top edge. The red zone of the
``avoid`` task sits between them, wide enough that pushing most blocks straight up
crosses it, with free lanes on both sides (between the zone and the side walls) wide
enough for the longest stick pushing a block up. Changing these numbers changes the tasks: datasets recorded with one
layout are not comparable with another.
"""

from __future__ import annotations

from robopref_envs.push2d.geometry import Rect

ARENA = Rect(-1.0, -1.0, 1.0, 1.0)
GOAL = Rect(-1.0, 0.5, 1.0, 1.0)
ZONE = Rect(-0.3, 0.0, 0.3, 0.3)

BLOCK_HALF = 0.07  # blocks are squares of side 0.14
BLOCK_CIRCUMRADIUS = BLOCK_HALF * 2**0.5
MIN_BLOCK_GAP = 0.22  # centre distance at spawn: never overlapping, whatever their angles

BLOCK_SPAWN = Rect(-0.6, -0.6, 0.6, -0.3)
GROUP_CENTROID_SPAWN = Rect(-0.4, -0.5, 0.4, -0.42)
GROUP_SPAWN_RADIUS = 0.17  # block centres within this of the cluster centre at spawn
ROBOT_SPAWN = Rect(-0.7, -0.86, 0.7, -0.8)
ROBOT_SPAWN_MAX_TILT = 0.3  # rad, sticks start roughly horizontal
