"""Annotators answering at the same moment over real HTTP: every answer is stored once and
no query gets more people than its capacity (the answer index and the leases agree)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import httpx

from robopref.app.server import create_app
from robopref.prefs import PreferenceStore
from tests.app.conftest import add_queries

PEOPLE, ANSWERS = 6, 12


def label_burst(url: str, who: str, seen: list[int], errors: list[str], start: threading.Barrier) -> None:
    """One person answering as fast as the server lets them; a retry every 4th answer."""
    with httpx.Client(base_url=url, timeout=30.0) as client:
        start.wait()
        for i in range(ANSWERS):
            query = client.get("/api/next", params={"annotator": who}).json()["query"]
            if query is None:
                errors.append(f"{who}: nothing left after {i} answers")
                return
            seen.append(query["id"])
            body = {"annotator": who, "query_id": query["id"], "request_id": uuid.uuid4().hex, "choice": "left"}
            for attempt in range(2 if i % 4 == 0 else 1):
                r = client.post("/api/answers", json=body)
                if r.status_code != (201 if attempt == 0 else 200):
                    errors.append(f"{who}: {r.status_code} {r.text}")


def test_many_annotators_at_once_never_exceed_a_query_capacity(tmp_path, dataset, store_path, live_server):
    with PreferenceStore(store_path) as store:
        add_queries(store, dataset, pairs=100, triplets=0, windows=16)
    app = create_app(store_path, [str(dataset)], cache_dir=tmp_path / "videos", overlap=0.0, prefetch=False)
    seen: dict[str, list[int]] = {f"p{i}": [] for i in range(PEOPLE)}
    errors: list[str] = []
    start = threading.Barrier(PEOPLE)
    with live_server(app) as server:
        threads = [threading.Thread(target=label_burst, args=(server.url, who, seen[who], errors, start)) for who in seen]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert errors == []
    assert all(len(ids) == len(set(ids)) == ANSWERS for ids in seen.values())  # nobody saw a query twice
    with PreferenceStore(store_path, readonly=True) as store:
        labels = store.labels(include_superseded=True)
    assert len(labels) == PEOPLE * ANSWERS  # retries stored once
    assert max(Counter(label.query_id for label in labels).values()) == 1  # overlap 0: one person per query
