"""Reward-filtered fine-tuning: the reward's top episodes are the ones imitated, and the policy moves to them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import robopref.align.filtered as filtered_mod
from robopref.align.filtered import FilteredConfig, filtered_finetune, rank_episodes
from robopref.data import Dataset, DatasetWriter
from robopref.data.pool import DatasetPool
from robopref.policies import TrainConfig, load_policy, read_checkpoint, train_policy
from tests.policies.conftest import tiny_config


def _left_right(src_path, path):
    """The line demos twice: as recorded (pushing right) and mirrored (pushing left, marked by info ``left``)."""
    src = Dataset(src_path)
    with DatasetWriter(path, env_args=src.env_args, mode="w") as w:
        for d in src.demos:
            ep = src.episode(d)
            w.add_episode(replace(ep, actions=np.abs(ep.actions), infos={**ep.infos, "left": np.zeros(len(ep.actions))}))
            w.add_episode(replace(ep, actions=-np.abs(ep.actions), infos={**ep.infos, "left": np.ones(len(ep.actions))}))
    return path


@pytest.fixture
def by_left(monkeypatch):
    """A stand-in reward whose return is the episode's ``left`` info: it prefers the leftward demos."""
    monkeypatch.setattr(filtered_mod, "segment_returns",
                        lambda model, pool, refs, kappa=None: np.array([pool.get(r.dataset).info_sum(r, "left") for r in refs]))
    return object()


def test_rank_episodes_orders_by_learned_return(line_dataset, tmp_path, by_left):
    path = _left_right(line_dataset, tmp_path / "lr.hdf5")
    ranked = rank_episodes(by_left, DatasetPool(), str(path))
    ds = Dataset(path)
    assert len(ranked) == len(ds.demos)
    returns = [r for _, r in ranked]
    assert returns == sorted(returns, reverse=True)
    half = len(ranked) // 2
    assert all(ds.read(d, "infos/left").all() for d, _ in ranked[:half])  # every leftward demo ranks above every rightward one


def test_fine_tuning_on_the_top_episodes_moves_the_policy_to_them(line_dataset, tmp_path, by_left):
    path = _left_right(line_dataset, tmp_path / "lr.hdf5")
    base = train_policy(tiny_config(), TrainConfig(epochs=6, batch_size=16, lr=3e-3, lr_warmup_steps=5, eval_every=0, progress=False), str(path), tmp_path / "base")
    cfg = FilteredConfig(keep=0.5, epochs=30, lr=3e-3, lr_warmup_steps=5, batch_size=16)
    aligned, info = filtered_finetune(base["last"], by_left, str(path), cfg, tmp_path / "filtered", progress=False)
    assert info["episodes_kept"] == info["episodes_ranked"] // 2 and info["kept_return_mean"] > info["all_return_mean"]
    meta = read_checkpoint(aligned)["meta"]
    assert meta["init_from"] == base["last"] and meta["train_demos"] + meta["val_demos"] == info["episodes_kept"]
    states = Dataset(path).read("demo_0", "obs/state")

    def mean_action(ckpt) -> float:
        policy = load_policy(ckpt, device="cpu")
        policy.reset(seed=0)
        return float(np.mean([policy.act({"state": s}) for s in states]))

    before, after = mean_action(base["last"]), mean_action(aligned)
    assert after < -0.5 and after < before - 0.25  # the filtered policy pushes left; the mixed one much less so


def test_bad_settings_are_refused(line_dataset, tmp_path):
    with pytest.raises(ValueError, match=r"filtered.keep=0: expected a fraction in \(0, 1\]"):
        FilteredConfig(keep=0)
    with pytest.raises(ValueError, match=r"filtered.epochs=0: expected >= 1"):
        FilteredConfig(epochs=0)
    with pytest.raises(ValueError, match=r"line.hdf5: demo\(s\) \['demo_99'\] are not in the dataset"):
        train_policy(tiny_config(), TrainConfig(epochs=1, eval_every=0, progress=False), str(line_dataset), tmp_path / "x", demos=["demo_0", "demo_99"])
