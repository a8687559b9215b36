"""``robopref info``: what a dataset, preference store, checkpoint, LeRobot folder or zarr
replay buffer holds, for a person (text) or a script (``json=true``).

    robopref info path=demos.hdf5
    robopref info path=prefs.sqlite json=true
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING, DictConfig

from robopref.config import StageConfig, register_schema


@dataclass
class InfoConfig(StageConfig):
    """Config of ``robopref info``."""

    path: str = MISSING  # the file or folder to describe
    json: bool = False  # print JSON instead of text


register_schema("info", InfoConfig)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Describe ``cfg.path`` on stdout; return the description."""
    from robopref.info import describe
    from robopref.info.text import render

    info = describe(cfg.path)
    print(json.dumps(info, indent=2, default=str) if cfg.json else render(info))
    return info
