"""The preference labelling page: a FastAPI server with a plain HTML/CSS/JS front end.

Start it with ``robopref app db=prefs.sqlite datasets=[data.hdf5]`` or build the ASGI app
in Python with :func:`create_app`. Needs the ``app`` extra (fastapi, uvicorn). Modules:
``server`` (routes), ``assignment`` (who sees which query), ``videos`` (frames → WebM
cache), ``catalog`` (the only datasets that can be read), ``queries`` (query ↔ page),
``models`` (request validation), ``overview`` (stats and agreement), ``static/`` (the page).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # lazy: the stats and assignment modules stay importable without fastapi installed
    if name == "create_app":
        from robopref.app.server import create_app

        return create_app
    raise AttributeError(f"module 'robopref.app' has no attribute {name!r}")
