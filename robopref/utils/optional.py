"""Import a package that only some features need (an install extra), with an error that
says which feature needs it and how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_import(module: str, purpose: str, extra: str) -> ModuleType:
    """``importlib.import_module(module)``; if it is missing, an ImportError naming ``purpose``
    and the ``robopref[extra]`` install that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        package = module.split(".")[0]
        raise ImportError(f"{purpose} needs {package}: pip install 'robopref[{extra}]' (or pip install {package})") from e
