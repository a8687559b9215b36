"""Write robopref episodes as a LeRobot dataset (codebase v3.0), so a LeRobot policy can
train on what robopref chose or relabelled: the demos a learned reward ranks highest,
a dataset whose rewards come from a person's preferences, the label page's rollouts.

The layout is LeRobot's v3.0 one, which ``LeRobotDataset(repo_id, root=folder)`` loads
from a local folder:

* ``data/chunk-000/file-000.parquet``: one row per step, episodes back to back; vectors
  as ``fixed_size_list<float32>``, scalars as plain columns; ``index`` counts rows over
  the whole dataset, ``frame_index`` within an episode, ``timestamp`` = frame_index / fps;
* ``videos/observation.images.<camera>/chunk-000/file-000.mp4``: one constant-rate video
  per camera with the episodes back to back (each episode's span is in its metadata);
* ``meta/info.json`` (features, fps, file templates), ``meta/tasks.parquet`` (the task
  text as the pandas index, column ``task_index``), ``meta/episodes/chunk-000/
  file-000.parquet`` (per episode: length, tasks, data rows, video span), and
  ``meta/stats.json`` (min, max, mean, std, count and quantiles per feature; per channel
  in [0, 1] for cameras, shape (3, 1, 1), as LeRobot's normalisation reads them).

Mapping from robopref: ``actions`` → ``action``; ``obs/state`` → ``observation.state``,
other vector observations ``obs/<key>`` → ``observation.<key>``; ``obs/<camera>_image`` →
``observation.images.<camera>`` (video); ``rewards`` → ``next.reward``; ``dones`` →
``next.done``; ``infos/success`` → ``next.success``. Everything is written into
``<folder>.partial`` and renamed into place at the end, so a killed export leaves no
half dataset under the target name.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from robopref.data.episode import Episode
from robopref.data.layout import is_image_key
from robopref.utils.optional import optional_import

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
VIDEO_CODECS = {"libsvtav1": "av1", "libx264": "h264"}  # ffmpeg encoder -> the codec name LeRobot records
IMAGE_STAT_FRAMES = 32  # frames per episode sampled for a camera's statistics


def feature_name(key: str) -> str:
    """LeRobot feature name of robopref observation ``key``: ``state`` → ``observation.state``,
    ``top_image`` → ``observation.images.top``."""
    if is_image_key(key):
        return "observation.images." + key.removesuffix("_image")
    return f"observation.{key}"


def _task_table(tasks: list[str]) -> Any:
    """meta/tasks.parquet as pandas writes ``DataFrame({"task_index": ...}, index=tasks)``: the
    task strings are the index (pandas metadata says so), ``task_index`` the one column."""
    import pyarrow as pa

    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "__index_level_0__": pa.array(tasks, pa.string())})
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
            {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


@dataclass
class _Stats:
    """Running values of one feature for meta/stats.json (all values kept: vectors are small,
    camera frames are sampled and reduced to per-channel pixels in [0, 1])."""

    values: list[np.ndarray] = field(default_factory=list)
    image: bool = False

    def add(self, x: np.ndarray) -> None:
        if self.image:  # (n, H, W, 3) uint8 -> (n*H*W, 3) in [0, 1], subsampled pixels
            px = x.reshape(-1, x.shape[-1])[:: max(1, x.shape[1] * x.shape[2] // 1024)]
            self.values.append(px.astype(np.float32) / 255.0)
        else:
            self.values.append(np.asarray(x, np.float64).reshape(len(x), -1))

    def result(self, count: int) -> dict[str, list]:
        v = np.concatenate(self.values)
        out = {"min": v.min(0), "max": v.max(0), "mean": v.mean(0), "std": v.std(0)}
        out.update({f"q{int(round(q * 100)):02d}": np.quantile(v, q, axis=0) for q in QUANTILES})
        shape = (-1, 1, 1) if self.image else (-1,)
        res = {k: np.asarray(a, np.float64).reshape(shape).tolist() for k, a in out.items()}
        res["count"] = [int(count)]
        return res


class _VideoStream:
    """One camera's mp4: frames appended episode after episode at a constant rate."""

    def __init__(self, path: Path, height: int, width: int, fps: float, codec: str) -> None:
        import imageio_ffmpeg

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.frames = path, 0
        self._w = imageio_ffmpeg.write_frames(str(path), (width, height), fps=fps, codec=codec, pix_fmt_out="yuv420p",
                                              macro_block_size=1, ffmpeg_log_level="error")
        self._w.send(None)

    def add(self, frames: np.ndarray) -> None:
        for f in frames:
            self._w.send(np.ascontiguousarray(f, dtype=np.uint8).tobytes())
        self.frames += len(frames)

    def close(self) -> None:
        self._w.close()


