"""Collision-free travel for the scripted expert: a grid planner over the arena.

The robot's centre must keep a given clearance from each block centre, stay out of
a zone grown by a margin (the red zone, in aligned ``avoid`` episodes) and inside the
walls. When the straight line to the goal is free
the robot goes straight; otherwise a distance field is grown from the goal over a
50 x 50 grid (a vectorised wavefront, a few milliseconds) and the robot heads for the
farthest point of the shortest path it can see. Replanning every step from the same
geometry gives the same answer, so the robot does not dither between detours.
"""

from __future__ import annotations

import numpy as np

from robopref_envs.push2d.geometry import Rect
from robopref_envs.push2d.layout import ARENA

CELLS = 50
CELL = (ARENA.x1 - ARENA.x0) / CELLS
CENTRES = ARENA.x0 + (np.arange(CELLS) + 0.5) * CELL  # same along x and y: the arena is square
LOOKAHEAD_CELLS = 15  # how far along the path the robot looks for a visible waypoint
_STEPS = [(di, dj, float(np.hypot(di, dj))) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]


def _cell(p: np.ndarray) -> tuple[int, int]:
    """(row, column) = (y index, x index) of the cell holding ``p``."""
    j, i = np.clip(((p - ARENA.x0) / CELL).astype(int), 0, CELLS - 1)
    return int(i), int(j)


def _point(cell: tuple[int, int]) -> np.ndarray:
    return np.array([CENTRES[cell[1]], CENTRES[cell[0]]])


