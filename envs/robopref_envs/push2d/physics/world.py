"""The pymunk world of a 2D pushing task: walls, square blocks and a velocity-controlled robot.

Physics: top-down, no gravity. Floor friction is modelled as strong velocity damping,
so a block stops soon after the robot stops pushing it (quasi-static pushing). The
robot is a heavy dynamic body whose velocity integration is replaced by the command:
its velocity is the command when contacts are solved, so it pushes blocks, and walls
stop it (setting the velocity between steps instead would drive it through walls).

Determinism: Chipmunk keeps hidden state between steps (cached contacts that warm-start
the solver, ids that order its hash sets), so two worlds with equal positions and
velocities could still diverge. Each control step therefore starts from a freshly built
space, which makes the next state a function of ``get_state()`` and the action alone:
``set_state`` followed by the same actions replays a recording exactly.
"""

from __future__ import annotations

import numpy as np
import pymunk

from robopref_envs.push2d.layout import ARENA, BLOCK_HALF
from robopref_envs.push2d.physics.embodiments import Embodiment

CONTROL_DT = 0.1  # s: the env runs at 10 Hz
SUBSTEPS = 10  # physics steps per control step
MAX_SPEED = 1.5  # arena units per second at |action| = 1
MAX_OMEGA = 3.0  # rad/s at |action| = 1 (sticks only)
DAMPING = 1e-5  # fraction of a free body's velocity left after one second: floor friction
BLOCK_MASS = 1.0
FRICTION = 0.5
SOLVER_ITERATIONS = 20
WALL_RADIUS = 0.05
BODY_STATE_DIM = 6  # x, y, angle, vx, vy, omega


BLOCK_LOCAL_VERTICES = BLOCK_HALF * np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def _block_body() -> pymunk.Body:
    side = 2 * BLOCK_HALF
    body = pymunk.Body(BLOCK_MASS, pymunk.moment_for_box(BLOCK_MASS, (side, side)))
    pymunk.Poly(body, [tuple(v) for v in BLOCK_LOCAL_VERTICES])
    return body


def _walls() -> tuple[pymunk.Body, list[pymunk.Shape]]:
    """Four thick static segments whose inner faces are the arena edges."""
    body = pymunk.Body(body_type=pymunk.Body.STATIC)
    r = WALL_RADIUS
    x0, y0, x1, y1 = ARENA.x0 - r, ARENA.y0 - r, ARENA.x1 + r, ARENA.y1 + r
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return body, [pymunk.Segment(body, a, b, r) for a, b in zip(corners, corners[1:] + corners[:1])]


