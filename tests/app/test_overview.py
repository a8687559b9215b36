"""Overview numbers: agreement between annotators, Cohen's kappa, labelling rate; the answer index."""

from __future__ import annotations

import pytest

from robopref.app.index import HumanAnswers
from robopref.app.overview import agreement, cohen_kappa, overview, rate
from robopref.data import SegmentRef
from robopref.prefs import Label, PreferenceStore


def lab(qid, who, value=None, ranking=None, kind="preference", t=0.0):
    return Label(id=qid * 100 + len(who), query_id=qid, annotator=who, source="human", kind=kind, value=value,
                 ranking=ranking, confidence=1.0, timestamp=t)


def test_agreement_on_shared_queries_only():
    labels = [lab(1, "ana", 1.0), lab(1, "bob", 0.9), lab(2, "ana", 0.0), lab(2, "bob", 1.0), lab(3, "ana", 1.0),
              lab(4, "ana", kind="equal", value=0.5), lab(4, "bob", kind="equal", value=0.5),
              lab(5, "ana", kind="skip"), lab(5, "bob", 1.0),
              lab(6, "ana", ranking=(0, 1, 2)), lab(6, "bob", ranking=(0, 2, 1)), lab(7, "ana", ranking=(2, 1, 0)), lab(7, "bob", ranking=(2, 1, 0))]
    a = agreement(labels)
    assert a["pairs"] == 3 and a["pair_agreement"] == pytest.approx(2 / 3)  # 1 and 4 agree, 2 not; 3 unshared, 5 skipped
    assert a["triplets"] == 2 and a["ranking_agreement"] == 0.5 and a["best_agreement"] == 1.0
    assert a["by_annotator_pair"][0]["annotators"] == ["ana", "bob"]


def test_cohen_kappa():
    assert cohen_kappa(["l", "r", "l", "r"], ["l", "r", "l", "r"]) == 1.0
    assert cohen_kappa(["l", "l", "r", "r"], ["l", "r", "l", "r"]) == 0.0
    assert cohen_kappa([], []) is None and cohen_kappa(["l"], ["l"]) is None


def test_rate_leaves_breaks_out():
    r = rate([0.0, 10.0, 20.0, 30.0, 3000.0, 3010.0])  # a long break between 30 s and 3000 s
    assert r["labels"] == 6 and r["active_minutes"] == pytest.approx(40 / 60)
    assert r["labels_per_hour"] == pytest.approx(3600 * 4 / 40) and r["median_seconds_per_label"] == 10.0


def test_overview_and_index_follow_the_store(tmp_path):
    seg = lambda i: SegmentRef("d.hdf5", f"demo_{i}", 0, 5)  # noqa: E731
    with PreferenceStore(tmp_path / "p.sqlite") as store:
        q1, q2 = store.add_queries([(seg(0), seg(1)), (seg(2), seg(3))])
        index = HumanAnswers(store)
        assert index.get() == {}
        first = store.add_label(q1, annotator="ana", source="human", value=1.0)
        index.record(store.label(first))
        assert index.get() == {q1: {"ana"}}
        store.add_label(q2, annotator="oracle", source="scripted", value=0.0)  # another writer: index rebuilds
        store.add_label(q2, annotator="bob", source="human", value=0.0)
        assert index.get() == {q1: {"ana"}, q2: {"bob"}}
        undo = store.retract(first, annotator="ana", source="human")
        index.record(store.label(undo))
        assert index.get() == {q2: {"bob"}}
        o = overview(store)
    assert o["labels"] == 2 and o["by_source"] == {"scripted": 1, "human": 1}
    assert {a["annotator"]: a["labels"] for a in o["by_annotator"]} == {"bob": 1, "oracle": 1}  # ana's answer was undone
    assert o["queries_without_label"] == 1 and o["labels_including_history"] == 4


def test_index_waits_for_its_own_commits_and_rebuilds_for_other_writers(tmp_path, monkeypatch):
    seg = lambda i: SegmentRef("d.hdf5", f"demo_{i}", 0, 5)  # noqa: E731
    with PreferenceStore(tmp_path / "p.sqlite") as store:
        q1, q2 = store.add_queries([(seg(0), seg(1)), (seg(2), seg(3))])
        index = HumanAnswers(store)
        assert index.get() == {}
        rebuilds = []
        real_rebuild = index._rebuild
        monkeypatch.setattr(index, "_rebuild", lambda: (rebuilds.append(1), real_rebuild()))
        index.expect(1)  # the answer writer announces a row, commits it, then records it
        mine = store.add_label(q1, annotator="ana", source="human", value=1.0, timestamp=50.0)
        assert index.get() == {} and rebuilds == []  # committed, not yet recorded: not another writer
        index.record(store.label(mine))
        assert index.get() == {q1: {"ana"}} and rebuilds == []
        assert index.session("ana", since=0.0) == (1, store.label(mine))
        assert index.session("ana", since=60.0) == (0, None)
        store.add_label(q2, annotator="bob", source="human", value=0.0)  # another writer
        assert index.get() == {q1: {"ana"}, q2: {"bob"}} and rebuilds == [1]
