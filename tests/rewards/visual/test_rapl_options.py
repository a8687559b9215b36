"""RAPL's recipe options: averaging the reward over several references, the alignment
anchor (triplet winner or the reward's references) with its Plackett–Luce loss, and the
clear errors for invalid values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
from robopref.rewards.visual.model import VisualRewardModel
from robopref.rewards.visual.rapl import AlignConfig, align_encoder, plackett_luce_loss
from robopref.rewards.visual.recipe import RaplRecipe, RlhfVisualRecipe

SETTINGS = {"eps": 0.05, "sinkhorn_iters": 50, "frames": 5}


def _videos(lengths: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    return [np.random.default_rng(seed + i).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8) for i, n in enumerate(lengths)]


def _encoder() -> FrameEncoder:
    torch.manual_seed(0)
    return FrameEncoder(EncoderConfig(kind="small_cnn", image_size=32, channels=(8, 16, 16, 16))).eval()


def test_mean_reference_mode_averages_the_single_reference_rewards():
    enc, videos, refs = _encoder(), _videos((7, 12)), torch.randn(3, 5, 32)
    mean = VisualRewardModel("rapl", enc, {**SETTINGS, "reference_mode": "mean"}, references=refs).frame_rewards(videos)
    single = [VisualRewardModel("rapl", enc, SETTINGS, references=refs[i : i + 1]).frame_rewards(videos) for i in range(3)]
    for v in range(2):
        np.testing.assert_allclose(mean[v], np.mean([s[v] for s in single], axis=0), rtol=1e-5, atol=1e-6)
    best = VisualRewardModel("rapl", enc, SETTINGS, references=refs).frame_rewards(videos)  # default: best-matching reference
    assert any(not np.allclose(b, m) for b, m in zip(best, mean))


def test_plackett_luce_loss():
    logits = torch.tensor([[2.0, 0.5], [0.1, 0.3]])
    torch.testing.assert_close(plackett_luce_loss(logits), F.cross_entropy(logits, torch.zeros(2, dtype=torch.long)))
    three = torch.tensor([[3.0, 1.0, -1.0]])
    expected = -(torch.log_softmax(three, 1)[0, 0] + torch.log_softmax(three[:, 1:], 1)[0, 0])
    torch.testing.assert_close(plackett_luce_loss(three), expected)
    assert plackett_luce_loss(three) < plackett_luce_loss(three.flip(1))


def test_reference_anchored_alignment_trains_and_needs_references():
    enc = _encoder()
    videos = np.stack([np.stack(_videos((5, 5, 5), seed=3 * q)) for q in range(8)])  # (Q, 3, F, H, W, 3)
    refs = np.stack(_videos((5, 5), seed=100))
    cfg = AlignConfig(epochs=15, batch_size=4, lr=3e-3, anchor="references")
    hist = align_encoder(enc, videos, cfg, seed=0, references=refs)
    assert hist.epochs_run == 15 and hist.train_loss[-1] < hist.train_loss[0]
    with pytest.raises(ValueError, match="anchor=references needs the reference videos"):
        align_encoder(_encoder(), videos, cfg, seed=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"references": 0}, "at least one preferred reference"),
        ({"reference_mode": "max"}, "reference_mode='max'"),
        ({"align": {"anchor": "best"}}, "align.anchor='best'"),
        ({"align": {"temperature": 0.0}}, "align.temperature=0.0"),
        ({"align": {"l2sp": -1.0}}, "align.l2sp=-1.0"),
        ({"align": {"epochs": -1}}, r"reward.align.epochs=-1: expected >= 0"),
        ({"align": {"batch_size": 0}}, r"reward.align.batch_size=0: expected >= 1"),
        ({"align": {"eps": 0.0}}, r"reward.align.eps=0.0: expected > 0"),
        ({"frames": 1}, r"reward.frames=1: expected >= 2"),
        ({"eps": -0.1}, r"reward.eps=-0.1: expected > 0"),
        ({"sinkhorn_iters": 0}, r"reward.sinkhorn_iters=0: expected >= 1"),
        ({"pretrain": {"lr": 0.0}}, r"reward.pretrain.lr=0.0: expected > 0"),
        ({"pretrain": {"window": 0}}, r"reward.pretrain.window=0: expected >= 1"),
        ({"encoder": {"out_dim": 0}}, r"reward.encoder.out_dim=0: expected >= 1"),
        ({"encoder": {"norm": "layer"}}, r"reward.encoder.norm='layer': expected 'group' or 'batch'"),
        ({"encoder": {"kind": "resnet19"}}, r"reward.encoder.kind='resnet19'"),
        ({"encoder": {"channels": []}}, r"reward.encoder.channels=\[\]"),
    ],
)
def test_invalid_rapl_options_are_clear(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RaplRecipe(**kwargs)


@pytest.mark.parametrize("bt, match", [({"epochs": 0}, r"reward.bt.epochs=0: expected >= 1"), ({"lr": -1e-3}, r"reward.bt.lr=-0.001: expected > 0"),
                                       ({"hidden": 0}, r"reward.bt.hidden=0: expected >= 1")])
def test_invalid_rlhf_visual_options_are_clear(bt, match):
    with pytest.raises(ValueError, match=match):
        RlhfVisualRecipe(bt=bt)


def test_defaults_average_twenty_references_at_temperature_a_quarter():
    rec = RaplRecipe()
    assert rec.references == 20 and rec.reference_mode == "mean"
    assert rec.align_cfg.temperature == 0.25 and rec.align_cfg.anchor == "winner"


def test_length_weighted_alignment_compares_returns_not_length_free_scores():
    """Second and third video identical in frames: the paper's loss sees a tie (log 2); weighted
    by episode length, the shorter one has the higher return (OT scores are negative)."""
    same = np.stack(_videos((5,), seed=7) * 2)
    videos = np.stack([np.concatenate([np.stack(_videos((5,), seed=q)), same]) for q in range(4)])  # (4, 3, 5, H, W, 3)
    first_loss = {}
    for name, lengths in (("tie", None), ("second shorter", [[50, 40, 80]] * 4), ("second longer", [[50, 80, 40]] * 4)):
        cfg = AlignConfig(epochs=1, batch_size=4, length_weighted=lengths is not None)
        first_loss[name] = align_encoder(_encoder(), videos, cfg, seed=0, lengths=None if lengths is None else np.array(lengths)).train_loss[0]
    assert first_loss["tie"] == pytest.approx(np.log(2), abs=1e-6)
    assert first_loss["second shorter"] < np.log(2) < first_loss["second longer"]
    with pytest.raises(ValueError, match="length_weighted needs each triplet video's episode length"):
        align_encoder(_encoder(), videos, AlignConfig(epochs=1, length_weighted=True), seed=0)


def test_recipe_passes_episode_lengths_to_a_length_weighted_alignment(push2d_dataset, tmp_path):
    from robopref.data.pool import DatasetPool
    from robopref.rewards.preferences import comparisons_from_store
    from tests.rewards.visual.conftest import triplet_store

    store = triplet_store(tmp_path / "t.sqlite", push2d_dataset, 4, seed=0)
    small = {"encoder": {"kind": "small_cnn", "image_size": 32, "channels": [8, 16, 16, 16]}, "frames": 5, "pretrain": {"steps": 1}}
    rec = RaplRecipe(**small, align={"epochs": 1, "length_weighted": True})
    model, hist = rec.fit(store, comparisons_from_store(store), DatasetPool(), seed=0, progress=False)
    assert hist.epochs_run == 1 and model.meta["align"]["length_weighted"] is True


def test_l2sp_keeps_the_aligned_weights_near_the_pretrained_ones():
    videos = np.stack([np.stack(_videos((5, 5, 5), seed=3 * q)) for q in range(8)])
    drift = {}
    for lam in (0.0, 100.0):
        enc = _encoder()
        start = [q.detach().clone() for q in enc.trainable_parameters()]
        align_encoder(enc, videos, AlignConfig(epochs=10, batch_size=4, lr=3e-3, l2sp=lam), seed=0)
        drift[lam] = float(sum(((q.detach() - q0) ** 2).sum() for q, q0 in zip(enc.trainable_parameters(), start)))
    assert drift[0.0] > 0 and drift[100.0] < 0.2 * drift[0.0]
