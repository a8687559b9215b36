"""RAPL's ``align.trainable=projection``: only a linear map of the embedding is trained,
it starts as the identity, and it is saved and loaded with the encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
from robopref.rewards.visual.model import VisualRewardModel
from robopref.rewards.visual.rapl import AlignConfig, align_encoder
from robopref.rewards.visual.recipe import RaplRecipe


def _encoder() -> FrameEncoder:
    torch.manual_seed(0)
    return FrameEncoder(EncoderConfig(kind="small_cnn", image_size=32, channels=(8, 16, 16, 16))).eval()


def _frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)


def test_projection_starts_as_the_identity_and_is_all_that_trains():
    enc = _encoder()
    frames = _frames(6)
    before = enc.encode(frames)
    enc.set_trainable("projection")
    assert enc.projection is not None and enc.cfg.projection
    torch.testing.assert_close(enc.encode(frames), before)  # identity at the start
    enc.freeze_front()
    torch.testing.assert_close(enc.tail(enc.frozen(frames)), before)  # frozen part + trainable part = whole encoder
    trainable = list(enc.trainable_parameters())
    assert len(trainable) == 1 and trainable[0] is enc.projection.weight
    enc(frames).sum().backward()
    assert enc.projection.weight.grad is not None
    assert all(p.grad is None for name, p in enc.named_parameters() if not name.startswith("projection"))


def test_projection_alignment_leaves_the_network_and_changes_the_metric():
    enc = _encoder()
    net = {k: v.clone() for k, v in enc.state_dict().items()}
    videos = np.stack([np.stack([_frames(5, seed=3 * q + i) for i in range(3)]) for q in range(8)])  # (Q, 3, F, H, W, 3)
    hist = align_encoder(enc, videos, AlignConfig(epochs=15, batch_size=4, lr=1e-2, trainable="projection"), seed=0)
    assert hist.train_loss[-1] < hist.train_loss[0]
    after = enc.state_dict()
    assert all(torch.equal(after[k], v) for k, v in net.items())  # last stage and head untouched
    assert not torch.equal(enc.projection.weight, torch.eye(enc.cfg.out_dim))


def test_projection_survives_save_and_load(tmp_path):
    enc = _encoder()
    enc.set_trainable("projection")
    with torch.no_grad():
        enc.projection.weight.mul_(2.0).add_(0.1)
    refs = enc.encode(_frames(5, seed=9))[None]
    model = VisualRewardModel("rapl", enc, {"eps": 0.05, "sinkhorn_iters": 50, "frames": 5}, references=refs)
    loaded = VisualRewardModel.load(model.save(tmp_path / "r.pt"))
    assert loaded.encoder.cfg.projection and loaded.encoder.projection is not None
    videos = [_frames(7, seed=1), _frames(4, seed=2)]
    for a, b in zip(model.frame_rewards(videos), loaded.frame_rewards(videos)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_callers_encoder_config_is_not_changed():
    cfg = EncoderConfig(kind="small_cnn", image_size=32, channels=(8, 16, 16, 16))
    FrameEncoder(cfg).set_trainable("projection")
    assert cfg.projection is False


def test_invalid_trainable_part_is_clear():
    with pytest.raises(ValueError, match="align.trainable='head'"):
        RaplRecipe(align={"trainable": "head"})
    with pytest.raises(ValueError, match="trainable part 'all'"):
        _encoder().set_trainable("all")


def test_learning_rate_defaults_by_what_is_trained():
    assert AlignConfig().lr == 1e-3 and AlignConfig(trainable="projection").lr == 1e-2
    assert AlignConfig(trainable="projection", lr=5e-3).lr == 5e-3
    with pytest.raises(ValueError, match="align.lr=0.0"):
        AlignConfig(lr=0.0)
