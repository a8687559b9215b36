"""One call from a preference store to a trained trajectory reward, and batch prediction."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from robopref.data.dataset import Dataset
from robopref.data.pool import DatasetPool
from robopref.prefs import PreferenceStore
from robopref.rewards.config import RewardConfig
from robopref.rewards.features import FeatureSpec
from robopref.rewards.model import TrajectoryRewardModel
from robopref.rewards.preferences import Comparison, comparisons_from_store, datasets_of, tensorize
from robopref.rewards.train import TrainHistory, train_reward


def fit_trajectory_reward(
    comparisons: Sequence[Comparison],
    pool: DatasetPool,
    cfg: RewardConfig,
    obs_keys: Sequence[str] | None = None,
    use_actions: bool = True,
    progress: bool = True,
) -> tuple[TrajectoryRewardModel, TrainHistory]:
    """Fit features on the datasets the comparisons use, then train the reward."""
    paths = datasets_of(comparisons)
    spec = FeatureSpec.default_for(pool.get(paths[0]), obs_keys, use_actions).fit(pool, paths)
    model = TrajectoryRewardModel(cfg, spec)
    history = train_reward(model, tensorize(comparisons, spec, pool), progress=progress)
    return model, history


def fit_from_store(
    store: PreferenceStore, pool: DatasetPool, cfg: RewardConfig, sources: Sequence[str] | None = None, **kw
) -> tuple[TrajectoryRewardModel, TrainHistory]:
    """:func:`fit_trajectory_reward` on every effective label of the store (or of ``sources``)."""
    return fit_trajectory_reward(comparisons_from_store(store, sources), pool, cfg, **kw)


def predict_dataset(model: TrajectoryRewardModel, ds: Dataset, demos: Sequence[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-step (mean, std) reward of every demo, one batched forward pass per demo."""
    return {d: model.predict_features(model.spec.episode(ds, d)) for d in (demos if demos is not None else ds.demos)}
