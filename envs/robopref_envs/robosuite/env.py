"""A robosuite manipulation env behind the Gymnasium API, with robomimic's observations.

Why a wrapper rather than robosuite's GymWrapper: robomimic-format datasets need dict
observations under robomimic's names (``object`` for ``object-state``), upright camera
frames (robosuite renders them upside down, robomimic flips them), a seeded reset
(robosuite draws object placements from NumPy's global generator), a replayable
state, and ``info`` with ``success`` and ``task_reward``.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
from typing import Any, Iterator, Sequence

import gymnasium as gym
import mujoco
import numpy as np

ENV_ID = "robopref/Robosuite-v0"
STATE_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object")
ROBOSUITE_KEY = {"object": "object-state"}  # robomimic name -> robosuite name

# The MuJoCo state a replay needs: time, qpos, qvel, actuator activations, the solver's
# warm start (without it a replay drifts at rounding level), controls, equality flags
# and mocap poses. Not the applied-force arrays (6 per body, the bulk of
# mjSTATE_INTEGRATION): these envs never set them.
_S = mujoco.mjtState
REPLAY_STATE = int(
    _S.mjSTATE_TIME | _S.mjSTATE_QPOS | _S.mjSTATE_QVEL | _S.mjSTATE_ACT | _S.mjSTATE_WARMSTART | _S.mjSTATE_CTRL
    | _S.mjSTATE_EQ_ACTIVE | _S.mjSTATE_MOCAP_POS | _S.mjSTATE_MOCAP_QUAT | _S.mjSTATE_PLUGIN
)


@contextlib.contextmanager
def _quiet_robosuite() -> Iterator[None]:
    """robosuite logs several warnings on import and per env (macros, optional models)."""
    logger = logging.getLogger("robosuite_logs")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _robosuite():
    with _quiet_robosuite():
        import robosuite

    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)
    return robosuite


def task_names() -> list[str]:
    """Every robosuite env name (``Lift``, ``PickPlaceCan``, ``Stack``, ...)."""
    from robosuite.environments.base import REGISTERED_ENVS

    _robosuite()
    return sorted(REGISTERED_ENVS)


def check_task(task: str) -> None:
    """Raise ValueError for an unknown robosuite env name, listing the closest names."""
    names = task_names()
    if task not in names:
        close = difflib.get_close_matches(task, names, n=5, cutoff=0.5)
        hint = f" Did you mean one of {close}?" if close else ""
        raise ValueError(f"unknown robosuite env {task!r}.{hint} Known envs: {', '.join(names)}")


@contextlib.contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    """robosuite samples placements and joint noise from np.random: seed it, then restore."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


