"""The label server: a FastAPI app over one preference store and a list of datasets.

    app = create_app("prefs.sqlite", ["data.hdf5"])      # then: uvicorn.run(app)

Routes: ``/`` the label page, ``/overview`` the overview page, ``/static/*`` their
files, and the JSON API under ``/api`` (see each handler). The store is read on every
request, so queries added while the page is open (active selection, new rollouts)
show up at the next ``/api/next`` without a restart. Every error is JSON
``{"error": "..."}`` with a 4xx status that says what was wrong with the request.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

from fastapi import FastAPI, HTTPException, Query as Param, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from robopref.app.assignment import Assigner
from robopref.app.catalog import DatasetCatalog, NotShowable
from robopref.app.index import HumanAnswers, QueryList
from robopref.app.models import NAME_PATTERN, Answer, SessionStart, Undo
from robopref.app.overview import overview
from robopref.app.queries import QueryViews, answer_fields, describe
from robopref.app.videos import VideoCache
from robopref.app.writer import GroupWriter
from robopref.prefs import Label, PreferenceStore
from robopref.prefs.errors import StoreError

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
SOURCE = "human"
MAX_QUESTION = 300  # characters of the app's question= line


def _error(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(
    store_path: str | os.PathLike[str],
    datasets: Sequence[str | os.PathLike[str]],
    cache_dir: str | os.PathLike[str] | None = None,
    overlap: float = 0.2,
    overlap_annotators: int = 2,
    session_size: int = 50,
    order: str = "newest",
    fps: int = 10,
    camera: str | None = None,
    lease_s: float = 900.0,
    prefetch: bool = True,
    allowed_hosts: Sequence[str] | None = None,
    question: str | None = None,
) -> FastAPI:
    """Build the label app.

    Args:
        store_path: the preference store (created if missing).
        datasets: the dataset files whose frames may be shown; nothing else is readable.
        cache_dir: where videos are cached (default: ``<store>.videos/`` next to the store).
        overlap: fraction of queries answered by ``overlap_annotators`` people, for agreement.
        session_size: answers per session (the progress bar's total).
        order: ``newest`` or ``oldest`` query first.
        fps: playback rate of the videos (the recording rate of the datasets).
        camera: which ``<camera>_image`` to show (default: each dataset's first).
        lease_s: how long a handed-out query stays reserved for its annotator.
        prefetch: encode the videos of the next queries in the background, so the page
            rarely waits for ffmpeg.
        allowed_hosts: accepted ``Host`` headers (guards a loopback server against DNS
            rebinding); ``None`` accepts any.
        question: what the person should judge, shown above the videos (e.g. "Which rollout
            keeps the cup upright?"); None shows only the generic prompt.
    """
    if session_size < 1:
        raise ValueError(f"session_size must be >= 1, got {session_size}")
    question = (question or "").strip() or None
    if question is not None and len(question) > MAX_QUESTION:
        raise ValueError(f"question: {len(question)} characters, expected at most {MAX_QUESTION} (one sentence for the person labelling)")
    store = PreferenceStore(store_path)
    catalog = DatasetCatalog(datasets, camera=camera)
    cache = Path(cache_dir) if cache_dir is not None else Path(f"{store.path}.videos")
    videos = VideoCache(catalog, cache, fps=fps)
    views = QueryViews(catalog)
    assigner = Assigner(overlap, overlap_annotators, order, lease_s, showable=views.showable)
    all_queries, answers = QueryList(store), HumanAnswers(store, SOURCE, assigner.new_pool)
    writer = GroupWriter(store, listener=answers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        writer.close()
        videos.close()
        store.close()
        catalog.close()

    app = FastAPI(title="robopref label app", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.store, app.state.catalog, app.state.videos, app.state.assigner = store, catalog, videos, assigner
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=422)

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.error("preference store error: %s", exc)
        return JSONResponse({"error": f"the preference store cannot be used right now: {exc}"}, status_code=503)

    def warm(queries: Sequence[Any]) -> None:
        clips = []
        for query in queries:
            for segment in query.segments:
                try:
                    clips.append(catalog.clip_of(segment))
                except NotShowable:
                    continue  # a segment that cannot be shown is never handed to an annotator: nothing to prefetch
        videos.prefetch(clips)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/overview", include_in_schema=False)
    def overview_page() -> FileResponse:
        return FileResponse(STATIC / "overview.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # The JSON API handlers are coroutines: each does microseconds of in-memory work and
    # indexed reads, then awaits its commit, so running them on the event loop saves a
    # hand-off to a pool thread and back (and the GIL ping-pong it causes) per request.
    # Slow work (videos, export, overview) stays in sync handlers, run in FastAPI's pool.

    @app.post("/api/sessions", status_code=201)
    async def start_session(body: SessionStart) -> dict[str, Any]:
        """A new session for ``annotator``: its start time, by the server's clock, which
        also stamps the labels, so progress counts do not depend on the laptop's clock."""
        return {"annotator": body.annotator, "since": time.time(), "size": session_size}

    @app.get("/api/next")
    async def next_query(
        annotator: str = Param(min_length=1, max_length=64, pattern=NAME_PATTERN),
        since: float = Param(0.0, ge=0.0, le=1e11),
    ) -> JSONResponse:
        """The annotator's current query (resumed after a reload), progress and last answer.

        ``since`` is when the session began (seconds since the epoch): answers from then
        on count toward the session's progress and can be undone.
        """
        annotator = annotator.strip()
        if not annotator:
            raise _error(422, "annotator: must not be blank")
        queries = all_queries.get()
        with answers.current() as pool:
            picked = assigner.assign(annotator, queries, pool)
            answered, last = answers.session(annotator, since)
        if picked.query is not None and prefetch:
            warm([picked.query, *picked.upcoming])
        # a JSONResponse as is: FastAPI would otherwise validate and re-encode the dict
        return JSONResponse({
            "annotator": annotator,
            "session": {"since": since, "answered": answered, "size": session_size,
                        "planned": min(session_size, answered + picked.available)},
            "last": None if last is None else describe(last),
            "query": None if picked.query is None else views.view(picked.query),
            "queries_total": len(queries),
            "question": question,
        })

    @app.post("/api/answers")
    async def post_answer(answer: Answer) -> JSONResponse:
        """Record an answer. The same ``request_id`` again returns the stored label (200)."""
        annotator = answer.annotator
        try:
            query = all_queries.find(answer.query_id)
        except KeyError:
            raise _error(404, f"query {answer.query_id} does not exist") from None
        if not views.showable(query):
            raise _error(404, f"query {query.id} is not served here: its datasets are not among this server's")

        def write(store: PreferenceStore) -> tuple[tuple[int, bool], Label | None]:
            # check and write in one transaction: two tabs cannot both answer
            history = store.labels(query_id=query.id, include_superseded=True)
            for label in history:
                if label.request_id == answer.request_id:
                    if label.annotator != annotator:
                        raise _error(409, f"request_id {answer.request_id!r} belongs to another annotator's answer")
                    return (label.id, True), None
            superseded = {label.supersedes for label in history}
            current = [l for l in history if l.annotator == annotator and l.kind != "retract" and l.id not in superseded]
            if current:
                raise _error(409, f"{annotator} already answered query {query.id} (label {current[0].id}); undo it first to answer again")
            fields = answer_fields(query, answer.choice, answer.ranking)
            new = store.add_label(query.id, annotator=annotator, source=SOURCE, note=answer.note or None,
                                  request_id=answer.request_id, **fields)
            return (new, False), store.label(new)

        try:
            label_id, duplicate = await writer.write(write)
        except ValueError as err:
            raise _error(409 if "request_id" in str(err) else 400, str(err)) from None
        if duplicate:
            return JSONResponse({"label_id": label_id, "query_id": query.id, "duplicate": True})
        assigner.release(annotator, query.id)  # after the answer index has it (the writer recorded it)
        return JSONResponse({"label_id": label_id, "query_id": query.id, "duplicate": False}, status_code=201)

    @app.post("/api/undo")
    async def undo(body: Undo) -> JSONResponse:
        """Undo one of the annotator's answers: a ``retract`` label supersedes it (append-only)."""
        try:
            label = store.label(body.label_id)
        except KeyError:
            raise _error(404, f"label {body.label_id} does not exist") from None
        if label.annotator != body.annotator or label.source != SOURCE:
            raise _error(403, f"label {label.id} is not an answer of {body.annotator}; only your own answers can be undone")

        def write(store: PreferenceStore) -> tuple[tuple[int, bool], Label | None]:
            history = store.labels(query_id=label.query_id, include_superseded=True)
            for row in history:
                if row.request_id == body.request_id:
                    return (row.id, True), None
            if label.kind == "retract":
                raise _error(409, f"label {label.id} is itself an undo; it cannot be undone")
            newer = [row.id for row in history if row.supersedes == label.id]
            if newer:
                raise _error(409, f"label {label.id} was already undone or replaced (by label {newer[0]})")
            retract = store.retract(label.id, annotator=body.annotator, source=SOURCE, request_id=body.request_id)
            return (retract, False), store.label(retract)

        try:
            retract_id, duplicate = await writer.write(write)
        except ValueError as err:
            raise _error(409, str(err)) from None
        if duplicate:
            return JSONResponse({"retract_id": retract_id, "label_id": label.id, "query_id": label.query_id, "duplicate": True})
        assigner.hand_back(body.annotator, label.query_id)
        return JSONResponse({"retract_id": retract_id, "label_id": label.id, "query_id": label.query_id, "duplicate": False}, status_code=201)

    @app.get("/api/videos/{dataset}/{demo}/{start}/{length}.webm")
    def video(dataset: int, demo: str, start: int, length: int) -> FileResponse:
        """The WebM of one window of a configured dataset; HTTP range requests work."""
        try:
            clip = catalog.clip(dataset, demo, start, length)
        except NotShowable as err:
            raise _error(404, str(err)) from None
        path = videos.path(clip)
        return FileResponse(path, media_type="video/webm", headers={"Cache-Control": "no-cache"})

    @app.get("/api/overview")
    def stats() -> dict[str, Any]:
        """Labels per annotator and source, agreement, labelling rate."""
        return {**overview(store), "store": str(store.path), "generated": time.time()}

    @app.get("/api/export.jsonl")
    def export() -> FileResponse:
        """The whole store (history included) as JSONL, as a download."""
        fd, tmp = tempfile.mkstemp(suffix=".jsonl", dir=cache)
        os.close(fd)
        store.export_jsonl(tmp)
        name = f"{Path(store.path).stem}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        return FileResponse(tmp, media_type="application/x-ndjson", filename=name,
                            background=BackgroundTask(os.unlink, tmp))

    return app
