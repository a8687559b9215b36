"""Append-only history: re-labels supersede, retracts undo, request ids make adds idempotent."""

from __future__ import annotations

import sqlite3

import pytest


@pytest.fixture
def two_queries(store, seg):
    store.add_queries([[seg(0), seg(1)], [seg(2), seg(3)]])
    return store


def test_relabel_hides_the_old_label(two_queries):
    store = two_queries
    first = store.add_label(1, annotator="ana", source="human", value=0.0)
    second = store.add_label(1, annotator="ana", source="human", value=1.0, supersedes=first)
    assert [l.id for l in store.labels()] == [second]
    assert [l.id for l in store.labels(include_superseded=True)] == [first, second]
    assert store.label(first).value == 0.0  # the old row is still there, unchanged
    assert store.count_labels() == 1 and store.count_labels(include_superseded=True) == 2


def test_retract_undoes_and_the_query_is_asked_again(two_queries):
    store = two_queries
    answer = store.add_label(1, annotator="ana", source="human", value=1.0)
    assert [q.id for q in store.unlabelled_queries(annotator="ana")] == [2]
    undo = store.retract(answer, annotator="ana", source="human", note="clicked the wrong video")
    retract = store.label(undo)
    assert (retract.kind, retract.supersedes, retract.value, retract.query_id) == ("retract", answer, None, 1)
    assert store.labels() == [] and store.effective_labels_by_query() == {}
    assert [l.id for l in store.labels(include_superseded=True)] == [answer, undo]
    assert [q.id for q in store.unlabelled_queries(annotator="ana")] == [1, 2]

    redo = store.add_label(1, annotator="ana", source="human", value=0.0, supersedes=undo)
    assert [l.id for l in store.labels()] == [redo]


def test_supersede_rules(two_queries):
    store = two_queries
    a = store.add_label(1, annotator="ana", source="human", value=1.0)
    b = store.add_label(1, annotator="ana", source="human", value=0.0, supersedes=a)
    with pytest.raises(ValueError, match=f"label {a} is already superseded by label {b}; supersede label {b} instead"):
        store.add_label(1, annotator="ana", source="human", value=0.5, supersedes=a)
    with pytest.raises(ValueError, match=f"supersedes: label {b} answers query 1, not query 2"):
        store.add_label(2, annotator="ana", source="human", value=0.5, supersedes=b)
    r = store.retract(b, annotator="ana", source="human")
    with pytest.raises(ValueError, match=f"label {r} is already a retract"):
        store.retract(r, annotator="ana", source="human")
    assert store.count_labels(include_superseded=True) == 3


def test_other_annotators_are_independent(two_queries):
    store = two_queries
    store.add_label(1, annotator="ana", source="human", value=1.0)
    bo = store.add_label(1, annotator="bo", source="human", value=0.0)
    store.retract(bo, annotator="bo", source="human")
    assert [l.annotator for l in store.labels(query_id=1)] == ["ana"]
    assert [q.id for q in store.unlabelled_queries(annotator="bo")] == [1, 2]
    assert [q.id for q in store.unlabelled_queries()] == [2]


def test_request_id_makes_a_double_submit_write_once(two_queries):
    store = two_queries
    first = store.add_label(1, annotator="ana", source="human", value=1.0, request_id="page-7-click-3")
    again = store.add_label(1, annotator="ana", source="human", value=1.0, request_id="page-7-click-3")
    assert again == first and store.count_labels(include_superseded=True) == 1
    with store.batch():
        assert store.add_label(1, annotator="ana", source="human", value=1.0, request_id="page-7-click-3") == first
    reused = r"request_id 'page-7-click-3' was already used for label 1 on query 1, not query 2"
    with pytest.raises(ValueError, match=reused):
        store.add_label(2, annotator="ana", source="human", value=1.0, request_id="page-7-click-3")
    undo = store.retract(first, annotator="ana", source="human", request_id="page-7-undo")
    assert store.retract(first, annotator="ana", source="human", request_id="page-7-undo") == undo
    assert store.count_labels(include_superseded=True) == 2


def test_rows_cannot_be_rewritten_even_with_raw_sql(two_queries, store_path):
    two_queries.add_label(1, annotator="ana", source="human", value=1.0)
    conn = sqlite3.connect(store_path)
    try:
        rewrites = ("UPDATE labels SET value = 0", "DELETE FROM labels", "UPDATE segments SET start = 1")
        rewrites += ("DELETE FROM queries",)
        for statement in rewrites:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
    finally:
        conn.close()
    assert two_queries.label(1).value == 1.0
