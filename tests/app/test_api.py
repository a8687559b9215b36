"""The label API over HTTP (FastAPI's TestClient): answers, undo, resume, and every 4xx path."""

from __future__ import annotations

import json
import uuid

import h5py
import pytest
from fastapi.testclient import TestClient

from robopref.app.server import create_app
from robopref.data import SegmentRef
from robopref.prefs import PreferenceStore
from tests.app.conftest import add_queries, write_image_dataset


@pytest.fixture
def client(tmp_path, dataset, store_path):
    with PreferenceStore(store_path) as store:
        add_queries(store, dataset, pairs=4, triplets=2, windows=5)
    app = create_app(store_path, [str(dataset)], cache_dir=tmp_path / "videos", overlap=0.0, session_size=5, order="oldest")
    with TestClient(app) as c:
        yield c


def rid() -> str:
    return uuid.uuid4().hex


def nxt(client, who="ana", since=0.0):
    r = client.get("/api/next", params={"annotator": who, "since": since})
    assert r.status_code == 200, r.text
    return r.json()


def answer(client, qid, who="ana", **fields):
    return client.post("/api/answers", json={"annotator": who, "query_id": qid, "request_id": fields.pop("request_id", rid()), **fields})


def test_answer_flow_progress_and_resume(client, store_path):
    session = client.post("/api/sessions", json={"annotator": "ana"}).json()
    first = nxt(client, since=session["since"])
    assert first["query"]["id"] == 1 and first["query"]["kind"] == "pair" and first["session"]["answered"] == 0
    assert first["session"]["planned"] == 5  # session_size caps the 6 available queries
    assert nxt(client, since=session["since"])["query"]["id"] == 1  # a reload shows the same query
    r = answer(client, 1, choice="left", note="  smoother  ")
    assert r.status_code == 201 and r.json()["duplicate"] is False
    after = nxt(client, since=session["since"])
    assert after["query"]["id"] == 2 and after["session"]["answered"] == 1
    assert after["last"]["choice"] == "left" and after["last"]["query_id"] == 1
    with PreferenceStore(store_path, readonly=True) as store:
        label = store.labels()[0]
    assert (label.annotator, label.source, label.kind, label.value, label.note) == ("ana", "human", "preference", 1.0, "smoother")


def test_pair_and_triplet_answers_become_the_right_labels(client, store_path):
    assert answer(client, 1, choice="right").status_code == 201
    assert answer(client, 2, choice="equal").status_code == 201
    assert answer(client, 3, choice="skip").status_code == 201
    assert answer(client, 5, ranking=[2, 0, 1]).status_code == 201
    assert answer(client, 6, choice="skip").status_code == 201
    with PreferenceStore(store_path, readonly=True) as store:
        got = {l.query_id: (l.kind, l.value, l.ranking) for l in store.labels()}
    assert got == {1: ("preference", 0.0, None), 2: ("equal", 0.5, None), 3: ("skip", None, None),
                   5: ("preference", None, (2, 0, 1)), 6: ("skip", None, None)}


def test_double_submit_is_recorded_once(client, store_path):
    key = rid()
    a = answer(client, 1, choice="left", request_id=key)
    b = answer(client, 1, choice="left", request_id=key)
    assert a.status_code == 201 and b.status_code == 200
    assert b.json() == {"label_id": a.json()["label_id"], "query_id": 1, "duplicate": True}
    again = answer(client, 1, choice="right")  # a new click on an answered query
    assert again.status_code == 409 and "already answered query 1" in again.json()["error"]
    reused = answer(client, 2, choice="left", request_id=key)  # a key reused on another query
    assert reused.status_code == 409 and "request_id" in reused.json()["error"]
    with PreferenceStore(store_path, readonly=True) as store:
        assert store.count_labels(include_superseded=True) == 1


