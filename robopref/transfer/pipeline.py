"""From a labelled source dataset to transferred labels on a target dataset.

    source store + source dataset ──► source trajectories, pair labels z_ik
    target dataset               ──► target trajectories (whole episodes or segments)
    both                         ──► plan (GW) or nearest-pair baseline ──► ẑ_jl, confidence
                                 ──► preference store (source "transferred")

Trajectories are feature blocks read with :class:`FeatureSpec` (:mod:`robopref.transfer.features`:
by default states, actions and action deltas, equally weighted); each task is aligned
and normalised on its own data (:mod:`robopref.transfer.alignment`), so the tasks'
spaces may differ.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from robopref.data.dataset import Dataset
from robopref.data.pool import DatasetPool
from robopref.data.sampling import iter_windows, whole_episodes
from robopref.data.segments import SegmentRef
from robopref.prefs import PreferenceStore
from robopref.rewards.features import FeatureSpec
from robopref.rewards.preferences import Comparison, comparisons_from_store
from robopref.transfer.baselines import BASELINES, nearest_pair_labels
from robopref.transfer.alignment import aligned_sequences, check_time
from robopref.transfer.distances import block_distance_matrices, distance_matrix, embed
from robopref.transfer.features import DEFAULT_FEATURES, TaskSequences, Trajectories, action_deltas, parse_features
from robopref.transfer.labels import SourceLabels, TransferredLabels
from robopref.transfer.fewshot import pick_by_agreement
from robopref.transfer.landmarks import gw_landmarks
from robopref.transfer.plans import Plan, check_marginal, gw_entropic, gw_entropic_blocks, gw_exact_candidates, gw_quantized

METHODS = ("gw", "gw_exact", "gw_entropic", "gw_landmarks", "gw_quantized", *BASELINES)
GEOMETRIES = ("per_block", "joint")
DEFAULT_EPSILON = {"per_block": 0.3, "joint": 0.005}
DEFAULT_LENGTH = {"per_block": 100, "joint": 50}


@dataclass
class TransferSettings:
    """How to transfer: the method, the trajectory distance and the solver knobs.

    ``method="gw"`` picks ``gw_entropic`` while both tasks have at most ``exact_max``
    trajectories (it beat exact GW by 3–14 points on every benchmark pair,
    docs/benchmarks-transfer.md) and ``gw_landmarks`` above (the dense intra-task
    matrices grow as N², the solvers' iterations as N³; the landmark solver keeps the
    per-block geometry on ``landmarks`` trajectories a task). With ``restarts > 0`` it
    picks the solvers that have restarts to choose among: ``gw_exact``, and
    ``gw_quantized`` above ``exact_max``; with ``geometry="joint"``, ``gw_quantized``
    above ``exact_max`` too.

    ``geometry`` is how the entropic solver sees the feature blocks: ``per_block`` (the
    default) matches each block's own distance matrix at once
    (:func:`~robopref.transfer.plans.gw_entropic_blocks`), ``joint`` one distance over
    all blocks (PEARL's single GW). The exact and quantized solvers always use the joint
    geometry (every plan's ``info["geometry"]`` says which one it used).

    ``length`` and ``epsilon`` left at None take the default of the geometry the
    method runs with (:meth:`steps`, :meth:`entropic_epsilon`): 100 steps and ε = 0.3
    for ``per_block``, 50 steps and ε = 0.005 for ``joint`` (also the nearest-pair
    baselines'). Each was measured on the benchmark pairs (docs/transfer.md).
    """

    method: str = "gw"
    distance: str = "euclidean"  # euclidean | dtw | embedding (gw_quantized uses euclidean or embedding vectors)
    length: int | None = None  # steps every trajectory is resampled to; None: 100 for the per-block geometry, 50 for the joint one
    time: str = "absolute"  # absolute (pad to the task's longest episode, at rest) | normalised (stretch each over [0, 1])
    exact_max: int = 1500
    geometry: str = "per_block"  # per_block (entropic GW matches each feature block's distances) | joint (one distance over all blocks)
    epsilon: float | None = None  # entropic GW; None: 0.3 per_block (blocks scaled to a spread of 1), 0.005 joint (matrix scaled to [0, 1])
    restarts: int = 0  # extra random starts of exact or quantized GW (lowest loss kept, or the few-shot labels pick); entropic GW has none
    clusters: int | None = None  # gw_quantized parts per task (default ~2√N)
    landmarks: int = 400  # gw_landmarks: trajectories a task that stand for the rest (k-means clusters)
    embed_dim: int = 32  # PCA size for distance=embedding and gw_quantized
    source_marginal: str = "uniform"  # uniform | labels (mass ∝ 1 + number of labels a trajectory is in)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r}: expected one of {', '.join(METHODS)}")
        if self.source_marginal not in ("uniform", "labels"):
            raise ValueError(f"source_marginal={self.source_marginal!r}: expected 'uniform' or 'labels'")
        check_time(self.time)
        if self.restarts < 0:
            raise ValueError(f"restarts={self.restarts}: expected an integer >= 0")
        if self.restarts > 0 and self.method in ("gw_entropic", "gw_landmarks"):
            raise ValueError(f"restarts={self.restarts}: {self.method} is deterministic and has no restarts; use method=gw_exact or gw_quantized (or gw)")
        if self.landmarks < 2:
            raise ValueError(f"landmarks={self.landmarks}: expected at least 2 landmark trajectories a task")
        if self.length is not None and self.length < 2:
            raise ValueError(f"length={self.length}: trajectories need at least 2 resampled steps (or null for the geometry's default)")
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"geometry={self.geometry!r}: expected one of {', '.join(GEOMETRIES)}")
        if self.epsilon is not None and not self.epsilon > 0:
            raise ValueError(f"epsilon={self.epsilon}: expected a positive number (or null for the geometry's default)")
        if self.exact_max < 0 or self.embed_dim < 1 or (self.clusters is not None and self.clusters < 2):
            raise ValueError(f"exact_max={self.exact_max}, embed_dim={self.embed_dim}, clusters={self.clusters}: expected exact_max >= 0, "
                             "embed_dim >= 1 and clusters >= 2 (or null for about 2√N)")

    def entropic_epsilon(self, geometry: str) -> float:
        """``epsilon``, or the default of ``geometry`` (measured on the benchmark pairs, docs/transfer.md)."""
        return self.epsilon if self.epsilon is not None else DEFAULT_EPSILON[geometry]

    def uses_per_block(self, method: str) -> bool:
        """Whether the concrete ``method`` runs with the per-block geometry (the landmark
        solver always does; entropic GW unless ``geometry="joint"``)."""
        return method == "gw_landmarks" or (method == "gw_entropic" and self.geometry == "per_block")

    def steps(self, method: str) -> int:
        """``length``, or the default of the geometry the concrete ``method`` runs with."""
        if self.length is not None:
            return self.length
        return DEFAULT_LENGTH["per_block" if self.uses_per_block(method) else "joint"]

    def resolve(self, m: int, n: int) -> str:
        """The concrete method for M source and N target trajectories."""
        if self.method != "gw":
            return self.method
        if max(m, n) > self.exact_max:
            return "gw_quantized" if self.restarts > 0 or self.geometry == "joint" else "gw_landmarks"
        return "gw_exact" if self.restarts > 0 else "gw_entropic"


def read_sequences(
    pool: DatasetPool, refs: Sequence[SegmentRef], obs_keys: Sequence[str] | None = None, features: str = DEFAULT_FEATURES,
) -> TaskSequences:
    """Raw (unnormalised) feature blocks of each segment (see :mod:`robopref.transfer.features`):
    ``states`` are the low-dim observations (``obs_keys``, default all), ``actions`` the
    action, ``action_deltas`` its step-to-step change (``abs_action_deltas`` its absolute
    value), ``state_action`` both as one block."""
    names = parse_features(features)
    if not refs:
        raise ValueError("no trajectories to read")
    ds = pool.get(refs[0].dataset)
    specs: dict[str, FeatureSpec] = {}
    if "state_action" in names:
        specs["state_action"] = FeatureSpec.default_for(ds, obs_keys, use_actions=True)
    if "states" in names:
        specs["states"] = FeatureSpec.default_for(ds, obs_keys, use_actions=False)
    if {"actions", "action_deltas", "abs_action_deltas"} & set(names):
        specs["actions"] = FeatureSpec(obs_keys=[], use_actions=True)
    keys = list(dict.fromkeys(k for spec in specs.values() for k in spec.keys))  # each window is read once for every block
    read: dict[str, list[np.ndarray]] = {name: [] for name in specs}
    for r in refs:
        window = pool.get(r.dataset).window(r, keys=keys)
        for name, spec in specs.items():
            read[name].append(spec.raw(window))
    if "action_deltas" in names or "abs_action_deltas" in names:
        read["action_deltas"] = action_deltas(read["actions"])
    if "abs_action_deltas" in names:
        read["abs_action_deltas"] = [np.abs(d) for d in read["action_deltas"]]
    return TaskSequences({name: read[name] for name in names})


def same_path(a: str, b: str) -> bool:
    """Whether two dataset paths name the same file."""
    return os.path.realpath(a) == os.path.realpath(b)


def source_labels(comparisons: Sequence[Comparison], dataset: str | None = None) -> tuple[list[SegmentRef], SourceLabels]:
    """Source trajectories (distinct labelled segments, in first-seen order) and their pair
    labels, from comparisons (only those on ``dataset`` when given)."""
    if dataset is not None:
        comparisons = [c for c in comparisons if same_path(c.first.dataset, dataset) and same_path(c.second.dataset, dataset)]
    if not comparisons:
        where = f" on {dataset}" if dataset else ""
        raise ValueError(f"the source store has no pair labels{where} to transfer (skips and retracts do not count)")
    index: dict[SegmentRef, int] = {}
    for c in comparisons:
        index.setdefault(c.first, len(index))
        index.setdefault(c.second, len(index))
    first = np.array([index[c.first] for c in comparisons])
    second = np.array([index[c.second] for c in comparisons])
    labels = SourceLabels(first, second, np.array([c.y for c in comparisons]), np.array([max(c.w, 1e-6) for c in comparisons]))
    return list(index), labels


def load_source(store: PreferenceStore, dataset: str | None, sources: Sequence[str] = ("human", "scripted")) -> tuple[list[SegmentRef], SourceLabels]:
    """:func:`source_labels` over the store's effective labels from ``sources``."""
    return source_labels(comparisons_from_store(store, list(sources)), dataset)


def target_segments(ds: Dataset, segment_length: int | None = None) -> list[SegmentRef]:
    """Whole episodes, or non-overlapping windows of ``segment_length`` steps."""
    return whole_episodes(ds) if not segment_length else list(iter_windows(ds, segment_length))


def _marginal(settings: TransferSettings, labels: SourceLabels, m: int) -> np.ndarray:
    if settings.source_marginal == "uniform":
        return check_marginal(None, m, "source")
    counts = np.bincount(np.concatenate([labels.first, labels.second]), minlength=m)
    return check_marginal(1.0 + counts, m, "source")


def candidate_plans(settings: TransferSettings, method: str, xs: Trajectories, ys: Trajectories, p: np.ndarray) -> list[Plan]:
    """GW plans of ``method`` between source sequences ``xs`` and target sequences ``ys``:
    one per start (``settings.restarts`` extra starts; entropic GW has one)."""
    length = settings.steps(method)
    matrices = dict(distance=settings.distance, length=length, embed_dim=settings.embed_dim, time=settings.time)
    if method == "gw_quantized":
        if settings.distance == "dtw":
            raise ValueError("gw_quantized needs vector distances: use distance=euclidean or embedding (DTW is O(N²) pairs)")
        ax, ay = aligned_sequences(xs, length, settings.time), aligned_sequences(ys, length, settings.time)
        vx, vy = ax.reshape(len(ax), -1), ay.reshape(len(ay), -1)
        if settings.distance == "embedding":
            vx, vy = embed(ax, dim=settings.embed_dim), embed(ay, dim=settings.embed_dim)
        plans = [gw_quantized(vx, vy, p, None, settings.clusters, settings.embed_dim, seed=settings.seed + 7 * r)
                 for r in range(settings.restarts + 1)]
    elif method == "gw_landmarks":
        if settings.distance != "euclidean":
            raise ValueError(f"gw_landmarks measures Euclidean distances only, got distance={settings.distance!r}; use distance=euclidean or method=gw_quantized")
        return [gw_landmarks(xs, ys, p, None, settings.landmarks, length, settings.time, settings.embed_dim,
                             settings.entropic_epsilon("per_block"), settings.seed)]
    elif settings.uses_per_block(method):
        cxs, cys = block_distance_matrices(xs, **matrices), block_distance_matrices(ys, **matrices)
        return [gw_entropic_blocks(cxs, cys, p, None, settings.entropic_epsilon("per_block"))]
    else:
        cx, cy = distance_matrix(xs, **matrices), distance_matrix(ys, **matrices)
        if method == "gw_entropic":
            plans = [gw_entropic(cx, cy, p, None, settings.entropic_epsilon("joint"))]
        else:
            plans = gw_exact_candidates(cx, cy, p, None, settings.restarts, settings.seed)
    for plan in plans:  # the exact and quantized solvers, and entropic GW on one joint distance
        plan.info["geometry"] = "joint"
    return plans


@dataclass
class FewShot:
    """Real target labels: P(first[t] ≻ second[t]) = z[t] on target trajectory indices."""

    first: np.ndarray
    second: np.ndarray
    z: np.ndarray


def transfer(
    settings: TransferSettings, xs: Trajectories, labels: SourceLabels, ys: Trajectories,
    first: np.ndarray, second: np.ndarray, fewshot: FewShot | None = None,
) -> tuple[TransferredLabels, Plan | None]:
    """Transferred labels for target pairs (first[t], second[t]) and the plan (None for baselines).

    Of several candidate plans (restarts), the one of lowest GW loss is used, or, with
    ``fewshot`` labels, the one whose transferred labels agree best with them.
    """
    method = settings.resolve(len(xs), len(ys))
    if method in BASELINES:
        length = settings.steps(method)
        ax, ay = aligned_sequences(xs, length, settings.time), aligned_sequences(ys, length, settings.time)
        return nearest_pair_labels(ax, ay, labels, first, second, method), None
    plans = candidate_plans(settings, method, xs, ys, _marginal(settings, labels, len(xs)))
    losses = [np.inf if p.loss is None else p.loss for p in plans]
    if fewshot is not None and len(plans) > 1:
        checks = [p.transfer(labels, fewshot.first, fewshot.second) for p in plans]
        plan = plans[pick_by_agreement(checks, fewshot.z, losses)]
        plan.info["picked_by"] = "fewshot agreement"
    else:
        plan = plans[int(np.argmin(losses))]
    plan.info["candidates"] = len(plans)
    return plan.transfer(labels, first, second), plan


def random_pairs(n: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct unordered pairs of n items (all pairs when count <= 0 or too many), random order within each pair."""
    total = n * (n - 1) // 2
    if count <= 0 or count >= total:
        first, second = np.triu_indices(n, 1)
    else:
        chosen: set[tuple[int, int]] = set()
        while len(chosen) < count:
            a = rng.integers(0, n, 2 * (count - len(chosen)))
            b = rng.integers(0, n, len(a))
            for x, y in zip(a, b):
                if x != y and len(chosen) < count:
                    chosen.add((min(x, y), max(x, y)))
        first, second = (np.array(v) for v in zip(*sorted(chosen)))
    flip = rng.random(len(first)) < 0.5
    return np.where(flip, second, first), np.where(flip, first, second)


def write_transferred(
    store: PreferenceStore, refs: Sequence[SegmentRef], result: TransferredLabels, keep: np.ndarray, annotator: str,
    confidence_scale: float = 1.0, meta: dict | None = None, label_mode: str = "hard",
) -> list[int]:
    """Add a query per kept target pair and its label (source ``transferred``) in one
    transaction: value and confidence are :meth:`TransferredLabels.training_labels` of
    ``label_mode`` (``hard``: the side ẑ picks, confidence × |2ẑ − 1|; ``soft``: ẑ, the
    confidence), the confidence × ``confidence_scale``. Returns the label ids."""
    value, weight = result.training_labels(label_mode)
    idx = np.flatnonzero(keep)
    with store.batch():
        qids = store.add_queries([(refs[result.first[t]], refs[result.second[t]]) for t in idx], origin="transfer", meta=meta)
        return [
            store.add_label(q, annotator=annotator, source="transferred", value=float(value[t]),
                            confidence=float(np.clip(weight[t] * confidence_scale, 0.0, 1.0)))
            for q, t in zip(qids, idx)
        ]
