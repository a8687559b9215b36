"""One Meta-World v3 task as a Gymnasium env with dict observations.

Differences from ``gymnasium.make("Meta-World/MT1", env_name=...)``, and why:

* a new goal/object position is drawn on every reset from the env's own seeded
  generator (MT1 picks among 50 pre-drawn goals): datasets cover the task's whole
  goal distribution, and ``reset(seed=s)`` gives the same goal on every machine;
* the goal is observable (the last 3 entries of ``state``), as the scripted experts
  and PEARL's state-based reward models need it;
* ``get_state``/``set_state`` capture everything a step depends on (MuJoCo's state
  including the solver warm start, the task's random vector that places objects in the model, the
  frame-stacked previous observation, the step counter) so an episode replays exactly;
* ``info`` carries ``success`` (bool), ``task_reward`` and ``pref_score`` (both the
  Meta-World v2 dense reward: B-Pref and PEARL's scripted teachers rank by it);
* ``preference=`` adds a person's rule beyond success (see ``preference``): then
  ``pref_score`` is the task reward minus ``preference_penalty`` at each step that
  breaks the rule, and ``info["violation"]`` says whether this step broke it, as in
  push2d. Without a preference there is no ``violation`` key.
"""

from __future__ import annotations

import difflib
from typing import Any, Sequence

import gymnasium as gym
import mujoco
import numpy as np

from robopref_envs.metaworld.preference import DEFAULT_PENALTY, make_preference
from robopref_envs.metaworld.render import CameraRenderer, camera_names

ENV_ID = "robopref/MetaWorld-v0"
STATE_DIM = 39  # hand xyz, gripper, 14 object dims, the same 18 one step earlier, goal xyz
INFO_KEYS = ("near_object", "grasp_success", "obj_to_target")  # kept from Meta-World's info

# The MuJoCo state a replay needs: time, qpos, qvel, actuator activations, the solver's
# warm start (without it a replay drifts at rounding level), controls, equality flags
# and mocap poses. Not the applied-force arrays (6 per body, the bulk of
# mjSTATE_INTEGRATION): these envs never set them.
_S = mujoco.mjtState
REPLAY_STATE = int(
    _S.mjSTATE_TIME | _S.mjSTATE_QPOS | _S.mjSTATE_QVEL | _S.mjSTATE_ACT | _S.mjSTATE_WARMSTART | _S.mjSTATE_CTRL
    | _S.mjSTATE_EQ_ACTIVE | _S.mjSTATE_MOCAP_POS | _S.mjSTATE_MOCAP_QUAT | _S.mjSTATE_PLUGIN
)


def task_names() -> list[str]:
    """Every Meta-World v3 task name (``reach-v3``, ``drawer-open-v3``, ...)."""
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    return sorted(ALL_V3_ENVIRONMENTS)


def check_task(task: str) -> None:
    """Raise ValueError for an unknown task name, listing the closest names."""
    names = task_names()
    if task not in names:
        close = difflib.get_close_matches(task, names, n=5, cutoff=0.5)
        hint = f" Did you mean one of {close}?" if close else ""
        raise ValueError(f"unknown Meta-World task {task!r}.{hint} Known tasks: {', '.join(names)}")


