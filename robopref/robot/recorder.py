"""EpisodeRecorder: real-robot episodes into a robopref dataset as they happen, plus one mp4 each.

While an episode runs, its steps go to a staged SWMR file (``<dataset>.recording/``)
flushed every second (:mod:`robopref.robot.staging`), so a crash of the recorder, the
robot server or the computer loses at most the last second. When the episode ends it is
appended to the dataset through :class:`~robopref.data.writer.DatasetWriter` (atomic
publish: the dataset file is never half-written), its video is written next to the
dataset, and the staged file is deleted. Episodes left staged by a crash are appended
by :func:`recover_staged` (marked ``interrupted``) the next time a session starts.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from robopref.data.episode import Episode
from robopref.data.layout import DATA, demo_index, demo_name, is_image_key
from robopref.data.video import write_video
from robopref.data.writer import DatasetWriter
from robopref.robot.staging import StagedEpisode, read_staged

log = logging.getLogger(__name__)


def staging_dir(dataset: Path) -> Path:
    return dataset.with_name(dataset.name + ".recording")


def video_dir(dataset: Path) -> Path:
    return dataset.with_name(dataset.stem + "_videos")


def _next_demo_name(dataset: Path) -> str:
    if not dataset.exists():
        return demo_name(0)
    with h5py.File(dataset, "r") as f:
        idx = [demo_index(n) for n in f[DATA].keys()] if DATA in f else []
    return demo_name(max([i for i in idx if i is not None], default=-1) + 1)


def episode_from_rows(rows: Mapping[str, np.ndarray], attrs: Mapping[str, Any]) -> Episode:
    """Rebuild an :class:`Episode` from a staged episode's rows."""
    n = len(rows["actions"])
    dones = np.zeros(n, np.int64)
    if n:
        dones[-1] = 1
    return Episode(
        actions=np.asarray(rows["actions"], np.float32),
        rewards=np.asarray(rows["rewards"], np.float64),
        dones=dones,
        obs={k[4:]: v for k, v in rows.items() if k.startswith("obs/")},
        infos={k[6:]: v for k, v in rows.items() if k.startswith("infos/")},
        attrs=dict(attrs),
    )


