"""Summaries of datasets: robopref's HDF5 files, LeRobot folders, zarr replay buffers."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np


def _lengths(values: list[int]) -> dict[str, Any]:
    return {"min": int(min(values)), "mean": round(float(np.mean(values)), 1), "max": int(max(values))} if values else {}


def describe_hdf5(path: str | os.PathLike) -> dict[str, Any]:
    """Episodes, steps, observation keys with per-step shapes, masks and outcome rates of a dataset."""
    from robopref.data.dataset import Dataset
    from robopref.data.layout import recorded_fps

    with Dataset(path, validate=False) as ds:
        env = ds.env_args
        lengths = list(ds.lengths.values())
        out: dict[str, Any] = {"kind": "dataset", "path": str(path), "env": env.get("env_name"),
                               "robopref env": (env.get("robopref_env") or {}).get("name"), "episodes": len(ds.demos),
                               "steps": int(sum(lengths)), "episode length": _lengths(lengths)}
        if fps := recorded_fps(env):
            out["fps"] = fps
        if not ds.demos:
            return out
        first = ds.demos[0]
        step = {k: ds.read(first, f"obs/{k}", 0, 1) for k in ds.obs_keys}  # one row of each: per-step shape and dtype
        out["actions"] = list(ds.read(first, "actions", 0, 1).shape[1:])
        out["observations"] = {k: f"{list(v.shape[1:])} {v.dtype}" for k, v in step.items()}
        out["infos"] = ds.info_keys
        masks = ds.masks()
        if masks:
            out["masks"] = {m: len(ds.mask(m)) for m in masks}
        out["mean return"] = round(float(np.mean([ds.read(d, "rewards").sum() for d in ds.demos])), 3)
        if "success" in ds.info_keys:
            out["success rate"] = round(float(np.mean([bool(ds.read(d, "infos/success").any()) for d in ds.demos])), 3)
        if "pref_score" in ds.info_keys:
            out["mean preference return"] = round(float(np.mean([ds.read(d, "infos/pref_score").sum() for d in ds.demos])), 3)
        if "violation" in ds.info_keys:
            out["honours the preference"] = round(float(np.mean([not ds.read(d, "infos/violation").any() for d in ds.demos])), 3)
        tasks = Counter(str(t) for d in ds.demos if (t := ds.demo_attrs(d).get("task")))
        if tasks:
            out["tasks"] = dict(tasks.most_common(5))
    return out


def describe_lerobot(path: str | os.PathLike) -> dict[str, Any]:
    """Version, rate, episodes and features of a LeRobot dataset folder."""
    from robopref.data.lerobot import LeRobotDataset

    ds = LeRobotDataset(path)
    feats = {k: f"{f.get('dtype')} {f.get('shape')}" for k, f in ds.features.items()}
    return {"kind": "LeRobot dataset", "path": str(path), "codebase version": ds.version, "robot type": ds.info.get("robot_type"),
            "fps": ds.fps, "episodes": len(ds.episode_indices), "frames": ds.info.get("total_frames"), "cameras": ds.cameras,
            "features": feats, "import": f"robopref convert source={path} output=<name>.hdf5"}


def describe_zarr(path: str | os.PathLike) -> dict[str, Any]:
    """Episodes and arrays of a diffusion_policy replay buffer."""
    from robopref.data.zarr_replay import ZarrReplayBuffer

    rb = ZarrReplayBuffer(path)
    lengths = np.diff(np.concatenate([[0], rb.ends])).tolist()
    return {"kind": "zarr replay buffer", "path": str(path), "episodes": len(rb.ends), "steps": int(rb.ends[-1]),
            "episode length": _lengths(lengths), "arrays": {k: f"{list(a.shape)} {a.dtype}" for k, a in rb.arrays.items()},
            "cameras": rb.cameras, "import": f"robopref convert format=zarr source={path} output=<name>.hdf5 fps=<rate>"}
