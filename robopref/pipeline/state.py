"""The pipeline's checkpoint: which steps are done and what they produced.

``pipeline.json`` in the pipeline's run directory maps each finished step to its
record (command, outputs, metrics, seconds). It is rewritten atomically after every
step (temporary file, fsync, rename), so a process killed at any moment leaves either
the previous or the new state, never a torn file. ``robopref pipeline resume=true``
reads it and skips the steps it lists; a step that was running when the process died
is not listed and runs again from the start (every stage writes its outputs so that a
rerun replaces a partial one).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from robopref.utils.atomic import atomic_write_text

STATE_FILE = "pipeline.json"
STATE_VERSION = 1


class PipelineState:
    """Done steps of one pipeline run, persisted in ``<root>/pipeline.json``."""

    def __init__(self, root: Path, experiment: str) -> None:
        self.root, self.path = Path(root), Path(root) / STATE_FILE
        self.data: dict[str, Any] = {"version": STATE_VERSION, "experiment": experiment, "steps": {}, "order": []}
        if self.path.exists():
            self._load(experiment)

    def _load(self, experiment: str) -> None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{self.path}: not a readable pipeline state ({e}); move it away to start the pipeline afresh") from e
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION or not isinstance(data.get("steps"), dict):
            raise ValueError(f"{self.path}: not a robopref pipeline state of version {STATE_VERSION}")
        if data.get("experiment") != experiment:
            raise ValueError(f"{self.path} belongs to experiment {data.get('experiment')!r}, not {experiment!r}; resume it with experiment={data.get('experiment')}")
        self.data = data

    def done(self, step: str) -> bool:
        """Whether ``step`` finished in this or an earlier (resumed) run."""
        return step in self.data["steps"]

    def get(self, step: str) -> dict[str, Any]:
        """The record of a finished step."""
        if step not in self.data["steps"]:
            raise KeyError(f"pipeline step {step!r} has not run yet (done: {', '.join(self.data['order']) or 'none'})")
        return self.data["steps"][step]

    def steps(self) -> list[tuple[str, dict[str, Any]]]:
        """Finished steps in the order they finished."""
        return [(s, self.data["steps"][s]) for s in self.data["order"]]

    def record(self, step: str, info: dict[str, Any]) -> None:
        """Mark ``step`` done with ``info`` and persist atomically."""
        self.data["steps"][step] = {**info, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if step not in self.data["order"]:
            self.data["order"].append(step)
        self._write()

    def _write(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=2, default=str))
