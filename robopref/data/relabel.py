"""Write a copy of a dataset whose rewards come from a learned reward model."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from robopref.data.errors import DatasetError
from robopref.data.layout import DATA


def relabel_rewards(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    rewards: Mapping[str, np.ndarray],
    infos: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    note: Mapping[str, Any] | None = None,
) -> Path:
    """Copy ``src`` to ``dst`` with ``data/<demo>/rewards`` replaced.

    The original rewards move to ``infos/env_reward`` so nothing is lost; ``infos``
    adds per-step arrays (e.g. ``reward_std``); ``note`` is stored as JSON in the
    ``data`` attr ``reward_relabel``. Written to ``<dst>.partial`` and moved into
    place, so a crash never leaves a half-written file at ``dst``.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"relabel output {dst} is the input file; choose another path so the original stays intact")
    tmp = dst.with_name(dst.name + ".partial")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, tmp)
    try:
        with h5py.File(tmp, "a") as f:
            for demo, r in rewards.items():
                grp = f[DATA][demo]
                T = grp["actions"].shape[0]
                r = np.asarray(r, dtype=np.float64)
                if r.shape != (T,):
                    raise DatasetError(str(src), f"relabel rewards have shape {r.shape}, expected ({T},)", demo, "rewards")
                infos_grp = grp.require_group("infos")
                if "env_reward" not in infos_grp:
                    infos_grp.create_dataset("env_reward", data=grp["rewards"][()])
                del grp["rewards"]
                grp.create_dataset("rewards", data=r)
                for key, arr in (infos or {}).get(demo, {}).items():
                    if key in infos_grp:
                        del infos_grp[key]
                    infos_grp.create_dataset(key, data=np.asarray(arr))
            f[DATA].attrs["reward_relabel"] = json.dumps(dict(note or {}), default=str)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dst
