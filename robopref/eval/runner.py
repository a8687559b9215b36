"""Evaluate a policy over N episodes, in parallel worker processes.

Each worker builds its own env and policy from configs (simulators, EGL contexts and
torch modules must not cross a process boundary) once, then runs the episodes it is
handed. Episode ``i`` always uses seed ``seed * 100_003 + i`` (the same numbering as
``collect``), whichever worker runs it, so ``workers=4`` and ``workers=1`` give the
same per-episode results for seeded envs and policies. Processes are started with
``spawn``: forking a parent that holds MuJoCo/EGL or torch threads is unsafe.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from robopref.eval.policies import PolicySpec
from robopref.eval.stats import Estimate, mean_ci, proportion_ci


@dataclass
class EpisodeResult:
    """Outcome of one evaluation episode."""

    index: int
    seed: int
    steps: int
    success: bool
    ret: float  # sum of env rewards
    pref_return: float | None = None  # sum of info["pref_score"], when the env defines it
    violation: bool | None = None  # any info["violation"], when the env defines it
    video: str | None = None


@dataclass
class EvalResult:
    """All episodes of one evaluation and their summary statistics (mean, 95% CI)."""

    env: str
    policy: str
    episodes: list[EpisodeResult]
    workers: int
    seconds: float
    metrics: dict[str, Estimate] = field(default_factory=dict)
    out_dir: str | None = None

    @property
    def success_rate(self) -> float:
        return self.metrics["success"].mean

    @property
    def steps(self) -> int:
        return sum(e.steps for e in self.episodes)

    @property
    def videos(self) -> list[str]:
        return [e.video for e in self.episodes if e.video]

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "policy": self.policy,
            "n_episodes": len(self.episodes),
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "env_steps": self.steps,
            "steps_per_s": round(self.steps / self.seconds, 2) if self.seconds > 0 else None,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "videos": self.videos,
            "episodes": [asdict(e) for e in self.episodes],
        }


def summarize_episodes(episodes: list[EpisodeResult]) -> dict[str, Estimate]:
    """success (Wilson), return, and where present pref_return and violation rate."""
    metrics = {"success": proportion_ci([e.success for e in episodes]), "return": mean_ci([e.ret for e in episodes])}
    if episodes and all(e.pref_return is not None for e in episodes):
        metrics["pref_return"] = mean_ci([e.pref_return for e in episodes])
    if episodes and all(e.violation is not None for e in episodes):
        metrics["violation"] = proportion_ci([e.violation for e in episodes])
    metrics["steps"] = mean_ci([e.steps for e in episodes])
    return metrics


# -- worker side -------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(env_cfg: dict[str, Any], spec: PolicySpec, seed: int) -> None:
    """Build this process's env and policy once (also used in-process for workers=1)."""
    from robopref.eval.policies import build_policy
    from robopref.rollout.factory import make_env

    if "torch" in __import__("sys").modules:
        import torch

        torch.set_num_threads(1)  # N workers x N threads oversubscribes the cores
    env = make_env(env_cfg)
    _WORKER.update(env=env, policy=build_policy(spec, env_cfg, env, seed=seed), env_cfg=env_cfg)


def _close_worker() -> None:
    env = _WORKER.pop("env", None)
    if env is not None:
        env.close()
    _WORKER.clear()


def _run_episode(task: tuple[int, int, int | None, str | None, int]) -> EpisodeResult:
    """Worker side: episode ``index`` of this process's env and policy."""
    index, seed, max_steps, video_path, fps = task
    return run_episode(_WORKER["env"], _WORKER["policy"], index, seed, max_steps, video_path, fps)