def test_undo_supersedes_and_the_query_comes_back(client, store_path):
    first = answer(client, 1, choice="left").json()["label_id"]
    answer(client, 2, choice="right")
    assert nxt(client)["query"]["id"] == 3
    key = rid()
    r = client.post("/api/undo", json={"annotator": "ana", "label_id": first, "request_id": key})
    assert r.status_code == 201 and r.json()["query_id"] == 1
    again = client.post("/api/undo", json={"annotator": "ana", "label_id": first, "request_id": key})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    other = client.post("/api/undo", json={"annotator": "ana", "label_id": first, "request_id": rid()})
    assert other.status_code == 409 and "already undone" in other.json()["error"]
    state = nxt(client)
    assert state["query"]["id"] == 1 and state["session"]["answered"] == 1  # the undone query is next
    assert answer(client, 1, choice="equal").status_code == 201
    with PreferenceStore(store_path, readonly=True) as store:
        assert {l.query_id: l.kind for l in store.labels()} == {1: "equal", 2: "preference"}
        history = store.labels(include_superseded=True)
    assert [l.kind for l in history] == ["preference", "preference", "retract", "equal"]
    assert history[2].supersedes == first


def test_undo_refuses_other_peoples_and_unknown_labels(client):
    label = answer(client, 1, choice="left").json()["label_id"]
    r = client.post("/api/undo", json={"annotator": "bob", "label_id": label, "request_id": rid()})
    assert r.status_code == 403 and "not an answer of bob" in r.json()["error"]
    r = client.post("/api/undo", json={"annotator": "ana", "label_id": 999, "request_id": rid()})
    assert r.status_code == 404 and "label 999 does not exist" in r.json()["error"]


def test_session_done_and_waiting(client):
    since = client.post("/api/sessions", json={"annotator": "ana"}).json()["since"]
    for _ in range(5):
        q = nxt(client, since=since)["query"]
        assert answer(client, q["id"], choice="skip").status_code == 201
    state = nxt(client, since=since)
    assert state["session"]["answered"] == 5 and state["session"]["planned"] == 5
    q = state["query"]
    answer(client, q["id"], choice="skip")
    assert nxt(client, since=since)["query"] is None  # nothing left for ana


def test_new_queries_show_up_without_restart(client, store_path, dataset):
    for q in range(1, 7):
        answer(client, q, choice="skip")
    assert nxt(client)["query"] is None
    with PreferenceStore(store_path) as store:
        new = store.add_query([SegmentRef(str(dataset), "demo_5", 0, 12), SegmentRef(str(dataset), "demo_4", 3, 12)], origin="disagreement")
    state = nxt(client)
    assert state["query"]["id"] == new and state["query"]["origin"] == "disagreement"


