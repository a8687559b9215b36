"""Segment references and the samplers that produce them."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.data import Dataset, DatasetWriter, SegmentRef, iter_windows, sample_pairs, sample_segments, whole_episodes
from tests.data.helpers import ENV_ARGS, make_episode


@pytest.fixture
def ds(tmp_path):
    path = tmp_path / "d.hdf5"
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        for i, T in enumerate((10, 4, 25)):
            w.add_episode(make_episode(T=T, image=0, seed=i))
    return Dataset(path)


def test_segment_ref_validation_and_dict_round_trip():
    ref = SegmentRef("a.hdf5", "demo_1", 3, 5)
    assert ref.stop == 8 and SegmentRef.from_dict(ref.to_dict()) == ref
    with pytest.raises(ValueError, match="SegmentRef.length must be an int >= 1"):
        SegmentRef("a.hdf5", "demo_1", 0, 0)
    with pytest.raises(ValueError, match="SegmentRef.start must be an int >= 0"):
        SegmentRef("a.hdf5", "demo_1", -1, 3)
    with pytest.raises(ValueError, match=r"missing field\(s\) \['length'\]"):
        SegmentRef.from_dict({"dataset": "a", "demo": "demo_0", "start": 0})


def test_sample_segments_stay_inside_their_demo(ds):
    refs = sample_segments(ds, length=5, n=400, rng=np.random.default_rng(0))
    assert {r.demo for r in refs} == {"demo_0", "demo_2"}  # demo_1 is shorter than 5
    assert all(r.stop <= ds.num_samples(r.demo) for r in refs)
    # every window equally likely: demo_2 has 21 start positions, demo_0 has 6
    frac = np.mean([r.demo == "demo_2" for r in refs])
    assert abs(frac - 21 / 27) < 0.06
    with pytest.raises(ValueError, match="no demo has at least 30 steps"):
        sample_segments(ds, length=30, n=1, rng=np.random.default_rng(0))


def test_iter_windows_and_whole_episodes(ds):
    wins = list(iter_windows(ds, length=5))
    assert [(w.demo, w.start) for w in wins] == [("demo_0", 0), ("demo_0", 5)] + [("demo_2", s) for s in (0, 5, 10, 15, 20)]
    assert [r.length for r in whole_episodes(ds)] == [10, 4, 25]


def test_sample_pairs_are_distinct(ds):
    refs = list(iter_windows(ds, length=2, stride=1))
    for q in sample_pairs(refs, 50, np.random.default_rng(1), k=3):
        assert len(set(q)) == 3
