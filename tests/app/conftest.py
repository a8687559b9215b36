"""Fixtures for the label-app tests: a small image dataset, a store of queries, a live server."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the label app needs the 'app' extra: pip install -e '.[app]'")

from robopref.data import DatasetWriter, Episode, SegmentRef, make_env_args  # noqa: E402
from robopref.prefs import PreferenceStore  # noqa: E402

DEMOS, STEPS, SIZE, LENGTH = 6, 40, 16, 12


def _frames(demo: int) -> np.ndarray:
    """A coloured square moving across a grey field: each demo a different colour and path."""
    frames = np.full((STEPS, SIZE, SIZE, 3), 200, dtype=np.uint8)
    colour = np.array([(60 * demo) % 255, 90, 255 - 40 * demo], dtype=np.uint8)
    for t in range(STEPS):
        x = (t * (demo + 1) // 3) % (SIZE - 4)
        frames[t, 6:10, x : x + 4] = colour
    return frames


def write_image_dataset(path: Path) -> Path:
    """``DEMOS`` demos of ``STEPS`` steps with ``obs/top_image`` frames and a pref_score."""
    rng = np.random.default_rng(0)
    with DatasetWriter(path, env_args=make_env_args("robopref-test/Frames-v0")) as writer:
        for d in range(DEMOS):
            writer.add_episode(Episode(
                actions=rng.uniform(-1, 1, (STEPS, 2)).astype(np.float32),
                rewards=np.zeros(STEPS),
                dones=np.eye(1, STEPS, STEPS - 1, dtype=np.int64)[0],
                obs={"state": rng.normal(size=(STEPS, 3)).astype(np.float32), "top_image": _frames(d)},
                infos={"pref_score": np.full(STEPS, float(d))},
            ))
    return path


def segment(dataset: Path, i: int) -> SegmentRef:
    """The i-th distinct window of the dataset (cycles through demos and starts)."""
    return SegmentRef(str(dataset), f"demo_{i % DEMOS}", (i // DEMOS) * 3 % (STEPS - LENGTH), LENGTH)


def add_queries(store: PreferenceStore, dataset: Path, pairs: int, triplets: int, windows: int = 8) -> list[int]:
    """``pairs`` pair queries then ``triplets`` triplet queries, all distinct, drawn from
    ``windows`` windows (few windows = few videos to encode)."""
    refs = [segment(dataset, i) for i in range(windows)]
    made: list[tuple[SegmentRef, ...]] = [c for c in itertools.combinations(refs, 2)][:pairs]
    made += [c for c in itertools.combinations(refs, 3)][::7][:triplets]
    if len(made) != pairs + triplets:
        raise ValueError(f"{windows} windows cannot make {pairs} pairs and {triplets} triplets")
    return store.add_queries(made, origin="uniform")


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_dataset(tmp_path_factory.mktemp("app-data") / "frames.hdf5")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "prefs.sqlite"


def warm_videos(app, queries) -> None:
    """Encode every query's videos up front, so browser steps wait on the page, not on ffmpeg."""
    clips = {app.state.catalog.clip_of(s) for q in queries for s in q.segments}
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(app.state.videos.path, clips))


class LiveServer:
    """A uvicorn server for an app, in a thread, on a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn

        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live_server() -> Iterator[type[LiveServer]]:
    yield LiveServer
