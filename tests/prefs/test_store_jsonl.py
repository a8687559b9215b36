"""JSONL export/import: byte-identical round trips, the id-clash policy, bad files."""

from __future__ import annotations

import json

import pytest

from robopref.data.segments import SegmentRef
from robopref.prefs import PreferenceStore


def fill(store: PreferenceStore) -> None:
    a = SegmentRef("runs/lift.hdf5", "demo_0", 0, 16)
    b = SegmentRef("runs/lift.hdf5", "demo_1", 8, 16)
    c = SegmentRef("/data/ünïcode path.hdf5", "demo_2", 3, 16)
    store.add_query([a, b], origin="uniform", meta={"b": [1, 2.5], "a": {"nested": None}})
    store.add_query([a, b, c], origin="robot-session-3")
    store.add_queries([[a, c], [b, c]], origin="disagreement", created=1.5)
    first = store.add_label(
        1, annotator="ana", source="human", value=0.1 + 0.2, note='says "left"\nthen right', request_id="r-1"
    )
    store.add_label(1, annotator="ana", source="human", kind="equal", supersedes=first)
    ranked = store.add_label(2, annotator="bot", source="scripted", ranking=[1, 2, 0], confidence=1 / 3)
    store.retract(ranked, annotator="bot", source="scripted")
    store.add_label(3, annotator="gw", source="transferred", value=0.123456789012345, confidence=0.0625)
    store.add_label(4, annotator="ana", source="human", kind="skip", timestamp=0.0)


def test_round_trip_is_byte_identical(tmp_path):
    with PreferenceStore(tmp_path / "a.sqlite") as a:
        fill(a)
        queries, labels = a.queries(), a.labels(include_superseded=True)
    with PreferenceStore(tmp_path / "a.sqlite", readonly=True) as a:
        a.export_jsonl(tmp_path / "a.jsonl")
    with PreferenceStore(tmp_path / "b.sqlite") as b:
        result = b.import_jsonl(tmp_path / "a.jsonl")
        assert result.query_ids == {i: i for i in range(1, 5)} and result.label_ids == {i: i for i in range(1, 7)}
        b.export_jsonl(tmp_path / "b.jsonl")
        assert b.queries() == queries and b.labels(include_superseded=True) == labels
        assert [l.id for l in b.labels()] == [2, 5, 6]
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_layout(tmp_path, store):
    fill(store)
    store.export_jsonl(tmp_path / "out.jsonl")
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["type"] for r in records] == ["query"] * 4 + ["label"] * 6
    assert records[0] == {
        "type": "query", "id": 1, "kind": "pair",
        "segments": [
            {"dataset": "runs/lift.hdf5", "demo": "demo_0", "start": 0, "length": 16},
            {"dataset": "runs/lift.hdf5", "demo": "demo_1", "start": 8, "length": 16},
        ],
        "created": records[0]["created"], "origin": "uniform", "meta": {"a": {"nested": None}, "b": [1, 2.5]},
    }  # fmt: skip
    assert records[6]["ranking"] == [1, 2, 0] and records[7]["kind"] == "retract"


def test_import_into_non_empty_store_is_refused_unless_remapped(tmp_path, store):
    fill(store)
    store.export_jsonl(tmp_path / "out.jsonl")
    with PreferenceStore(tmp_path / "other.sqlite") as other:
        other.add_query([SegmentRef("x.hdf5", "demo_0", 0, 4), SegmentRef("x.hdf5", "demo_1", 0, 4)])
        with pytest.raises(ValueError, match=r"already holds 1 queries and 0 labels.*remap_ids=True"):
            other.import_jsonl(tmp_path / "out.jsonl")
        assert other.count_queries() == 1

        result = other.import_jsonl(tmp_path / "out.jsonl", remap_ids=True)
        assert result.query_ids == {1: 2, 2: 3, 3: 4, 4: 5} and result.label_ids == {i: i for i in range(1, 7)}
        assert other.label(2).supersedes == 1 and other.label(2).query_id == 2
        assert [l.id for l in other.labels()] == [2, 5, 6]
        assert other.query(3).segments == store.query(2).segments

        with pytest.raises(ValueError, match=r"out.jsonl:5: request_id 'r-1' is already stored, by label 1"):
            other.import_jsonl(tmp_path / "out.jsonl", remap_ids=True)
        assert other.count_queries() == 5  # the failed import wrote nothing


GOOD_QUERY = {"type": "query", "id": 1, "kind": "pair", "created": 1.0, "origin": None, "meta": None,
              "segments": [{"dataset": "d", "demo": "demo_0", "start": 0, "length": 5},
                           {"dataset": "d", "demo": "demo_1", "start": 0, "length": 5}]}  # fmt: skip
GOOD_LABEL = {"type": "label", "id": 1, "query_id": 1, "annotator": "ana", "source": "human",
              "kind": "preference", "value": 1.0, "ranking": None, "confidence": 1.0,
              "timestamp": 2.0, "note": None, "supersedes": None, "request_id": None}  # fmt: skip


@pytest.mark.parametrize(
    "lines, message",
    [
        (["{not json"], r":1: not valid JSON"),
        (["[1, 2]"], r":1: expected a JSON object, got list"),
        ([{"type": "dataset"}], r":1: type must be 'query' or 'label', got 'dataset'"),
        ([{**GOOD_QUERY, "kind": "triplet"}], r":1: kind 'triplet' does not match 2 segments \('pair'\)"),
        ([{**GOOD_QUERY, "extra": 1}], r":1: query record has missing fields \[\] / unknown fields \['extra'\]"),
        (
            [{k: v for k, v in GOOD_QUERY.items() if k != "created"}],
            r":1: query record has missing fields \['created'\]",
        ),
        ([{**GOOD_QUERY, "created": None}], r":1: created must be seconds since the epoch, got null"),
        (
            [{**GOOD_QUERY, "segments": [{"dataset": "d", "demo": "x", "start": 0}] * 2}],
            r":1: segment reference is missing field\(s\) \['length'\]",
        ),
        ([{**GOOD_QUERY, "segments": "ab"}], r":1: segments must be a list of segment objects"),
        ([GOOD_QUERY, GOOD_QUERY], r":2: duplicate query id 1 in the file"),
        ([GOOD_LABEL], r":1: query_id 1 is not a query earlier in the file"),
        ([GOOD_QUERY, {**GOOD_LABEL, "supersedes": 7}], r":2: supersedes 7 is not a label earlier in the file"),
        ([GOOD_QUERY, {**GOOD_LABEL, "value": 2}], r":2: value must be a number in \[0, 1\], got 2"),
        ([GOOD_QUERY, {**GOOD_LABEL, "timestamp": None}], r":2: timestamp must be seconds since the epoch, got null"),
        ([GOOD_QUERY, {**GOOD_LABEL, "source": "robot"}], r":2: source must be one of"),
        ([GOOD_QUERY, GOOD_LABEL, GOOD_LABEL], r":3: duplicate label id 1 in the file"),
    ],
)
def test_bad_files_are_refused_with_the_line(tmp_path, store, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl" + message):
        store.import_jsonl(path)
    assert store.count_queries() == 0 and store.count_labels(include_superseded=True) == 0


def test_blank_lines_are_ignored(tmp_path, store):
    path = tmp_path / "ok.jsonl"
    path.write_text(f"\n{json.dumps(GOOD_QUERY)}\n\n{json.dumps(GOOD_LABEL)}\n", encoding="utf-8")
    store.import_jsonl(path)
    assert store.count_queries() == 1 and store.labels()[0].timestamp == 2.0
