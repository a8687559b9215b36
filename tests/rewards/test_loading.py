"""load_reward reads trajectory and visual reward checkpoints alike; foreign files fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.rewards import RewardConfig, TrajectoryRewardModel
from robopref.rewards.features import FeatureSpec
from robopref.rewards.loading import load_reward
from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
from robopref.rewards.visual.model import VisualRewardModel


def test_both_kinds_load_through_one_call(tmp_path):
    spec = FeatureSpec(obs_keys=["state"], use_actions=True, mean=np.zeros(3), std=np.ones(3))
    traj = TrajectoryRewardModel(RewardConfig(ensemble=1, hidden=[8]), spec)
    traj.save(tmp_path / "traj.pt")
    enc = FrameEncoder(EncoderConfig(kind="small_cnn", image_size=32)).eval()
    VisualRewardModel("rapl", enc, {"eps": 0.05, "sinkhorn_iters": 20, "frames": 4}, references=torch.randn(2, 4, 32)).save(tmp_path / "vis.pt")
    loaded = load_reward(tmp_path / "traj.pt")
    assert isinstance(loaded, TrajectoryRewardModel)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.reward(x), traj.reward(x), rtol=1e-6)
    assert isinstance(load_reward(tmp_path / "vis.pt"), VisualRewardModel)


def test_missing_and_foreign_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="reward checkpoint .*nope.pt does not exist"):
        load_reward(tmp_path / "nope.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="text.pt: not a torch checkpoint"):
        load_reward(tmp_path / "text.pt")
    torch.save({"format": "someone-else/1"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not a robopref reward checkpoint \\(format 'someone-else/1'"):
        load_reward(tmp_path / "other.pt")


def test_features_of_another_layout_are_refused_with_both_sizes():
    """A reward trained on one robot's (state, action) scored on another's (best_of_n chunks,
    relabelling) names the sizes, instead of a numpy broadcasting error."""
    spec = FeatureSpec(obs_keys=["state"], use_actions=True, mean=np.zeros(16), std=np.ones(16))
    assert spec.transform(np.ones((4, 16), np.float32)).shape == (4, 16)
    with pytest.raises(ValueError, match=r"the reward was trained on 16 features per step \(obs/state \+ actions\); these data have 11"):
        spec.transform(np.ones((4, 11), np.float32))