class MetaWorldEnv(gym.Env):
    """Meta-World task ``task``; observations ``state`` (39,) and ``<camera>_image``.

    Args:
        task: a v3 task name, e.g. ``window-open-v3``.
        camera: a camera name (``corner``, ``corner2``, ``corner3``, ``corner4``,
            ``topview``, ``behindGripper``, ``gripperPOV``), a list of them, or None.
        image_size: side of the square frames, in pixels.
        horizon: steps before truncation (Meta-World's standard is 500).
        terminate_on_success: end the episode at the first success.
        preference: None, or a rule the person adds to the task (``cross_high``,
            reach-v3 only); see :mod:`robopref_envs.metaworld.preference`.
        preference_penalty: what each step that breaks the rule costs in ``pref_score``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 80}

    def __init__(
        self,
        task: str = "reach-v3",
        camera: str | Sequence[str] | None = None,
        image_size: int = 64,
        horizon: int = 500,
        terminate_on_success: bool = False,
        render_mode: str | None = None,
        preference: str | None = None,
        preference_penalty: float = DEFAULT_PENALTY,
    ) -> None:
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS

        check_task(task)
        self.task = task
        self.preference = make_preference(preference, task, preference_penalty)
        self.horizon = int(horizon)
        self.terminate_on_success = bool(terminate_on_success)
        self.render_mode = render_mode
        sim = ALL_V3_ENVIRONMENTS[task]()
        sim.max_path_length = self.horizon
        sim._partially_observable = False  # goal in the observation
        sim.__dict__.pop("sawyer_observation_space", None)  # cached for the partially observable case
        sim._set_task_called = True
        sim._freeze_rand_vec = False
        sim.seeded_rand_vec = True  # draw goals from sim.np_random, which reset(seed) seeds
        self._sim = sim
        self.cameras = [camera] if isinstance(camera, str) else list(camera or [])
        known = camera_names(sim.model)
        for cam in self.cameras:
            if cam not in known:
                raise ValueError(f"Meta-World task {task!r} has no camera {cam!r}; cameras: {known}")
        self.image_size = int(image_size)
        self._renderer = CameraRenderer(sim.model, self.image_size) if (self.cameras or render_mode) else None
        spaces: dict[str, gym.Space] = {"state": gym.spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float64)}
        for cam in self.cameras:
            spaces[f"{cam}_image"] = gym.spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self._seeded = False
        self._mj_spec = REPLAY_STATE

    # -- gymnasium API -----------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None or not self._seeded:
            self._sim.seed(int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1)))
            self._seeded = True
        state, _ = self._sim.reset()
        return self._observe(state), {}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        state, reward, _, truncated, raw = self._sim.step(a)
        success = bool(raw.get("success", 0.0))
        info: dict[str, Any] = {"success": success, "task_reward": float(reward), "pref_score": float(reward)}
        if self.preference is not None:
            info.update(self.preference.evaluate(state, reward))
        info.update({k: float(raw[k]) for k in INFO_KEYS if k in raw})
        terminated = self.terminate_on_success and success
        return self._observe(state), float(reward), terminated, bool(truncated), info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self._renderer.render(self._sim.data, self.cameras[0] if self.cameras else "corner")

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._sim.close()

    def _observe(self, state: np.ndarray) -> dict[str, np.ndarray]:
        obs = {"state": np.asarray(state, dtype=np.float64)}
        for cam in self.cameras:
            obs[f"{cam}_image"] = self._renderer.render(self._sim.data, cam)
        return obs

    # -- replay ------------------------------------------------------------------
    def get_state(self) -> np.ndarray:
        """Flat float64: [step, task random vector, previous 18-d obs, MuJoCo state (REPLAY_STATE)]."""
        sim = self._sim
        mj = np.empty(mujoco.mj_stateSize(sim.model, self._mj_spec))
        mujoco.mj_getState(sim.model, sim.data, mj, self._mj_spec)
        return np.concatenate([[sim.curr_path_length], sim._last_rand_vec, sim._prev_obs, mj]).astype(np.float64)

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_state`: re-place the task's objects and goal
        from its random vector (Meta-World moves model bodies on reset), then the physics."""
        sim = self._sim
        state = np.asarray(state, dtype=np.float64)
        n_rand = int(sim._random_reset_space.low.size)
        n_mj = mujoco.mj_stateSize(sim.model, self._mj_spec)
        expected = 1 + n_rand + 18 + n_mj
        if state.shape != (expected,):
            raise ValueError(f"Meta-World {self.task} state must have shape ({expected},), got {state.shape}")
        step, rand_vec, prev_obs, mj = state[0], state[1 : 1 + n_rand], state[1 + n_rand : 19 + n_rand], state[19 + n_rand :]
        sim._last_rand_vec = rand_vec.copy()
        sim._freeze_rand_vec = True
        try:
            mujoco.mj_resetData(sim.model, sim.data)
            sim.reset_model()
        finally:
            sim._freeze_rand_vec = False
        mujoco.mj_setState(sim.model, sim.data, mj, self._mj_spec)
        mujoco.mj_forward(sim.model, sim.data)
        sim._prev_obs = prev_obs.copy()
        sim.curr_path_length = int(step)


def _register() -> None:
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=MetaWorldEnv, disable_env_checker=True)


def make_env(task: str = "reach-v3", **kwargs: Any) -> gym.Env:
    """``gymnasium.make`` the task (so ``env.spec`` holds the kwargs that rebuild it);
    ``kwargs`` are :class:`MetaWorldEnv`'s (camera, image_size, horizon, terminate_on_success,
    preference, preference_penalty)."""
    check_task(task)
    _register()
    camera = kwargs.get("camera")
    if camera is not None and not isinstance(camera, str):
        kwargs["camera"] = list(camera)
    return gym.make(ENV_ID, task=task, **kwargs)


_register()
