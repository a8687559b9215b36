"""Datasets the benchmarks share, made with `robopref collect` once and cached.

They live in benchmarks/.data/ (git-ignored); delete it to regenerate.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data"


def collected(name: str, *overrides: str) -> Path:
    """Path of a dataset collected with ``robopref collect <overrides>`` (cached by name)."""
    DATA.mkdir(parents=True, exist_ok=True)
    out = DATA / f"{name}.hdf5"
    if not out.exists():
        cmd = [sys.executable, "-m", "robopref.cli", "collect", *overrides, "videos=0", f"output={out}",
               f"hydra.run.dir={DATA / 'runs' / name}"]
        print(f"# collecting {name}: {' '.join(cmd[3:])}", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out
