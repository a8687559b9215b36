"""Rewards learned from preferences: Bradley–Terry ensembles and Gaussian robust rewards (RRL)."""

from robopref.rewards.config import RewardConfig, TrustFilterConfig
from robopref.rewards.features import FeatureSpec
from robopref.rewards.fit import fit_from_store, fit_trajectory_reward, predict_dataset
from robopref.rewards.model import TrajectoryRewardModel
from robopref.rewards.preferences import Comparison, comparisons_from_store, tensorize
from robopref.rewards.train import TrainHistory, train_reward

__all__ = [
    "Comparison",
    "FeatureSpec",
    "RewardConfig",
    "TrainHistory",
    "TrajectoryRewardModel",
    "TrustFilterConfig",
    "comparisons_from_store",
    "fit_from_store",
    "fit_trajectory_reward",
    "predict_dataset",
    "tensorize",
    "train_reward",
]