def publish_episode(dataset: Path, env_args: Mapping[str, Any], ep: Episode, video_fps: int = 10) -> tuple[str, Path | None]:
    """Append ``ep`` to the dataset and write its mp4; returns (demo name, video path or None)."""
    name = _next_demo_name(dataset)
    video = None
    cams = sorted(k for k in ep.obs if is_image_key(k))
    if cams and len(ep):
        frames = np.asarray(ep.obs[cams[0]])
        video = write_video(frames, video_dir(dataset) / f"{name}.mp4", fps=video_fps, scale=max(1, 256 // max(frames.shape[1:3])))
        ep.attrs["video"] = os.path.relpath(video, dataset.parent)
    with DatasetWriter(dataset, env_args=dict(env_args), mode="a") as writer:
        written = writer.add_episode(ep)
    if written != name:  # another process appended meanwhile: keep the video under the right name
        if video is not None:
            video = video.rename(video.with_name(f"{written}.mp4"))
        log.warning("demo written as %s, not %s (concurrent writer?)", written, name)
    return written, video


class EpisodeRecorder:
    """Record episodes of one session into ``dataset``.

    Args:
        dataset: the ``.hdf5`` file (created when missing, appended to otherwise).
        env_args: robomimic ``env_args`` of the robot (stored on ``data``).
        flush_every_s: how much a crash may lose.
        video_fps: frame rate of the mp4s (the control rate).
    """

    def __init__(self, dataset: str | os.PathLike, env_args: Mapping[str, Any], flush_every_s: float = 1.0,
                 video_fps: int = 10) -> None:
        self.dataset = Path(dataset)
        self.env_args = dict(env_args)
        self.flush_every_s = float(flush_every_s)
        self.video_fps = int(video_fps)
        self._staged: StagedEpisode | None = None
        self.saved: list[str] = []
        self.videos: list[Path] = []
        self.discarded = 0

    @property
    def recording(self) -> bool:
        return self._staged is not None

    @property
    def steps(self) -> int:
        return 0 if self._staged is None else self._staged.n

    def start(self, attrs: Mapping[str, Any] | None = None) -> Path:
        """Begin an episode; returns its staging file."""
        if self._staged is not None:
            raise RuntimeError("an episode is already being recorded: finish() or discard() it first")
        path = staging_dir(self.dataset) / f"episode_{time.strftime('%Y%m%d-%H%M%S')}_{uuid.uuid4().hex[:6]}.h5"
        a = {"started_at": time.time(), **{k: v for k, v in (attrs or {}).items() if v is not None}}
        self._staged = StagedEpisode(path, attrs=a, flush_every_s=self.flush_every_s)
        return path

    def add(self, obs: Mapping[str, np.ndarray], action: np.ndarray, reward: float = 0.0,
            infos: Mapping[str, float] | None = None) -> None:
        """One control tick: the observation before ``action``, the action, its reward and infos."""
        if self._staged is None:
            raise RuntimeError("start() an episode before add()")
        step: dict[str, np.ndarray] = {"actions": np.asarray(action, np.float32), "rewards": np.asarray(float(reward))}
        for k, v in obs.items():
            step[f"obs/{k}"] = np.asarray(v)
        for k, v in (infos or {}).items():
            step[f"infos/{k}"] = np.asarray(v)
        self._staged.append(step)

    def finish(self, attrs: Mapping[str, Any] | None = None) -> str | None:
        """Close the episode and append it to the dataset (None when it has no step)."""
        staged, self._staged = self._staged, None
        if staged is None:
            return None
        staged.close()
        rows, a = read_staged(staged.path)
        a.update({k: v for k, v in (attrs or {}).items() if v is not None})
        if not rows or len(rows["actions"]) == 0:
            staged.path.unlink(missing_ok=True)
            return None
        name, video = publish_episode(self.dataset, self.env_args, episode_from_rows(rows, a), self.video_fps)
        staged.path.unlink(missing_ok=True)
        self.saved.append(name)
        if video is not None:
            self.videos.append(video)
        log.info("saved %s (%d steps)%s", name, len(rows["actions"]), f", video {video}" if video else "")
        return name

    def discard(self) -> None:
        """Drop the current episode: nothing reaches the dataset."""
        staged, self._staged = self._staged, None
        if staged is not None:
            staged.close()
            staged.path.unlink(missing_ok=True)
            self.discarded += 1

    def close(self, interrupted_reason: str | None = None) -> None:
        """End the session; an episode still running is saved, marked ``interrupted`` when a reason is given."""
        if self._staged is not None:
            self.finish({"interrupted": interrupted_reason} if interrupted_reason else None)


def recover_staged(dataset: str | os.PathLike, env_args: Mapping[str, Any], video_fps: int = 10) -> list[str]:
    """Append episodes a crash left in ``<dataset>.recording/`` (marked ``interrupted``); returns their names."""
    dataset = Path(dataset)
    names: list[str] = []
    for path in sorted(staging_dir(dataset).glob("episode_*.h5")):
        try:
            rows, attrs = read_staged(path)
        except OSError as e:  # not even the first flush made it to disk
            log.warning("cannot read staged episode %s (%s): moved aside", path, e)
            path.rename(path.with_suffix(".unreadable"))
            continue
        if rows and len(rows["actions"]):
            attrs.setdefault("interrupted", "recovered after a crash")
            name, _ = publish_episode(dataset, env_args, episode_from_rows(rows, attrs), video_fps)
            names.append(name)
            log.warning("recovered %s (%d steps) from %s", name, len(rows["actions"]), path.name)
        path.unlink()
    return names


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
