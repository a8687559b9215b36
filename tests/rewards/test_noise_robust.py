"""Noise-robust options of the trajectory reward (issue #4, label noise): generalised
cross-entropy and soft bootstrapping as the Bradley–Terry loss, and co-teaching-style
peer selection in the trust filter."""

from __future__ import annotations

import math

import pytest
import torch

from robopref.rewards import RewardConfig, TrajectoryRewardModel, TrustFilterConfig, fit_from_store, tensorize
from robopref.rewards.losses import soft_bt_loss
from robopref.rewards.preferences import comparisons_from_store
from robopref.rewards.trust import peer_comparison_loss, per_comparison_loss, trust_filter
from tests.rewards.conftest import make_store

SMALL = dict(hidden=[32, 32], epochs=40, batch_size=32, patience=40)


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_generalised_cross_entropy_by_hand():
    logits, y = torch.tensor([1.0, 1.0, -6.0]), torch.tensor([1.0, 0.3, 1.0])
    q = 0.5
    want = [(1 - sig(1) ** q) / q, (1 - 0.3 * sig(1) ** q - 0.7 * sig(-1) ** q) / q, (1 - sig(-6) ** q) / q]
    assert soft_bt_loss(logits, y, reduce=False, gce_q=q).tolist() == pytest.approx(want, rel=1e-5)
    # q → 0 is the cross-entropy; q = 1 bounds a contradicted label's loss by 1 (MAE)
    ce = soft_bt_loss(logits, y, reduce=False)
    assert torch.allclose(soft_bt_loss(logits, y, reduce=False, gce_q=1e-3), ce, rtol=5e-3)
    assert float(soft_bt_loss(torch.tensor([-50.0]), torch.tensor([1.0]), gce_q=1.0)) == pytest.approx(1.0)


def test_gce_gradient_vanishes_on_confidently_contradicted_labels():
    z = torch.tensor([-8.0, 0.0], requires_grad=True)
    soft_bt_loss(z, torch.tensor([1.0, 1.0]), reduce=False, gce_q=0.7).sum().backward()
    g_gce = z.grad.abs().clone()
    z.grad = None
    soft_bt_loss(z, torch.tensor([1.0, 1.0]), reduce=False).sum().backward()
    # cross-entropy pulls hardest on the contradicted label; GCE pulls it far less than an undecided one
    assert z.grad.abs()[0] > z.grad.abs()[1] and g_gce[0] < 0.02 * g_gce[1]


def test_soft_bootstrapping_by_hand():
    logits, y = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])
    b = 0.25
    t = [(1 - b) * 1 + b * sig(2), (1 - b) * 1 + b * sig(-1)]
    want = [-(t[i] * math.log(sig(z)) + (1 - t[i]) * math.log(sig(-z))) for i, z in enumerate([2.0, -1.0])]
    assert soft_bt_loss(logits, y, reduce=False, self_target=b).tolist() == pytest.approx(want, rel=1e-5)
    z = logits.clone().requires_grad_(True)
    soft_bt_loss(z, y, self_target=b).backward()  # the model's own prediction is a target, not differentiated
    assert z.grad.tolist() == pytest.approx([(sig(z0) - ti) / 2 for z0, ti in zip([2.0, -1.0], t)], rel=1e-5)


def test_robust_loss_options_are_validated():
    with pytest.raises(ValueError, match=r"gce_q=1.5: expected in \[0, 1\]"):
        RewardConfig(gce_q=1.5)
    with pytest.raises(ValueError, match=r"self_target=1.0: expected in \[0, 1\)"):
        RewardConfig(self_target=1.0)
    from robopref.rewards.recipe import TrajectoryRewardRecipe

    assert TrajectoryRewardRecipe(kind="bt", gce_q=0.5, trust={"enabled": True, "peer_select": True}).config.trust.peer_select


@pytest.mark.parametrize("over", [dict(gce_q=0.5), dict(self_target=0.2), dict(pseudo_pairs=200), dict(trust=TrustFilterConfig(enabled=True, warmup=5, rounds=0, peer_select=True))])
def test_robust_options_fit_beats_chance(tmp_path, line_dataset, over):
    from robopref.rewards.evaluation import evaluate_reward
    import numpy as np

    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 120, teacher="mistake", eps_mistake=0.2)
    model, hist = fit_from_store(store, pool, RewardConfig(kind="bt", ensemble=3, **SMALL, **over), progress=False)
    m = evaluate_reward(model, pool, [line_dataset], 10, np.random.default_rng(1), n_segments=300)
    assert m["accuracy"] > 0.75, m


def test_peer_selection_judges_each_member_by_the_others(tmp_path, line_dataset):
    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 60)
    model, _ = fit_from_store(store, pool, RewardConfig(kind="bt", ensemble=3, **SMALL), progress=False)
    data = tensorize(comparisons_from_store(store), model.spec, pool)
    p = model.member_probs(data.x0, data.m0, data.x1, data.m1)
    loss = peer_comparison_loss(model, data, data.y)
    others = p[[1, 2]].mean(0).clamp(1e-6, 1 - 1e-6)
    assert loss.shape == (3, len(data))
    torch.testing.assert_close(loss[0], -(data.y * others.log() + (1 - data.y) * (1 - others).log()))
    # a member that memorised a wrong label still has it judged (and flipped) by its peers
    cfg = RewardConfig(kind="bt", ensemble=3, trust=TrustFilterConfig(enabled=True, warmup=0, flip=2.0, peer_select=True), **SMALL)
    keep, y, flipped = trust_filter(model, data, data.y, cfg, epoch=0)
    assert keep.shape == y.shape == (3, len(data))
    # one member: peer loss is its own loss
    one = TrajectoryRewardModel(RewardConfig(kind="bt", ensemble=1, **SMALL), model.spec)
    torch.testing.assert_close(peer_comparison_loss(one, data, data.y)[0], per_comparison_loss(one, data, data.y))


def test_pseudo_pairs_are_confident_new_pairs_of_labelled_segments(tmp_path, line_dataset):
    from robopref.rewards.train import _with_pseudo_pairs

    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 60)
    model, _ = fit_from_store(store, pool, RewardConfig(kind="bt", ensemble=2, **SMALL), progress=False)
    data = tensorize(comparisons_from_store(store), model.spec, pool)
    cfg = RewardConfig(kind="bt", ensemble=2, pseudo_pairs=200, pseudo_threshold=0.9, pseudo_weight=0.5, **SMALL)
    w = torch.ones(2, len(data))
    both, y, w2 = _with_pseudo_pairs(model, data, data.y, w, cfg, torch.Generator().manual_seed(0))
    n = len(both) - len(data)
    assert 0 < n <= 200 and y.shape == (len(both),) and w2.shape == (2, len(both))
    torch.testing.assert_close(both.x0[: len(data)], data.x0)  # labelled comparisons first, unchanged
    assert (w2[:, len(data):] == 0.5).all()
    p = model.member_probs(both.x0[len(data):], both.m0[len(data):], both.x1[len(data):], both.m1[len(data):]).mean(0)
    assert ((p >= 0.9) | (p <= 0.1)).all() and torch.equal(y[len(data):], (p > 0.5).float())  # the model's sure answers
    segs = torch.cat([data.x0, data.x1]).flatten(1)
    assert all((segs == s).all(1).any() for s in both.x0[len(data):].flatten(1))  # only segments that were labelled
    with pytest.raises(ValueError, match="pseudo_threshold=0.4"):
        RewardConfig(pseudo_pairs=10, pseudo_threshold=0.4)
