"""LeRobot compatibility, checked with LeRobot's own code: `robopref export` → ``LeRobotDataset``
and ``LeRobotDataset.create`` → `robopref convert`.

Run it in an environment where both robopref and ``lerobot`` import (LeRobot pins its own
torch, so it is never a robopref dependency: use a separate environment, e.g. a venv with
``pip install --no-deps lerobot`` beside robopref's torch). Prints one JSON object per
direction (``check: export`` / ``check: import``) with the frame count, whether every
action and state matched exactly, and the worst per-frame mean absolute difference of the
camera frames in grey levels (AV1 is lossy); exits non-zero when a check fails.

    python benchmarks/check_lerobot.py --video-backend torchcodec
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FRAME_TOLERANCE = 8.0  # grey levels, mean over a frame; AV1 at these sizes stays under 4


def robopref(*args: str, cwd: Path) -> None:
    """Run one robopref command; its error ends the check."""
    res = subprocess.run([sys.executable, "-m", "robopref.cli", *args], cwd=cwd, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if res.returncode:
        raise SystemExit(f"robopref {args[0]} failed:\n{res.stderr[-3000:]}")


def check_export(tmp: Path, backend: str) -> dict:
    """Collect push2d episodes, export them, load the folder with ``LeRobotDataset`` and compare every step."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    robopref("collect", "env=push2d_avoid", "episodes=4", f"output={tmp / 'src.hdf5'}", "videos=0", "hydra.run.dir=collect", cwd=tmp)
    robopref("export", f"dataset={tmp / 'src.hdf5'}", f"output={tmp / 'exported'}", "hydra.run.dir=export", cwd=tmp)
    ds = LeRobotDataset("local/exported", root=tmp / "exported", video_backend=backend)
    worst, exact, idx = 0.0, True, 0
    with h5py.File(tmp / "src.hdf5", "r") as f:
        demos = sorted(f["data"], key=lambda d: int(d.split("_")[1]))
        for e, d in enumerate(demos):
            g = f["data"][d]
            for t in range(g["actions"].shape[0]):
                item = ds[idx]
                exact &= int(item["episode_index"]) == e and int(item["frame_index"]) == t
                exact &= np.array_equal(item["action"].numpy(), g["actions"][t].astype(np.float32))
                exact &= np.array_equal(item["observation.state"].numpy(), g["obs"]["state"][t].astype(np.float32))
                frame = item["observation.images.top"].permute(1, 2, 0).numpy() * 255  # (3, H, W) in [0, 1]
                worst = max(worst, float(np.abs(frame - g["obs"]["top_image"][t]).mean()))
                idx += 1
    window = LeRobotDataset("local/exported", root=tmp / "exported", video_backend=backend,
                            delta_timestamps={"observation.images.top": [-1 / ds.fps, 0.0], "action": [i / ds.fps for i in range(8)]})[5]
    windows = tuple(window["observation.images.top"].shape[:1]) == (2,) and tuple(window["action"].shape) == (8, 2)
    return {"check": "export", "frames": idx, "episodes": ds.num_episodes, "fps": ds.fps, "vectors_exact": bool(exact),
            "worst_frame_error": round(worst, 2), "delta_timestamps": windows, "ok": bool(exact and windows and worst < FRAME_TOLERANCE)}


def check_import(tmp: Path) -> dict:
    """Write a dataset with LeRobot's own writer, convert it and compare every step."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    features = {
        "observation.state": {"dtype": "float32", "shape": (4,), "names": ["x", "y", "vx", "vy"]},
        "action": {"dtype": "float32", "shape": (2,), "names": ["dx", "dy"]},
        "observation.images.front": {"dtype": "video", "shape": (96, 128, 3), "names": ["height", "width", "channels"]},
    }
    lengths = (20, 33, 12)
    made = LeRobotDataset.create("local/made", fps=15, root=tmp / "made", robot_type="so100", features=features, use_videos=True)
    for e, length in enumerate(lengths):
        for t in range(length):
            frame = np.full((96, 128, 3), (8 * t + 40 * e) % 256, np.uint8)
            made.add_frame({"observation.state": np.array([e, t, 0.5, -0.5], np.float32), "action": np.array([t / 10, -e], np.float32),
                            "observation.images.front": frame, "task": ["pick the cube", "place the cube"][e % 2]})
        made.save_episode()
    made.finalize()
    robopref("convert", f"source={tmp / 'made'}", f"output={tmp / 'made.hdf5'}", "image_size=null", "hydra.run.dir=convert", cwd=tmp)
    worst, exact = 0.0, True
    with h5py.File(tmp / "made.hdf5", "r") as f:
        for e, length in enumerate(lengths):
            g = f["data"][f"demo_{e}"]
            t = np.arange(length, dtype=np.float32)
            exact &= np.array_equal(g["actions"][:], np.stack([t / 10, np.full(length, -e, np.float32)], 1))
            exact &= np.array_equal(g["obs"]["state"][:, :2], np.stack([np.full(length, e, np.float32), t], 1))
            exact &= g.attrs.get("task") == ["pick the cube", "place the cube"][e % 2]
            want = ((8 * t + 40 * e) % 256)[:, None, None, None]
            worst = max(worst, float(np.abs(g["obs"]["front_image"][:].astype(np.float64) - want).mean(axis=(1, 2, 3)).max()))
    return {"check": "import", "frames": sum(lengths), "episodes": len(lengths), "vectors_exact": bool(exact),
            "worst_frame_error": round(worst, 2), "ok": bool(exact and worst < FRAME_TOLERANCE)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video-backend", default=None, help="LeRobot's video decoder (torchcodec, pyav; default: LeRobot's choice)")
    args = ap.parse_args()
    import lerobot

    ok = True
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        for row in (check_export(tmp, args.video_backend), check_import(tmp)):
            print(json.dumps({**row, "lerobot": getattr(lerobot, "__version__", "?")}), flush=True)
            ok &= row["ok"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
