"""Speed and expert quality of the simulation suites; prints one JSON object per line.

* env steps/s, state only and with 64x64 camera images, for Meta-World and robosuite Lift
  (random actions, one process, after a warm-up);
* scripted expert success rates per task (Meta-World tasks, Lift, Can), measured with
  the parallel rollout runner (episodes end at success or at the env's horizon);
* the parallel runner's speedup over one process on the same episodes.

    python benchmarks/bench_sim_suites.py                    # the full table (minutes)
    python benchmarks/bench_sim_suites.py --episodes 5 --quick
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from robopref.eval import PolicySpec, evaluate
from robopref.rollout.factory import make_env

METAWORLD_TASKS = [
    "reach-v3", "push-v3", "pick-place-v3", "drawer-open-v3", "drawer-close-v3",
    "window-open-v3", "window-close-v3", "button-press-v3", "door-open-v3",
]


def metaworld_cfg(task: str, camera: str | None = None, **kw: Any) -> dict[str, Any]:
    return {"name": f"metaworld/{task}", "_target_": "robopref_envs.metaworld.make_env", "task": task, "camera": camera,
            "image_size": 64, "expert": {"_target_": "robopref_envs.metaworld.MetaWorldExpert"}, **kw}


def robosuite_cfg(task: str, cameras: list[str], **kw: Any) -> dict[str, Any]:
    return {"name": f"robosuite/{task}", "_target_": "robopref_envs.robosuite.make_env", "task": task, "cameras": cameras,
            "image_size": 64, "expert": {"_target_": "robopref_envs.robosuite.PickPlaceExpert"}, **kw}


def emit(**row: Any) -> None:
    """One JSON line; the 1-minute load average says how busy the shared machine was."""
    row["load_avg_1m"] = round(os.getloadavg()[0], 1)
    print(json.dumps(row), flush=True)


def steps_per_second(cfg: dict[str, Any], steps: int, warmup: int = 20) -> tuple[float, float]:
    """Random-action env steps per wall-clock second and per CPU second of this process
    (resets included). On a shared machine the CPU-second rate is what one free core does."""
    env = make_env(cfg)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(warmup):  # robosuite JIT-compiles its controllers on the first steps
        env.step(env.action_space.sample())
    env.reset(seed=1)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    env.close()
    return steps / wall, steps / cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=50, help="expert episodes per task")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--quick", action="store_true", help="fewer steps in the speed runs")
    p.add_argument("--skip", nargs="*", default=[], choices=["speed", "success", "parallel"])
    args = p.parse_args()
    machine = {"cpus": os.cpu_count(), "gpu": False, "note": "2-core CPU shared with other work"}

    if "speed" not in args.skip:
        n = 300 if args.quick else 2000
        for label, cfg, steps in [
            ("metaworld drawer-open-v3 state", metaworld_cfg("drawer-open-v3"), n),
            ("metaworld drawer-open-v3 corner 64x64", metaworld_cfg("drawer-open-v3", camera="corner"), n // 4),
            ("robosuite Lift state", robosuite_cfg("Lift", []), n // 4),
            ("robosuite Lift agentview 64x64", robosuite_cfg("Lift", ["agentview"]), n // 10),
            ("robosuite Lift agentview+eye_in_hand 64x64", robosuite_cfg("Lift", ["agentview", "robot0_eye_in_hand"]), n // 10),
        ]:
            wall, cpu = steps_per_second(cfg, steps)
            emit(bench="env_steps_per_s", env=label, steps=steps, steps_per_s=round(wall, 1), steps_per_cpu_s=round(cpu, 1), **machine)

    if "success" not in args.skip:
        suites = [(t, metaworld_cfg(t, terminate_on_success=True)) for t in METAWORLD_TASKS]
        suites += [("Lift", robosuite_cfg("Lift", [], horizon=400, terminate_on_success=True)),
                   ("PickPlaceCan", robosuite_cfg("PickPlaceCan", [], horizon=400, terminate_on_success=True))]
        for task, cfg in suites:
            res = evaluate(cfg, PolicySpec("expert"), episodes=args.episodes, workers=args.workers, seed=0, videos=0, progress=False)
            s = res.metrics["success"]
            emit(bench="expert_success", task=task, episodes=len(res.episodes), success_rate=round(s.mean, 4),
                 ci95=[round(s.low, 3), round(s.high, 3)], mean_steps=round(res.metrics["steps"].mean, 1),
                 seconds=round(res.seconds, 1), workers=res.workers, **machine)

    if "parallel" not in args.skip:
        episodes = 8 if args.quick else 16
        for label, cfg in [("metaworld pick-place-v3 state", metaworld_cfg("pick-place-v3", horizon=200)),
                           ("robosuite Lift state", robosuite_cfg("Lift", [], horizon=100))]:
            times = {}
            for w in sorted({1, args.workers}):
                res = evaluate(cfg, PolicySpec("expert", noise=0.3), episodes=episodes, workers=w, seed=0, videos=0, progress=False)
                times[w] = res.seconds
                same = res.metrics["return"].mean
            emit(bench="parallel_runner", env=label, episodes=episodes, seconds={str(k): round(v, 2) for k, v in times.items()},
                 speedup=round(times[1] / times[max(times)], 2), workers=max(times), mean_return=round(float(np.float64(same)), 3), **machine)


if __name__ == "__main__":
    main()
