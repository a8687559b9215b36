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


def _first_steps(ep, n: int):
    """The first ``n`` steps of ``ep``: every per-step array cut to ``n``."""
    cut = lambda d: None if d is None else {k: v[:n] for k, v in d.items()}  # noqa: E731
    return replace(ep, actions=ep.actions[:n], rewards=ep.rewards[:n], dones=ep.dones[:n], obs=cut(ep.obs), next_obs=cut(ep.next_obs),
                   states=None if ep.states is None else ep.states[:n], infos=cut(ep.infos), action_dict=cut(ep.action_dict))


def test_per_step_ranking_removes_the_rewards_preference_for_short_episodes(line_dataset, tmp_path, monkeypatch):
    src = Dataset(_left_right(line_dataset, tmp_path / "lr.hdf5"))
    path = tmp_path / "lengths.hdf5"
    with DatasetWriter(path, env_args=src.env_args, mode="w") as w:  # the rightward episodes stop at a third
        for d in src.demos:
            ep = src.episode(d)
            w.add_episode(ep if ep.infos["left"].all() else _first_steps(ep, len(ep) // 3))
    # a learned reward with a per-step offset: -1 a step, +0.5 a step pushing left; summed, the short rightward
    # episodes (-L/3) beat the long leftward ones (-L/2); per step the leftward ones (-0.5) beat them (-1)
    monkeypatch.setattr(filtered_mod, "segment_returns", lambda model, pool, refs, kappa=None: np.array(
        [-r.length + 0.5 * pool.get(r.dataset).info_sum(r, "left") for r in refs]))
    ds = Dataset(path)
    left = {d for d in ds.demos if ds.read(d, "infos/left").all()}
    half = len(ds.demos) // 2
    by_return = rank_episodes(object(), DatasetPool(), str(path))
    assert not {d for d, _ in by_return[:half]} & left  # summed: every short episode first
    per_step = rank_episodes(object(), DatasetPool(), str(path), per_step=True)
    assert {d for d, _ in per_step[:half]} == left
    assert per_step[0][1] == pytest.approx(-0.5)
    with pytest.raises(ValueError, match=r"filtered.rank_by='mean': expected one of \['return', 'per_step'\]"):
        FilteredConfig(rank_by="mean")


def test_fine_tuning_on_the_top_episodes_moves_the_policy_to_them(line_dataset, tmp_path, by_left):
    path = _left_right(line_dataset, tmp_path / "lr.hdf5")
    base = train_policy(tiny_config(), TrainConfig(epochs=6, batch_size=16, lr=3e-3, lr_warmup_steps=5, eval_every=0, progress=False), str(path), tmp_path / "base")
    cfg = FilteredConfig(keep=0.5, epochs=30, lr=3e-3, lr_warmup_steps=5, batch_size=16)
    aligned, info = filtered_finetune(base["last"], by_left, str(path), cfg, tmp_path / "filtered", progress=False)
    assert info["episodes_kept"] == info["episodes_ranked"] // 2 and info["kept_return_mean"] > info["all_return_mean"]
    ds = Dataset(path)
    assert set(info["kept"]) == {d for d in ds.demos if ds.read(d, "infos/left").all()}  # the summary names what was imitated
    meta = read_checkpoint(aligned)["meta"]
    assert meta["init_from"] == base["last"] and meta["train_demos"] + meta["val_demos"] == info["episodes_kept"]
    states = ds.read("demo_0", "obs/state")

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


def test_steps_caps_each_rounds_fine_tuning(line_dataset, tmp_path, by_left):
    """``filtered.steps`` bounds a round's optimizer steps however many episodes are kept
    (the quickstart's later rounds keep long rollouts); without it every pass is whole."""
    path = _left_right(line_dataset, tmp_path / "lr.hdf5")
    base = train_policy(tiny_config(), TrainConfig(epochs=1, batch_size=4, eval_every=0, progress=False), str(path), tmp_path / "base")
    whole = FilteredConfig(keep=1.0, epochs=2, lr_warmup_steps=1, batch_size=4)
    _, full = filtered_finetune(base["last"], by_left, str(path), whole, tmp_path / "whole", progress=False)
    assert full["finetune"]["step"] > 6  # two whole passes are more than the cap below
    _, capped = filtered_finetune(base["last"], by_left, str(path), replace(whole, steps=7), tmp_path / "capped", progress=False)
    assert capped["finetune"]["step"] == 6  # 2 passes of 7 // 2 = 3 batches: never more than `steps`
    assert capped["filtered"]["steps"] == 7
    with pytest.raises(ValueError, match=r"filtered.steps=3: expected null or >= filtered.epochs \(5\)"):
        FilteredConfig(epochs=5, steps=3)


@pytest.fixture
def by_leftward_actions(monkeypatch):
    """A stand-in reward whose return is minus the sum of the episode's actions: it prefers pushing left,
    and it scores the policy's own rollouts too (they have actions, not the ``left`` info)."""
    monkeypatch.setattr(filtered_mod, "segment_returns",
                        lambda model, pool, refs, kappa=None: np.array([-float(pool.get(r.dataset).read(r.demo, "actions").sum()) for r in refs]))
    return object()


def test_later_rounds_rank_the_policys_own_rollouts_with_the_dataset(line_dataset, tmp_path, by_leftward_actions):
    from tests.fakes import LINE_ENV_CFG

    path = _left_right(line_dataset, tmp_path / "lr.hdf5")
    n_demos, before = len(Dataset(path).demos), path.read_bytes()
    base = train_policy(tiny_config(), TrainConfig(epochs=4, batch_size=16, lr=3e-3, lr_warmup_steps=5, eval_every=0, progress=False), str(path), tmp_path / "base")
    cfg = FilteredConfig(keep=0.5, epochs=4, lr=3e-3, lr_warmup_steps=5, batch_size=16, rounds=3, rollouts=3, rollout_batch=2)  # waves of 2 and 1
    out = tmp_path / "raft"
    aligned, info = filtered_finetune(base["last"], by_leftward_actions, str(path), cfg, out, seed=7, progress=False, env_cfg=LINE_ENV_CFG)

    assert [r["round"] for r in info["rounds"]] == [1, 2, 3]
    assert [r["episodes_ranked"] for r in info["rounds"]] == [n_demos, n_demos + 3, n_demos + 6]  # each later round adds its rollouts
    assert all(0.0 <= r["rollout_success"] <= 1.0 and r["rollouts"] == 3 for r in info["rounds"][1:])
    pool = Dataset(out / "pool.hdf5")
    rollouts = [d for d in pool.demos if pool.demo_attrs(d).get("source") == "policy_rollout"]
    assert len(pool.demos) == n_demos + 6 and len(rollouts) == 6
    assert path.read_bytes() == before and len(Dataset(path).demos) == n_demos  # the user's dataset is only read
    meta = read_checkpoint(aligned)["meta"]  # each round starts from the one before
    assert meta["init_from"] == str(out / "round_2" / "checkpoints" / "last.ckpt")
    assert info["episodes_ranked"] == n_demos + 6 and info["filtered"]["rounds"] == 3


def test_later_rounds_need_an_env_to_roll_out_in(line_dataset, tmp_path, by_leftward_actions):
    with pytest.raises(ValueError, match=r"filtered.rounds=0: expected >= 1"):
        FilteredConfig(rounds=0)
    with pytest.raises(ValueError, match=r"filtered.rollouts=0: rounds > 1 need >= 1"):
        FilteredConfig(rounds=2, rollouts=0)
    with pytest.raises(ValueError, match=r"filtered.rollout_batch=0: expected >= 1"):
        FilteredConfig(rollout_batch=0)
    with pytest.raises(ValueError, match=r"filtered.rounds=2 rolls the policy out between rounds: pass env="):
        filtered_finetune("unused.ckpt", by_leftward_actions, str(line_dataset), FilteredConfig(rounds=2), tmp_path / "x", progress=False)


def _with_success(src_path, path, succeeded: set[int] | None):
    """A copy of ``src_path`` whose episode i succeeds iff i in ``succeeded`` (None: no success info at all)."""
    src = Dataset(src_path)
    with DatasetWriter(path, env_args=src.env_args, mode="w") as w:
        for i, d in enumerate(src.demos):
            ep = src.episode(d)
            infos = {k: v for k, v in ep.infos.items() if k != "success"}
            if succeeded is not None:
                infos["success"] = np.zeros(len(ep.actions)) + (i in succeeded)
            w.add_episode(replace(ep, infos=infos))
    return path


def test_success_only_ranks_only_the_episodes_that_did_the_task(line_dataset, tmp_path, by_left, monkeypatch):
    path = _left_right(line_dataset, tmp_path / "lr.hdf5")
    n = len(Dataset(path).demos)
    done = {i for i in range(n) if i % 4 != 1}  # every other leftward demo (odd indices) fails
    path = _with_success(path, tmp_path / "succ.hdf5", done)
    captured = {}

    def fake_train(policy_cfg, train_cfg, dataset, out_dir, **kw):
        captured["demos"] = list(kw["demos"])
        return {"last": str(tmp_path / "last.ckpt"), "final": {}}

    monkeypatch.setattr("robopref.policies.train.train_policy", fake_train)
    monkeypatch.setattr("robopref.policies.checkpoint.read_checkpoint", lambda p: {"policy_config": tiny_config().to_dict(), "meta": {}})
    (tmp_path / "last.ckpt").write_bytes(b"x")
    cfg = FilteredConfig(keep=0.34, success_only=True)  # 9 successful episodes, 3 of them leftward: keep 3
    _, info = filtered_finetune(tmp_path / "base.ckpt", by_left, str(path), cfg, tmp_path / "out", progress=False)
    assert info["episodes_excluded_unsuccessful"] == n - len(done) and info["episodes_ranked"] == len(done)
    ds = Dataset(path)
    assert all(int(d.split("_")[1]) in done for d in captured["demos"])  # no failed episode is imitated
    assert all(ds.read(d, "infos/left").all() for d in captured["demos"])  # and the reward still orders the rest
    _, plain = filtered_finetune(tmp_path / "base.ckpt", by_left, str(path), replace(cfg, success_only=False), tmp_path / "out2", progress=False)
    assert plain["episodes_excluded_unsuccessful"] == 0 and any(int(d.split("_")[1]) not in done for d in captured["demos"])

    with pytest.raises(ValueError, match=r"succ_none.hdf5: filtered.success_only needs infos/success in every episode"):
        filtered_finetune(tmp_path / "base.ckpt", by_left, str(_with_success(path, tmp_path / "succ_none.hdf5", None)), cfg, tmp_path / "o3", progress=False)
    with pytest.raises(ValueError, match=r"succ_zero.hdf5: filtered.success_only: none of its \d+ episodes succeeds"):
        filtered_finetune(tmp_path / "base.ckpt", by_left, str(_with_success(path, tmp_path / "succ_zero.hdf5", set())), cfg, tmp_path / "o4", progress=False)


def test_each_round_is_logged(line_dataset, tmp_path, by_leftward_actions, caplog):
    from tests.fakes import LINE_ENV_CFG

    path = _left_right(line_dataset, tmp_path / "lr.hdf5")
    base = train_policy(tiny_config(), TrainConfig(epochs=1, batch_size=16, eval_every=0, progress=False), str(path), tmp_path / "base")
    with caplog.at_level("INFO", logger="robopref.align.filtered"):
        filtered_finetune(base["last"], by_leftward_actions, str(path), FilteredConfig(keep=0.5, epochs=1, batch_size=16, rounds=2, rollouts=2),
                          tmp_path / "raft", progress=False, env_cfg=LINE_ENV_CFG)
    lines = [r.getMessage() for r in caplog.records if r.name == "robopref.align.filtered"]
    assert lines[0].startswith("filtered round 1/2: ranked 12 episodes (0 unsuccessful left out), kept the top 6")
    assert lines[1].startswith("filtered round 2/2: 2 rollouts (success ") and "ranked 14 episodes" in lines[1]
