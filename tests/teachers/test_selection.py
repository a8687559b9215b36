"""Query selection rules pick what they claim to pick."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.teachers.selection import disagreement_scores, entropy_scores, select


def test_scores_by_hand():
    probs = np.array([[0.1, 0.5, 0.8], [0.9, 0.5, 0.8]])
    np.testing.assert_allclose(disagreement_scores(probs), [0.16, 0.0, 0.0])
    np.testing.assert_allclose(entropy_scores(probs)[:2], [np.log(2), np.log(2)])
    assert entropy_scores(probs)[2] == pytest.approx(-(0.8 * np.log(0.8) + 0.2 * np.log(0.2)))


def test_model_rules_pick_the_top_scores():
    rng = np.random.default_rng(0)
    spread = np.linspace(0, 0.5, 100)  # candidate i: members at 0.5 ± spread[i]

    def member_probs(idx):
        return np.stack([0.5 - spread[idx], 0.5 + spread[idx]])

    picked = select(100, 5, "disagreement", rng, member_probs, oversample=100)
    assert sorted(picked) == [95, 96, 97, 98, 99]
    centred = lambda idx: np.stack([0.5 + spread[idx], 0.5 + spread[idx]])  # noqa: E731
    assert sorted(select(100, 3, "entropy", rng, centred, oversample=100)) == [0, 1, 2]


def test_uniform_is_distinct_and_model_rules_need_a_model():
    picked = select(50, 20, "uniform", np.random.default_rng(1))
    assert len(set(picked)) == 20
    with pytest.raises(ValueError, match="needs a reward ensemble"):
        select(50, 5, "entropy", np.random.default_rng(1))
    with pytest.raises(ValueError, match="expected one of"):
        select(50, 5, "random", np.random.default_rng(1))
