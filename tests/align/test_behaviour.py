"""Behaviour-level ranking: each episode scored with the episodes that act most alike."""

from __future__ import annotations

import numpy as np
import pytest

import robopref.align.behaviour as behaviour_mod
import robopref.align.filtered as filtered_mod
from robopref.align.behaviour import behaviour_scores, nearest_neighbours, neighbour_mean, propagate
from robopref.align.filtered import FilteredConfig, rank_episodes
from robopref.data import Dataset
from robopref.data.pool import DatasetPool
from tests.align.test_filtered import _left_right


def _brute_force(x: np.ndarray, k: int) -> np.ndarray:
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("chunk", [1024, 7])
def test_nearest_neighbours_match_brute_force_in_any_chunking(monkeypatch, chunk):
    monkeypatch.setattr(behaviour_mod, "_CHUNK", chunk)
    x = np.random.default_rng(0).normal(size=(40, 6))
    nn = nearest_neighbours(x, 5)
    assert nn.shape == (40, 5)
    np.testing.assert_array_equal(nn, _brute_force(x, 5))
    assert not (nn == np.arange(40)[:, None]).any()  # never its own neighbour
    assert nearest_neighbours(x[:3], 10).shape == (3, 2)  # at most the other episodes
    assert nearest_neighbours(x[:1], 4).shape == (1, 0)


def test_neighbour_mean_counts_each_episode_once():
    values = np.array([4.0, 0.0, 2.0, 6.0])
    nn = np.array([[1, 2], [0, 2], [1, 3], [2, 1]])
    np.testing.assert_allclose(neighbour_mean(values, nn), [2.0, 2.0, 8 / 3, 8 / 3])
    np.testing.assert_allclose(neighbour_mean(values, np.zeros((4, 0), dtype=np.int64)), values)


def test_propagate_repeats_the_neighbour_mean():
    values = np.array([4.0, 0.0, 2.0, 6.0])
    nn = np.array([[1, 2], [0, 2], [1, 3], [2, 1]])
    np.testing.assert_allclose(propagate(values, nn, 2), [20 / 9, 20 / 9, 22 / 9, 22 / 9])  # by hand from the one-hop [2, 2, 8/3, 8/3]
    np.testing.assert_allclose(propagate(values, nn, 0), values)
    with pytest.raises(ValueError, match=r"hops=-1: expected >= 0"):
        propagate(values, nn, -1)


def test_hops_spread_a_lucky_pair_over_its_behaviour(monkeypatch):
    """Six reliable episodes score 1; the risky behaviour has a lucky pair (3 each) whose two nearest
    neighbours are each other and one unlucky episode (0). One hop leaves the pair at 2, above every
    reliable episode; by hand, two hops give 4/3 and three 8/9, now below them."""
    x = np.array([0, 0.1, 0.2, 0.3, 0.4, 0.5, 10.0, 10.05, 10.3, 10.4, 10.5, 10.6, 10.7, 10.8])[:, None]
    values = np.array([1.0] * 6 + [3.0, 3.0] + [0.0] * 6)
    monkeypatch.setattr(behaviour_mod, "behaviour_vectors", lambda pool, refs: x)
    one = behaviour_scores(values, DatasetPool(), [], k=2)
    three = behaviour_scores(values, DatasetPool(), [], k=2, hops=3)
    np.testing.assert_allclose(one[6:8], 2.0)
    np.testing.assert_allclose(three[6:8], 8 / 9)
    np.testing.assert_allclose(three[:6], 1.0)
    assert set(np.argsort(-three, kind="stable")[:6]) == set(range(6))
    np.testing.assert_allclose(behaviour_scores(values, DatasetPool(), [], k=2, hops=0), values)
    with pytest.raises(ValueError, match=r"filtered.hops=0: expected >= 1"):
        FilteredConfig(neighbours=5, hops=0)


def test_a_lucky_episode_of_another_behaviour_ranks_below_the_reliable_behaviour(line_dataset, tmp_path, monkeypatch):
    """The leftward episodes all score L; one rightward episode scores 2L by luck, the other rightward ones 0.
    By its own return the lucky one ranks first; averaged over the 3 episodes that act most alike (all
    rightward: the actions have opposite signs) it scores L/2 and every leftward episode ranks above it."""
    path = _left_right(line_dataset, tmp_path / "lr.hdf5")
    ds = Dataset(path)
    lucky = next(d for d in ds.demos if not ds.read(d, "infos/left").any())

    def returns(model, pool, refs, kappa=None):
        out = np.array([float(pool.get(r.dataset).info_sum(r, "left")) for r in refs])
        out[[r.demo for r in refs].index(lucky)] = 2.0 * max(out)
        return out

    monkeypatch.setattr(filtered_mod, "segment_returns", returns)
    left = {d for d in ds.demos if ds.read(d, "infos/left").all()}
    assert rank_episodes(object(), DatasetPool(), str(path))[0][0] == lucky
    ranked = rank_episodes(object(), DatasetPool(), str(path), neighbours=3)
    assert {d for d, _ in ranked[: len(left)]} == left
    assert dict(ranked)[lucky] == pytest.approx(0.5 * max(dict(ranked).values()))
    with pytest.raises(ValueError, match=r"filtered.neighbours=-1: expected >= 0"):
        FilteredConfig(neighbours=-1)