def _values(ep: Episode, low_dim: Sequence[str], success: bool) -> dict[str, np.ndarray]:
    """The episode's data features (not the bookkeeping ones), (T, D) float32 or (T,) per feature name."""
    T = len(ep)
    out = {"action": np.asarray(ep.actions, np.float32).reshape(T, -1)}
    out.update({feature_name(k): np.asarray(ep.obs[k], np.float32).reshape(T, -1) for k in low_dim})
    out["next.reward"] = np.asarray(ep.rewards, np.float32).reshape(T)
    out["next.done"] = np.asarray(ep.dones).reshape(T).astype(bool)
    if success:
        out["next.success"] = np.asarray(ep.infos["success"]).reshape(T).astype(bool)
    return out


def _columns(values: dict[str, np.ndarray], first_index: int, episode_index: int, task_index: int, fps: float) -> dict[str, Any]:
    """An episode's rows (its :func:`_values` and the bookkeeping columns) as pyarrow arrays keyed
    by feature name: vectors as ``fixed_size_list<float32>``, scalars plain."""
    import pyarrow as pa

    T = len(values["action"])
    cols: dict[str, Any] = {}
    for name, x in values.items():
        cols[name] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), x.shape[1]) if x.ndim == 2 else pa.array(x)
    t = np.arange(T)
    cols.update({
        "timestamp": pa.array((t / fps).astype(np.float32)),
        "frame_index": pa.array(t, pa.int64()),
        "episode_index": pa.array(np.full(T, episode_index), pa.int64()),
        "index": pa.array(first_index + t, pa.int64()),
        "task_index": pa.array(np.full(T, task_index), pa.int64()),
    })
    return cols


