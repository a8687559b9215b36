"""Robot server benchmarks over loopback, one JSON object per line.

1. Command/observation round trip (``step``: a command through the safety layer plus
   the new state, and ``observe`` alone), state only, against the sim backend served
   by ``robopref-robot serve`` in its own process: p50 / p99 / max in milliseconds.
   Target: p99 <= 5 ms.
2. A 640x480 camera stream through the server at 30 fps: frames received per second,
   frames dropped (sequence gaps), age of the frame when it arrives. Measured with the
   ``pattern`` camera (the server's camera path without a sensor) and with the sim
   camera (MuJoCo rendering 640x480 on the CPU, which is the bottleneck there).

    python benchmarks/bench_hardware.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from robopref_hardware.client import RobotClient, ServerUnreachableError

NO_CAM = ["~hardware.cameras"]
PATTERN_CAM = NO_CAM + ["+hardware.cameras={front:{_target_:robopref_hardware.cameras.pattern.PatternCameraConfig,width:640,height:480,fps:30}}"]
SIM_CAM = NO_CAM + ["+hardware.cameras={front:{_target_:robopref_hardware.cameras.sim.SimCameraConfig,camera:corner3,width:640,height:480,fps:30}}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``robopref-robot serve hardware=sim`` with the given camera config, in a child process."""

    def __init__(self, cameras: list[str], workdir: Path) -> None:
        self.port = free_port()
        env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
        self.log = open(workdir / f"server_{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "robopref_hardware.cli", "serve", "hardware=sim", f"server.port={self.port}", "stdin_estop=false",
             *cameras, f"hydra.run.dir={workdir / str(self.port)}", "server.watchdog_timeout=1.0"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def client(self) -> RobotClient:
        deadline = time.monotonic() + 180
        while True:
            c = RobotClient(port=self.port, timeout_s=2.0, connect_timeout_s=2.0)
            try:
                c.connect()
                return c
            except ServerUnreachableError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.log.flush()
                    raise RuntimeError(f"robot server did not start: {self.log.name}") from None

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1000
    return {"n": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "max_ms": round(float(ms.max()), 3), "mean_ms": round(float(ms.mean()), 3)}


def bench_round_trip(workdir: Path, n: int) -> list[dict]:
    srv = Server(NO_CAM, workdir)
    try:
        c = srv.client()
        for _ in range(50):  # warm-up
            c.step({"kind": "ee_delta", "pos": [0.0, 0.0, 0.0]})
        out = []
        # small back-and-forth steps: within the speed limit even at kHz rates, so this is the accepted path
        for name, call in [("step", lambda i: c.step({"kind": "ee_delta", "pos": [5e-5 * (-1) ** i, 0.0, 0.0]})),
                           ("observe", lambda i: c.observe())]:
            samples = []
            c.stats(reset_timing=True)
            for i in range(n):
                t0 = time.perf_counter()
                call(i)
                samples.append(time.perf_counter() - t0)
            timing = c.stats()["timing"]  # handling times on the server of exactly these n requests
            out.append({"bench": "round_trip", "op": name, "state_only": True, **percentiles(samples), "target_p99_ms": 5.0,
                        "server_handle_p50_ms": round(timing["handle_p50_ms"], 3), "server_handle_p99_ms": round(timing["handle_p99_ms"], 3)})
        c.close()
        return out
    finally:
        srv.close()


def bench_camera(workdir: Path, cameras: list[str], source: str, seconds: float) -> dict:
    srv = Server(cameras, workdir)
    try:
        c = srv.client()
        f = None
        while f is None:
            f = c.frame("front")
        time.sleep(1.0)  # let the capture thread reach its rate
        last = c.frame("front").seq
        first_seq, received, ages, decode = last, 0, [], []
        t_end = time.monotonic() + seconds
        t0 = time.monotonic()
        while time.monotonic() < t_end:
            ts = time.perf_counter()
            f = c.frame("front", after_seq=last)
            if f is None:
                time.sleep(0.002)
                continue
            decode.append(time.perf_counter() - ts)
            assert f.image.shape == (480, 640, 3)
            received += 1
            ages.append(time.time() - f.t)
            last = f.seq
        elapsed = time.monotonic() - t0
        produced = last - first_seq
        stats = c.stats()
        c.close()
        return {"bench": "camera_stream", "source": source, "width": 640, "height": 480, "target_fps": 30,
                "received_fps": round(received / elapsed, 2), "captured_fps": round(produced / elapsed, 2),
                "dropped": int(produced - received), "frame_age_p50_ms": round(1000 * float(np.median(ages)), 2),
                "frame_age_p99_ms": round(1000 * float(np.percentile(ages, 99)), 2),
                "fetch_p50_ms": round(1000 * float(np.median(decode)), 2), "seconds": round(elapsed, 1),
                "server_frames_captured": stats["cameras"]["front"]["frames_captured"]}
    finally:
        srv.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples (CI)")
    args = ap.parse_args()
    n, seconds = (500, 3.0) if args.quick else (5000, 10.0)
    print(json.dumps({"bench": "machine", "cpu_count": os.cpu_count(), "platform": platform.platform(),
                      "python": platform.python_version(), "load_avg_1min": round(os.getloadavg()[0], 2)}), flush=True)
    with tempfile.TemporaryDirectory() as d:
        wd = Path(d)
        for row in bench_round_trip(wd, n):
            print(json.dumps(row), flush=True)
        print(json.dumps(bench_camera(wd, PATTERN_CAM, "pattern", seconds)), flush=True)
        print(json.dumps(bench_camera(wd, SIM_CAM, "sim_render", seconds)), flush=True)
    print(json.dumps({"bench": "machine_after", "load_avg_1min": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    main()
