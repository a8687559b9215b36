"""Each B-Pref teacher behaves as specified, and labels land in the store."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robopref.data import Dataset, DatasetWriter, SegmentRef
from robopref.data.pool import DatasetPool
from robopref.prefs import PreferenceStore
from robopref.teachers import discounted_return, label_queries, make_teacher
from robopref.teachers.scripted import ScriptedTeacher
from tests.data.helpers import ENV_ARGS, make_episode


def answers(teacher, returns, seed=0):
    return teacher.answer_batch(np.asarray(returns, float), np.random.default_rng(seed))


def test_oracle_prefers_higher_return_and_ties_are_equal():
    a = answers(make_teacher("oracle"), [[3.0, 1.0], [0.0, 2.0], [1.0, 1.0]])
    assert [(x.kind, x.value) for x in a] == [("preference", 1.0), ("preference", 0.0), ("equal", 0.5)]


def test_noisy_teacher_samples_bradley_terry_with_beta_1():
    a = answers(make_teacher("noisy"), [[1.0, 0.0]] * 6000)
    p = np.mean([x.value for x in a])
    assert abs(p - 1 / (1 + math.exp(-1.0))) < 0.025  # σ(β ΔR) = 0.731


def test_mistake_teacher_flips_ten_percent():
    a = answers(make_teacher("mistake"), [[5.0, 0.0]] * 6000)
    flip_rate = np.mean([x.value == 0.0 for x in a])
    assert abs(flip_rate - 0.1) < 0.015


def test_myopic_weighs_later_steps_more():
    assert discounted_return(np.array([1.0, 0.0, 0.0]), 0.9) == pytest.approx(0.81)
    assert discounted_return(np.array([0.0, 0.0, 1.0]), 0.9) == pytest.approx(1.0)
    assert discounted_return(np.array([1.0, 2.0]), None) == 3.0


def test_skip_and_equal_thresholds():
    skip = ScriptedTeacher("skip", skip_threshold=0.0)
    a = answers(skip, [[-1.0, -2.0], [1.0, -2.0]])
    assert [x.kind for x in a] == ["skip", "preference"]
    # relative: skip when the best return is below the 10% quantile of the batch's returns
    rel = answers(make_teacher("skip"), [[float(i), i + 0.5] for i in range(20)])  # quantile = 1.95
    assert [x.kind for x in rel] == ["skip", "skip"] + ["preference"] * 18
    eq = answers(ScriptedTeacher("equal", equal_threshold=0.5), [[1.0, 1.4], [1.0, 2.0]])
    assert [(x.kind, x.value) for x in eq] == [("equal", 0.5), ("preference", 0.0)]


def test_triplets_are_ranked_best_first():
    a = answers(make_teacher("oracle"), [[1.0, 3.0, 2.0]])
    assert a[0].ranking == (1, 2, 0) and a[0].value is None
    noisy = answers(make_teacher("noisy"), [[0.0, 1.0, 5.0]] * 2000)
    first = np.bincount([x.ranking[0] for x in noisy], minlength=3) / 2000
    expected = np.exp([0.0, 1.0, 5.0]) / np.exp([0.0, 1.0, 5.0]).sum()  # Plackett–Luce first pick
    assert np.allclose(first, expected, atol=0.03)


def test_bad_teacher_name_and_params():
    with pytest.raises(ValueError, match=r"teacher='wise': expected one of"):
        make_teacher("wise")
    with pytest.raises(ValueError, match=r"eps_mistake must be in \[0, 1\]"):
        make_teacher("mistake", eps_mistake=1.5)
    with pytest.raises(ValueError, match=r"teacher_params key\(s\) \['eps'\] not recognised; a scripted teacher takes \['beta', 'eps_mistake'"):
        make_teacher("mistake", eps=0.2)  # a typo of eps_mistake
    with pytest.raises(ValueError, match=r"\['name'\] not recognised"):
        make_teacher("mistake", name="oracle")


def test_label_queries_writes_scripted_labels(tmp_path):
    path = tmp_path / "d.hdf5"
    eps = [make_episode(T=10, image=0, seed=i) for i in range(3)]
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        for e in eps:
            w.add_episode(e)
    pool = DatasetPool([Dataset(path)])
    segs = [SegmentRef(str(path), f"demo_{i}", 0, 10) for i in range(3)]
    truth = [e.infos["pref_score"].sum() for e in eps]
    with PreferenceStore(tmp_path / "p.sqlite") as store:
        q_pair = store.add_query(segs[:2])
        q_trip = store.add_query(segs)
        ids = label_queries(make_teacher("oracle"), store, pool, [store.query(q_pair), store.query(q_trip)], np.random.default_rng(0))
        pair, trip = store.label(ids[0]), store.label(ids[1])
    assert pair.source == "scripted" and pair.annotator == "scripted:oracle"
    assert pair.value == (1.0 if truth[0] > truth[1] else 0.0)
    assert trip.ranking == tuple(int(i) for i in np.argsort(-np.array(truth)))