def _features(first: Episode, low_dim: Sequence[str], cameras: Sequence[str], success: bool, fps: float, codec: str) -> dict[str, Any]:
    def vec(n: int, prefix: str) -> dict[str, Any]:
        return {"dtype": "float32", "shape": [n], "names": [f"{prefix}_{i}" for i in range(n)]}

    feats: dict[str, Any] = {"action": vec(int(np.prod(first.actions.shape[1:])), "action")}
    for k in low_dim:
        feats[feature_name(k)] = vec(int(np.prod(first.obs[k].shape[1:])), k)
    for k in cameras:
        h, w = first.obs[k].shape[1:3]
        feats[feature_name(k)] = {"dtype": "video", "shape": [int(h), int(w), 3], "names": ["height", "width", "channels"],
                                  "info": {"video.height": int(h), "video.width": int(w), "video.codec": VIDEO_CODECS[codec],
                                           "video.pix_fmt": "yuv420p", "video.is_depth_map": False, "video.fps": fps,
                                           "video.channels": 3, "has_audio": False}}
    feats["next.reward"] = {"dtype": "float32", "shape": [1], "names": None}
    feats["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    if success:
        feats["next.success"] = {"dtype": "bool", "shape": [1], "names": None}
    feats["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for k in ("frame_index", "episode_index", "index", "task_index"):
        feats[k] = {"dtype": "int64", "shape": [1], "names": None}
    return feats


def write_lerobot(episodes: Iterable[Episode], out_dir: str | os.PathLike, fps: float, robot_type: str | None,
                  default_task: str, codec: str = "libsvtav1", overwrite: bool = False,
                  progress: Callable[[Iterable[Episode]], Iterable[Episode]] | None = None) -> dict[str, Any]:
    """Write ``episodes`` (all with the same observation keys and sizes, read one at a time) as a
    LeRobot v3.0 dataset in ``out_dir``; an episode's ``task`` attribute (else ``default_task``)
    is its task. Returns a summary (episodes, frames, features, cameras)."""
    pa = optional_import("pyarrow", "writing LeRobot datasets", "lerobot")
    pq = optional_import("pyarrow.parquet", "writing LeRobot datasets", "lerobot")

    if codec not in VIDEO_CODECS:
        raise ValueError(f"video_codec={codec!r}: expected one of {sorted(VIDEO_CODECS)}")
    if not fps > 0:
        raise ValueError(f"fps={fps}: expected > 0 steps per second")
    fps = int(fps) if float(fps).is_integer() else float(fps)  # LeRobot's own datasets record an integer rate
    out = Path(out_dir).expanduser()
    if out.exists() and not overwrite:
        raise FileExistsError(f"output={out} already exists: pass overwrite=true to replace it, or another output= path")
    work = out.with_name(out.name + ".partial")
    if work.exists():
        shutil.rmtree(work)  # leftover of a killed earlier export
    work.mkdir(parents=True)
    it = iter(progress(episodes) if progress else episodes)
    try:
        first = next(it)
    except StopIteration:
        shutil.rmtree(work)
        raise ValueError("nothing to export: no episodes selected") from None
    low_dim = [k for k in first.obs if not is_image_key(k)]
    cameras = [k for k in first.obs if is_image_key(k)]
    success = "success" in first.infos
    features = _features(first, low_dim, cameras, success, fps, codec)
    stats = {name: _Stats(image=name.startswith("observation.images.")) for name in features
             if name not in ("timestamp", "frame_index", "episode_index", "index", "task_index")}
    tasks: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    videos: dict[str, _VideoStream] = {}
    writer = None
    frames = 0
    try:
        for e, ep in enumerate(_chain(first, it)):
            _check_alike(ep, first, e)
            task = str(ep.attrs.get("task") or default_task)
            ti = tasks.setdefault(task, len(tasks))
            values = _values(ep, low_dim, success)
            table = pa.table(_columns(values, frames, e, ti, fps))
            if writer is None:
                (work / DATA_PATH.format(chunk_index=0, file_index=0)).parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(work / DATA_PATH.format(chunk_index=0, file_index=0), table.schema)
            writer.write_table(table)
            row: dict[str, Any] = {"episode_index": e, "tasks": [task], "length": len(ep), "data/chunk_index": 0, "data/file_index": 0,
                                   "dataset_from_index": frames, "dataset_to_index": frames + len(ep)}
            for k in cameras:
                name = feature_name(k)
                if name not in videos:
                    h, w = ep.obs[k].shape[1:3]
                    videos[name] = _VideoStream(work / VIDEO_PATH.format(video_key=name, chunk_index=0, file_index=0), h, w, fps, codec)
                v = videos[name]
                row.update({f"videos/{name}/chunk_index": 0, f"videos/{name}/file_index": 0,
                            f"videos/{name}/from_timestamp": v.frames / fps, f"videos/{name}/to_timestamp": (v.frames + len(ep)) / fps})
                v.add(ep.obs[k])
                stats[name].add(ep.obs[k][np.linspace(0, len(ep) - 1, min(len(ep), IMAGE_STAT_FRAMES)).astype(int)])
            row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
            rows.append(row)
            for name, x in values.items():
                stats[name].add(x)
            frames += len(ep)
    finally:
        if writer is not None:
            writer.close()
        for v in videos.values():
            v.close()
    meta = work / "meta"
    (meta / "episodes" / "chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), meta / "episodes" / "chunk-000" / "file-000.parquet")
    pq.write_table(_task_table(list(tasks)), meta / "tasks.parquet")
    (meta / "stats.json").write_text(json.dumps({k: s.result(frames) for k, s in stats.items()}, indent=2))
    info = {"codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": len(rows), "total_frames": frames,
            "total_tasks": len(tasks), "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500, "fps": fps,
            "splits": {"train": f"0:{len(rows)}"}, "data_path": DATA_PATH, "video_path": VIDEO_PATH if cameras else None, "features": features}
    (meta / "info.json").write_text(json.dumps(info, indent=4))
    publish_folder(work, out)
    return {"episodes": len(rows), "frames": frames, "fps": fps, "tasks": list(tasks), "features": sorted(features),
            "cameras": [feature_name(k) for k in cameras]}


def _chain(first: Episode, rest: Iterable[Episode]) -> Iterable[Episode]:
    yield first
    yield from rest


def _check_alike(ep: Episode, first: Episode, index: int) -> None:
    """Every episode must have the first one's observation keys and sizes (one schema, one video size)."""
    if set(ep.obs) != set(first.obs) or any(ep.obs[k].shape[1:] != first.obs[k].shape[1:] for k in first.obs) \
            or ep.actions.shape[1:] != first.actions.shape[1:]:
        shapes = lambda e: {"actions": e.actions.shape[1:], **{k: v.shape[1:] for k, v in e.obs.items()}}  # noqa: E731
        raise ValueError(f"episode {index} has other observations or sizes than the first ({shapes(ep)} against {shapes(first)}); "
                         "a LeRobot dataset has one set of features")


def publish_folder(work: Path, out: Path) -> None:
    """Move the finished ``work`` folder to ``out``; an existing ``out`` (overwrite) is removed only after."""
    old = None
    if out.exists():
        old = out.with_name(out.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
    os.replace(work, out)
    if old is not None:
        shutil.rmtree(old)
