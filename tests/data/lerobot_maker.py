"""Build small LeRobot datasets (v2.1 or v3.0 layout) for the import tests.

The layout follows LeRobot's documented format: ``meta/info.json`` with the features and
the file templates; v2.1: one parquet and one mp4 per episode, ``meta/episodes.jsonl``,
``meta/tasks.jsonl``; v3.0: episodes packed into shared files, ``meta/episodes/chunk-000/
file-000.parquet`` with each episode's file indices and video time span, ``meta/tasks.parquet``.
Frame ``g`` (counted over the whole dataset) is flat grey ``gray(g)``, so a test can tell
which frame a decoder returned.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np

H, W = 24, 32


def gray(g: int) -> int:
    """Grey level of the dataset's frame ``g``: 8 levels apart, so a lossy codec cannot blur two frames together."""
    return (20 + 8 * g) % 240


def _frames(start: int, n: int, size: tuple[int, int], texture: bool = False) -> np.ndarray:
    """Flat grey frames; with ``texture``, a fixed random pattern drifting one pixel a frame on top
    (camera-like detail for speed measurements: flat frames cost a codec nothing)."""
    frames = np.stack([np.full((*size, 3), gray(start + t), np.uint8) for t in range(n)])
    if texture:
        pattern = np.random.default_rng(0).integers(0, 48, (*size, 3), dtype=np.uint8)
        frames = np.stack([np.minimum(f.astype(np.int16) + np.roll(pattern, start + t, axis=1), 255).astype(np.uint8) for t, f in enumerate(frames)])
    return frames


def _write_mp4(path: Path, frames: np.ndarray, fps: int, codec: str) -> None:
    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    w = imageio_ffmpeg.write_frames(str(path), (frames.shape[2], frames.shape[1]), fps=fps, codec=codec, pix_fmt_out="yuv420p", macro_block_size=1,
                                    output_params=["-g", "4"])  # short GOPs, so seeking lands mid-file
    w.send(None)
    for f in frames:
        w.send(np.ascontiguousarray(f).tobytes())
    w.close()


def _png(frame: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def make_lerobot(root: Path, version: str = "v2.1", lengths: Sequence[int] = (6, 9, 7), camera: str | None = "video",
                 fps: int = 10, codec: str = "libx264", rewards: bool = True, state_dim: int = 4, action_dim: int = 3,
                 size: tuple[int, int] = (H, W), texture: bool = False) -> Path:
    """Write a LeRobot dataset to ``root``; ``camera``: ``video``, ``image`` or None (state only);
    ``size``: the camera's (height, width); ``texture``: see :func:`_frames`.
    Per-frame values: state[t] = episode + t/100 in every entry, action[t] = −t."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True, exist_ok=True)
    features = {
        "observation.state": {"dtype": "float32", "shape": [state_dim], "names": None},
        "action": {"dtype": "float32", "shape": [action_dim], "names": None},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
        "language_instruction": {"dtype": "string", "shape": [1], "names": None},
    }
    if rewards:
        features["next.reward"] = {"dtype": "float32", "shape": [1], "names": None}
        features["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    cam = "observation.images.top"
    if camera:
        features[cam] = {"dtype": camera, "shape": [*size, 3], "names": ["height", "width", "channel"]}
    v3 = version == "v3.0"
    info = {"codebase_version": version, "robot_type": "so100", "fps": fps, "features": features, "chunks_size": 1000,
            "total_episodes": len(lengths), "total_frames": int(sum(lengths)), "total_tasks": 1, "splits": {"train": f"0:{len(lengths)}"},
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet" if v3 else "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            "video_path": None if camera != "video" else ("videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4" if v3
                                                          else "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4")}
    (root / "meta").mkdir(exist_ok=True)
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=2))
    tables, all_frames, ep_rows, g = [], [], [], 0
    for e, n in enumerate(lengths):
        t = np.arange(n)
        cols = {
            "observation.state": pa.array([[e + s / 100] * state_dim for s in t], pa.list_(pa.float32())),
            "action": pa.array([[-float(s)] * action_dim for s in t], pa.list_(pa.float32())),
            "timestamp": pa.array(t / fps, pa.float32()),
            "frame_index": pa.array(t, pa.int64()),
            "episode_index": pa.array([e] * n, pa.int64()),
            "index": pa.array(g + t, pa.int64()),
            "task_index": pa.array([0] * n, pa.int64()),
            "language_instruction": pa.array(["put the cube in the bowl"] * n),
        }
        if rewards:
            cols["next.reward"] = pa.array((t == n - 1).astype(np.float32))
            cols["next.done"] = pa.array(t == n - 1)
        frames = _frames(g, n, size, texture)
        if camera == "image":
            cols[cam] = pa.array([{"bytes": _png(f), "path": f"frame_{g + s:06d}.png"} for s, f in enumerate(frames)],
                                 pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
        table = pa.table(cols)
        if v3:
            tables.append(table)
            all_frames.append(frames)
            row = {"episode_index": e, "tasks": ["put the cube in the bowl"], "length": n, "data/chunk_index": 0, "data/file_index": 0,
                   "dataset_from_index": g, "dataset_to_index": g + n}
            if camera == "video":
                row.update({f"videos/{cam}/chunk_index": 0, f"videos/{cam}/file_index": 0,
                            f"videos/{cam}/from_timestamp": g / fps, f"videos/{cam}/to_timestamp": (g + n) / fps})
            ep_rows.append(row)
        else:
            path = root / info["data_path"].format(episode_chunk=0, episode_index=e)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path)
            if camera == "video":
                _write_mp4(root / info["video_path"].format(episode_chunk=0, video_key=cam, episode_index=e), frames, fps, codec)
            ep_rows.append({"episode_index": e, "tasks": ["put the cube in the bowl"], "length": n})
        g += n
    if v3:
        path = root / info["data_path"].format(chunk_index=0, file_index=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(tables), path)
        if camera == "video":
            _write_mp4(root / info["video_path"].format(video_key=cam, chunk_index=0, file_index=0), np.concatenate(all_frames), fps, codec)
        meta = root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
        meta.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(ep_rows), meta)
        pq.write_table(pa.table({"task_index": [0], "__index_level_0__": ["put the cube in the bowl"]}), root / "meta" / "tasks.parquet")
    else:
        (root / "meta" / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ep_rows))
        (root / "meta" / "tasks.jsonl").write_text(json.dumps({"task_index": 0, "task": "put the cube in the bowl"}) + "\n")
    return root
