"""``robopref eval``: evaluate a policy in an env over N episodes, in parallel.

Writes ``eval.json`` (per-episode results, means with 95% CIs), ``eval.md`` (the same
as tables) and a few mp4s in the run directory; prints the summary.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import MISSING, DictConfig

from robopref.config import StageConfig, register_schema
from robopref.eval.policies import PolicySpec
from robopref.eval.report import write_json, write_markdown
from robopref.eval.runner import evaluate
from robopref.utils.rundir import run_dir
from robopref.utils.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class EvalConfig(StageConfig):
    """Config of ``robopref eval`` (see conf/eval.yaml for the defaults)."""

    env: Any = MISSING
    policy: str = "expert"  # expert | random | replay | path to a policy checkpoint
    dataset: Optional[str] = None  # policy=replay: the dataset whose demos are replayed
    noise: float = 0.0  # scripted expert's action noise
    aligned: bool = True
    episodes: int = 20
    workers: Optional[int] = None  # default min(episodes, cpu count); 1 = in this process
    batch: int = 1  # policy checkpoints: episodes side by side in this process, one network call per step for all (faster than workers on a CPU)
    max_steps: Optional[int] = None
    n_action_steps: Optional[int] = None  # checkpoints: executed actions per chunk before replanning (None: the checkpoint's)
    inference_dtype: Optional[str] = None  # checkpoints: float32 | bfloat16 products when sampling (None: the checkpoint's)
    videos: int = 3
    video_fps: int = 20


register_schema("eval", EvalConfig)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate; return the result as a dict (also written as eval.json / eval.md)."""
    seed_everything(cfg.seed)
    out_dir = run_dir()
    spec = PolicySpec(cfg.policy, noise=cfg.noise, aligned=cfg.aligned, dataset=cfg.dataset, device=cfg.device, n_action_steps=cfg.n_action_steps,
                      inference_dtype=cfg.inference_dtype)
    result = evaluate(
        cfg.env, spec, episodes=cfg.episodes, workers=cfg.workers, seed=cfg.seed, videos=cfg.videos,
        out_dir=out_dir, max_steps=cfg.max_steps, video_fps=cfg.video_fps, batch=cfg.batch,
    )
    summary = result.to_dict()
    write_json(result, out_dir / "eval.json")
    write_markdown(result, out_dir / "eval.md")
    log.info("eval: %s", json.dumps({k: v for k, v in summary.items() if k != "episodes"}))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("episodes", "videos")}, indent=2))
    print(f"report: {out_dir / 'eval.md'}")
    for v in result.videos:
        print(f"video: {v}")
    return summary
