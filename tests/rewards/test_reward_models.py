"""Reward models fit, beat chance clearly, save/load identically, and RRL/trust options work."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.rewards import RewardConfig, TrajectoryRewardModel, TrustFilterConfig, fit_from_store, tensorize
from robopref.rewards.evaluation import evaluate_reward
from robopref.rewards.preferences import comparisons_from_store
from robopref.rewards.train import _fit_round
from robopref.rewards.trust import clean_labels, flip_and_keep, trust_filter
from tests.rewards.conftest import make_store

SMALL = dict(ensemble=2, hidden=[32, 32], epochs=60, batch_size=32, patience=60)


@pytest.mark.parametrize("kind", ["bt", "rrl"])
def test_fit_beats_chance_clearly(tmp_path, line_dataset, kind):
    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 120)
    model, hist = fit_from_store(store, pool, RewardConfig(kind=kind, **SMALL), progress=False)
    assert hist.train_loss[-1] < hist.train_loss[0]
    m = evaluate_reward(model, pool, [line_dataset], 10, np.random.default_rng(1), n_segments=300)
    assert m["accuracy"] > 0.8 and m["spearman"] > 0.7, m


def test_gaussian_reward_reports_mean_and_std_and_pessimism(tmp_path, line_dataset):
    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 60)
    model, _ = fit_from_store(store, pool, RewardConfig(kind="rrl", kappa=1.0, **SMALL), progress=False)
    x = np.random.default_rng(0).normal(size=(7, model.spec.dim)).astype(np.float32)
    mean, std = model.predict_features(x)
    assert mean.shape == std.shape == (7,) and (std > 0).all()
    np.testing.assert_allclose(model.reward(x), mean - std, rtol=1e-5)


def test_save_load_round_trip(tmp_path, line_dataset):
    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 40)
    model, _ = fit_from_store(store, pool, RewardConfig(kind="rrl", **SMALL), progress=False)
    path = model.save(tmp_path / "r.pt")
    back = TrajectoryRewardModel.load(path)
    x = np.random.default_rng(0).normal(size=(5, model.spec.dim)).astype(np.float32)
    for a, b in zip(model.predict_features(x), back.predict_features(x)):
        np.testing.assert_array_equal(a, b)
    assert back.cfg == model.cfg and back.spec.obs_keys == model.spec.obs_keys
    np.testing.assert_array_equal(back.spec.mean, model.spec.mean)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt does not exist"):
        TrajectoryRewardModel.load(tmp_path / "nope.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not a robopref trajectory reward checkpoint"):
        TrajectoryRewardModel.load(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(ValueError, match="junk.pt: not a torch checkpoint"):
        TrajectoryRewardModel.load(tmp_path / "junk.pt")


def test_trust_filter_flips_confidently_wrong_labels(tmp_path, line_dataset):
    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 80)
    cfg = RewardConfig(kind="bt", **SMALL)
    model, _ = fit_from_store(store, pool, cfg, progress=False)
    data = tensorize(comparisons_from_store(store), model.spec, pool)
    p = model.member_probs(data.x0, data.m0, data.x1, data.m1).mean(0)
    confident = (p - 0.5).abs() > 0.45
    assert confident.sum() >= 5
    wrong = data.y.clone()
    wrong[confident] = 1.0 - wrong[confident]  # corrupt exactly the labels the model is sure about
    data.y = wrong
    trust_cfg = RewardConfig(kind="bt", trust=TrustFilterConfig(enabled=True, warmup=0, flip=2.0), **SMALL)
    keep, y_fixed, flipped = trust_filter(model, data, data.y, trust_cfg, epoch=0)
    assert flipped >= int(confident.sum()) * 0.8
    restored = (y_fixed[confident] - (1.0 - wrong[confident])).abs() < 1e-6
    assert restored.float().mean() > 0.8
    assert keep.sum() > 0


def test_flip_and_keep_by_hand():
    loss = torch.tensor([0.1, 0.8, 2.5, 3.0])
    keep, y, flipped = flip_and_keep(loss, torch.tensor([1.0, 0.0, 1.0, 0.5]), bound=0.693, flip=2.0)
    assert flipped.tolist() == [False, False, True, False]  # a tie (0.5) is never flipped
    assert keep.tolist() == [1.0, 0.0, 1.0, 0.0]  # flipped labels are kept, the rest only below the bound
    assert y.tolist() == [1.0, 0.0, 0.0, 0.5]


def test_cleaning_rounds_restore_corrupted_labels(tmp_path, line_dataset):
    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 150)
    cfg = RewardConfig(kind="bt", trust=TrustFilterConfig(enabled=True, rounds=2, round_epochs=30, round_flip=2.0), **SMALL)
    model = TrajectoryRewardModel(cfg, fit_from_store(store, pool, RewardConfig(kind="bt", **{**SMALL, "epochs": 1}), progress=False)[0].spec)
    data = tensorize(comparisons_from_store(store), model.spec, pool)
    clean = data.y.clone()
    wrong = torch.from_numpy(np.random.default_rng(0).random(len(clean)) < 0.2) & (clean != 0.5)
    data.y = torch.where(wrong, 1.0 - clean, clean)
    before = [p.clone() for p in model.net.parameters()]
    y, flips = clean_labels(model.spec, data, cfg, lambda judge, y, keep: _fit_round(judge, data, y, keep, cfg))
    fixed = (y == clean)
    assert fixed[wrong].float().mean() > 0.6, f"restored {int(fixed[wrong].sum())} of {int(wrong.sum())}"
    assert (~fixed[~wrong]).float().mean() < 0.1  # few correct labels flipped
    assert flips == int((y != data.y).sum())
    assert all(torch.equal(a, b) for a, b in zip(before, model.net.parameters()))  # the model itself is untouched


def test_trust_training_beats_plain_on_corrupted_labels(tmp_path, line_dataset):
    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 200, teacher="mistake", eps_mistake=0.3)
    accs = {}
    cleaning = TrustFilterConfig(enabled=True, warmup=SMALL["epochs"], round_epochs=30, round_flip=2.0)  # cleaning rounds only
    for name, trust in (("plain", TrustFilterConfig()), ("trust", cleaning)):
        model, hist = fit_from_store(store, pool, RewardConfig(kind="bt", trust=trust, **SMALL), progress=False)
        accs[name] = evaluate_reward(model, pool, [line_dataset], 10, np.random.default_rng(1), n_segments=300)["accuracy"]
        assert (hist.cleaned_flips > 0) == (name == "trust")
    assert accs["trust"] > accs["plain"] + 0.02, accs


def test_config_errors():
    with pytest.raises(ValueError, match="reward kind='gp': expected 'bt' or 'rrl'"):
        RewardConfig(kind="gp")
    from robopref.rewards.recipe import TrajectoryRewardRecipe

    with pytest.raises(ValueError, match=r"reward config key\(s\) \['epochz'\] not recognised"):
        TrajectoryRewardRecipe(kind="bt", epochz=3)
    with pytest.raises(ValueError, match=r"flip_prob=0.5: expected in \[0, 0.5\)"):
        RewardConfig(flip_prob=0.5)
    with pytest.raises(ValueError, match="trust rounds=-1"):
        TrustFilterConfig(rounds=-1)
    with pytest.raises(ValueError, match=r"trust decay=2.0: expected in \(0, 1\]"):
        TrajectoryRewardRecipe(kind="bt", trust={"enabled": True, "decay": 2.0})
    with pytest.raises(ValueError, match="trust start=0.5, end=0.9: expected 0 < end <= start"):
        TrustFilterConfig(start=0.5)
    bad = {"lr": (-1.0, "reward lr=-1.0: expected > 0"), "epochs": (0, "reward epochs=0: expected >= 1"),
           "batch_size": (0, "reward batch_size=0"), "patience": (0, "reward patience=0"),
           "min_val": (-1, "reward min_val=-1"), "hidden": ([64, 0], r"reward hidden=\[64, 0\]: expected layer widths >= 1"),
           "kl_weight": (-0.1, "kl_weight=-0.1"), "logvar_min": (5.0, "logvar_min=5.0, logvar_max=4.0"),
           "threads": (0, "reward threads=0: expected >= 1")}
    for key, (value, message) in bad.items():
        with pytest.raises(ValueError, match=message):
            RewardConfig(**{key: value})
    assert RewardConfig(hidden=[]).hidden == []  # a linear reward is allowed


def test_weight_decay_shrinks_the_reward_net_and_is_validated(tmp_path, line_dataset):
    """The recipe key reaches the optimiser (smaller weights, same seed); a negative one is refused."""
    from robopref.rewards.recipe import TrajectoryRewardRecipe

    store, pool = make_store(tmp_path / "p.sqlite", line_dataset, 60)
    norms = {}
    for wd in (0.0, 0.05):
        cfg = TrajectoryRewardRecipe(kind="bt", weight_decay=wd, **SMALL).config
        model, _ = fit_from_store(store, pool, cfg, progress=False)
        norms[wd] = float(sum(p.pow(2).sum() for p in model.net.parameters()))
    assert norms[0.05] < 0.9 * norms[0.0], norms
    with pytest.raises(ValueError, match=r"weight_decay=-0.1: expected >= 0"):
        RewardConfig(weight_decay=-0.1)


@pytest.mark.parametrize("kind", ["bt", "rrl"])
def test_real_steps_forward_equals_the_padded_one(kind):
    """Training runs the reward net on real steps only; padding must change nothing."""
    from robopref.rewards.model import TrajectoryRewardNet

    torch.manual_seed(0)
    net = TrajectoryRewardNet(5, RewardConfig(kind=kind, ensemble=3, hidden=[16, 16]))
    x = torch.randn(4, 7, 5)
    mask = torch.zeros(4, 7)
    for i, n in enumerate([7, 3, 1, 5]):
        mask[i, :n] = 1.0
    mu, logvar = net(x)
    mu_real, logvar_real = net.forward_steps(x, mask)
    torch.testing.assert_close(mu_real, mu * mask)
    assert torch.all(mu_real[:, mask == 0] == 0)
    if kind == "rrl":
        torch.testing.assert_close(logvar_real * mask, logvar * mask)
    else:
        assert logvar is None and logvar_real is None
    mu_real.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
