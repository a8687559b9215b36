"""``robopref policy``: train a diffusion policy on a dataset, evaluate it by rollouts, resume.

    robopref policy policy=diffusion_lowdim dataset=demos.hdf5
    robopref policy policy=diffusion_image dataset=demos.hdf5 filter_key=better epochs=200
    robopref policy dataset=demos.hdf5 resume=true        # continue the latest run after a crash
    robopref policy dataset=more.hdf5 init_from=outputs/.../checkpoints/last.ckpt   # fine-tune an earlier policy (its config)

Rollouts run in the env given by ``env=...`` or, by default, the env the dataset was
collected in (``env_args.robopref_env``, written by ``robopref collect``). Outputs in the
run directory: ``checkpoints/last.ckpt`` (every epoch, with the training state),
``checkpoints/epoch=…-success=….ckpt`` (top k), ``checkpoints/best.ckpt``,
``metrics.jsonl`` (one line per epoch) and ``summary.json``. A checkpoint loads with
``robopref.policies.load_policy(path)``; ``robopref eval`` accepts it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, OmegaConf

from robopref.config import StageConfig, register_schema
from robopref.policies.config import DiffusionPolicyConfig
from robopref.utils.atomic import atomic_write_text
from robopref.utils.rundir import run_dir

log = logging.getLogger(__name__)


@dataclass
class PolicyStageConfig(StageConfig):
    """Config of ``robopref policy``; ``policy`` is a group (conf_stage/policy/policy/*.yaml)."""

    dataset: str = MISSING
    policy: DiffusionPolicyConfig = field(default_factory=DiffusionPolicyConfig)
    env: Any = None  # env group for rollout evaluation (default: the dataset's own env)
    filter_key: Optional[str] = None  # train on mask/<filter_key> only (e.g. better)
    action_key: str = "actions"  # or action_dict/<name>: action_dict/intended imitates a noisy expert's clean actions (DART)
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3  # conf/policy.yaml and TrainConfig hold the same defaults
    weight_decay: float = 1e-6
    lr_warmup_steps: int = 200
    val_ratio: float = 0.1
    eval_every: int = 10
    eval_episodes: int = 10
    eval_max_steps: Optional[int] = None
    topk: int = 3
    num_workers: int = 0
    max_minutes: Optional[float] = None
    max_train_steps: Optional[int] = None  # batches per epoch at most
    resume: bool = False
    resume_from: Optional[str] = None  # a run directory or its last.ckpt (default: the newest run with one)
    init_from: Optional[str] = None  # a policy checkpoint to fine-tune: its weights and normaliser, fresh optimizer and schedule
    progress: bool = True
    torch_threads: Optional[int] = None  # intra-op threads (null: torch's default)


register_schema("policy", PolicyStageConfig)


def find_resume_dir(current: Path, resume_from: str | None) -> Path:
    """The run directory to continue: ``resume_from``, else this run's, else the newest sibling run with a last.ckpt."""
    if resume_from:
        p = Path(resume_from).expanduser()
        if p.is_file():
            return p.parent.parent if p.parent.name == "checkpoints" else p.parent
        if (p / "checkpoints" / "last.ckpt").exists():
            return p
        raise FileNotFoundError(f"resume_from={resume_from!r}: neither a checkpoint file nor a run directory with checkpoints/last.ckpt")
    if (current / "checkpoints" / "last.ckpt").exists():
        return current
    runs = [p for p in current.parent.glob("*/checkpoints/last.ckpt") if p.parent.parent != current]
    if not runs:
        log.warning("resume=true: no earlier run with checkpoints/last.ckpt under %s; starting a new run", current.parent)
        return current
    return max(runs, key=lambda p: p.stat().st_mtime).parent.parent


def task_overrides() -> list[str] | None:
    """The command line's config overrides (``key=value``); None outside a Hydra run."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else None


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train (or resume) the configured policy; print and save the summary."""
    from robopref.policies.train import TrainConfig, train_policy

    out = run_dir()
    work = find_resume_dir(out, cfg.resume_from) if cfg.resume else out
    if work != out:
        print(f"resuming the run in {work} (checkpoints and metrics.jsonl continue there)")
    train_keys = {f.name for f in fields(TrainConfig)}
    train_cfg = TrainConfig(**{k: cfg[k] for k in train_keys if k in cfg})
    policy_cfg = DiffusionPolicyConfig.from_dict(cfg.policy)
    overrides = task_overrides()
    if cfg.init_from and not cfg.resume and overrides is not None:
        from robopref.policies.warm_start import inherited_config

        policy_cfg = inherited_config(cfg.init_from, policy_cfg, overrides)
    env_cfg = OmegaConf.to_container(cfg.env, resolve=True) if cfg.env is not None else None
    summary = train_policy(policy_cfg, train_cfg, cfg.dataset, work, filter_key=cfg.filter_key, env_cfg=env_cfg, device=cfg.device,
                           resume=cfg.resume, init_from=cfg.init_from)
    summary["run_dir"] = str(work)
    atomic_write_text(work / "summary.json", json.dumps(summary, indent=2, default=str))
    log.info("summary: %s", json.dumps(summary, default=str))
    print(json.dumps(summary["final"], indent=2, default=str))
    if summary["best"]:
        print(f"best: {summary['best']}")
    print(f"last: {summary['last']}")
    return summary
