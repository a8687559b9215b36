"""Reward and policy checkpoints are written atomically: a save that dies part-way (a killed
process, a full disk) leaves the previous file exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.rewards import RewardConfig, TrajectoryRewardModel
from robopref.rewards.features import FeatureSpec
from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
from robopref.rewards.visual.model import VisualRewardModel


def _dies_mid_write(obj, f, *args, **kwargs):
    with open(f, "wb") as fh:
        fh.write(b"half a checkpoint")
    raise OSError("No space left on device")


@pytest.mark.parametrize("kind", ["trajectory", "visual"])
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, kind):
    if kind == "trajectory":
        model = TrajectoryRewardModel(RewardConfig(ensemble=1, hidden=[8]), FeatureSpec(obs_keys=["state"], mean=np.zeros(3), std=np.ones(3)))
    else:
        model = VisualRewardModel("rapl", FrameEncoder(EncoderConfig()), {"eps": 0.05, "sinkhorn_iters": 20, "frames": 4}, references=torch.randn(2, 4, 32))
    path = model.save(tmp_path / "reward.pt")
    before = path.read_bytes()
    monkeypatch.setattr(torch, "save", _dies_mid_write)
    with pytest.raises(OSError, match="No space left"):
        model.save(path)
    assert path.read_bytes() == before
    monkeypatch.undo()
    assert type(model).load(path) is not None
