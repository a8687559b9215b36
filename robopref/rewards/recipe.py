"""What the ``reward`` stage instantiates from ``conf/reward/*.yaml``.

A recipe knows how to fit its kind of reward from stored labels, evaluate it against
ground truth and predict per-step rewards for a dataset. Trajectory rewards (bt, rrl)
use :class:`TrajectoryRewardRecipe`; visual rewards provide their own recipe with the
same three methods, so the stage has no per-kind branches.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Sequence

import numpy as np

from robopref.data.dataset import Dataset
from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef
from robopref.prefs import PreferenceStore
from robopref.rewards.config import RewardConfig, TrustFilterConfig
from robopref.rewards.evaluation import evaluate_reward
from robopref.rewards.fit import fit_trajectory_reward, predict_dataset
from robopref.rewards.model import TrajectoryRewardModel
from robopref.rewards.preferences import Comparison
from robopref.rewards.train import TrainHistory


class TrajectoryRewardRecipe:
    """Bradley–Terry or RRL reward over (state, action) features.

    Keyword arguments are :class:`RewardConfig` fields plus ``obs_keys`` (low-dim
    observation keys; default all) and ``use_actions``. An unknown key is an error that
    names it and lists the valid ones.
    """

    def __init__(self, obs_keys: Sequence[str] | None = None, use_actions: bool = True, **kwargs: Any) -> None:
        valid = {f.name for f in fields(RewardConfig)}
        unknown = sorted(set(kwargs) - valid)
        if unknown:
            raise ValueError(f"reward config key(s) {unknown} not recognised; valid keys: {sorted(valid | {'obs_keys', 'use_actions'})}")
        if isinstance(kwargs.get("trust"), dict):
            kwargs["trust"] = TrustFilterConfig(**kwargs["trust"])
        self.config = RewardConfig(**kwargs)
        self.obs_keys = list(obs_keys) if obs_keys else None
        self.use_actions = use_actions

    def usable_comparisons(self, pool: DatasetPool, comparisons: Sequence[Comparison]) -> list[Comparison]:
        """The comparisons this recipe can learn from: all of them (every dataset has states and actions)."""
        return list(comparisons)

    def check_dataset(self, ds: Dataset) -> None:
        """Refuse a dataset to evaluate or relabel that the reward cannot read, before training
        (the ``obs_keys`` it was told to use must be there)."""
        missing = [k for k in self.obs_keys or [] if k not in ds.obs_keys]
        if missing:
            raise ValueError(f"{ds.path}: reward obs_keys {missing} are not in the dataset; it has {ds.obs_keys}")

    def fit(
        self, store: PreferenceStore, comparisons: Sequence[Comparison], pool: DatasetPool, seed: int = 0, progress: bool = True
    ) -> tuple[TrajectoryRewardModel, TrainHistory]:
        """Train on ``comparisons`` (taken from ``store``)."""
        cfg = replace(self.config, seed=seed)
        return fit_trajectory_reward(comparisons, pool, cfg, self.obs_keys, self.use_actions, progress=progress)

    def evaluate(self, model: TrajectoryRewardModel, pool: DatasetPool, datasets: Sequence[str], length: int, rng: np.random.Generator, n: int,
                 signal: str, labelled: Sequence[SegmentRef] | None = None) -> dict[str, Any]:
        """Agreement with the ground-truth ``signal`` on ``n`` windows held out from the
        ``labelled`` segments (:func:`robopref.rewards.evaluation.heldout_segments`)."""
        return evaluate_reward(model, pool, datasets, length, rng, n, signal, labelled)

    def predict_dataset(self, model: TrajectoryRewardModel, ds: Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per-step (mean, std) for every demo of ``ds``; the mean is μ − κσ when κ > 0."""
        preds = predict_dataset(model, ds)
        k = model.cfg.kappa
        return {d: (m - k * s if k else m, s) for d, (m, s) in preds.items()}
