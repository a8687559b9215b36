"""Build environments and scripted policies from the ``env`` config group.

An env config is a flat mapping: ``_target_`` (a factory returning a Gymnasium env),
its keyword arguments (``task``, ``embodiment``, ``image_size``, ...), plus two keys
that are not passed to the factory: ``name`` (the config's short name) and ``expert``
(a ``_target_`` mapping for the task's scripted expert, called with ``env``, ``noise``,
``aligned``, ``seed``). Flat keys keep overrides short: ``env.embodiment=short_stick``.
Simulator packages are imported only here, when an env is built.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
from omegaconf import DictConfig, OmegaConf

from robopref.rollout.policy import RandomPolicy, RolloutPolicy

RESERVED_ENV_KEYS = ("name", "expert")


def _plain(cfg: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def make_env(env_cfg: Mapping[str, Any] | DictConfig) -> gym.Env:
    """Instantiate the env described by ``env_cfg``; a bad kwarg names the key and the factory."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    cfg = _plain(env_cfg)
    if "_target_" not in cfg:
        raise ValueError(f"env config {cfg.get('name', '?')!r} has no _target_ (the env factory to call)")
    kwargs = {k: v for k, v in cfg.items() if k not in RESERVED_ENV_KEYS}
    try:
        return instantiate(kwargs)
    except InstantiationException as e:
        raise ValueError(f"env config {cfg.get('name', '?')!r}: could not build {cfg['_target_']}: {e.__cause__ or e}") from e


def make_scripted_policy(
    env_cfg: Mapping[str, Any] | DictConfig,
    env: gym.Env,
    kind: str = "expert",
    noise: float = 0.0,
    aligned: bool = True,
    seed: int | None = None,
) -> RolloutPolicy:
    """The env's scripted expert (``kind="expert"``) or a uniform random policy (``"random"``)."""
    if kind == "random":
        return RandomPolicy(env, seed=seed)
    if kind != "expert":
        raise ValueError(f"policy={kind!r}: expected 'expert' or 'random'")
    cfg = _plain(env_cfg)
    expert = cfg.get("expert")
    if not expert or "_target_" not in expert:
        raise ValueError(f"env config {cfg.get('name', '?')!r} defines no scripted expert (key 'expert' with a _target_): "
                         "use policy=random or policy=<a checkpoint>")
    from hydra.utils import instantiate

    return instantiate(expert, env=env, noise=noise, aligned=aligned, seed=seed)


def control_rate(env: gym.Env) -> float | None:
    """Steps per second of ``env``: 1 / ``dt`` where the env defines its step's duration
    (Gymnasium's MuJoCo and classic-control envs), else ``metadata["render_fps"]``, one
    rendered frame per step by Gymnasium's convention; None when the env declares neither.
    ``dt`` comes first because a classic-control env's ``render_fps`` is a display rate
    (Pendulum-v1: 30, its step 0.05 s)."""
    dt = getattr(env.unwrapped, "dt", None)
    if isinstance(dt, (int, float)) and dt > 0:
        return round(1.0 / float(dt), 6)
    fps = (getattr(env, "metadata", None) or {}).get("render_fps")
    return float(fps) if fps else None


def env_args_of(env: gym.Env, env_cfg: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """robomimic ``env_args`` for a dataset: the gymnasium id and kwargs, the robopref env
    config so ``make_env`` can rebuild exactly this env from the file, and ``fps``, the
    control rate, when the env declares one (``robopref export`` needs it for LeRobot)."""
    from robopref.data.layout import ENV_TYPE_GYM, make_env_args

    rate = control_rate(env)
    extra: dict[str, Any] = {"robopref_env": _plain(env_cfg), **({"fps": rate} if rate else {})}
    native = getattr(env.unwrapped, "robomimic_env_args", None)
    if callable(native):  # e.g. robosuite: robomimic's own tools can then rebuild the env
        args = dict(native())
        return make_env_args(args["env_name"], args["env_type"], args["env_kwargs"], **extra)
    spec = env.spec
    name = spec.id if spec is not None else type(env.unwrapped).__name__
    kwargs = dict(spec.kwargs) if spec is not None else {}
    return make_env_args(name, ENV_TYPE_GYM, kwargs, **extra)


def make_env_from_dataset(dataset: Any) -> gym.Env:
    """Re-create the env a dataset was recorded in, from its ``env_args.robopref_env``.

    ``dataset`` is a path or a :class:`~robopref.data.Dataset`. Files written by other
    tools (no ``robopref_env`` entry) raise ValueError naming the file.
    """
    from robopref.data.dataset import Dataset

    ds = dataset if isinstance(dataset, Dataset) else Dataset(dataset, validate=False)
    env_cfg = ds.env_args.get("robopref_env")
    if not env_cfg:
        raise ValueError(f"{ds.path}: data.attrs[env_args] has no 'robopref_env' entry, so robopref cannot re-create its env")
    return make_env(env_cfg)
