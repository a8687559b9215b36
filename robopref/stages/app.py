"""``robopref app``: the preference labelling page, served on this computer.

    robopref app db=prefs.sqlite datasets=[outputs/collect/.../dataset.hdf5]

Prints the URL (``port=0`` picks a free port) and serves until Ctrl-C. Queries come
from the store (``robopref label ... teacher=none``) and may be added while it runs.
"""

from __future__ import annotations

import logging
import socket
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING, DictConfig

from robopref.config import StageConfig, register_schema

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class AppConfig(StageConfig):
    """Config of ``robopref app`` (see conf/app.yaml)."""

    db: str = MISSING  # the preference store
    datasets: list = field(default_factory=list)  # dataset files the queries refer to; only these are readable
    host: str = "127.0.0.1"  # 0.0.0.0 serves the whole network: only on a trusted lab network
    port: int = 8765  # 0 = a free port
    annotator_overlap: float = 0.2  # fraction of queries answered by overlap_annotators people
    overlap_annotators: int = 2
    session_size: int = 50
    order: str = "newest"  # newest | oldest query first
    cache_dir: Optional[str] = None  # video cache (default: <db>.videos next to the store)
    fps: int = 10
    camera: Optional[str] = None  # <camera>_image to show (default: the dataset's first)
    prefetch_videos: bool = True  # encode the next queries' videos in the background
    question: Optional[str] = None  # what to judge, shown above the videos, e.g. "Which rollout keeps the cup upright?"


register_schema("app", AppConfig)


def _datasets_hint(db: str) -> str:
    """The datasets the store's queries name, for the error message when none are given."""
    from robopref.prefs import PreferenceStore

    try:
        with PreferenceStore(db, readonly=True) as store:
            names = sorted({s.dataset for q in store.queries() for s in q.segments})
    except Exception:  # the hint is a courtesy; the real error is the missing argument
        return ""
    return f"; the queries in {db} refer to: [{','.join(names)}]" if names else ""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port=0``: any free port), bound before
    the server starts so the printed URL is the real one."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port={port}: expected 0-65535 (0: any free port)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({err.strerror}); pick another port=... or port=0 for a free one") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(cfg: DictConfig) -> dict[str, Any]:
    """Serve the labelling page until interrupted."""
    try:
        import uvicorn

        from robopref.app.server import create_app
    except ImportError as err:
        raise ImportError(f"robopref app needs the 'app' extra: pip install -e '.[app]' ({err})") from None
    datasets = [cfg.datasets] if isinstance(cfg.datasets, str) else list(cfg.datasets)
    if not datasets:
        raise ValueError(f"datasets is empty: pass datasets=[file.hdf5,...]{_datasets_hint(cfg.db)}")
    allowed = list(LOOPBACK) if cfg.host in LOOPBACK else None
    app = create_app(
        cfg.db, datasets, cache_dir=cfg.cache_dir, overlap=cfg.annotator_overlap, overlap_annotators=cfg.overlap_annotators,
        session_size=cfg.session_size, order=cfg.order, fps=cfg.fps, camera=cfg.camera, prefetch=cfg.prefetch_videos,
        allowed_hosts=allowed, question=cfg.question,
    )
    sock = bind(cfg.host, cfg.port)
    port = sock.getsockname()[1]
    shown = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    url = f"http://{shown}:{port}/"
    print(f"robopref app: label at {url}  (overview: {url}overview; Ctrl-C to stop)", flush=True)
    log.info("serving %s for store %s, datasets %s", url, cfg.db, datasets)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2))
    server.run(sockets=[sock])
    sys.stdout.flush()
    return {"url": url}
