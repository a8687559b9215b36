"""Where a stage writes its outputs: the Hydra run directory, or the cwd outside Hydra."""

from __future__ import annotations

from pathlib import Path


def run_dir() -> Path:
    """The current Hydra job's output directory (``outputs/<stage>/<time>``), else ``.``."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except (ImportError, ValueError):
        return Path(".")