class World:
    """Robot, ``num_blocks`` blocks and walls; the physical state is a flat float64 vector.

    State layout (``state_dim = 6 * (1 + num_blocks)``): for the robot, then for each
    block, ``x, y, angle, vx, vy, omega``.
    """

    def __init__(self, embodiment: Embodiment, num_blocks: int) -> None:
        self.embodiment = embodiment
        self.num_blocks = num_blocks
        self.robot = embodiment.make_body()
        self.blocks = [_block_body() for _ in range(num_blocks)]
        self._walls, wall_shapes = _walls()
        self._bodies = [self.robot, *self.blocks]
        # A fixed order (robot and blocks have one shape each), so every fresh space,
        # in this world or in another one, adds them alike.
        self._shapes = [*wall_shapes, *(next(iter(b.shapes)) for b in self._bodies)]
        for shape in self._shapes:
            shape.friction = FRICTION
        self._command = (0.0, 0.0, 0.0)
        self.robot.velocity_func = self._drive
        self._forget_geometry()
        self.space = self._fresh_space()

    def _forget_geometry(self) -> None:
        self._pose_cache: np.ndarray | None = None
        self._block_vertex_cache: np.ndarray | None = None

    def _drive(self, body: pymunk.Body, gravity: tuple[float, float], damping: float, dt: float) -> None:
        """pymunk velocity function of the robot: velocity control, no damping."""
        vx, vy, omega = self._command
        body.velocity = (vx, vy)
        body.angular_velocity = omega

    @property
    def state_dim(self) -> int:
        return BODY_STATE_DIM * len(self._bodies)

    def _fresh_space(self) -> pymunk.Space:
        """A new space holding the same bodies, added in a fixed order (see module doc)."""
        old = getattr(self, "space", None)
        if old is not None:
            old.remove(*self._shapes, *self._bodies, self._walls)
        space = pymunk.Space()
        space.damping = DAMPING
        space.iterations = SOLVER_ITERATIONS
        space.add(self._walls, *self._bodies, *self._shapes)
        return space

    def reset(self, robot_pose: np.ndarray, block_poses: np.ndarray) -> None:
        """Place the robot at (x, y, angle) and the blocks at rows of (x, y, angle), all at rest."""
        state = np.zeros((len(self._bodies), BODY_STATE_DIM))
        state[0, :3] = robot_pose
        state[1:, :3] = np.asarray(block_poses).reshape(self.num_blocks, 3)
        self.set_state(state.ravel())

    def get_state(self) -> np.ndarray:
        return np.array(
            [[*b.position, b.angle, *b.velocity, b.angular_velocity] for b in self._bodies], dtype=np.float64
        ).ravel()

    def set_state(self, state: np.ndarray) -> None:
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.state_dim,):
            raise ValueError(f"state must have shape ({self.state_dim},) for {self.num_blocks} blocks, got {state.shape}")
        if not np.isfinite(state).all():
            raise ValueError("state has non-finite values")
        for body, row in zip(self._bodies, state.reshape(-1, BODY_STATE_DIM)):
            x, y, angle, vx, vy, omega = (float(v) for v in row)
            body.position = (x, y)
            body.angle = angle
            body.velocity = (vx, vy)
            body.angular_velocity = omega
        self.space = self._fresh_space()
        self._forget_geometry()

    def step(self, action: np.ndarray) -> None:
        """Advance one control step with a normalised action in [-1, 1]^action_dim."""
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        omega = float(action[2]) * MAX_OMEGA if self.embodiment.is_stick else 0.0
        self._command = (float(action[0]) * MAX_SPEED, float(action[1]) * MAX_SPEED, omega)
        self.space = self._fresh_space()
        dt = CONTROL_DT / SUBSTEPS
        for _ in range(SUBSTEPS):
            self.space.step(dt)
        self._forget_geometry()

    # Geometry read by tasks, the renderer and the expert, cached until the bodies move
    # (each step reads it several times).

    def _poses(self) -> np.ndarray:
        """(1 + num_blocks, 3) rows of x, y, angle: the robot, then the blocks."""
        if self._pose_cache is None:
            self._pose_cache = np.array([[*b.position, b.angle] for b in self._bodies])
        return self._pose_cache

    @property
    def robot_position(self) -> np.ndarray:
        return self._poses()[0, :2].copy()

    @property
    def robot_angle(self) -> float:
        return float(self._poses()[0, 2])

    @property
    def block_positions(self) -> np.ndarray:
        return self._poses()[1:, :2].copy()

    @property
    def block_angles(self) -> np.ndarray:
        return self._poses()[1:, 2].copy()

    def block_vertices(self) -> np.ndarray:
        """Corners of every block in the world, (num_blocks, 4, 2)."""
        if self._block_vertex_cache is None:
            angles = self._poses()[1:, 2]
            cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
            x, y = BLOCK_LOCAL_VERTICES[:, 0][None], BLOCK_LOCAL_VERTICES[:, 1][None]
            rotated = np.stack([cos * x - sin * y, sin * x + cos * y], axis=-1)
            self._block_vertex_cache = self._poses()[1:, None, :2] + rotated
        return self._block_vertex_cache.copy()

    def robot_vertices(self) -> np.ndarray | None:
        """Corners of a stick robot, (4, 2); None for the disc."""
        if not self.embodiment.is_stick:
            return None
        return self.embodiment.world_vertices(self.robot_position, self.robot_angle)
