"""Queries and labels go in and come back out exactly; reads, filters, batches, threads."""

from __future__ import annotations

import multiprocessing
import pickle
import threading

import pytest

from robopref.data.segments import SegmentRef
from robopref.prefs import Label, PreferenceStore, Query, StoreError


def test_hand_checked_round_trip(store_path):
    a = SegmentRef("runs/lift.hdf5", "demo_0", 0, 16)
    b = SegmentRef("runs/lift.hdf5", "demo_1", 8, 16)
    c = SegmentRef("/abs/other.hdf5", "demo_7", 100, 32)
    with PreferenceStore(store_path) as store:
        pair = store.add_query([a, b], origin="uniform", meta={"score": 0.25, "tags": ["x"]}, created=1000.0)
        triplet = store.add_query((a, b, c), origin="disagreement", created=1001.5)
        pref = store.add_label(
            pair, annotator="ana", source="human", value=0.75, confidence=0.5, timestamp=2000.0,
            note="left grasp is cleaner", request_id="req-1",
        )  # fmt: skip
        rank = store.add_label(triplet, annotator="bot", source="scripted", ranking=(2, 0, 1), timestamp=2001.0)
        equal = store.add_label(pair, annotator="bo", source="transferred", kind="equal", timestamp=2002.0)
        skip = store.add_label(triplet, annotator="ana", source="human", kind="skip", timestamp=2003.0)

    with PreferenceStore(store_path, readonly=True) as store:
        assert (pair, triplet, pref, rank, equal, skip) == (1, 2, 1, 2, 3, 4)
        assert store.query(pair) == Query(1, (a, b), 1000.0, "uniform", {"score": 0.25, "tags": ["x"]})
        assert store.query(triplet) == Query(2, (a, b, c), 1001.5, "disagreement", None)
        assert store.query(pair).kind == "pair" and store.query(triplet).kind == "triplet"
        assert store.labels() == [
            Label(1, 1, "ana", "human", "preference", 0.75, None, 0.5, 2000.0, "left grasp is cleaner", None, "req-1"),
            Label(2, 2, "bot", "scripted", "preference", None, (2, 0, 1), 1.0, 2001.0),
            Label(3, 1, "bo", "transferred", "equal", 0.5, None, 1.0, 2002.0),
            Label(4, 2, "ana", "human", "skip", None, None, 1.0, 2003.0),
        ]


def test_defaults_and_lookups(store, seg):
    q = store.add_query([seg(0), seg(1)])
    query = store.query(q)
    assert query.origin is None and query.meta is None and query.created > 1.6e9
    label = store.label(store.add_label(q, annotator="ana", source="human", value=1))
    assert label.value == 1.0 and isinstance(label.value, float)
    assert label.confidence == 1.0 and label.timestamp > 1.6e9 and label.kind == "preference"
    with pytest.raises(KeyError, match="query 99 is not in"):
        store.query(99)
    with pytest.raises(KeyError, match="label 99 is not in"):
        store.label(99)


def test_filters_counts_and_unlabelled(store, seg):
    ids = store.add_queries([[seg(i), seg(i + 1)] for i in range(4)], origin="uniform")
    t = store.add_query([seg(0), seg(1), seg(2)], origin="robot-session-3")
    assert ids == [1, 2, 3, 4] and t == 5
    store.add_label(1, annotator="ana", source="human", value=0.0)
    store.add_label(2, annotator="bot", source="scripted", value=1.0)
    store.add_label(2, annotator="ana", source="human", kind="skip")
    store.add_label(t, annotator="ana", source="human", ranking=[0, 1, 2])

    assert [q.id for q in store.queries()] == [1, 2, 3, 4, 5]
    assert [q.id for q in store.queries(kind="triplet")] == [5]
    assert [q.id for q in store.queries(kind="pair", origin="uniform")] == [1, 2, 3, 4]
    assert store.queries(origin="nowhere") == []
    assert store.count_queries() == 5 and store.count_queries(kind="pair") == 4
    assert store.count_queries(origin="robot-session-3") == 1

    assert [l.id for l in store.labels(annotator="ana")] == [1, 3, 4]
    assert [l.id for l in store.labels(source="scripted")] == [2]
    assert [l.id for l in store.labels(query_id=2)] == [2, 3]
    assert (store.count_labels(), store.count_labels(annotator="bot"), store.count_labels(query_id=5)) == (4, 1, 1)
    assert {q: [l.id for l in ls] for q, ls in store.effective_labels_by_query().items()} == {1: [1], 2: [2, 3], 5: [4]}
    assert list(store.effective_labels_by_query(source="scripted")) == [2]

    assert [q.id for q in store.unlabelled_queries()] == [3, 4]
    assert [q.id for q in store.unlabelled_queries(annotator="bot")] == [1, 3, 4, 5]
    assert [q.id for q in store.unlabelled_queries(annotator="ana")] == [3, 4]  # a skip is an answer


