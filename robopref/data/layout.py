"""Names and conventions of the robomimic HDF5 layout, in one place.

robomimic (and robopref) files look like::

    data                  attrs: env_args (JSON str), total (int)
    data/demo_N           attrs: num_samples (int)
        actions           (T, A) float32
        rewards           (T,)
        dones             (T,)
        states            (T, S)            optional, simulator state before each action
        obs/<key>         (T, ...)          state keys and <camera>_image (uint8 HWC)
        next_obs/<key>    (T, ...)          optional
        infos/<key>       (T,)              robopref addition: success, task_reward, pref_score, ...
        action_dict/<key> (T, A)            optional other action streams (robomimic 0.5), e.g. intended
    mask/<filter_key>     array of demo names (bytes)
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

DATA = "data"
MASK = "mask"
DEMO_PREFIX = "demo_"
REQUIRED_DEMO_KEYS = ("actions", "rewards", "dones")
IMAGE_SUFFIX = "_image"

# robomimic's EnvType enum values; gymnasium-registered tasks use GYM_TYPE.
ENV_TYPE_ROBOSUITE = 1
ENV_TYPE_GYM = 2

_DEMO_RE = re.compile(r"^demo_(\d+)$")


def demo_name(index: int) -> str:
    """``demo_<index>``, robomimic's naming."""
    return f"{DEMO_PREFIX}{index}"


def demo_index(name: str) -> int | None:
    """Integer index of a ``demo_N`` name, or None for other names."""
    m = _DEMO_RE.match(name)
    return int(m.group(1)) if m else None


def sort_demos(names: list[str]) -> list[str]:
    """Sort demo names numerically (demo_2 before demo_10), others after, alphabetically."""
    return sorted(names, key=lambda n: (demo_index(n) is None, demo_index(n) or 0, n))


def is_image_key(key: str) -> bool:
    """Observation keys ending in ``_image`` hold uint8 HWC frames."""
    return key.endswith(IMAGE_SUFFIX)


def make_env_args(env_name: str, env_type: int = ENV_TYPE_GYM, env_kwargs: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The ``env_args`` dict robomimic stores on ``data`` to re-create the env."""
    args: dict[str, Any] = {"env_name": env_name, "env_type": int(env_type), "env_kwargs": dict(env_kwargs or {})}
    args.update(extra)
    return args


def recorded_fps(env_args: Mapping[str, Any]) -> float | None:
    """The control rate a dataset recorded: ``env_args.fps`` (``robopref collect`` in an
    env that declares its rate), ``env_kwargs.fps`` (a LeRobot import) or ``env_kwargs.hz``
    (a robot session); None when it recorded none."""
    kw = env_args.get("env_kwargs") or {}
    for value in (env_args.get("fps"), kw.get("fps"), kw.get("hz")):
        if value:
            return float(value)
    return None


def dumps_env_args(env_args: Mapping[str, Any]) -> str:
    """JSON-encode env_args (numpy scalars/arrays become plain lists)."""
    return json.dumps(env_args, default=_json_default, sort_keys=True)


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"env_args value of type {type(o).__name__} is not JSON serialisable: {o!r}")
