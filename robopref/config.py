"""Structured-config base shared by every stage, and the ConfigStore registration.

Each stage declares a dataclass ``<Stage>Config(StageConfig)`` next to its ``run``
function and registers it as ``<stage>_schema``; the stage's YAML in ``conf/`` lists
that schema first in its defaults, so a mistyped key or a wrong type fails at start-up
with Hydra's message naming the key and the config class.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class StageConfig:
    """Fields every stage has."""

    seed: int = 0
    device: str = "auto"


def register_schema(stage: str, node: type) -> None:
    """Register ``node`` (a StageConfig dataclass) as ``<stage>_schema`` in Hydra's ConfigStore."""
    ConfigStore.instance().store(name=f"{stage}_schema", node=node)
