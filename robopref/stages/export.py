"""``robopref export``: write a robopref dataset as a LeRobot dataset (codebase v3.0), or a
robopref policy as a LeRobot diffusion policy.

    robopref export dataset=demos.hdf5 output=~/lerobot/push_avoid_best fps=10
    robopref export dataset=relabelled.hdf5 output=... filter_key=better cameras=[top] obs_keys=[state]
    robopref export policy=aligned.ckpt output=~/lerobot/policies/pick_aligned   # LeRobot's from_pretrained loads it

For training a LeRobot policy on what robopref produced: the demos a learned reward ranks
highest (a mask or a list of demos), a ``relabeled_<name>.hdf5`` that ``robopref reward
... relabel=true`` wrote with a learned reward (it becomes ``next.reward``), rollouts from
the label page. ``robopref.data.lerobot_export`` has the layout and the mapping; ``robopref convert``
reads the result back. The control rate ``fps`` comes from the dataset when it recorded
one (``robopref collect`` in an env that declares its rate, a LeRobot import, a robot
session), else from ``fps=``. ``policy=`` writes a policy checkpoint's EMA weights in LeRobot's
layout instead (``robopref.policies.lerobot_export`` has the mapping and what it takes).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING, DictConfig

from robopref.config import StageConfig, register_schema
from robopref.utils.atomic import atomic_write_text
from robopref.utils.rundir import run_dir

log = logging.getLogger(__name__)

FORMATS = ("lerobot",)


@dataclass
class ExportConfig(StageConfig):
    """Config of ``robopref export`` (see conf/export.yaml for the defaults)."""

    dataset: Optional[str] = None  # the robopref (robomimic HDF5) dataset to export
    policy: Optional[str] = None  # or a robopref policy checkpoint, written as a LeRobot diffusion policy folder
    output: str = MISSING  # the LeRobot dataset folder to create (relative to the working directory, not the run directory)
    format: str = "lerobot"
    overwrite: bool = False  # replace an existing output folder (default: refuse)
    fps: Optional[float] = None  # control rate; null: the dataset's own (collect, a LeRobot import or a robot session)
    filter_key: Optional[str] = None  # export only the demos of mask/<filter_key>
    episodes: Optional[list] = None  # export only these demos (names, e.g. [demo_0,demo_4]); null: all (of the mask)
    obs_keys: Optional[list] = None  # vector observations to export (null: all)
    cameras: Optional[list] = None  # cameras to export as videos (top or top_image; null: all, []: none)
    task: Optional[str] = None  # task text of episodes without a 'task' attribute (null: the env's name)
    robot_type: Optional[str] = None  # info.json robot_type (null: the dataset's, if it recorded one)
    video_codec: str = "libsvtav1"  # libsvtav1 (AV1, LeRobot's default) | libx264 (H.264)


register_schema("export", ExportConfig)


def _select(ds: Any, cfg: DictConfig) -> tuple[list[str], list[str]]:
    """(demos, obs keys) to export, each checked against the dataset."""
    from robopref.data.layout import is_image_key

    demos = list(ds.demos)
    if cfg.episodes is not None:
        missing = [d for d in cfg.episodes if d not in demos]
        if missing or not cfg.episodes:
            raise ValueError(f"episodes={list(cfg.episodes)}: {missing or 'an empty list'} not among the dataset's demos "
                             f"({len(demos)}: {demos[:5]}{' ...' if len(demos) > 5 else ''})")
        demos = [str(d) for d in cfg.episodes]
    vectors = [k for k in ds.obs_keys if not is_image_key(k)]
    images = ds.image_keys
    if cfg.obs_keys is not None:
        unknown = [k for k in cfg.obs_keys if k not in vectors]
        if unknown:
            raise ValueError(f"obs_keys={list(cfg.obs_keys)}: {unknown} not among the dataset's vector observations {vectors}")
        vectors = list(cfg.obs_keys)
    if cfg.cameras is not None:
        wanted = [c if is_image_key(c) else f"{c}_image" for c in cfg.cameras]
        unknown = [c for c in wanted if c not in images]
        if unknown:
            raise ValueError(f"cameras={list(cfg.cameras)}: {unknown} not among the dataset's cameras {images}")
        images = wanted
    return demos, [*vectors, *images]


def run(cfg: DictConfig) -> dict[str, Any]:
    """Export; return the summary (also saved as JSON in the run directory)."""
    from tqdm import tqdm

    from robopref.data.dataset import Dataset
    from robopref.data.layout import recorded_fps
    from robopref.data.lerobot_export import write_lerobot

    if cfg.format not in FORMATS:
        raise ValueError(f"format={cfg.format!r}: expected one of {FORMATS}")
    if (cfg.dataset is None) == (cfg.policy is None):
        raise ValueError(f"dataset={cfg.dataset}, policy={cfg.policy}: give one of them (dataset= a robopref dataset to write as a "
                         "LeRobot dataset, policy= a policy checkpoint to write as a LeRobot policy)")
    out_dir = run_dir()
    output = Path(cfg.output).expanduser()
    if cfg.policy is not None:
        return export_policy(cfg, output, out_dir)
    with Dataset(cfg.dataset, filter_key=cfg.filter_key) as ds:
        ds.require_episodes("to export")
        demos, keys = _select(ds, cfg)
        env_args = ds.env_args
        fps = float(cfg.fps) if cfg.fps is not None else recorded_fps(env_args)
        if fps is None:
            raise ValueError(f"fps=: {ds.path} does not record its control rate; pass fps=<steps per second> (e.g. the env's control frequency); `robopref collect` records it for envs that declare one (dt or metadata['render_fps'])")
        env_name = (env_args.get("robopref_env") or {}).get("name") or env_args.get("env_name") or ""
        robot = cfg.robot_type or (env_args.get("env_kwargs") or {}).get("robot_type") or None
        episodes = (ds.episode(d, obs_keys=keys) for d in demos)
        summary = write_lerobot(episodes, output, fps=fps, robot_type=robot, default_task=cfg.task or str(env_name),
                                codec=cfg.video_codec, overwrite=cfg.overwrite,
                                progress=lambda it: tqdm(it, total=len(demos), desc="export", unit="ep"))
    summary = {"output": str(output), "dataset": str(Path(cfg.dataset).resolve()), "demos": demos, **summary}
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, default=str))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("demos", "output", "dataset")}, indent=2))
    print(f"LeRobot dataset: {output}")
    return summary


def export_policy(cfg: DictConfig, output: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``cfg.policy`` (its EMA weights) as a LeRobot diffusion policy folder at ``output``."""
    from robopref.policies.checkpoint import build_model, read_checkpoint
    from robopref.policies.lerobot_export import export_lerobot_policy

    dataset_only = [k for k in ("fps", "filter_key", "episodes", "obs_keys", "cameras", "task", "robot_type") if cfg.get(k) is not None]
    if dataset_only:
        raise ValueError(f"{', '.join(f'{k}=' for k in dataset_only)}: dataset settings; policy= exports a policy")
    summary = export_lerobot_policy(build_model(read_checkpoint(cfg.policy)), output, overwrite=cfg.overwrite)
    summary = {"policy": str(Path(cfg.policy).resolve()), **summary,
               "load": f"DiffusionPolicy.from_pretrained('{output}') and make_pre_post_processors(policy.config, pretrained_path='{output}')"}
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "output"}, indent=2))
    print(f"LeRobot policy: {output}")
    return summary
