"""Every bad input is refused with a message naming the field and what was expected,
and a refused write leaves the store unchanged."""

from __future__ import annotations

import pytest

from robopref.data.segments import SegmentRef
from robopref.prefs import PreferenceStore

A = SegmentRef("d.hdf5", "demo_0", 0, 10)
B = SegmentRef("d.hdf5", "demo_1", 0, 10)
C = SegmentRef("d.hdf5", "demo_2", 0, 10)
D = SegmentRef("d.hdf5", "demo_3", 0, 10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"segments": [A]}, r"segments must hold 2 \(pair\) or 3 \(triplet\) SegmentRef, got 1"),
        ({"segments": [A, B, C, D]}, r"segments must hold 2 \(pair\) or 3 \(triplet\) SegmentRef, got 4"),
        ({"segments": []}, r"segments must hold 2 \(pair\) or 3 \(triplet\) SegmentRef, got 0"),
        ({"segments": "ab"}, r"segments must be a list or tuple of SegmentRef, got str"),
        ({"segments": [A, ("d.hdf5", "demo_1", 0, 10)]}, r"segments\[1\] must be a SegmentRef, got tuple"),
        ({"segments": [A, A]}, r"segments must be distinct"),
        ({"segments": [A, B], "origin": ""}, r"origin must be a non-empty string or None, got ''"),
        ({"segments": [A, B], "origin": 3}, r"origin must be a non-empty string or None, got 3"),
        ({"segments": [A, B], "meta": [1, 2]}, r"meta must be a dict of JSON values or None, got list"),
        ({"segments": [A, B], "meta": {"x": float("nan")}}, r"meta must be a dict of JSON values \(no NaN/inf\)"),
        ({"segments": [A, B], "meta": {"x": object()}}, r"meta must be a dict of JSON values"),
        ({"segments": [A, B], "created": float("nan")}, r"created must be seconds since the epoch"),
        ({"segments": [A, B], "created": -1.0}, r"created must be seconds since the epoch"),
        ({"segments": [A, B], "created": "now"}, r"created must be seconds since the epoch"),
    ],
)
def test_bad_query(store, kwargs, message):
    with pytest.raises(ValueError, match=message):
        store.add_query(**kwargs)
    assert store.count_queries() == 0


PAIR, TRIPLET = 1, 2


@pytest.fixture
def filled(store):
    store.add_query([A, B])
    store.add_query([A, B, C])
    store.add_label(PAIR, annotator="ana", source="human", value=1.0)
    return store


def pair(**kw):
    return {"query_id": PAIR, "annotator": "ana", "source": "human", "value": 0.5, **kw}


