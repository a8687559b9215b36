"""``robopref convert``: bring a dataset recorded with another tool, or a diffusion_policy
or LeRobot policy checkpoint, into robopref.

    robopref convert source=~/lerobot/so100_pick output=so100_pick.hdf5
    robopref convert source=... output=... episodes=[0,1,2] image_size=96 cameras=[observation.images.top]

``format=lerobot`` reads a LeRobot dataset folder, codebase v2.0, v2.1 or v3.0
(``robopref.data.lerobot`` has the mapping); ``format=zarr`` a diffusion_policy replay
buffer, a ``.zarr`` folder or ``.zarr.zip`` (``robopref.data.zarr_replay``). Either way it
writes a robomimic-layout dataset that every other stage reads: the label page shows its camera videos, ``label``
and ``reward`` take it as ``dataset=``, ``policy`` trains on it. Writing is crash-safe
like ``collect``'s, and an existing ``output`` is refused unless ``overwrite=true``.
``summary.json`` in the run directory lists what was carried over and what was left out.
``format=dp_checkpoint`` reads a diffusion_policy workspace checkpoint of a U-Net policy
(low-dim or image), ``format=lerobot_policy`` a LeRobot diffusion policy folder (``config.json`` +
``model.safetensors``); both write a robopref policy checkpoint (``robopref.stages.convert_checkpoint``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

from omegaconf import MISSING, DictConfig, OmegaConf

from robopref.config import StageConfig, register_schema
from robopref.utils.atomic import atomic_write_text
from robopref.utils.rundir import run_dir

log = logging.getLogger(__name__)

FORMATS = ("lerobot", "zarr", "dp_checkpoint", "lerobot_policy")
POLICY_FORMATS = ("dp_checkpoint", "lerobot_policy")  # written as robopref policy checkpoints


@dataclass
class ConvertConfig(StageConfig):
    """Config of ``robopref convert`` (see conf/convert.yaml for the defaults)."""

    # what to read (lerobot: the folder that holds meta/info.json; zarr: a .zarr folder or .zarr.zip; dp_checkpoint: a .ckpt;
    # lerobot_policy: the folder that holds config.json and model.safetensors, e.g. checkpoints/last/pretrained_model)
    source: str = MISSING
    # lerobot | zarr (diffusion_policy's replay buffer) | dp_checkpoint (its U-Net policy checkpoint) | lerobot_policy (LeRobot's diffusion policy)
    format: str = "lerobot"
    fps: Optional[float] = None  # control rate to record when the source has none (zarr); robopref export reads it
    output: str = "dataset.hdf5"  # relative paths land in the run directory
    overwrite: bool = False  # replace an existing output file (default: refuse)
    episodes: Optional[list] = None  # source episode indices to convert; null: all
    cameras: Optional[list] = None  # cameras to carry over (observation.images.top, or just top); null: all, []: none
    image_size: Optional[int] = 128  # resize camera frames to image_size x image_size; null keeps the recorded size
    obs_key: str = "state"  # dp_checkpoint, low-dim policy: the robopref observation key that holds diffusion_policy's obs vector
    # dp_checkpoint, image policy, and lerobot_policy: {its obs key: robopref key}; unnamed: dp cameras <key>_image, others as
    # named; LeRobot features as `convert format=lerobot` names them (observation.images.top -> top_image, observation.state -> state)
    obs_map: Any = None
    num_inference_steps: int = 16  # dp_checkpoint, lerobot_policy: DDIM steps the imported policy samples with
    inference_dtype: str = "float32"  # dp_checkpoint, lerobot_policy: float32 | bfloat16 (large U-Nets on CPUs with AVX-512 BF16/AMX)


register_schema("convert", ConvertConfig)


def resolve_cameras(requested: Optional[list], cameras: list[str], camera_key: Callable[[str], str]) -> list[str]:
    """The source cameras ``cameras=`` names: null means all; each entry may be the source's name
    (``observation.images.top``, ``img``), the camera (``top``) or the robopref key (``top_image``)."""
    if requested is None:
        return list(cameras)
    names = {c: {c, camera_key(c), camera_key(c).removesuffix("_image")} for c in cameras}
    out = []
    for r in requested:
        match = [c for c, aliases in names.items() if str(r) in aliases]
        if not match:
            raise ValueError(f"cameras={list(requested)}: {r!r} is not a camera of the source (cameras: {cameras})")
        out.append(match[0])
    return out


def open_source(fmt: str, path: str) -> Any:
    """The reader of a dataset ``format=``, checked by ``run``: :class:`LeRobotDataset` or :class:`ZarrReplayBuffer`."""
    if fmt == "zarr":
        from robopref.data.zarr_replay import ZarrReplayBuffer

        return ZarrReplayBuffer(path)
    from robopref.data.lerobot import LeRobotDataset

    return LeRobotDataset(path)


def check_settings(cfg: DictConfig, episodes: list[int]) -> None:
    """Name the bad key before anything is written: image_size, fps, episodes."""
    if cfg.fps is not None and not cfg.fps > 0:
        raise ValueError(f"fps={cfg.fps}: expected > 0 steps per second, or null")
    if cfg.image_size is not None and cfg.image_size < 8:
        raise ValueError(f"image_size={cfg.image_size}: expected >= 8 pixels, or null to keep the recorded size")
    if cfg.episodes is not None and len(cfg.episodes) == 0:
        raise ValueError("episodes=[]: expected null (all) or a list of episode indices")
    missing = [e for e in cfg.episodes or [] if e not in set(episodes)]
    if missing:
        raise ValueError(f"episodes: {missing} not in the source (it has episodes {episodes[0]}–{episodes[-1]}, {len(episodes)} in all)")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Convert ``cfg.source`` to a robopref dataset; return the summary (also saved as JSON)."""
    from tqdm import tqdm

    from robopref.data.layout import is_image_key, make_env_args
    from robopref.data.output import check_output, resolve_output
    from robopref.data.writer import DatasetWriter

    out_dir = run_dir()
    if cfg.format not in FORMATS:
        raise ValueError(f"format={cfg.format!r}: expected one of {FORMATS}")
    if cfg.format in POLICY_FORMATS:
        from robopref.stages.convert_checkpoint import convert_checkpoint

        return convert_checkpoint(cfg, out_dir)
    source = open_source(cfg.format, cfg.source)
    check_settings(cfg, source.episode_indices)
    cameras = resolve_cameras(None if cfg.cameras is None else list(cfg.cameras), source.cameras, source.camera_key)
    output = resolve_output(cfg.output, out_dir)
    check_output(output, append=False, overwrite=cfg.overwrite, can_append=False)
    indices = source.episode_indices if cfg.episodes is None else [int(e) for e in cfg.episodes]
    fps = source.fps if source.fps is not None else cfg.fps
    if cfg.format == "lerobot":
        robot = source.info.get("robot_type") or source.root.name
        env_args = make_env_args(f"lerobot/{robot}", env_kwargs={"fps": fps, "source": str(source.root.resolve()),
                                                                 "codebase_version": source.version, "robot_type": source.info.get("robot_type")})
    else:
        env_args = make_env_args(f"zarr/{source.root.name.removesuffix('.zip').removesuffix('.zarr')}",
                                 env_kwargs={"fps": fps, "source": str(source.root.resolve())})
    steps, obs_keys = 0, set()
    with DatasetWriter(output, env_args=env_args, mode="w") as writer:
        for ep in tqdm(source.iter_episodes(indices, image_size=cfg.image_size, cameras=cameras), total=len(indices), desc="convert", unit="ep"):
            writer.add_episode(ep)
            steps += len(ep)
            obs_keys |= set(ep.obs)
        writer.set_attr("robopref_convert", json.dumps({"config": OmegaConf.to_container(cfg, resolve=True)}, default=str))
    summary = {"dataset": str(output), "source": str(source.root), "format": cfg.format, "episodes": len(indices), "steps": steps, "fps": fps,
               "obs_keys": sorted(k for k in obs_keys if not is_image_key(k)), "cameras": sorted(k for k in obs_keys if is_image_key(k)),
               "left_out": source.skipped_features()}
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "dataset"}, indent=2))
    print(f"dataset: {output}")
    return summary
