"""DPO pairs from rollouts ranked by a reward: random pairs, and same-start pairs from `collect repeats=`."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.align.pairs import pairs_from_reward
from robopref.data.dataset import Dataset
from robopref.data.episode import Episode
from robopref.data.pool import DatasetPool
from robopref.data.writer import DatasetWriter
from robopref.stages.collect import episode_seeds


class SumOfInfo:
    """A stand-in reward whose return is the episode's recorded ``score`` info (a trajectory reward needs training)."""


def _write(path, seeds_and_scores):
    with DatasetWriter(path, env_args={"env_name": "test", "type": 4, "env_kwargs": {}}) as w:
        for seed, score in seeds_and_scores:
            T = 5
            ep = Episode(np.zeros((T, 1), np.float32), np.full(T, score / T), np.r_[np.zeros(T - 1), 1].astype(np.int64),
                         obs={"state": np.zeros((T, 2), np.float32)}, infos={"pref_score": np.full(T, score / T)}, attrs={"seed": seed})
            w.add_episode(ep)
    return str(path)


def test_episode_seeds_share_the_initial_state_within_a_group():
    assert episode_seeds(3, 7) == (3 * 100_003 + 7, None)  # repeats=1: as before
    groups = [episode_seeds(0, i, repeats=3) for i in range(6)]
    assert [g[0] for g in groups] == [0, 0, 0, 1, 1, 1]
    assert len({g[1] for g in groups}) == 6
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        episode_seeds(0, 0, repeats=0)


def test_same_start_pairs_compare_only_rollouts_of_one_initial_state(tmp_path, monkeypatch):
    path = _write(tmp_path / "r.hdf5", [(10, -1.0), (10, -5.0), (10, -3.0), (11, -2.0), (12, 0.0), (12, -9.0)])
    import robopref.align.pairs as pairs_mod

    monkeypatch.setattr(pairs_mod, "segment_returns", lambda model, pool, refs, kappa=None: np.array([pool.get(r.dataset).info_sum(r, "pref_score") for r in refs]))
    pool = DatasetPool()
    pairs = pairs_from_reward(SumOfInfo(), pool, [path], n=100, length=0, rng=np.random.default_rng(0), same_start=True)
    ds = Dataset(path)
    seeds = {d: ds.demo_attrs(d)["seed"] for d in ds.demos}
    assert len(pairs) == 3 + 1  # three from seed 10, one from seed 12, none from the lone seed 11
    for win, lose, w in pairs:
        assert seeds[win.demo] == seeds[lose.demo] and w == 1.0
        assert ds.info_sum(win, "pref_score") > ds.info_sum(lose, "pref_score")
    assert len(pairs_from_reward(SumOfInfo(), pool, [path], n=2, length=0, rng=np.random.default_rng(0), same_start=True)) == 2
    lone = _write(tmp_path / "lone.hdf5", [(1, 0.0), (2, 1.0)])
    with pytest.raises(ValueError, match="no initial state was rolled out twice .* `robopref collect repeats=2`"):
        pairs_from_reward(SumOfInfo(), pool, [lone], n=5, length=0, rng=np.random.default_rng(0), same_start=True)


def test_contrast_pairs_take_winners_from_the_top_and_losers_from_the_bottom(tmp_path, monkeypatch):
    scores = [-8.0, -1.0, -5.0, 0.0, -3.0, -9.0, -2.0, -4.0]
    path = _write(tmp_path / "r.hdf5", [(i, s) for i, s in enumerate(scores)])
    import robopref.align.pairs as pairs_mod

    monkeypatch.setattr(pairs_mod, "segment_returns", lambda model, pool, refs, kappa=None: np.array([pool.get(r.dataset).info_sum(r, "pref_score") for r in refs]))
    pool = DatasetPool()
    ds = Dataset(path)
    pairs = pairs_from_reward(SumOfInfo(), pool, [path], n=40, length=0, rng=np.random.default_rng(0), contrast=0.25)
    assert len(pairs) == 40
    assert {round(ds.info_sum(w, "pref_score"), 6) for w, _, _ in pairs} <= {0.0, -1.0}  # the top quarter
    assert {round(ds.info_sum(l, "pref_score"), 6) for _, l, _ in pairs} <= {-9.0, -8.0}  # the bottom quarter
    with pytest.raises(ValueError, match=r"contrast=0.8: expected a fraction in \(0, 0.5\]"):
        pairs_from_reward(SumOfInfo(), pool, [path], n=4, length=0, rng=np.random.default_rng(0), contrast=0.8)
    with pytest.raises(ValueError, match="same_start and contrast are two ways of choosing pairs"):
        pairs_from_reward(SumOfInfo(), pool, [path], n=4, length=0, rng=np.random.default_rng(0), contrast=0.25, same_start=True)
