"""Speed and expert quality of the built-in 2D pushing tasks; prints one JSON object per line.

* env steps/s with and without 64x64 images, per task and embodiment (random actions
  through ``gymnasium.make``, resets included), per wall-clock second and per CPU second
  of this process (on a shared machine the CPU rate is what one free core does);
* scripted expert success rate, violation rate (episodes where the preference was
  broken at least once), mean episode length and mean summed ``pref_score``, per task,
  embodiment and aligned/unaligned, at noise 0 and at a given noise level.

    python benchmarks/bench_push2d.py                      # the full table (about 15 minutes)
    python benchmarks/bench_push2d.py --episodes 5 --steps 300 --noise-levels 0
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from robopref_envs.push2d import Push2DExpert, make_env

TASKS = ["push", "avoid", "group"]
EMBODIMENTS = ["gripper", "short_stick", "medium_stick"]


def emit(**row: Any) -> None:
    """One JSON line; the 1-minute load average says how busy the shared machine was."""
    row["load_avg_1m"] = round(os.getloadavg()[0], 1)
    print(json.dumps(row), flush=True)


def steps_per_second(task: str, embodiment: str, images: bool, steps: int, warmup: int = 20) -> tuple[float, float]:
    """Random-action steps per wall-clock second and per CPU second of this process."""
    env = make_env(task, embodiment, image_size=64 if images else 0)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(warmup):
        env.step(env.action_space.sample())
    env.reset(seed=1)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def expert_quality(task: str, embodiment: str, aligned: bool, noise: float, episodes: int) -> dict[str, float]:
    """Expert episodes from seeds 0..episodes-1 (state-only observations)."""
    env = make_env(task, embodiment, image_size=0)
    expert = Push2DExpert(env, noise=noise, aligned=aligned)
    successes, violations, lengths, scores = [], [], [], []
    start = time.perf_counter()
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        expert.reset(seed=seed)
        violated, score, length = False, 0.0, 0
        while True:
            obs, _, terminated, truncated, info = env.step(expert.act(obs))
            violated |= info["violation"]
            score += info["pref_score"]
            length += 1
            if terminated or truncated:
                break
        successes.append(info["success"])
        violations.append(violated)
        lengths.append(length)
        scores.append(score)
    return {
        "success_rate": float(np.mean(successes)),
        "violation_rate": float(np.mean(violations)),
        "mean_length": float(np.mean(lengths)),
        "mean_pref_return": float(np.mean(scores)),
        "seconds_per_episode": (time.perf_counter() - start) / episodes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="env steps per speed measurement")
    parser.add_argument("--episodes", type=int, default=50, help="expert episodes per row")
    parser.add_argument("--noise-levels", type=float, nargs="+", default=[0.0, 0.3], help="expert action noise levels")
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument("--embodiments", nargs="+", default=EMBODIMENTS, choices=EMBODIMENTS)
    args = parser.parse_args()

    for task in args.tasks:
        for embodiment in args.embodiments:
            for images in (True, False):
                wall, cpu = steps_per_second(task, embodiment, images, args.steps)
                emit(bench="push2d_steps_per_s", task=task, embodiment=embodiment, images=images,
                     value=round(wall, 1), per_cpu_second=round(cpu, 1), steps=args.steps)
    for noise in args.noise_levels:
        for task in args.tasks:
            for embodiment in args.embodiments:
                for aligned in (True, False) if task != "push" else (True,):  # push has no preference
                    quality = expert_quality(task, embodiment, aligned, noise, args.episodes)
                    emit(bench="push2d_expert", task=task, embodiment=embodiment, aligned=aligned, noise=noise,
                         episodes=args.episodes, **{k: round(v, 3) for k, v in quality.items()})


if __name__ == "__main__":
    main()