def _write_episode_video(frames: list[np.ndarray], video_path: str, fps: int) -> str:
    from robopref.data.video import write_video

    return str(write_video(np.stack(frames), video_path, fps=fps, scale=max(1, 256 // frames[0].shape[0])))


def _result_of_episode(ep: Any, index: int, video_path: str | None = None, fps: int = 20) -> EpisodeResult:
    """The :class:`EpisodeResult` of a recorded :class:`~robopref.data.episode.Episode` (the
    batched path); its video shows every observation and the last one after the final step
    (which needs the episode's ``next_obs``)."""
    info = ep.infos
    image_key = next((k for k in ep.obs if k.endswith("_image")), None)
    video = None
    if video_path and image_key:
        frames = list(ep.obs[image_key]) + ([ep.next_obs[image_key][-1]] if ep.next_obs else [])
        video = _write_episode_video(frames, video_path, fps)
    return EpisodeResult(index, int(ep.attrs["seed"]), len(ep), bool(ep.success), float(np.sum(ep.rewards)),
                         float(np.sum(info["pref_score"])) if "pref_score" in info else None,
                         bool(np.any(info["violation"])) if "violation" in info else None, video)


def run_episode(env: Any, policy: Any, index: int, seed: int, max_steps: int | None = None, video_path: str | None = None, fps: int = 20) -> EpisodeResult:
    """Run episode ``index`` of ``policy`` in ``env`` with ``seed``; only the summary is kept
    (and the video, written when ``video_path`` is set)."""
    limit = np.inf if max_steps is None else max_steps
    if hasattr(policy, "start_episode"):  # replay: the policy puts the env in the demo's state
        obs, length = policy.start_episode(env, index)
        limit = min(limit, length)
    else:
        obs, _ = env.reset(seed=seed)
    policy.reset(seed=seed)
    frames: list[np.ndarray] = []
    image_key = next((k for k in obs if k.endswith("_image")), None)
    steps, ret, success, pref, violation = 0, 0.0, False, None, None
    while steps < limit:
        if video_path and image_key:
            frames.append(np.asarray(obs[image_key]))
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        steps += 1
        ret += float(reward)
        success = success or bool(info.get("success", False))
        if "pref_score" in info:
            pref = (pref or 0.0) + float(info["pref_score"])
        if "violation" in info:
            violation = bool(violation) or bool(info["violation"])
        if terminated or truncated:
            break
    video = None
    if video_path and frames:
        frames.append(np.asarray(obs[image_key]))
        video = _write_episode_video(frames, video_path, fps)
    return EpisodeResult(index, seed, steps, success, ret, pref, violation, video)


def _run_batched(cfg: dict[str, Any], spec: PolicySpec, tasks: list[tuple[int, int, int | None, str | None, int]], seed: int, batch: int, bar: Any) -> list[EpisodeResult]:
    """Every task in this process, ``batch`` episodes side by side (:mod:`robopref.rollout.batched`)."""
    from robopref.eval.policies import build_policy
    from robopref.rollout.batched import record_episodes
    from robopref.rollout.factory import make_env

    envs = [make_env(cfg) for _ in range(min(batch, len(tasks)))]
    results = []
    try:
        policy = build_policy(spec, cfg, envs[0], seed=seed)
        max_steps = tasks[0][2]
        videos = any(t[3] for t in tasks)
        for ep, (index, _, _, video_path, fps) in zip(record_episodes(envs, policy, [(t[1], None) for t in tasks], max_steps, store_next_obs=videos), tasks):
            results.append(_result_of_episode(ep, index, video_path, fps))
            bar.update()
    finally:
        for env in envs:
            env.close()
    return results


# -- parent side -------------------------------------------------------------------
def episode_seed(seed: int, index: int) -> int:
    """The seed of episode ``index`` (same numbering as ``robopref collect``)."""
    return seed * 100_003 + index


def evaluate(
    env_cfg: Mapping[str, Any] | DictConfig,
    policy: PolicySpec | str = "expert",
    episodes: int = 20,
    workers: int | None = None,
    seed: int = 0,
    videos: int = 3,
    out_dir: str | os.PathLike | None = None,
    max_steps: int | None = None,
    video_fps: int = 20,
    progress: bool = True,
    batch: int = 1,
) -> EvalResult:
    """Roll ``policy`` out for ``episodes`` episodes of the env ``env_cfg`` describes.

    Args:
        env_cfg: an ``env`` config (``_target_`` + kwargs, ``name``, ``expert``).
        policy: a :class:`PolicySpec` or its name (expert | random | replay | checkpoint path).
        workers: processes; default ``min(episodes, os.cpu_count())``; 1 runs in-process.
        videos: the first ``videos`` episodes are saved as mp4 under ``out_dir/videos``
            (from the env's first ``<camera>_image`` observation; none for state-only envs).
        max_steps: cap on steps per episode (default: the env's own limit).
        batch: policy checkpoints: > 1 rolls that many episodes out side by side in this
            process, one network call per step for all of them (``workers`` is then
            unused); same seeds, the same episodes up to float rounding.
    Returns:
        an :class:`EvalResult`; write it with :mod:`robopref.eval.report`.
    """
    spec = PolicySpec(policy) if isinstance(policy, str) else policy
    spec.check()
    cfg = OmegaConf.to_container(env_cfg, resolve=True) if isinstance(env_cfg, DictConfig) else dict(env_cfg)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    workers = min(episodes, os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    workers = min(workers, episodes)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    batched = batch > 1 and spec.kind == "checkpoint"
    if batched:
        workers = 1
    video_dir = Path(out_dir) / "videos" if out_dir is not None else None
    tasks = [
        (i, episode_seed(seed, i), max_steps, str(video_dir / f"episode_{i:03d}.mp4") if video_dir and i < videos else None, video_fps)
        for i in range(episodes)
    ]
    bar = tqdm(total=episodes, desc=f"eval {cfg.get('name', '')}", unit="ep", disable=not progress)
    results: list[EpisodeResult] = []
    start = time.perf_counter()
    if batched:
        results = _run_batched(cfg, spec, tasks, seed, batch, bar)
    elif workers == 1:
        _init_worker(cfg, spec, seed)
        try:
            for task in tasks:
                results.append(_run_episode(task))
                bar.update()
        finally:
            _close_worker()
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(cfg, spec, seed)) as pool:
            for r in pool.imap_unordered(_run_episode, tasks):
                results.append(r)
                bar.update()
    seconds = time.perf_counter() - start
    bar.close()
    results.sort(key=lambda r: r.index)
    return EvalResult(
        env=str(cfg.get("name", cfg.get("_target_", "?"))),
        policy=spec.name,
        episodes=results,
        workers=workers,
        seconds=seconds,
        metrics=summarize_episodes(results),
        out_dir=str(out_dir) if out_dir is not None else None,
    )
