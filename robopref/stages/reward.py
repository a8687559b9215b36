"""``robopref reward``: learn a reward from the preference store, evaluate it, and
optionally relabel datasets with it.

    robopref reward reward=rrl store=prefs.sqlite relabel=true
    robopref reward reward=bt reward.ensemble=5 sources=[scripted]

Outputs in the run directory: ``reward.pt`` (loads with
``TrajectoryRewardModel.load``), ``metrics.json`` (training history and held-out
agreement with the ground truth when the datasets have it) and, with ``relabel=true``,
``relabeled_<name>.hdf5`` per dataset (original rewards kept in ``infos/env_reward``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.utils import instantiate
from omegaconf import MISSING, DictConfig, OmegaConf

from robopref.config import StageConfig, register_schema
from robopref.data.pool import DatasetPool
from robopref.data.relabel import relabel_rewards
from robopref.prefs import LABEL_SOURCES, PreferenceStore
from robopref.rewards.preferences import comparisons_from_store, datasets_of
from robopref.utils.atomic import atomic_write_text
from robopref.utils.rundir import run_dir
from robopref.utils.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class RewardStageConfig(StageConfig):
    """Config of ``robopref reward``; ``reward`` is a group (conf/reward/*.yaml)."""

    reward: Any = MISSING
    store: str = "prefs.sqlite"
    sources: Optional[list[str]] = None  # label sources to train on (default: all)
    dataset: Any = None  # datasets to evaluate / relabel (default: those the labels refer to)
    relabel: bool = False
    eval_segments: int = 500
    eval_length: int = 25
    eval_signal: str = "pref_score"
    progress: bool = True


register_schema("reward", RewardStageConfig)


def _no_labels_message(store: PreferenceStore, sources: list[str] | None) -> str:
    """Why there is nothing to train on: the store, the ``sources`` filter and what the store holds."""
    held = {s: n for s in LABEL_SOURCES if (n := store.count_labels(source=s))}
    wanted = f"with sources={sources}" if sources else "at all"
    return (f"preference store {store.path} has no usable labels {wanted} (skips, retracted labels and, for a visual reward, labels about datasets without camera frames do not count); "
            f"effective labels by source: {held or 'none'}. Label some with `robopref label ...` or the labelling page"
            + (", or change sources=" if sources else ""))


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train the configured reward on the store's labels; save, evaluate, relabel."""
    rng = seed_everything(cfg.seed)
    out = run_dir()
    recipe = instantiate(cfg.reward, _convert_="all")
    pool = DatasetPool()
    chosen = [cfg.dataset] if isinstance(cfg.dataset, str) else list(cfg.dataset or [])
    for d in chosen:  # datasets= to evaluate or relabel: checked before training, not after
        recipe.check_dataset(pool.get(d))
    with PreferenceStore(cfg.store, readonly=True) as store:
        sources = list(cfg.sources) if cfg.sources else None
        comparisons = recipe.usable_comparisons(pool, comparisons_from_store(store, sources))
        if not comparisons:
            raise ValueError(_no_labels_message(store, sources))
        model, history = recipe.fit(store=store, comparisons=comparisons, pool=pool, seed=cfg.seed, progress=cfg.progress)
    ckpt = model.save(out / "reward.pt", extra={"store": str(cfg.store), "labels": len(comparisons)})
    datasets = chosen or datasets_of(comparisons)
    metrics: dict[str, Any] = {"comparisons": len(comparisons), "history": asdict(history), "checkpoint": str(ckpt)}
    if all(pool.get(d).has(pool.get(d).demos[0], f"infos/{cfg.eval_signal}") for d in datasets):
        labelled = [s for c in comparisons for s in (c.first, c.second)]
        metrics["heldout"] = recipe.evaluate(model, pool, datasets, cfg.eval_length, rng, cfg.eval_segments, cfg.eval_signal, labelled)
    if cfg.relabel:
        metrics["relabeled"] = []
        for d in datasets:
            preds = recipe.predict_dataset(model, pool.get(d))
            dst = out / f"relabeled_{Path(d).name}"
            relabel_rewards(d, dst, {k: m for k, (m, _) in preds.items()}, {k: {"reward_std": s} for k, (_, s) in preds.items()},
                            note={"checkpoint": str(ckpt), "reward": OmegaConf.to_container(cfg.reward)})
            metrics["relabeled"].append(str(dst))
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, default=float))
    brief = {k: v for k, v in metrics.items() if k != "history"}
    print(json.dumps(brief, indent=2, default=float))
    print(f"reward: {ckpt}")
    return metrics