def distance_field(free: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
    """Path length (in cells, 8-connected) from every free cell to ``goal``; inf where unreachable."""
    field = np.full((CELLS + 2, CELLS + 2), np.inf)  # padded with a blocked border
    field[goal[0] + 1, goal[1] + 1] = 0.0
    blocked = ~free
    blocked[goal] = False
    for _ in range(4 * CELLS):
        inner = field[1:-1, 1:-1]
        # Relax from the previous sweep only, so no value leaks through a blocked cell.
        relaxed = inner.copy()
        for di, dj, cost in _STEPS:
            np.minimum(relaxed, field[1 + di : CELLS + 1 + di, 1 + dj : CELLS + 1 + dj] + cost, out=relaxed)
        relaxed[blocked] = np.inf
        if np.array_equal(relaxed, inner):
            break
        field[1:-1, 1:-1] = relaxed
    return field[1:-1, 1:-1]


def _exit(start: np.ndarray, rect: Rect) -> np.ndarray:
    """The nearest point just outside ``rect``, straight out from ``start`` inside it."""
    exits = [
        np.array([rect.x0 - CELL, start[1]]),
        np.array([rect.x1 + CELL, start[1]]),
        np.array([start[0], rect.y0 - CELL]),
        np.array([start[0], rect.y1 + CELL]),
    ]
    return min(exits, key=lambda p: float(np.linalg.norm(p - start)))


class Navigator:
    """Plans the robot's travel around discs and, optionally, a rectangular zone.

    Obstacles are discs: block centres (k, 2) and the least distance the robot's centre
    keeps from each (k,). ``wall_margin`` is the least distance to a wall;
    ``zone_margin`` the distance kept from ``zone`` (the robot's reach, plus room).
    """

    def __init__(self, wall_margin: float, zone: Rect | None = None, zone_margin: float = 0.0) -> None:
        self.wall_margin = wall_margin
        self.zone = zone
        self.zone_margin = zone_margin
        self._cache_key: tuple[tuple[int, int], bytes] | None = None
        self._cache_field = np.zeros((CELLS, CELLS))

    def _field(self, free: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
        """``distance_field``, reused while the goal and the obstacles stay put (as
        they do while the robot travels to a block): the robot's position is not in it."""
        key = (goal, free.tobytes())
        if self._cache_key != key:
            self._cache_key, self._cache_field = key, distance_field(free, goal)
        return self._cache_field

    def _keep_out(self, start: np.ndarray, goal: np.ndarray) -> Rect | None:
        """The rectangle the robot's centre must not enter on the way from ``start`` to ``goal``.

        The margin shrinks where ``goal`` lies closer to the zone (a push may have to
        start there), so the robot can get there without crossing the zone. A goal inside
        the zone itself cannot be reached without entering it.
        """
        if self.zone is None or self.zone.contains(goal):
            return None
        return self.zone.inflate(max(min(self.zone_margin, self.zone.distance(goal) - CELL / 2), 0.0))

    @staticmethod
    def _segment_free(p: np.ndarray, q: np.ndarray, centres: np.ndarray, radii: np.ndarray, avoid: Rect | None) -> bool:
        if avoid is not None and avoid.intersects_segment(p, q):
            return False
        d = q - p
        t = np.clip((centres - p) @ d / max(float(d @ d), 1e-12), 0.0, 1.0)
        return bool(np.all(np.linalg.norm(centres - (p + t[:, None] * d), axis=1) >= radii))

    def _free_cells(self, centres: np.ndarray, radii: np.ndarray, avoid: Rect | None) -> np.ndarray:
        """Cells the robot's centre may cross."""
        x, y = np.meshgrid(CENTRES, CENTRES)  # x varies along columns, y along rows
        inner = ARENA.inflate(-self.wall_margin)
        free = (x >= inner.x0) & (x <= inner.x1) & (y >= inner.y0) & (y <= inner.y1)
        for (cx, cy), r in zip(centres, radii):
            free &= np.hypot(x - cx, y - cy) >= r
        if avoid is not None:
            # Half a cell diagonal wider, so a diagonal step between free cells cannot cut a corner.
            wide = avoid.inflate(CELL * 0.71)
            free &= ~((x > wide.x0) & (x < wide.x1) & (y > wide.y0) & (y < wide.y1))
        return free

    def waypoint(
        self, start: np.ndarray, goal: np.ndarray, centres: np.ndarray, radii: np.ndarray
    ) -> np.ndarray:
        """Where to head now to reach ``goal`` from ``start`` around the obstacles."""
        avoid = self._keep_out(start, goal)
        if avoid is not None and avoid.contains(start):
            return _exit(start, avoid)
        keep = np.linalg.norm(centres - goal, axis=1) >= radii  # cannot avoid what sits on the goal
        centres, radii = centres[keep], radii[keep]
        if self._segment_free(start, goal, centres, radii, avoid):
            return goal
        # Plan around the blocks; if they wall the goal or the robot in, plan around the
        # rectangle only (nudging blocks) rather than cross it.
        for obstacles in ((centres, radii), (centres[:0], radii[:0])):
            waypoint = self._plan(start, goal, *obstacles, avoid)
            if waypoint is not None:
                return waypoint
        return goal

    def _plan(self, start: np.ndarray, goal: np.ndarray, centres: np.ndarray, radii: np.ndarray, avoid: Rect | None) -> np.ndarray | None:
        """The waypoint toward ``goal`` on the grid, or None when no path reaches it."""
        free = self._free_cells(centres, radii, avoid)
        # Open the goal's neighbourhood: an approach point may sit in a nook between a
        # block and a wall that the clearances would otherwise close.
        i, j = _cell(goal)
        free[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] = True
        goal_cell = (i, j)
        field = self._field(free, goal_cell)
        cell = self._nearest_reachable(field, _cell(start))
        if cell is None:
            return None
        path = [cell]
        while field[cell] > 0 and len(path) <= LOOKAHEAD_CELLS:
            i, j = cell
            neighbours = [(i + di, j + dj) for di, dj, _ in _STEPS if 0 <= i + di < CELLS and 0 <= j + dj < CELLS]
            cell = min(neighbours, key=lambda c: field[c])
            path.append(cell)
        points = [_point(c) for c in path]
        if field[cell] == 0:
            points[-1] = goal
        # Head for the farthest path point in sight; when none is (the robot stands at a
        # corner of a forbidden area), follow the path cells, which are all free.
        visible = [p for p in points[1:] if self._segment_free(start, p, centres, radii, avoid)]
        return visible[-1] if visible else points[min(2, len(points) - 1)]

    @staticmethod
    def _nearest_reachable(field: np.ndarray, cell: tuple[int, int], radius: int = 5) -> tuple[int, int] | None:
        """``cell``, or the closest cell within ``radius`` that has a path (the robot may
        stand inside a block's clearance after nudging it)."""
        if np.isfinite(field[cell]):
            return cell
        i, j = cell
        best, best_distance = None, np.inf
        for a in range(max(i - radius, 0), min(i + radius + 1, CELLS)):
            for b in range(max(j - radius, 0), min(j + radius + 1, CELLS)):
                distance = np.hypot(a - i, b - j)
                if np.isfinite(field[a, b]) and distance < best_distance:
                    best, best_distance = (a, b), distance
        return best