class RobosuiteEnv(gym.Env):
    """robosuite env ``task`` with one ``robot`` arm under an OSC_POSE delta controller.

    Args:
        task: robosuite env name (``Lift``, ``PickPlaceCan``, ...).
        robot: robot name (``Panda``).
        cameras: camera names rendered as ``<camera>_image`` (robomimic uses
            ``agentview`` and ``robot0_eye_in_hand``); empty or None for state only.
        image_size: side of the square frames, in pixels (robomimic uses 84).
        horizon: steps before truncation.
        terminate_on_success: end the episode at the first success (as human demos do).
        reward_shaping: robosuite's dense reward (``task_reward``) instead of 0/1.
        control_freq: policy steps per simulated second.
        model_seed: seeds the random parts of the MuJoCo model itself (e.g. Lift draws
            its cube's size when the model is built), so every process that builds the
            env with the same kwargs simulates the same objects and replays match.
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        task: str = "Lift",
        robot: str = "Panda",
        cameras: Sequence[str] | None = ("agentview", "robot0_eye_in_hand"),
        image_size: int = 84,
        horizon: int = 400,
        terminate_on_success: bool = False,
        reward_shaping: bool = True,
        control_freq: int = 20,
        model_seed: int = 0,
    ) -> None:
        suite = _robosuite()
        check_task(task)
        self.task = task
        self.cameras = [cameras] if isinstance(cameras, str) else list(cameras or [])
        self.image_size = int(image_size)
        self.horizon = int(horizon)
        self.terminate_on_success = bool(terminate_on_success)
        self.metadata = {**type(self).metadata, "render_fps": int(control_freq)}  # one frame per control step (Gymnasium's convention)
        with _quiet_robosuite():
            controller = suite.load_composite_controller_config(controller="BASIC", robot=robot)
            arm = controller["body_parts"].get("right", {})
            if arm.get("type") != "OSC_POSE" or arm.get("input_type") != "delta":
                raise ValueError(f"robot {robot!r}: expected an OSC_POSE delta arm controller, got {arm.get('type')}/{arm.get('input_type')}")
            kwargs: dict[str, Any] = dict(
                robots=robot,
                controller_configs=controller,
                has_renderer=False,
                has_offscreen_renderer=bool(self.cameras),
                use_camera_obs=bool(self.cameras),
                use_object_obs=True,
                reward_shaping=reward_shaping,
                control_freq=control_freq,
                horizon=self.horizon,
                ignore_done=True,  # truncation is ours, so a replay may step past robosuite's counter
                hard_reset=False,  # rebuilding the MuJoCo model every episode costs ~1 s
            )
            if self.cameras:
                kwargs.update(camera_names=self.cameras, camera_heights=self.image_size, camera_widths=self.image_size)
            self._make_kwargs = dict(kwargs, robots=[robot])
            try:
                with _numpy_global_seed(model_seed):
                    self._rs = suite.make(task, **kwargs)
            except ValueError as e:
                if self.cameras and "camera" in str(e).lower():
                    raise ValueError(f"robosuite env {task!r}: bad camera in {self.cameras}: {e}") from e
                raise
        # robosuite samples each observable at the first physics substep of a control
        # period, from timers that a restored state cannot restore: observations would
        # lag the state by a step and a replay would not reproduce them. Stop the timed
        # sampling (one sample, then never again) and sample once at the end of each step.
        for name in list(self._rs._observables):
            self._rs.modify_observable(name, "sampling_rate", 1e-9)
        self._t = 0
        obs = self._rs.reset()
        self._quiet_renderer()
        self.state_keys = [k for k in STATE_KEYS if ROBOSUITE_KEY.get(k, k) in obs]
        spaces: dict[str, gym.Space] = {}
        for k in self.state_keys:
            spaces[k] = gym.spaces.Box(-np.inf, np.inf, np.shape(obs[ROBOSUITE_KEY.get(k, k)]), np.float64)
        for cam in self.cameras:
            spaces[f"{cam}_image"] = gym.spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        low, high = self._rs.action_spec
        self.action_space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        self._mj_spec = REPLAY_STATE

    def robomimic_env_args(self) -> dict[str, Any]:
        """robomimic's ``env_args`` for this env (type 1 = robosuite): the name and the
        ``robosuite.make`` kwargs, so robomimic's tools can re-create it from a dataset."""
        return {"env_name": self.task, "env_type": 1, "env_kwargs": dict(self._make_kwargs)}

    @property
    def sim_env(self):
        """The underlying robosuite environment (for experts that need privileged state)."""
        return self._rs

    def _use_gl_context(self) -> None:
        """Make robosuite's EGL context current: robosuite makes it current only once, so a
        frame rendered by any other MuJoCo renderer in this process (e.g. a Meta-World env)
        would leave robosuite drawing into that renderer's context."""
        ctx = getattr(self._rs.sim, "_render_context_offscreen", None)
        if ctx is not None:
            ctx.gl_ctx.make_current()

    def _quiet_renderer(self) -> None:
        """Shadows and reflections off: ~5x faster on Mesa's software EGL."""
        ctx = getattr(self._rs.sim, "_render_context_offscreen", None)
        if ctx is not None:
            ctx.scn.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            ctx.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0

    def _observe(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        obs = {k: np.asarray(raw[ROBOSUITE_KEY.get(k, k)], dtype=np.float64) for k in self.state_keys}
        for cam in self.cameras:
            obs[f"{cam}_image"] = np.ascontiguousarray(raw[f"{cam}_image"][::-1])  # OpenGL rows are bottom-up
        return obs

    # -- gymnasium API -----------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        episode_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        self._use_gl_context()
        with _numpy_global_seed(episode_seed):
            raw = self._rs.reset()
        self._quiet_renderer()
        self._t = 0
        return self._observe(raw), {}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=np.float64), self.action_space.low, self.action_space.high)
        self._use_gl_context()
        _, reward, _, _ = self._rs.step(a)
        raw = self._rs._get_observations(force_update=True)  # the state after the step (see __init__)
        self._t += 1
        success = bool(self._rs._check_success())
        info = {"success": success, "task_reward": float(reward)}
        terminated = self.terminate_on_success and success
        return self._observe(raw), float(reward), terminated, self._t >= self.horizon, info

    def render(self) -> np.ndarray | None:
        cam = self.cameras[0] if self.cameras else "agentview"
        self._use_gl_context()
        return np.ascontiguousarray(self._rs.sim.render(camera_name=cam, width=self.image_size, height=self.image_size)[::-1])

    def close(self) -> None:
        self._rs.close()

    # -- replay ------------------------------------------------------------------
    def _grippers(self) -> list[Any]:
        return [g for robot in self._rs.robots for g in robot.gripper.values()]

    def get_state(self) -> np.ndarray:
        """Flat float64: [step, MuJoCo state (REPLAY_STATE), grippers' latched commands].

        The MuJoCo part holds more than robomimic's ``states`` (time, qpos, qvel): the
        controls and solver warm start too, so a replay matches to rounding error."""
        sim = self._rs.sim
        mj = np.empty(mujoco.mj_stateSize(sim.model._model, self._mj_spec))
        mujoco.mj_getState(sim.model._model, sim.data._data, mj, self._mj_spec)
        grip = [_latched(g) for g in self._grippers()]
        return np.concatenate([[self._t], mj, *grip])

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_state` and refresh the observables."""
        sim = self._rs.sim
        state = np.asarray(state, dtype=np.float64)
        n_mj = mujoco.mj_stateSize(sim.model._model, self._mj_spec)
        grippers = self._grippers()
        n_grip = [_latched(g).size for g in grippers]
        expected = 1 + n_mj + sum(n_grip)
        if state.shape != (expected,):
            raise ValueError(f"robosuite {self.task} state must have shape ({expected},), got {state.shape}")
        mujoco.mj_setState(sim.model._model, sim.data._data, state[1 : 1 + n_mj], self._mj_spec)
        sim.forward()
        offset = 1 + n_mj
        for g, n in zip(grippers, n_grip):
            g.current_action = state[offset : offset + n].copy()
            offset += n
        self._t = int(state[0])
        self._rs.timestep = self._t
        self._use_gl_context()
        self._rs._get_observations(force_update=True)

    # -- privileged task geometry, for scripted experts --------------------------
    def object_pos(self) -> np.ndarray:
        """World position of the object to pick (Lift's cube, PickPlace's active object)."""
        rs = self._rs
        if hasattr(rs, "cube_body_id"):
            return np.array(rs.sim.data.body_xpos[rs.cube_body_id])
        if hasattr(rs, "obj_body_id") and getattr(rs, "single_object_mode", 0) == 2:
            name = rs.objects[rs.object_id].name
            return np.array(rs.sim.data.body_xpos[rs.obj_body_id[name]])
        raise ValueError(f"robosuite env {self.task!r}: no single object to pick (scripted expert supports Lift and PickPlace<Object>)")

    def place_target(self) -> np.ndarray | None:
        """Where the object must go (PickPlace's bin cell centre), None for Lift."""
        rs = self._rs
        if hasattr(rs, "target_bin_placements") and getattr(rs, "single_object_mode", 0) == 2:
            return np.array(rs.target_bin_placements[rs.object_id])
        return None

    def table_height(self) -> float:
        """Height of the table top (Lift) or of the bins' floor (PickPlace)."""
        rs = self._rs
        if hasattr(rs, "table_offset"):
            return float(rs.table_offset[2])
        return float(rs.bin1_pos[2])


def _latched(gripper: Any) -> np.ndarray:
    """A gripper's latched command at a fixed width: robosuite keeps ``zeros(dof)`` after
    reset and a per-finger array after the first action (equivalent by broadcasting)."""
    width = max(int(gripper.dof), len(gripper.init_qpos))
    return np.broadcast_to(np.asarray(gripper.current_action, dtype=np.float64).ravel(), (width,)).copy()


def _register() -> None:
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=RobosuiteEnv, disable_env_checker=True)


def make_env(task: str = "Lift", **kwargs: Any) -> gym.Env:
    """``gymnasium.make`` the robosuite env (so ``env.spec`` holds the kwargs that rebuild
    it); ``kwargs`` are :class:`RobosuiteEnv`'s (robot, cameras, image_size, horizon, ...)."""
    _register()
    cameras = kwargs.get("cameras", ("agentview", "robot0_eye_in_hand"))
    kwargs["cameras"] = [cameras] if isinstance(cameras, str) else list(cameras or [])
    return gym.make(ENV_ID, task=task, **kwargs)


_register()
