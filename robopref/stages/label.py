"""``robopref label``: create queries over datasets and (optionally) answer them with a
scripted teacher, writing both to the preference store.

    robopref label dataset=data.hdf5 store=prefs.sqlite teacher=mistake queries=100 selection=disagreement

``teacher=none`` only adds the queries, for people to answer in the labelling page.
Model-based selection (``disagreement``, ``entropy``) scores candidates with the
reward ensemble in ``reward_checkpoint``, or with one fitted on the store's current
labels when no checkpoint is given.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from omegaconf import MISSING, DictConfig

from robopref.config import StageConfig, register_schema
from robopref.data.pool import DatasetPool
from robopref.data.sampling import check_holdout, held_out_demos
from robopref.prefs import PreferenceStore
from robopref.rewards import RewardConfig, TrajectoryRewardModel, fit_from_store
from robopref.teachers import label_queries, make_teacher, query_returns
from robopref.teachers.queries import choose_queries
from robopref.teachers.rules import check_query_settings
from robopref.utils.atomic import atomic_write_text
from robopref.utils.rundir import run_dir
from robopref.utils.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class LabelConfig(StageConfig):
    """Config of ``robopref label``."""

    dataset: Any = MISSING  # one path or a list: dataset=a.hdf5 or dataset=[a.hdf5,b.hdf5]
    store: str = "prefs.sqlite"
    teacher: str = "oracle"  # oracle | noisy | mistake | myopic | skip | equal | none
    queries: int = 100
    kind: str = "pair"  # pair | triplet
    selection: str = "uniform"  # uniform | disagreement | entropy
    segment_length: int = 25  # 0: whole episodes (video-level queries, e.g. for reward=rapl)
    signal: str = "pref_score"  # ground truth the teacher reads: pref_score | task_reward | rewards
    reward_checkpoint: Optional[str] = None  # ensemble for model-based selection
    oversample: int = 10
    holdout: float = 0.0  # fraction of each dataset's episodes never queried (the same ones every run), for scoring rewards on unseen episodes
    teacher_params: dict = field(default_factory=dict)  # e.g. {eps_mistake: 0.2, beta: 2.0}


register_schema("label", LabelConfig)


def _selection_model(cfg: DictConfig, store: PreferenceStore, pool: DatasetPool) -> TrajectoryRewardModel | None:
    if cfg.selection == "uniform":
        return None
    if cfg.reward_checkpoint:
        return TrajectoryRewardModel.load(cfg.reward_checkpoint)
    if store.count_labels() == 0:
        raise ValueError(
            f"selection={cfg.selection} needs a reward ensemble: pass reward_checkpoint=..., or label some queries first "
            f"(e.g. selection=uniform), the store {store.path} has no labels yet"
        )
    log.info("fitting a reward ensemble on the store's %d labels for %s selection", store.count_labels(), cfg.selection)
    model, _ = fit_from_store(store, pool, RewardConfig(hidden=[64, 64], epochs=60, seed=cfg.seed), progress=False)
    return model


def _check_config(cfg: DictConfig) -> int:
    """Reject bad label settings before anything is read or written; return the query size k."""
    if cfg.oversample < 1:
        raise ValueError(f"oversample={cfg.oversample}: expected an integer >= 1")
    return check_query_settings(cfg.kind, cfg.selection, cfg.queries, cfg.segment_length)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Add ``cfg.queries`` queries and the teacher's labels; return a summary."""
    rng = seed_everything(cfg.seed)
    datasets = [cfg.dataset] if isinstance(cfg.dataset, str) else list(cfg.dataset)
    k = _check_config(cfg)
    check_holdout(cfg.holdout)
    pool = DatasetPool()
    for d in datasets:
        pool.get(d)  # validate every dataset up front
    teacher = None if cfg.teacher == "none" else make_teacher(cfg.teacher, **dict(cfg.teacher_params))
    with PreferenceStore(cfg.store) as store:
        model = _selection_model(cfg, store, pool)
        picked = choose_queries(pool, datasets, cfg.queries, cfg.segment_length, cfg.selection, rng, model, k, cfg.oversample, cfg.holdout)
        ids = store.add_queries(picked, origin=cfg.selection, meta={"segment_length": cfg.segment_length})
        summary: dict[str, Any] = {"store": str(Path(cfg.store).resolve()), "queries_added": len(ids), "selection": cfg.selection}
        if cfg.holdout > 0:
            summary["held_out_episodes"] = {d: len(held_out_demos(pool.get(d), cfg.holdout)) for d in datasets}
        if teacher is not None:
            queries = [store.query(i) for i in ids]
            label_ids = label_queries(teacher, store, pool, queries, rng, cfg.signal)
            labels = [store.label(i) for i in label_ids]
            summary["labels_added"] = len(labels)
            summary["label_kinds"] = dict(Counter(l.kind for l in labels))
            summary["teacher"] = teacher.annotator
            if k == 2:
                truth = query_returns(pool, queries, cfg.signal, None)
                decided = [(l.value, t) for l, t in zip(labels, truth) if l.kind == "preference" and t[0] != t[1]]
                if decided:
                    summary["agreement_with_oracle"] = float(np.mean([(v > 0.5) == (t[0] > t[1]) for v, t in decided]))
        summary["store_totals"] = {"queries": store.count_queries(), "labels": store.count_labels()}
    atomic_write_text(run_dir() / "summary.json", json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return summary
