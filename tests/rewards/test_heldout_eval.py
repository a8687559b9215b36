"""The reward stage scores a trajectory reward on segments no label saw, and says when it cannot."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from robopref.data import Dataset
from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef
from robopref.rewards import RewardConfig, fit_from_store
from robopref.rewards.evaluation import evaluate_reward, heldout_segments
from tests.rewards.conftest import make_store

LENGTH = 10


@pytest.fixture()
def pool(line_dataset) -> DatasetPool:
    return DatasetPool([Dataset(line_dataset)])


def demos(pool: DatasetPool, path: str) -> list[str]:
    return list(pool.get(path).demos)


def overlaps(s: SegmentRef, labelled: list[SegmentRef]) -> bool:
    return any(s.dataset == t.dataset and s.demo == t.demo and s.start < t.start + t.length and t.start < s.start + s.length for t in labelled)


def test_untouched_episodes_are_preferred(pool, line_dataset):
    names = demos(pool, line_dataset)
    labelled = [SegmentRef(line_dataset, d, 0, LENGTH) for d in names[:-6]]  # 6 episodes no label touches
    segs, split = heldout_segments(pool, [line_dataset], LENGTH, 100, np.random.default_rng(0), labelled)
    assert split == "episodes" and segs
    assert {s.demo for s in segs} <= set(names[-6:])


def test_windows_disjoint_from_every_label_when_all_episodes_are_touched(pool, line_dataset):
    # every episode labelled on its first 10 steps: the label-free windows start at step 10 or later
    labelled = [SegmentRef(line_dataset, d, 0, LENGTH) for d in demos(pool, line_dataset)]
    segs, split = heldout_segments(pool, [line_dataset], LENGTH, 100, np.random.default_rng(0), labelled)
    assert split == "windows" and len(segs) >= 50
    assert not any(overlaps(s, labelled) for s in segs)
    assert min(s.start for s in segs) >= LENGTH and len(set(segs)) == len(segs)


def test_in_sample_when_labels_cover_every_window(pool, line_dataset, caplog):
    n = pool.get(line_dataset).num_samples(demos(pool, line_dataset)[0])
    labelled = [SegmentRef(line_dataset, d, start, LENGTH) for d in demos(pool, line_dataset) for start in range(0, n - LENGTH + 1, 5)]
    with caplog.at_level(logging.WARNING, logger="robopref.rewards.evaluation"):
        segs, split = heldout_segments(pool, [line_dataset], LENGTH, 100, np.random.default_rng(0), labelled)
    assert split == "none" and len(segs) == 100
    assert "in-sample" in caplog.text and line_dataset in caplog.text


def test_in_sample_when_the_label_free_windows_lie_in_a_few_episodes(pool, line_dataset):
    names = demos(pool, line_dataset)
    n = pool.get(line_dataset).num_samples(names[0])
    labelled = [SegmentRef(line_dataset, d, 0, n) for d in names[2:]]  # whole episodes: only 2 untouched
    segs, split = heldout_segments(pool, [line_dataset], LENGTH, 100, np.random.default_rng(0), labelled)
    assert split == "none" and {s.demo for s in segs} - set(names[:2])  # random windows of the whole data


def test_evaluate_reward_reports_the_split(tmp_path, pool, line_dataset):
    store, _ = make_store(tmp_path / "p.sqlite", line_dataset, 60)
    model, _ = fit_from_store(store, pool, RewardConfig(ensemble=1, hidden=[16], epochs=5), progress=False)
    names = demos(pool, line_dataset)
    free = evaluate_reward(model, pool, [line_dataset], LENGTH, np.random.default_rng(1), 200, labelled=[SegmentRef(line_dataset, names[0], 0, LENGTH)])
    assert free["heldout"] is True and free["split"] == "episodes" and free["segments"] <= 200
    unknown = evaluate_reward(model, pool, [line_dataset], LENGTH, np.random.default_rng(1), 200)
    assert unknown["heldout"] is False and unknown["split"] == "unknown"


def test_label_holdout_keeps_the_same_episodes_out(pool, line_dataset):
    from robopref.data.sampling import held_out_demos
    from robopref.teachers.queries import candidate_queries

    ds = pool.get(line_dataset)
    kept = held_out_demos(ds, 0.2)
    assert len(kept) == 6 and kept == held_out_demos(ds, 0.2)  # ⌈0.2 × 30⌉, the same every call
    assert set(held_out_demos(ds, 0.1)) <= set(kept)  # a smaller fraction keeps a subset out
    for k, length in ((2, LENGTH), (3, 0)):
        queries = candidate_queries(pool, [line_dataset], length, 200, np.random.default_rng(0), k, holdout=0.2)
        assert not {s.demo for q in queries for s in q} & set(kept)
    labelled = [s for q in candidate_queries(pool, [line_dataset], LENGTH, 200, np.random.default_rng(0), 2, holdout=0.2) for s in q]
    segs, split = heldout_segments(pool, [line_dataset], LENGTH, 100, np.random.default_rng(0), labelled)
    assert split == "episodes" and {s.demo for s in segs} <= set(kept)
    with pytest.raises(ValueError, match="holdout=1.0"):
        held_out_demos(ds, 1.0)
