"""``robopref transfer``: label target-task pairs from a labelled source task (PEARL's CPA).

    robopref transfer source=src.hdf5 source_store=src.sqlite target=tgt.hdf5 store=tgt.sqlite
    robopref transfer ... method=gw_entropic distance=dtw pairs=2000 min_confidence=0.5
    robopref transfer ... fewshot_labels=20 target_weight=5 restarts=10

Reads the source store's pair labels on the source dataset, builds a Gromov–Wasserstein
plan (or a nearest-pair baseline) between the source trajectories and the target's
(whole episodes, or windows of ``segment_length`` steps), and writes ``pairs`` target
queries with their labels (source ``transferred``, annotator ``transfer:<method>``) to
``store``: with ``label_mode=hard`` (default) the side the transferred ẑ picks, with
confidence = the pair's transport mass share × |2ẑ − 1|; with ``label_mode=soft`` ẑ itself,
with confidence = the share (PEARL's soft labels). When the target dataset has
ground truth (``infos/pref_score`` or ``task_reward``) it prints the transfer accuracy.
With ``fewshot_labels=K`` a scripted teacher labels K target pairs (the stand-in for a
person); they pick among GW restarts and are stored with confidence 1 while transferred
labels get confidence / ``target_weight``. See docs/transfer.md.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from omegaconf import MISSING, DictConfig

from robopref.config import StageConfig, register_schema
from robopref.data.pool import DatasetPool
from robopref.prefs import PreferenceStore
from robopref.teachers import make_teacher, segment_returns
from robopref.transfer.evaluation import transfer_accuracy
from robopref.transfer.fewshot import transferred_confidence_scale
from robopref.transfer.labels import check_label_mode
from robopref.transfer.pipeline import (
    FewShot, TransferSettings, load_source, random_pairs, read_sequences, target_segments, transfer, write_transferred,
)
from robopref.utils.atomic import atomic_write_text
from robopref.utils.rundir import run_dir
from robopref.utils.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class TransferStageConfig(StageConfig):
    """Config of ``robopref transfer``."""

    source: Optional[str] = None  # source dataset; null: every labelled segment in source_store
    source_store: str = MISSING
    source_label_sources: list = field(default_factory=lambda: ["human", "scripted"])
    target: str = MISSING
    store: str = "prefs.sqlite"
    method: str = "gw"  # gw (entropic up to exact_max trajectories, landmarks above; exact / quantized with restarts > 0) | gw_exact | gw_entropic | gw_landmarks | gw_quantized | nearest_distance | nearest_cosine
    distance: str = "euclidean"  # euclidean | dtw | embedding
    length: Optional[int] = None  # steps each trajectory is resampled to; null: 100 for the per-block geometry, 50 for the joint one (and the baselines)
    time: str = "absolute"  # absolute (shorter episodes padded at rest to the longest: an early finish looks different) | normalised (each stretched over [0, 1])
    segment_length: Optional[int] = None  # target trajectories: whole episodes (null) or windows of this many steps
    pairs: int = 1000  # target pairs to label; 0 = every pair
    min_confidence: float = 0.0  # on the pair's transport mass share
    label_mode: str = "hard"  # hard (the side ẑ picks, weighted by |2ẑ − 1|) | soft (ẑ, PEARL)
    exact_max: int = 1500
    geometry: str = "per_block"  # per_block (entropic GW matches each feature block's distances) | joint (one distance over all blocks)
    epsilon: Optional[float] = None  # entropic GW; null: 0.3 per_block, 0.005 joint
    restarts: int = 0
    clusters: Optional[int] = None
    landmarks: int = 400  # gw_landmarks: trajectories a task that stand for the rest
    embed_dim: int = 32
    source_marginal: str = "uniform"  # uniform | labels
    source_obs_keys: Optional[list] = None
    target_obs_keys: Optional[list] = None
    features: str = "states+actions+action_deltas"  # feature blocks joined by '+' (states | actions | action_deltas | abs_action_deltas), equally weighted; or state_action (one block)
    fewshot_labels: int = 0
    fewshot_teacher: str = "oracle"
    target_weight: float = 5.0
    signal: str = "auto"  # ground truth for the accuracy report: auto (pref_score, else task_reward) | pref_score | task_reward | none


register_schema("transfer", TransferStageConfig)


def _signal(pool: DatasetPool, target: str, signal: str) -> Optional[str]:
    ds = pool.get(target)
    if signal == "none":
        return None
    candidates = ["pref_score", "task_reward"] if signal == "auto" else [signal]
    for s in candidates:
        if ds.has(ds.demos[0], f"infos/{s}"):
            return s
    if signal != "auto":
        raise ValueError(f"signal={signal!r}: {target} has no infos/{signal}; its info keys are {ds.info_keys}")
    return None


def run(cfg: DictConfig) -> dict[str, Any]:
    """Transfer labels to ``cfg.pairs`` target pairs, store them, report accuracy."""
    rng = seed_everything(cfg.seed)
    settings = TransferSettings(
        method=cfg.method, distance=cfg.distance, length=cfg.length, time=cfg.time, exact_max=cfg.exact_max, geometry=cfg.geometry, epsilon=cfg.epsilon,
        restarts=cfg.restarts, clusters=cfg.clusters, landmarks=cfg.landmarks, embed_dim=cfg.embed_dim, source_marginal=cfg.source_marginal, seed=cfg.seed,
    )
    if not 0.0 <= cfg.min_confidence <= 1.0:
        raise ValueError(f"min_confidence={cfg.min_confidence}: expected a number in [0, 1]")
    if cfg.pairs < 0 or cfg.fewshot_labels < 0:
        raise ValueError(f"pairs={cfg.pairs}, fewshot_labels={cfg.fewshot_labels}: expected >= 0 (pairs=0: every pair; fewshot_labels=0: none)")
    check_label_mode(cfg.label_mode)
    pool = DatasetPool()
    target_refs = target_segments(pool.get(cfg.target), cfg.segment_length)
    if len(target_refs) < 2:
        raise ValueError(f"{cfg.target}: need at least 2 target trajectories, found {len(target_refs)}")
    with PreferenceStore(cfg.source_store, readonly=True) as source_store:
        source_refs, labels = load_source(source_store, cfg.source, list(cfg.source_label_sources))
    xs = read_sequences(pool, source_refs, cfg.source_obs_keys, cfg.features)
    ys = read_sequences(pool, target_refs, cfg.target_obs_keys, cfg.features)
    signal = _signal(pool, cfg.target, cfg.signal)
    truth = segment_returns(pool, target_refs, signal) if signal else None
    first, second = random_pairs(len(target_refs), cfg.pairs, rng)
    fewshot, scale = None, 1.0
    if cfg.fewshot_labels > 0:
        if truth is None:
            raise ValueError("fewshot_labels needs ground truth on the target (infos/pref_score or task_reward) for the scripted teacher")
        fj, fl = random_pairs(len(target_refs), cfg.fewshot_labels, rng)
        answers = make_teacher(cfg.fewshot_teacher).answer_batch(np.stack([truth[fj], truth[fl]], 1), rng)
        ok = np.array([a.value is not None for a in answers])
        fewshot = FewShot(fj[ok], fl[ok], np.array([a.value for a in answers if a.value is not None]))
        scale = transferred_confidence_scale(cfg.target_weight)
    log.info("transfer %d source trajectories (%d labels) -> %d target trajectories, %d pairs, method=%s",
             len(xs), len(labels), len(ys), len(first), settings.resolve(len(xs), len(ys)))
    result, plan = transfer(settings, xs, labels, ys, first, second, fewshot)
    keep = result.keep(cfg.min_confidence)
    if fewshot is not None:  # a pair with a real label gets no transferred one
        real = {frozenset(p) for p in zip(fewshot.first.tolist(), fewshot.second.tolist())}
        keep &= np.array([frozenset(p) not in real for p in zip(result.first.tolist(), result.second.tolist())])
    method = settings.resolve(len(xs), len(ys))
    summary: dict[str, Any] = {
        "store": str(Path(cfg.store).resolve()), "method": method, "distance": cfg.distance, "features": cfg.features, "length": settings.steps(method),
        "source_trajectories": len(xs), "source_labels": len(labels), "target_trajectories": len(ys),
        "pairs": len(first), "labels_added": int(keep.sum()), "label_mode": cfg.label_mode, "mean_confidence": float(result.confidence.mean()),
    }
    if plan is not None:
        summary["plan"] = {"seconds": plan.seconds, "gw_loss": plan.loss, "nonzeros": plan.nonzeros, **plan.info}
    with PreferenceStore(cfg.store) as store:
        write_transferred(store, target_refs, result, keep, f"transfer:{method}", scale,
                          meta={"source_store": str(cfg.source_store), "method": method, "distance": cfg.distance}, label_mode=cfg.label_mode)
        if fewshot is not None:
            qids = store.add_queries([(target_refs[a], target_refs[b]) for a, b in zip(fewshot.first, fewshot.second)], origin="fewshot")
            with store.batch():
                for q, z in zip(qids, fewshot.z):
                    store.add_label(q, annotator=f"scripted:{cfg.fewshot_teacher}", source="scripted", value=float(z))
            summary["fewshot_labels"] = len(qids)
    if truth is not None:
        summary["signal"] = signal
        summary["transfer_accuracy"] = transfer_accuracy(result, truth, keep)
        summary["transfer_accuracy_all_pairs"] = transfer_accuracy(result, truth)
    atomic_write_text(run_dir() / "summary.json", json.dumps(summary, indent=2, default=float))
    print(json.dumps(summary, indent=2, default=float))
    return summary
