"""Visual rewards are scored on held-out episodes only when there are enough of them (the
same minimum as trajectory rewards); with fewer, the score is in-sample and says so."""

from __future__ import annotations

import logging

import numpy as np

from robopref.data.pool import DatasetPool
from robopref.rewards.evaluation import MIN_HELDOUT_EPISODES
from robopref.rewards.preferences import comparisons_from_store
from robopref.rewards.visual.recipe import RaplRecipe
from tests.rewards.visual.conftest import EPISODES, triplet_store

SMALL = {"encoder": {"kind": "small_cnn", "image_size": 32, "channels": [8, 8, 8, 8]}, "frames": 6,
         "pretrain": {"steps": 2, "batch_size": 8}, "align": {"epochs": 0}}


def _fit_on(push2d_dataset, tmp_path, train: list[str] | None, triplets: int):
    """A RAPL reward fit on ``triplets`` triplets over ``train``, and how many episodes its labels left untouched."""
    store = triplet_store(tmp_path / "t.sqlite", push2d_dataset, triplets, seed=0, demos=train)
    comps = comparisons_from_store(store)
    rec = RaplRecipe(**SMALL)
    model, _ = rec.fit(store, comps, DatasetPool(), seed=0, progress=False)
    touched = {r.demo for c in comps for r in (c.first, c.second)}
    return rec, model, EPISODES - len(touched)


def test_enough_untouched_episodes_are_held_out(push2d_dataset, tmp_path):
    rec, model, untouched = _fit_on(push2d_dataset, tmp_path, [f"demo_{i}" for i in range(EPISODES // 2)], 4)
    assert untouched >= MIN_HELDOUT_EPISODES
    out = rec.evaluate(model, DatasetPool(), [push2d_dataset], 0, np.random.default_rng(0), 100, "pref_score")
    assert out["heldout"] is True and out["split"] == "episodes" and out["episodes"] == untouched


def test_too_few_untouched_episodes_score_in_sample_and_warn(push2d_dataset, tmp_path, caplog):
    rec, model, untouched = _fit_on(push2d_dataset, tmp_path, None, 14)  # labels over all but a few episodes
    assert 0 < untouched < MIN_HELDOUT_EPISODES  # a few left: still too few to rank
    with caplog.at_level(logging.WARNING, logger="robopref.rewards.visual.recipe"):
        out = rec.evaluate(model, DatasetPool(), [push2d_dataset], 0, np.random.default_rng(0), 100, "pref_score")
    assert out["heldout"] is False and out["split"] == "none" and out["episodes"] == EPISODES
    assert "scored in-sample" in caplog.text and f"only {untouched} episode(s)" in caplog.text
