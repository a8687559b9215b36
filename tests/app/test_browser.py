"""The label page in a real browser (Debian's chromium, headless, driven by playwright).

An annotator answers 20 pair and 5 triplet queries with keys and clicks, loses the
connection while answering once, reloads the page mid-session, undoes one answer and
answers it again; the store must then hold
exactly the expected labels. Screenshots of the pair page, the triplet page and the
overview go to ``test-output/``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
import pytest

from robopref.app.server import create_app
from robopref.prefs import PreferenceStore
from tests.app.conftest import add_queries, warm_videos

CHROMIUM = os.environ.get("ROBOPREF_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: `make test` installs it")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)", allow_module_level=True)

# how the annotator answers pair query q (by query id): (action, expected kind, expected value)
PAIR_ACTIONS = [
    ("key:ArrowLeft", "preference", 1.0),
    ("click:#btn-right", "preference", 0.0),
    ("key:=", "equal", 0.5),
    ("key:2", "preference", 0.0),
    ("click:#btn-left", "preference", 1.0),
    ("key:ArrowDown", "equal", 0.5),
    ("key:1", "preference", 1.0),
    ("key:ArrowRight", "preference", 0.0),
]


@pytest.fixture
def browser_page():
    """A fresh headless chromium profile; never downloads a browser."""
    with playwright_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1280, "height": 820}
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page, errors
        context.close()


def current(page) -> tuple[int, str]:
    screen = page.locator("#screen-query")
    return int(screen.get_attribute("data-query-id")), screen.get_attribute("data-kind")


def wait_for_query_other_than(page, previous: int | None) -> None:
    page.wait_for_function(
        "prev => { const s = document.querySelector('#screen-query');"
        " return (!s.hidden && s.dataset.queryId !== String(prev)) || !document.querySelector('#screen-waiting').hidden; }",
        arg=-1 if previous is None else previous,
    )


def wait_videos_playing(page) -> None:
    """Every video decoded its first frame (readyState >= 2) and the lead one is advancing."""
    page.wait_for_function("Array.from(document.querySelectorAll('#videos video')).every(v => v.readyState >= 2)")
    start = page.evaluate("document.querySelector('#videos video').currentTime")
    page.wait_for_function(f"document.querySelector('#videos video').currentTime > {start} + 0.2")


def do(page, action: str) -> None:
    how, what = action.split(":", 1)
    if how == "key":
        page.keyboard.press(what)
    else:
        page.click(what)


def test_label_session_in_browser(tmp_path, dataset, store_path, live_server, browser_page):
    page, errors = browser_page
    with PreferenceStore(store_path) as store:
        add_queries(store, dataset, pairs=20, triplets=5)
        queries = store.queries()
    app = create_app(store_path, [str(dataset)], cache_dir=tmp_path / "videos", overlap=0.0, session_size=50, order="oldest")
    warm_videos(app, queries)
    OUTPUT.mkdir(exist_ok=True)
    expected: dict[int, dict] = {}
    with live_server(app) as server:
        page.goto(server.url + "/")
        page.fill("#name-input", "ana")
        page.click("#start")
        previous = None
        answered = 0
        shots = set()
        undone_query = None
        while True:
            wait_for_query_other_than(page, previous)
            if not page.locator("#screen-waiting").is_hidden():
                break
            qid, kind = current(page)
            if kind not in shots:
                wait_videos_playing(page)  # the videos really play in this browser (WebM/VP8)
            if answered == 10 and undone_query is None and "reloaded" not in shots:
                page.reload()  # mid-session: same query and progress come back
                page.wait_for_selector("#screen-query:not([hidden])")
                assert current(page) == (qid, kind)
                assert page.inner_text("#progress-text") == "10 / 25"
                shots.add("reloaded")
            if kind == "pair":
                if qid == 4:
                    action, label_kind, value = "key:s", "skip", None
                else:
                    action, label_kind, value = PAIR_ACTIONS[qid % len(PAIR_ACTIONS)]
                if undone_query == qid:  # answer the undone query the other way round
                    action, label_kind, value = "click:#btn-left", "preference", 1.0
                expected[qid] = {"kind": label_kind, "value": value, "ranking": None}
            else:
                ranking = [(qid + k) % 3 for k in (0, 2, 1)]
                if qid % 2:
                    for position in ranking[:2]:
                        page.keyboard.press(str(position + 1))
                    action = "key:Enter"
                else:
                    for position in ranking[:2]:
                        page.click(f"#videos .clip[data-position='{position}']")
                    action = "click:#btn-submit-rank"
                page.wait_for_function("document.querySelectorAll('#videos .rank').length === 3")
                expected[qid] = {"kind": "preference", "value": None, "ranking": ranking}
            if kind not in shots:
                page.screenshot(path=str(OUTPUT / f"app-{kind}.png"))
                shots.add(kind)
            if qid == 6:
                page.fill("#note", "left arm hesitates")
                page.keyboard.press("Escape")  # keys are off while typing a note; Esc leaves the box
                expected[qid]["note"] = "left arm hesitates"
            if answered == 5:
                # the connection drops as the answer is given: it is kept and sent once back online
                page.context.set_offline(True)
                do(page, action)
                page.wait_for_function("document.querySelector('#toast').textContent.includes('No connection')")
                page.context.set_offline(False)
            else:
                do(page, action)
            answered += 1
            previous = qid
            if answered == 15 and undone_query is None:
                wait_for_query_other_than(page, previous)
                page.keyboard.press("u")  # undo the answer just given: the query comes back
                page.wait_for_function(f"document.querySelector('#screen-query').dataset.queryId === '{qid}'")
                undone_query = qid
                answered -= 1
                previous = None
                page.wait_for_function("document.querySelector('#progress-text').textContent.startsWith('14 /')")
                continue
        assert page.inner_text("#progress-text") == "25 / 25"
        with httpx.Client(base_url=server.url) as bob:  # a second person labels a few of the same queries
            for qid, choice in [(1, "right"), (2, "equal"), (3, "left"), (5, "equal"), (21, None)]:  # agrees on 3 of 4 pairs
                body = {"choice": choice} if choice else {"ranking": expected[qid]["ranking"]}
                r = bob.post("/api/answers", json={"annotator": "bob", "query_id": qid, "request_id": f"bob-{qid:06d}", **body})
                assert r.status_code == 201, r.text
        page.goto(server.url + "/overview")
        page.wait_for_function("document.querySelector('#agreement').rows.length > 1 && document.querySelector('#annotators').rows.length > 2")
        page.screenshot(path=str(OUTPUT / "app-overview.png"), full_page=True)
        assert "ana" in page.inner_text("#annotators") and "ana · bob" in page.inner_text("#agreement")
        assert "75% of 4 shared pair answers agree" in page.inner_text("#agreement-summary")
    assert not errors, errors
    assert undone_query is not None and len(expected) == 25
    with PreferenceStore(store_path, readonly=True) as store:
        labels = store.labels(annotator="ana")
        history = store.labels(annotator="ana", include_superseded=True)
    assert sorted(l.query_id for l in labels) == sorted(expected)  # one effective label per query
    for label in labels:
        want = expected[label.query_id]
        assert (label.annotator, label.source, label.kind) == ("ana", "human", want["kind"]), label
        assert label.value == want["value"] and (list(label.ranking) if label.ranking else None) == want["ranking"], label
        assert label.note == want.get("note"), label
    assert len(history) == 27  # 25 answers + the undone answer + its retract
    retract = [l for l in history if l.kind == "retract"]
    assert len(retract) == 1 and retract[0].query_id == undone_query


def test_the_question_is_shown_above_the_videos(tmp_path, dataset, store_path, live_server, browser_page):
    page, errors = browser_page
    with PreferenceStore(store_path) as store:
        add_queries(store, dataset, pairs=1, triplets=0)
        queries = store.queries()
    app = create_app(store_path, [str(dataset)], cache_dir=tmp_path / "videos", overlap=0.0, question="Which rollout avoids the red zone?")
    warm_videos(app, queries)
    with live_server(app) as server:
        page.goto(server.url + "/")
        page.fill("#name-input", "ana")
        page.click("#start")
        page.wait_for_selector("#screen-query:not([hidden])")
        assert page.inner_text("#question") == "Which rollout avoids the red zone?" and page.locator("#question").is_visible()
    assert errors == []

