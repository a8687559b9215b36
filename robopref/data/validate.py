"""Validation of dataset files: every error names the file, the demo and the key.

The same rules serve the writer (refuse to write a bad episode) and the reader
(refuse to train on a bad file). Checks read shapes and dtypes only, except for
actions and rewards which are small and are scanned for NaN/Inf; image arrays are
never loaded here.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import h5py
import numpy as np

from robopref.data.errors import DatasetError
from robopref.data.layout import DATA, MASK, REQUIRED_DEMO_KEYS, is_image_key, sort_demos


def check_episode_arrays(
    path: str,
    demo: str,
    actions: Any,
    rewards: Any,
    dones: Any,
    obs: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> int:
    """Check one demo's arrays (numpy arrays or h5py datasets); return its length T."""
    if actions.ndim != 2:
        raise DatasetError(path, f"expected rank 2 (T, action_dim), got shape {actions.shape}", demo, "actions")
    if not np.issubdtype(actions.dtype, np.floating):
        raise DatasetError(path, f"expected a float dtype (float32), got {actions.dtype}", demo, "actions")
    T = actions.shape[0]
    if T == 0:
        raise DatasetError(path, "episode has zero steps", demo, "actions")
    for key, arr in (("rewards", rewards), ("dones", dones)):
        if arr.shape != (T,):
            raise DatasetError(path, f"expected shape ({T},) to match actions, got {arr.shape}", demo, key)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise DatasetError(path, f"expected a numeric dtype, got {arr.dtype}", demo, key)
    for key, arr in (("actions", actions), ("rewards", rewards)):
        values = np.asarray(arr[()])
        bad = ~np.isfinite(values)
        if bad.any():
            step = int(np.argwhere(bad)[0][0])
            kind = "NaN" if np.isnan(values).any() else "Inf"
            raise DatasetError(path, f"contains {kind} (first at step {step})", demo, key)
    if not obs:
        raise DatasetError(path, "has no observation keys", demo, "obs")
    for key, arr in {**{f"obs/{k}": v for k, v in obs.items()}, **(extra or {})}.items():
        if arr.ndim == 0 or arr.shape[0] != T:
            raise DatasetError(path, f"expected {T} steps (the length of actions), got shape {arr.shape}", demo, key)
        name = key.rsplit("/", 1)[-1]
        if key.startswith(("obs/", "next_obs/")) and is_image_key(name):
            if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
                raise DatasetError(path, f"expected images of shape (T, H, W, C) with C in 1/3/4, got {arr.shape}", demo, key)
            if arr.dtype != np.uint8:
                raise DatasetError(path, f"expected uint8 images, got {arr.dtype}", demo, key)
    return T


def validate_file(f: h5py.File, path: str) -> list[str]:
    """Validate an open file; return its demo names in numeric order."""
    if DATA not in f:
        raise DatasetError(path, "missing group 'data' (not a robomimic-layout dataset)", key="data")
    data = f[DATA]
    demos = sort_demos([k for k in data.keys() if isinstance(data[k], h5py.Group)])
    for demo in demos:
        grp = data[demo]
        for key in REQUIRED_DEMO_KEYS:
            if key not in grp:
                raise DatasetError(path, "missing required key", demo, key)
        if "obs" not in grp or not isinstance(grp["obs"], h5py.Group):
            raise DatasetError(path, "missing required group", demo, "obs")
        extra: dict[str, Any] = {}
        for sub in ("next_obs", "infos", "action_dict"):
            if sub in grp:
                extra.update({f"{sub}/{k}": grp[sub][k] for k in grp[sub].keys()})
        if "states" in grp:
            extra["states"] = grp["states"]
        T = check_episode_arrays(path, demo, grp["actions"], grp["rewards"], grp["dones"], dict(grp["obs"].items()), extra)
        n = grp.attrs.get("num_samples")
        if n is not None and int(n) != T:
            raise DatasetError(path, f"attr num_samples={int(n)} but actions has {T} steps", demo, "attrs/num_samples")
    if MASK in f:
        for key in f[MASK].keys():
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in f[MASK][key][()]]
            missing = [n for n in names if n not in data]
            if missing:
                raise DatasetError(path, f"names demos that do not exist: {missing[:5]}", key=f"mask/{key}")
    return demos


def validate_dataset(path: str | os.PathLike) -> list[str]:
    """Open ``path`` and validate it; return its demo names. Raises :class:`DatasetError`."""
    path = str(path)
    if not os.path.exists(path):
        raise DatasetError(path, "file does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DatasetError(path, f"cannot be opened as HDF5 ({e})") from e
    with f:
        return validate_file(f, path)