@pytest.mark.parametrize("body, message", [
    ({"query_id": 1, "request_id": "r" * 10, "choice": "left"}, "annotator: Field required"),
    ({"annotator": "", "query_id": 1, "request_id": "r" * 10, "choice": "left"}, "annotator"),
    ({"annotator": "a\x00b", "query_id": 1, "request_id": "r" * 10, "choice": "left"}, "annotator"),
    ({"annotator": "ana", "query_id": "one", "request_id": "r" * 10, "choice": "left"}, "query_id"),
    ({"annotator": "ana", "query_id": 0, "request_id": "r" * 10, "choice": "left"}, "query_id"),
    ({"annotator": "ana", "query_id": 1, "request_id": "short", "choice": "left"}, "request_id"),
    ({"annotator": "ana", "query_id": 1, "request_id": "../../etc/x", "choice": "left"}, "request_id"),
    ({"annotator": "ana", "query_id": 1, "request_id": "r" * 10, "choice": "lft"}, "choice"),
    ({"annotator": "ana", "query_id": 1, "request_id": "r" * 10}, "exactly one of choice"),
    ({"annotator": "ana", "query_id": 1, "request_id": "r" * 10, "choice": "left", "ranking": [0, 1, 2]}, "exactly one"),
    ({"annotator": "ana", "query_id": 5, "request_id": "r" * 10, "ranking": [0, 1, 1]}, "permutation"),
    ({"annotator": "ana", "query_id": 5, "request_id": "r" * 10, "ranking": [0, 1]}, "ranking"),
    ({"annotator": "ana", "query_id": 1, "request_id": "r" * 10, "choice": "left", "note": "x" * 5000}, "note"),
    ({"annotator": "ana", "query_id": 1, "request_id": "r" * 10, "choice": "left", "value": 0.3}, "value"),
])
def test_bad_answer_bodies_are_422_with_the_field_named(client, body, message):
    r = client.post("/api/answers", json=body)
    assert r.status_code == 422 and message in r.json()["error"], r.text


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2]", b"null", b"\xff\xfe"])
def test_malformed_json_is_4xx(client, raw):
    r = client.post("/api/answers", content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and r.json()["error"]


def test_answers_that_do_not_fit_the_query(client):
    r = answer(client, 999, choice="left")
    assert r.status_code == 404 and "query 999 does not exist" in r.json()["error"]
    r = answer(client, 1, ranking=[0, 1, 2])
    assert r.status_code == 400 and "is a pair" in r.json()["error"]
    r = answer(client, 5, choice="left")
    assert r.status_code == 400 and "is a triplet" in r.json()["error"]


def test_queries_outside_the_configured_datasets_are_never_served(client, store_path):
    with PreferenceStore(store_path) as store:
        other = store.add_query([SegmentRef("/etc/passwd.hdf5", "demo_0", 0, 5), SegmentRef("/etc/passwd.hdf5", "demo_1", 0, 5)])
    for q in range(1, 7):
        answer(client, q, choice="skip")
    assert nxt(client)["query"] is None  # the foreign query is not handed out
    r = answer(client, other, choice="left")
    assert r.status_code == 404 and "not served here" in r.json()["error"]


@pytest.mark.parametrize("params", [{}, {"annotator": ""}, {"annotator": "x" * 65}, {"annotator": "ana", "since": "yesterday"},
                                    {"annotator": "ana", "since": -1}, {"annotator": "\x07"}])
def test_bad_next_params_are_422(client, params):
    r = client.get("/api/next", params=params)
    assert r.status_code == 422 and r.json()["error"]


def test_video_is_webm_cached_and_supports_ranges(client):
    url = nxt(client)["query"]["segments"][0]["video"]
    full = client.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "video/webm"
    assert full.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML magic: a Matroska/WebM file
    size = len(full.content)
    part = client.get(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == full.content[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{size}"
    tail = client.get(url, headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == full.content[-16:]
    beyond = client.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416
    assert client.get(url).content == full.content  # served from the cache


@pytest.mark.parametrize("url, status", [
    ("/api/videos/1/demo_0/0/12.webm", 404),             # unknown dataset index
    ("/api/videos/-1/demo_0/0/12.webm", 404),
    ("/api/videos/x/demo_0/0/12.webm", 422),
    ("/api/videos/0/demo_99/0/12.webm", 404),            # unknown demo
    ("/api/videos/0/demo_0/30/12.webm", 404),            # past the end of the demo
    ("/api/videos/0/demo_0/0/0.webm", 404),
    ("/api/videos/0/demo_0/0/100000.webm", 404),
    ("/api/videos/0/..%2F..%2Fetc%2Fpasswd/0/12.webm", 404),
    ("/api/videos/0/%2E%2E/0/12.webm", 404),
    ("/api/videos/0/../../../etc/passwd", 404),
    ("/static/../robopref/prefs/store.py", 404),
    ("/static/%2E%2E/server.py", 404),
    ("/static/..%2Fserver.py", 404),
    ("/nope", 404),
])
def test_nothing_outside_the_datasets_can_be_read(client, url, status):
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.text[:200])
    assert "import" not in r.text and "root:" not in r.text


def test_overview_and_export(client, store_path):
    answer(client, 1, choice="left")
    answer(client, 1, who="bob", choice="left")
    answer(client, 2, who="bob", choice="equal")
    o = client.get("/api/overview").json()
    assert o["labels"] == 3 and o["by_source"] == {"human": 3}
    assert [a["annotator"] for a in o["by_annotator"]] == ["ana", "bob"]
    assert o["agreement"]["pairs"] == 1 and o["agreement"]["pair_agreement"] == 1.0
    r = client.get("/api/export.jsonl")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert sum(l["type"] == "query" for l in lines) == 6 and sum(l["type"] == "label" for l in lines) == 3


def test_pages_and_static_files_are_served(client):
    assert "Who is labelling?" in client.get("/").text
    assert "labelling overview" in client.get("/overview").text
    assert client.get("/static/app.js").status_code == 200


def test_wrong_methods_and_hosts_are_refused(tmp_path, dataset, store_path):
    with PreferenceStore(store_path) as store:
        add_queries(store, dataset, pairs=1, triplets=0)
    app = create_app(store_path, [str(dataset)], cache_dir=tmp_path / "v", allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/api/answers").status_code == 405
        assert c.get("/api/next", params={"annotator": "a"}).status_code == 200
        assert c.get("/api/next", params={"annotator": "a"}, headers={"Host": "evil.example"}).status_code == 400


def test_bad_configuration_fails_at_start(tmp_path, dataset, store_path):
    with pytest.raises(ValueError, match="datasets is empty"):
        create_app(store_path, [], cache_dir=tmp_path / "v")
    with pytest.raises(ValueError, match="annotator_overlap"):
        create_app(store_path, [str(dataset)], cache_dir=tmp_path / "v", overlap=1.5)
    with pytest.raises(ValueError, match="no camera 'side'"):
        create_app(store_path, [str(dataset)], cache_dir=tmp_path / "v", camera="side")
    with pytest.raises(FileNotFoundError, match=r"datasets: \['.*gone.hdf5'\] not found"):
        create_app(store_path, [str(dataset), str(tmp_path / "gone.hdf5")], cache_dir=tmp_path / "v")
    from robopref.stages.app import bind

    with pytest.raises(ValueError, match=r"port=70000: expected 0-65535 \(0: any free port\)"):
        bind("127.0.0.1", 70000)


def test_the_question_and_each_clips_task_reach_the_page(tmp_path, store_path):
    """``question=`` and a demo's ``task`` attribute (a LeRobot import's instruction) are
    what a person needs to judge the clips; both come with the query."""
    data = write_image_dataset(tmp_path / "tasks.hdf5")
    with h5py.File(data, "a") as f:
        for d in ("demo_0", "demo_1"):
            f["data"][d].attrs["task"] = "put the cube in the bowl"
    with PreferenceStore(store_path) as store:
        q = store.add_query([SegmentRef(str(data), "demo_0", 0, 10), SegmentRef(str(data), "demo_1", 0, 10)])
        store.add_query([SegmentRef(str(data), "demo_2", 0, 10), SegmentRef(str(data), "demo_3", 0, 10)])
    app = create_app(store_path, [str(data)], cache_dir=tmp_path / "v", overlap=0.0, order="oldest", question="  Which one is gentler?  ")
    with TestClient(app) as c:
        first = nxt(c)
        assert first["question"] == "Which one is gentler?" and first["query"]["id"] == q
        assert [s["task"] for s in first["query"]["segments"]] == ["put the cube in the bowl"] * 2
        assert answer(c, q, choice="left").status_code == 201
        assert all("task" not in s for s in nxt(c)["query"]["segments"])  # demos without one
    with pytest.raises(ValueError, match="question: 301 characters, expected at most 300"):
        create_app(store_path, [str(data)], cache_dir=tmp_path / "v", question="x" * 301)