def test_bulk_add_is_one_transaction(store, seg):
    ids = store.add_queries([seg(i), seg(i + 1)] for i in range(3000))
    assert ids == list(range(1, 3001)) and store.count_queries() == 3000
    assert store.query(3000).segments == (seg(2999), seg(3000))
    with pytest.raises(ValueError, match=r"queries\[2\]: segments must hold 2"):
        store.add_queries([[seg(0), seg(1)], [seg(1), seg(2)], [seg(0)]])
    assert store.count_queries() == 3000  # the two good ones were not written either


def test_batch_commits_together_and_rolls_back_together(store, seg):
    with store.batch():
        q = store.add_query([seg(0), seg(1)])
        for i in range(100):
            store.add_label(q, annotator="ana", source="scripted", value=i / 100)
    assert store.count_labels() == 100

    with pytest.raises(RuntimeError):
        with store.batch():
            store.add_label(q, annotator="ana", source="scripted", value=0.5)
            raise RuntimeError("abort the batch")
    assert store.count_labels() == 100

    with store.batch():
        store.add_label(q, annotator="ana", source="human", value=1.0)
        with pytest.raises(ValueError):
            with store.batch():  # nested: a savepoint, rolled back alone
                store.add_label(q, annotator="ana", source="human", value=0.0)
                store.add_label(q, annotator="ana", source="human", value=2.0)
        with pytest.raises(ValueError, match="value must be a number in"):
            store.add_label(q, annotator="ana", source="human", value=float("nan"))
    assert [l.value for l in store.labels(source="human")] == [1.0]


def test_snapshot_is_read_only(store, seg):
    store.add_query([seg(0), seg(1)])
    with store.snapshot():
        assert store.count_queries() == 1
        with pytest.raises(StoreError, match="cannot write inside snapshot"):
            store.add_label(1, annotator="ana", source="human", value=1.0)
    assert store.count_labels() == 0


def test_readonly_store_refuses_writes(store_path, seg):
    with PreferenceStore(store_path) as store:
        store.add_query([seg(0), seg(1)])
    with PreferenceStore(store_path, readonly=True) as ro:
        assert ro.count_queries() == 1
        with pytest.raises(StoreError, match="opened readonly"):
            ro.add_label(1, annotator="ana", source="human", value=1.0)
        with pytest.raises(StoreError, match="opened readonly"):
            with ro.batch():
                pass


def test_closed_store_refuses_use(store_path):
    store = PreferenceStore(store_path)
    with store:
        pass
    store.close()  # idempotent
    with pytest.raises(StoreError, match="is closed"):
        store.count_queries()


def test_threads_share_one_store(store, seg):
    q = store.add_query([seg(0), seg(1)])
    ids: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        for i in range(50):
            label_id = store.add_label(q, annotator=name, source="scripted", value=i / 50)
            with lock:
                ids.append(label_id)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ids) == list(range(1, 201)) and store.count_labels() == 200


def test_pickled_store_reopens_by_path(store, seg):
    store.add_query([seg(0), seg(1)])
    with pickle.loads(pickle.dumps(store)) as copy:
        assert copy.path == store.path and copy.count_queries() == 1


def _use_inherited(store: PreferenceStore, queue: "multiprocessing.Queue[str]") -> None:
    try:
        store.count_queries()
        queue.put("no error")
    except StoreError as err:
        queue.put(str(err))


def test_store_used_after_fork_raises(store, seg):
    store.add_query([seg(0), seg(1)])
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_use_inherited, args=(store, queue))
    child.start()
    message = queue.get(timeout=20)
    child.join(timeout=20)
    assert "open a new PreferenceStore in each process" in message
    assert store.count_queries() == 1  # the parent's connection is unharmed
