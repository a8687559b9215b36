"""Read LeRobot datasets (codebase v2.0, v2.1 and v3.0) as robopref episodes.

A LeRobot dataset is a folder: ``meta/info.json`` (fps, the features and the file
templates), per-frame tables in parquet (``data/...``) and, for camera features of dtype
``video``, mp4 files (``videos/...``). In v2.x each episode has its own parquet and mp4
files and ``meta/episodes.jsonl`` lists the episodes; in v3.0 many episodes share a file
and ``meta/episodes/*/*.parquet`` says where each one lies (data file, video file and the
episode's time span in it).

Mapping to the robomimic layout (:class:`robopref.data.episode.Episode`):

* ``action`` → ``actions``; other numeric ``action.<name>`` features → ``action_dict/<name>``;
* numeric ``observation.<name>`` features → ``obs/<name>`` (dots become underscores);
* camera features (dtype ``image`` or ``video``) ``observation.images.<camera>`` →
  ``obs/<camera>_image``, uint8 HWC, resized to ``image_size``² when that is given;
* ``next.reward`` → ``rewards`` (else zeros), ``next.done`` → ``dones`` (else only the
  last step), ``next.success`` → ``infos/success``;
* the episode's index and task text → demo attributes ``lerobot_episode_index``, ``task``.

Videos are decoded with the ffmpeg that imageio-ffmpeg ships (it reads LeRobot's default
AV1 as well as H.264), seeking to each episode's first frame, so memory holds one
episode at a time. Reading parquet needs ``pyarrow`` (``pip install robopref[lerobot]``).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from robopref.data.episode import Episode
from robopref.data.images import square_rgb
from robopref.utils.optional import optional_import

log = logging.getLogger(__name__)

VERSIONS = ("v2.0", "v2.1", "v3.0")
CAMERA_DTYPES = ("image", "video")
BOOKKEEPING = ("timestamp", "frame_index", "episode_index", "index", "task_index")  # per-frame columns that are not data
SPECIAL = ("action", "next.reward", "next.done", "next.success")


class LeRobotError(ValueError):
    """A LeRobot dataset that cannot be read; the message names the file and what is wrong."""


def _pyarrow() -> Any:
    """``pyarrow.parquet``, or an error that says how to install it."""
    return optional_import("pyarrow.parquet", "reading LeRobot datasets", "lerobot")


def obs_key(feature: str, camera: bool) -> str:
    """The robomimic observation key of LeRobot feature ``feature``: ``observation.images.top``
    → ``top_image``, ``observation.image`` → ``camera_image``, ``observation.state`` → ``state``."""
    name = feature.removeprefix("observation.")
    if camera:
        name = name.removeprefix("images.")
        name = "camera" if name in ("image", "") else name
        return name.replace(".", "_") + "_image"
    return name.replace(".", "_")


@dataclass
class EpisodeMeta:
    """Where one LeRobot episode lies: its data file, its rows there, and per camera its
    video file and start time in it (0 for v2.x's one video per episode)."""

    index: int
    length: int
    tasks: list[str]
    data_file: Path
    videos: dict[str, tuple[Path, float]] = field(default_factory=dict)


class LeRobotDataset:
    """A LeRobot dataset folder opened for reading (checked up front: ``meta/info.json``,
    the version, the features and the episode list).

    Args:
        root: the folder that holds ``meta/info.json``.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser()
        info_path = self.root / "meta" / "info.json"
        if not info_path.is_file():
            hint = " (a LeRobot dataset folder has meta/info.json, data/ and videos/)" if self.root.is_dir() else " (no such folder)"
            raise LeRobotError(f"{info_path}: not found{hint}")
        try:
            self.info: dict[str, Any] = json.loads(info_path.read_text())
        except (OSError, ValueError) as e:
            raise LeRobotError(f"{info_path}: not readable JSON ({e})") from e
        self.version = str(self.info.get("codebase_version", ""))
        if self.version not in VERSIONS:
            raise LeRobotError(f"{info_path}: codebase_version={self.version!r}, expected one of {VERSIONS}")
        for key in ("fps", "features", "data_path"):
            if key not in self.info:
                raise LeRobotError(f"{info_path}: key '{key}' is missing")
        self.fps = float(self.info["fps"])
        self.features: dict[str, dict[str, Any]] = dict(self.info["features"])
        if "action" not in self.features:
            raise LeRobotError(f"{info_path}: features has no 'action' (features: {sorted(self.features)})")
        self.cameras = [k for k, f in self.features.items() if f.get("dtype") in CAMERA_DTYPES]
        if any(self.features[k]["dtype"] == "video" for k in self.cameras) and not self.info.get("video_path"):
            raise LeRobotError(f"{info_path}: video features {self.cameras} but no 'video_path' template")
        self._meta = self._episode_meta()
        self._table_cache: tuple[Path, Any] | None = None

    # -- metadata ---------------------------------------------------------------------
    @property
    def episode_indices(self) -> list[int]:
        """LeRobot episode indices, in order."""
        return sorted(self._meta)

    @staticmethod
    def camera_key(feature: str) -> str:
        """robopref's observation key of camera feature ``feature`` (:func:`obs_key`)."""
        return obs_key(feature, camera=True)

    def numeric_features(self) -> list[str]:
        """Per-frame numeric features that become obs keys or action streams."""
        skip = {*BOOKKEEPING, *SPECIAL}
        return [k for k, f in self.features.items() if k not in skip and f.get("dtype") not in (*CAMERA_DTYPES, "string")
                and (k.startswith("observation.") or k.startswith("action."))]

    def skipped_features(self) -> list[str]:
        """Features this reader does not carry over (strings, and names outside observation./action./next.)."""
        used = {*BOOKKEEPING, *SPECIAL, *self.cameras, *self.numeric_features()}
        return sorted(k for k in self.features if k not in used)

    def _episode_meta(self) -> dict[int, EpisodeMeta]:
        return self._meta_v3() if self.version == "v3.0" else self._meta_v2()

    def _meta_v2(self) -> dict[int, EpisodeMeta]:
        path = self.root / "meta" / "episodes.jsonl"
        if not path.is_file():
            raise LeRobotError(f"{path}: not found (a {self.version} dataset lists its episodes there)")
        chunks = int(self.info.get("chunks_size", 1000))
        out: dict[int, EpisodeMeta] = {}
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                i, length = int(row["episode_index"]), int(row["length"])
            except (ValueError, KeyError, TypeError) as e:
                raise LeRobotError(f"{path}: line {n}: expected a JSON object with episode_index and length ({e})") from e
            chunk = i // chunks
            data = self.root / self.info["data_path"].format(episode_chunk=chunk, episode_index=i)
            videos = {k: (self.root / self.info["video_path"].format(episode_chunk=chunk, video_key=k, episode_index=i), 0.0)
                      for k in self.cameras if self.features[k]["dtype"] == "video"}
            out[i] = EpisodeMeta(i, length, [str(t) for t in row.get("tasks", [])], data, videos)
        if not out:
            raise LeRobotError(f"{path}: lists no episodes")
        return out

    def _meta_v3(self) -> dict[int, EpisodeMeta]:
        pq = _pyarrow()
        files = sorted((self.root / "meta" / "episodes").glob("*/*.parquet"))
        if not files:
            raise LeRobotError(f"{self.root / 'meta' / 'episodes'}: no parquet files (a v3.0 dataset lists its episodes there)")
        out: dict[int, EpisodeMeta] = {}
        for f in files:
            for row in pq.read_table(f).to_pylist():
                try:
                    i, length = int(row["episode_index"]), int(row["length"])
                    data = self.root / self.info["data_path"].format(chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"]))
                    videos = {}
                    for k in self.cameras:
                        if self.features[k]["dtype"] == "video":
                            video = self.info["video_path"].format(video_key=k, chunk_index=int(row[f"videos/{k}/chunk_index"]),
                                                                   file_index=int(row[f"videos/{k}/file_index"]))
                            videos[k] = (self.root / video, float(row[f"videos/{k}/from_timestamp"]))
                except (KeyError, TypeError, ValueError) as e:
                    raise LeRobotError(f"{f}: episode row {row.get('episode_index')}: missing or bad column {e}") from e
                out[i] = EpisodeMeta(i, length, [str(t) for t in row.get("tasks") or []], data, videos)
        return out

    # -- reading ----------------------------------------------------------------------
    def _rows(self, meta: EpisodeMeta) -> Any:
        """The episode's rows of its data file (a pyarrow table sorted by frame_index)."""
        pq = _pyarrow()
        if not meta.data_file.is_file():
            raise LeRobotError(f"{meta.data_file}: data file of episode {meta.index} not found")
        if self._table_cache is None or self._table_cache[0] != meta.data_file:
            self._table_cache = (meta.data_file, pq.read_table(meta.data_file))
        table = self._table_cache[1]
        if "episode_index" in table.column_names:
            idx = np.flatnonzero(np.asarray(table.column("episode_index").to_numpy()) == meta.index)
            table = table.take(idx)
        if "frame_index" in table.column_names:
            table = table.take(np.argsort(np.asarray(table.column("frame_index").to_numpy()), kind="stable"))
        if table.num_rows == 0:
            raise LeRobotError(f"{meta.data_file}: no rows of episode {meta.index}")
        return table

    def read_episode(self, index: int, image_size: int | None = None, cameras: Sequence[str] | None = None) -> Episode:
        """Episode ``index`` as a robopref :class:`Episode`.

        Args:
            image_size: resize camera frames to ``image_size`` × ``image_size``; None keeps them.
            cameras: camera features to read (full names); None reads all.
        """
        if index not in self._meta:
            raise LeRobotError(f"{self.root}: no episode {index} (episodes {self.episode_indices[0]}–{self.episode_indices[-1]})")
        meta = self._meta[index]
        table = self._rows(meta)
        T = table.num_rows
        where = f"{meta.data_file}: episode {index}"
        actions = _numeric(table, "action", where)
        obs = {obs_key(k, camera=False): _numeric(table, k, where) for k in self.numeric_features() if k.startswith("observation.")}
        action_dict = {k.removeprefix("action.").replace(".", "_"): _numeric(table, k, where) for k in self.numeric_features() if k.startswith("action.")}
        for k in cameras if cameras is not None else self.cameras:
            if self.features[k]["dtype"] == "image":
                frames = _decode_images(table, k, image_size, where)
            else:
                path, start = meta.videos[k]
                frames = read_video_frames(path, start + _first_timestamp(table), T, self.fps, image_size, f"{where}, {k}")
            obs[obs_key(k, camera=True)] = frames
        rewards = _numeric(table, "next.reward", where).reshape(T) if "next.reward" in table.column_names else np.zeros(T, np.float32)
        if "next.done" in table.column_names:
            dones = _numeric(table, "next.done", where).reshape(T).astype(np.uint8)
        else:
            dones = np.zeros(T, np.uint8)
            dones[-1] = 1
        infos = {"success": _numeric(table, "next.success", where).reshape(T).astype(bool)} if "next.success" in table.column_names else {}
        attrs: dict[str, Any] = {"lerobot_episode_index": index}
        if meta.tasks:
            attrs["task"] = "; ".join(meta.tasks)
        if T != meta.length:
            log.warning("%s: %d rows, the episode list says %d", where, T, meta.length)
        return Episode(actions=actions, rewards=rewards, dones=dones, obs=obs, infos=infos, action_dict=action_dict, attrs=attrs)

    def iter_episodes(self, indices: Sequence[int] | None = None, image_size: int | None = None,
                      cameras: Sequence[str] | None = None) -> Iterator[Episode]:
        """:meth:`read_episode` for each of ``indices`` (all when None), in order."""
        for i in indices if indices is not None else self.episode_indices:
            yield self.read_episode(int(i), image_size=image_size, cameras=cameras)


def _numeric(table: Any, name: str, where: str) -> np.ndarray:
    """Column ``name`` as float32 (T, D): list columns flattened per row, scalars (T, 1)."""
    if name not in table.column_names:
        raise LeRobotError(f"{where}: column '{name}' is missing (columns: {table.column_names})")
    import pyarrow.types as pat

    col = table.column(name).combine_chunks()
    T = len(col)
    listed = pat.is_list(col.type) or pat.is_large_list(col.type) or pat.is_fixed_size_list(col.type)
    try:
        values = np.asarray((col.flatten() if listed else col).to_numpy(zero_copy_only=False), dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise LeRobotError(f"{where}: column '{name}' is not numeric ({col.type}): {e}") from e
    if T and values.size % T:
        raise LeRobotError(f"{where}: column '{name}' has rows of different lengths")
    return values.reshape(T, -1)


def _first_timestamp(table: Any) -> float:
    """The episode's first ``timestamp`` (seconds from its start; 0 when the column is absent)."""
    return float(table.column("timestamp")[0].as_py()) if "timestamp" in table.column_names else 0.0


def _decode_images(table: Any, name: str, image_size: int | None, where: str) -> np.ndarray:
    """An ``image`` feature (a struct of encoded ``bytes`` per row, as Hugging Face datasets
    store images) as uint8 (T, H, W, 3)."""
    import io

    from PIL import Image

    if name not in table.column_names:
        raise LeRobotError(f"{where}: image column '{name}' is missing")
    out = []
    for t, cell in enumerate(table.column(name).to_pylist()):
        data = cell.get("bytes") if isinstance(cell, dict) else cell
        if not data:
            raise LeRobotError(f"{where}: '{name}' frame {t} holds no image bytes")
        frame = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
        out.append(square_rgb(frame[None], image_size)[0])  # one frame at a time: full-size frames are never all in memory
    return np.stack(out)


def read_video_frames(path: Path, start_s: float, count: int, fps: float, image_size: int | None, where: str) -> np.ndarray:
    """``count`` frames of video ``path`` from the frame shown at ``start_s`` seconds, as uint8
    (count, H, W, 3), resized by ffmpeg to ``image_size``² when given."""
    import imageio_ffmpeg

    if not path.is_file():
        raise LeRobotError(f"{where}: video file {path} not found")
    seek = max(0.0, start_s - 0.5 / fps)  # the first frame at or after half a frame before: the frame at start_s
    out_params = ["-frames:v", str(count)]
    if image_size:
        out_params += ["-vf", f"scale={image_size}:{image_size}:flags=area"]
    quiet = logging.getLogger("imageio_ffmpeg")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it warns whenever the output size differs from the source, which resizing means
    try:
        gen = imageio_ffmpeg.read_frames(str(path), input_params=["-ss", f"{seek:.6f}"], output_params=out_params)
        w, h = next(gen)["size"]
        frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]
    except (RuntimeError, OSError, StopIteration) as e:
        raise LeRobotError(f"{where}: cannot decode {path}: {e}") from e
    finally:
        quiet.setLevel(level)
    if len(frames) < count:
        raise LeRobotError(f"{where}: {path} has {len(frames)} frames from {start_s:.3f} s, the episode has {count} steps "
                           f"(at {fps:g} fps it would need {math.ceil(count / fps * 10) / 10} s)")
    return np.stack(frames)
