"""Any Gymnasium env as a robopref env: dict observations, a camera, ``success``.

robopref's stages expect dict observations (``state`` and ``<camera>_image`` keys, as
robomimic stores them), a continuous action space and ``info["success"]``. This adapter
gives any registered Gymnasium env those, so ``robopref collect`` / ``policy`` / ``eval``
/ the label page work on a user's own task or on LeRobot's simulators (gym-pusht,
gym-aloha, gym-xarm: ``env.id=gym_pusht/PushT-v0 env.imports=[gym_pusht]``):

* a ``Box`` observation becomes ``{"state": obs}`` (flattened, float32);
* a ``Dict`` observation keeps its keys (nested ones joined with ``_``): uint8 arrays of
  shape (H, W, 3) become ``<key>_image`` (or keep a name already ending in ``_image``),
  everything else a flat float32 vector;
* ``camera=<name>`` adds ``env.render()`` (``render_mode="rgb_array"``) as
  ``<name>_image``, resized to ``image_size``²;
* ``info["is_success"]`` (Gymnasium-Robotics, gym-pusht) or ``info["success"]`` is
  reported as ``info["success"]``.

There is no scripted expert for such envs: collect with ``policy=random`` or a trained
checkpoint, and label with people (the label page) rather than scripted teachers, which
need the ``pref_score`` the built-in tasks report.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def _is_image(space: spaces.Space) -> bool:
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3 and space.shape[-1] in (1, 3)


def _leaf(obs: Any, path: Sequence[str]) -> Any:
    for k in path:
        obs = obs[k]
    return obs


def _resize(frame: np.ndarray, size: int | None) -> np.ndarray:
    frame = np.asarray(frame, dtype=np.uint8)
    if frame.ndim == 3 and frame.shape[-1] == 1:
        frame = np.repeat(frame, 3, axis=-1)
    if size is None or frame.shape[:2] == (size, size):
        return frame
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((size, size), Image.BILINEAR), dtype=np.uint8)


class DictObservation(gym.Wrapper):
    """Dict observations (``state``, ``<key>_image``), an optional rendered camera and
    ``info["success"]`` for any Gymnasium env; see the module docstring."""

    def __init__(self, env: gym.Env, camera: str | None = None, image_size: int | None = 64) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, spaces.Box):
            raise ValueError(f"gymnasium env {env.spec.id if env.spec else env}: robopref's policies act in continuous (Box) "
                             f"action spaces, this one has {env.action_space}")
        self.camera, self.image_size = camera, image_size
        self._leaves: list[tuple[str, tuple[str, ...], bool]] = []  # (robopref key, path in the raw obs, is image)
        out: dict[str, spaces.Space] = {}
        raw = env.observation_space
        paths = self._paths(raw)
        for key, (path, space) in paths.items():
            if _is_image(space):
                name = key if key.endswith("_image") else f"{key}_image"
                hw = (image_size, image_size) if image_size else tuple(space.shape[:2])
                out[name] = spaces.Box(0, 255, (*hw, 3), np.uint8)
                self._leaves.append((name, path, True))
            elif isinstance(space, spaces.Box):
                out[key] = spaces.Box(-np.inf, np.inf, (int(np.prod(space.shape)),), np.float32)
                self._leaves.append((key, path, False))
            else:
                raise ValueError(f"gymnasium env observation '{key}': {space} is neither a Box nor an image; "
                                 "robopref stores observations as arrays")
        if camera:
            if not image_size:
                raise ValueError(f"camera={camera!r} needs an image_size (the side the rendered frames are resized to)")
            if env.render_mode != "rgb_array":
                raise ValueError(f"camera={camera!r} needs render_mode='rgb_array' (the adapter's make_env sets it), got {env.render_mode!r}")
            out[f"{camera}_image"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(out)

    @staticmethod
    def _paths(space: spaces.Space) -> dict[str, tuple[tuple[str, ...], spaces.Space]]:
        """robopref key → (path of keys in the raw observation, leaf space)."""
        if not isinstance(space, spaces.Dict):
            return {"state": ((), space)}
        out: dict[str, tuple[tuple[str, ...], spaces.Space]] = {}

        def walk(s: spaces.Dict, path: tuple[str, ...]) -> None:
            for k, sub in s.spaces.items():
                if isinstance(sub, spaces.Dict):
                    walk(sub, (*path, k))
                else:
                    out["_".join((*path, k)).replace(".", "_")] = ((*path, k), sub)

        walk(space, ())
        return out

    def _convert(self, obs: Any) -> dict[str, np.ndarray]:
        out = {}
        for key, path, image in self._leaves:
            leaf = _leaf(obs, path)
            out[key] = _resize(leaf, self.image_size) if image else np.asarray(leaf, dtype=np.float32).reshape(-1)
        if self.camera:
            out[f"{self.camera}_image"] = _resize(self.env.render(), self.image_size)
        return out

    @staticmethod
    def _success(info: Mapping[str, Any]) -> dict[str, Any]:
        info = dict(info)
        for key in ("is_success", "success"):
            if key in info:
                info["success"] = bool(np.asarray(info[key]).any())
                break
        return info

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return self._convert(obs), self._success(info)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._convert(obs), float(reward), bool(terminated), bool(truncated), self._success(info)


def make_env(id: str, imports: Sequence[str] = (), kwargs: Mapping[str, Any] | None = None, camera: str | None = None,
             image_size: int | None = 64, max_episode_steps: int | None = None) -> gym.Env:
    """``gymnasium.make(id, **kwargs)`` wrapped in :class:`DictObservation`.

    Args:
        id: the registered env id, e.g. ``Pendulum-v1`` or ``gym_pusht/PushT-v0``.
        imports: modules to import first, so they register their envs (``gym_pusht``).
        kwargs: keyword arguments of the env.
        camera: add the rendered frame as ``<camera>_image`` (render_mode ``rgb_array``).
        image_size: side of every image observation (rendered or the env's own); None keeps them.
        max_episode_steps: override the registered time limit.
    """
    for module in imports or ():
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ValueError(f"env.imports: cannot import {module!r} ({e}); install the package that registers {id!r}") from e
    if id not in gym.registry:
        close = difflib.get_close_matches(id, list(gym.registry), n=3)
        hint = f" (did you mean {close}?)" if close else " (env.imports=[...] names the module that registers it)"
        raise ValueError(f"env.id={id!r} is not a registered Gymnasium env{hint}")
    extra: dict[str, Any] = dict(kwargs or {})
    if camera:
        extra["render_mode"] = "rgb_array"
    if max_episode_steps is not None:
        extra["max_episode_steps"] = int(max_episode_steps)
    return DictObservation(gym.make(id, **extra), camera=camera, image_size=image_size)
