"""``robopref info``: what a file or folder robopref reads holds, without loading it into a
run. :func:`describe` recognises robopref datasets (robomimic HDF5), preference stores
(SQLite), policy and reward checkpoints, LeRobot dataset and policy folders, diffusion_policy zarr
replay buffers and checkpoints, and returns a plain dict; :mod:`robopref.info.text` prints it for people.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

KINDS = ("dataset", "preference store", "policy checkpoint", "reward checkpoint", "LeRobot dataset", "zarr replay buffer",
         "diffusion_policy checkpoint", "LeRobot policy")


def detect(path: str | os.PathLike) -> str:
    """Which of :data:`KINDS` ``path`` is, from its layout or its first bytes."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    if p.is_dir():
        if (p / "meta" / "info.json").is_file():
            return "LeRobot dataset"
        if (p / ".zgroup").is_file():
            return "zarr replay buffer"
        from robopref.policies.lerobot_import import is_lerobot_policy

        if is_lerobot_policy(p):
            return "LeRobot policy"
        raise ValueError(f"{p}: a folder that is neither a LeRobot dataset (meta/info.json), a LeRobot policy (config.json and "
                         "model.safetensors) nor a zarr replay buffer (.zgroup)")
    with open(p, "rb") as f:
        head = f.read(16)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "dataset"
    if head.startswith(b"SQLite format 3"):
        return "preference store"
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as z:
            zarr = any(n.endswith(".zgroup") for n in z.namelist())
        return "zarr replay buffer" if zarr else "checkpoint"  # torch.save writes a zip
    if head.startswith(b"\x80"):
        return "checkpoint"  # a legacy (pickle) torch file
    raise ValueError(f"{p}: not a file robopref reads (expected one of: {', '.join(KINDS)})")


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """A summary of ``path`` as a plain dict with its ``kind`` first."""
    kind = detect(path)
    if kind == "dataset":
        from robopref.info.datasets import describe_hdf5

        return describe_hdf5(path)
    if kind == "LeRobot dataset":
        from robopref.info.datasets import describe_lerobot

        return describe_lerobot(path)
    if kind == "zarr replay buffer":
        from robopref.info.datasets import describe_zarr

        return describe_zarr(path)
    if kind == "LeRobot policy":
        from robopref.info.checkpoints import describe_lerobot_policy

        return describe_lerobot_policy(path)
    if kind == "preference store":
        from robopref.info.store import describe_store

        return describe_store(path)
    from robopref.info.checkpoints import describe_checkpoint

    return describe_checkpoint(path)
