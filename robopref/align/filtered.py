"""Reward-filtered fine-tuning: imitate only the episodes a learned reward ranks highest.

The policy is fine-tuned (behaviour cloning, the ordinary diffusion loss) on the top
``keep`` fraction of a dataset's episodes, ranked by their learned return (μ − κσ for a
Gaussian reward). This is filtered behaviour cloning with a learned filter, the
reward-ranked fine-tuning of RAFT (Dong et al. 2023) and ReST (Gulcehre et al. 2023)
with one round. Where DPO needs pairs whose two sides differ in the choice that matters,
this needs only that the dataset holds episodes that already do what the person wants
(demonstrations that go around the zone, say) and a reward that finds them; it cannot
teach a behaviour no episode shows.

The run starts from the policy's EMA weights and normaliser (``init_from``) and writes a
normal policy checkpoint.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from robopref.data.pool import DatasetPool
from robopref.data.sampling import whole_episodes
from robopref.rewards.loading import RewardModel, segment_returns


@dataclass
class FilteredConfig:
    """What to keep and how to fine-tune on it (``robopref align method=filtered_bc filtered.*``)."""

    keep: float = 0.33  # fraction of the ranked episodes imitated, from the top
    epochs: int = 20
    lr: float = 1e-3
    lr_warmup_steps: int = 100
    batch_size: int = 64
    torch_threads: Optional[int] = None  # intra-op CPU threads of the fine-tuning (None: torch's default)

    def __post_init__(self) -> None:
        if not 0 < self.keep <= 1:
            raise ValueError(f"filtered.keep={self.keep}: expected a fraction in (0, 1] of the episodes to imitate")
        if self.epochs < 1:
            raise ValueError(f"filtered.epochs={self.epochs}: expected >= 1")


def rank_episodes(model: RewardModel, pool: DatasetPool, dataset: str, kappa: float | None = None) -> list[tuple[str, float]]:
    """``(demo, learned return)`` for every episode of ``dataset``, highest first (ties keep the dataset's order)."""
    refs = whole_episodes(pool.get(dataset))
    if not refs:
        raise ValueError(f"{dataset}: no episodes to rank")
    returns = segment_returns(model, pool, refs, kappa)
    order = np.argsort(-returns, kind="stable")
    return [(refs[i].demo, float(returns[i])) for i in order]


def filtered_finetune(checkpoint: str | Path, model: RewardModel, dataset: str, cfg: FilteredConfig, out_dir: str | Path,
                      seed: int = 0, kappa: float | None = None, device: str = "cpu", progress: bool = True) -> tuple[Path, dict[str, Any]]:
    """Fine-tune ``checkpoint`` on the top ``cfg.keep`` of ``dataset``'s episodes by learned return.

    Returns ``out_dir/aligned.ckpt`` and a summary: how many episodes were kept, the learned
    return of the kept ones against all, and the fine-tuning run's final metrics.
    """
    from robopref.policies.checkpoint import read_checkpoint
    from robopref.policies.config import DiffusionPolicyConfig
    from robopref.policies.train import TrainConfig, train_policy

    out_dir = Path(out_dir)
    ranked = rank_episodes(model, DatasetPool(), dataset, kappa)
    k = max(1, int(round(cfg.keep * len(ranked))))
    kept = [d for d, _ in ranked[:k]]
    ckpt = read_checkpoint(checkpoint)
    trained_with = (ckpt.get("meta") or {}).get("train_config") or {}
    train_cfg = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, lr_warmup_steps=cfg.lr_warmup_steps, batch_size=cfg.batch_size, eval_every=0,
                            val_ratio=trained_with.get("val_ratio", 0.1), action_key=trained_with.get("action_key", "actions"),
                            seed=seed, progress=progress, torch_threads=cfg.torch_threads)
    summary = train_policy(DiffusionPolicyConfig.from_dict(ckpt["policy_config"]), train_cfg, dataset, out_dir / "finetune",
                           device=device, init_from=checkpoint, demos=kept)
    aligned = out_dir / "aligned.ckpt"
    shutil.copyfile(summary["last"], aligned)
    returns = np.array([r for _, r in ranked])
    return aligned, {
        "episodes_ranked": len(ranked),
        "episodes_kept": k,
        "kept_return_mean": float(returns[:k].mean()),
        "all_return_mean": float(returns.mean()),
        "return_threshold": float(returns[k - 1]),
        "filtered": asdict(cfg),
        "finetune": summary["final"],
    }
