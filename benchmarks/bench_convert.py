"""LeRobot import and export speed: ``robopref convert`` on a LeRobot v3.0 dataset of
camera-sized AV1 videos, and ``robopref export`` of the result back to LeRobot.

Prints one JSON object per ``--image-size`` (``bench: convert``): episodes, frames, the
wall-clock seconds of the command (process start included), frames per second and the
size of the written HDF5 file; then one (``bench: export``) for exporting the first
size's dataset (AV1 encoding included). The source is synthetic (tests/data/lerobot_maker.py:
textured frames, one shared mp4 as LeRobot v3.0 writes it, SVT-AV1 like LeRobot's default),
built once in a temporary folder; its encoding time is reported but not counted.

    python benchmarks/bench_convert.py --episodes 20 --length 150 --height 480 --width 640 --image-size 128 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.data.lerobot_maker import make_lerobot  # noqa: E402


def timed_stage(*args: str) -> float:
    """Wall-clock seconds of one ``robopref`` command (process start included); its error ends the benchmark."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "robopref.cli", *args], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if res.returncode:
        raise SystemExit(res.stderr[-3000:])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--length", type=int, default=150, help="steps per episode")
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--codec", default="libsvtav1")
    ap.add_argument("--image-size", type=int, nargs="+", default=[128, 0], help="0: keep the recorded size")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        src = make_lerobot(Path(tmp) / "src", version="v3.0", lengths=[args.length] * args.episodes, fps=args.fps, codec=args.codec,
                           size=(args.height, args.width), texture=True)
        made = time.perf_counter() - t0
        video_mb = sum(f.stat().st_size for f in (src / "videos").rglob("*.mp4")) / 1e6
        for size in args.image_size:
            out = Path(tmp) / f"out_{size}.hdf5"
            seconds = timed_stage("convert", f"source={src}", f"output={out}", f"image_size={size or 'null'}", f"hydra.run.dir={tmp}/run_{size}")
            frames = args.episodes * args.length
            print(json.dumps({"bench": "convert", "episodes": args.episodes, "frames": frames, "source": f"{args.height}x{args.width} {args.codec}",
                              "source_video_mb": round(video_mb, 1), "source_build_s": round(made, 1), "image_size": size or None,
                              "seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 1), "output_mb": round(out.stat().st_size / 1e6, 1),
                              "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine()}), flush=True)
        first = args.image_size[0]
        seconds = timed_stage("export", f"dataset={tmp}/out_{first}.hdf5", f"output={tmp}/lerobot_{first}", f"hydra.run.dir={tmp}/export_{first}")
        mb = sum(f.stat().st_size for f in Path(f"{tmp}/lerobot_{first}").rglob("*") if f.is_file()) / 1e6
        frames = args.episodes * args.length
        print(json.dumps({"bench": "export", "episodes": args.episodes, "frames": frames, "image_size": first or None, "seconds": round(seconds, 2),
                          "frames_per_s": round(frames / seconds, 1), "output_mb": round(mb, 1), "cpus": os.cpu_count(),
                          "machine": platform.processor() or platform.machine()}), flush=True)


if __name__ == "__main__":
    main()