def triplet(**kw):
    return {"query_id": TRIPLET, "annotator": "ana", "source": "human", "ranking": (0, 1, 2), **kw}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (pair(query_id=99), r"query_id 99 is not a query in this store"),
        (pair(query_id="1"), r"query_id must be an integer id >= 1, got '1'"),
        (pair(query_id=0), r"query_id must be an integer id >= 1, got 0"),
        (pair(query_id=True), r"query_id must be an integer id >= 1, got True"),
        (pair(source="robot"), r"source must be one of 'human', 'scripted', 'transferred'; got 'robot'"),
        (pair(kind="maybe"), r"kind must be one of 'preference', 'equal', 'skip', 'retract'; got 'maybe'"),
        (pair(annotator=""), r"annotator must be a non-empty string, got ''"),
        (pair(annotator=None), r"annotator must be a non-empty string, got None"),
        (pair(value=1.5), r"value must be a number in \[0, 1\], got 1.5"),
        (pair(value=-0.1), r"value must be a number in \[0, 1\], got -0.1"),
        (pair(value=float("nan")), r"value must be a number in \[0, 1\], got nan"),
        (pair(value="0.5"), r"value must be a number in \[0, 1\], got '0.5'"),
        (pair(value=True), r"value must be a number in \[0, 1\], got True"),
        (pair(value=None), r"value is required for a 'preference' label on pair query 1"),
        (pair(ranking=(0, 1)), r"ranking is only for triplet queries; query 1 is a pair"),
        (triplet(value=0.5), r"value is only for pair queries; query 2 is a triplet"),
        (triplet(ranking=None), r"ranking is required for a 'preference' label on triplet query 2"),
        (triplet(ranking=(0, 1, 1)), r"ranking must be a permutation of \(0, 1, 2\) \(best first\), got \(0, 1, 1\)"),
        (triplet(ranking=(0, 1)), r"ranking must be a permutation of \(0, 1, 2\)"),
        (triplet(ranking=(1, 2, 3)), r"ranking must be a permutation of \(0, 1, 2\)"),
        (triplet(ranking="012"), r"ranking must be a permutation of \(0, 1, 2\)"),
        (triplet(ranking=(0.0, 1, 2)), r"ranking must be a permutation of \(0, 1, 2\)"),
        (pair(kind="equal", value=0.7), r"value of an 'equal' label must be 0.5 or None, got 0.7"),
        (pair(kind="equal", value=None, ranking=(0, 1, 2)), r"ranking is only for triplet queries"),
        (triplet(kind="equal"), r"ranking must be None for an 'equal' label on a triplet query"),
        (pair(kind="skip"), r"value must be None for a 'skip' label, got 0.5"),
        (triplet(kind="skip"), r"ranking must be None for a 'skip' label"),
        (pair(kind="retract", value=None), r"supersedes is required for a 'retract' label"),
        (pair(kind="retract", supersedes=1), r"value must be None for a 'retract' label"),
        (pair(confidence=1.1), r"confidence must be a number in \[0, 1\], got 1.1"),
        (pair(confidence=float("nan")), r"confidence must be a number in \[0, 1\], got nan"),
        (pair(confidence=None), r"confidence must be a number in \[0, 1\], got None"),
        (pair(timestamp=float("inf")), r"timestamp must be seconds since the epoch \(a finite number >= 0\)"),
        (pair(timestamp=-5), r"timestamp must be seconds since the epoch"),
        (pair(timestamp="2024-01-01"), r"timestamp must be seconds since the epoch"),
        (pair(note=5), r"note must be a string or None, got 5"),
        (pair(supersedes=99), r"supersedes 99 is not a label in this store"),
        (pair(supersedes=0), r"supersedes must be an integer id >= 1, got 0"),
        (pair(request_id=""), r"request_id must be a non-empty string or None, got ''"),
        (pair(request_id=7), r"request_id must be a non-empty string or None, got 7"),
    ],
)
def test_bad_label(filled, kwargs, message):
    query_id = kwargs.pop("query_id")
    with pytest.raises(ValueError, match=message):
        filled.add_label(query_id, **kwargs)
    assert filled.count_labels(include_superseded=True) == 1


def test_good_edge_values_are_accepted(filled):
    for value in (0, 0.0, 1, 1.0):
        filled.add_label(PAIR, annotator="ana", source="human", value=value, confidence=0)
    filled.add_label(PAIR, annotator="ana", source="human", kind="equal", value=0.5)
    filled.add_label(TRIPLET, annotator="ana", source="human", ranking=[2, 1, 0], timestamp=0)
    filled.add_label(TRIPLET, annotator="ana", source="human", kind="equal")
    assert filled.labels(query_id=TRIPLET)[-1].value is None


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.queries(kind="quad"), r"kind must be one of 'pair', 'triplet'; got 'quad'"),
        (lambda s: s.count_queries(kind="pairs"), r"kind must be one of 'pair', 'triplet'"),
        (lambda s: s.labels(source="robot"), r"source must be one of 'human', 'scripted', 'transferred'"),
        (lambda s: s.count_labels(source="Human"), r"source must be one of"),
        (lambda s: s.query("1"), r"query_id must be an integer id"),
        (lambda s: s.label(0), r"label_id must be an integer id"),
        (lambda s: s.labels(query_id="3"), r"query_id must be an integer id >= 1, got '3'"),
        (lambda s: s.count_labels(query_id=-1), r"query_id must be an integer id >= 1, got -1"),
        (lambda s: s.retract(42, annotator="ana", source="human"), r"label_id 42 is not a label in this store"),
    ],
)
def test_bad_read_arguments(store, call, message):
    with pytest.raises(ValueError, match=message):
        call(store)


def test_bad_synchronous_mode(store_path):
    with pytest.raises(ValueError, match=r"synchronous must be one of 'FULL', 'NORMAL', 'EXTRA'; got 'OFF'"):
        PreferenceStore(store_path, synchronous="OFF")
