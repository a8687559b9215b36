"""Write episodes to a robomimic-layout HDF5 file, safely.

Safety: by default the writer works on a temporary copy next to the target
(``<name>.partial``) and moves it over the target with ``os.replace`` only when
``close()`` succeeds. A process killed mid-write therefore leaves the user's existing
file untouched (HDF5 itself is not crash-safe). ``atomic=False`` writes in place, for
very large files where a copy is too costly; the file is flushed after every episode.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

import h5py
import numpy as np

from robopref.data.episode import Episode
from robopref.data.errors import DatasetError
from robopref.data.layout import DATA, MASK, demo_index, demo_name, dumps_env_args, is_image_key

IMAGE_CHUNK_FRAMES = 8  # frames per chunk: a window read decompresses only the chunks it touches


class DatasetWriter:
    """Create or append to a dataset file.

    Args:
        path: target ``.hdf5`` file.
        env_args: robomimic ``env_args`` (``env_name``, ``env_type``, ``env_kwargs``);
            required for a new file, checked for equality when appending.
        mode: ``"w"`` to create (replaces an existing file on close), ``"a"`` to append.
        atomic: write through a temporary copy (see module docstring).
        compression: HDF5 filter for image arrays (``"gzip"`` is readable everywhere).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        env_args: Mapping[str, Any] | None = None,
        mode: str = "a",
        atomic: bool = True,
        compression: str | None = "gzip",
    ) -> None:
        if mode not in ("w", "a"):
            raise ValueError(f"DatasetWriter mode must be 'w' or 'a', got {mode!r}")
        self.path = Path(path)
        self.atomic = atomic
        self.compression = compression
        exists = self.path.exists() and mode == "a"
        if not exists and env_args is None:
            raise ValueError(f"{self.path}: env_args is required to create a new dataset")
        self._work = self.path.with_name(self.path.name + ".partial") if atomic else self.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if atomic:
            if exists:
                shutil.copy2(self.path, self._work)
            elif self._work.exists():
                self._work.unlink()  # leftover of a killed earlier run
        self._file = h5py.File(self._work, "a" if exists else "w")
        data = self._file.require_group(DATA)
        if exists:
            self._check_env_args(data, env_args)
        else:
            data.attrs["env_args"] = dumps_env_args(env_args or {})
            data.attrs["total"] = 0
        existing = [demo_index(n) for n in data.keys()]
        self._next = max([i for i in existing if i is not None], default=-1) + 1

    def _check_env_args(self, data: h5py.Group, env_args: Mapping[str, Any] | None) -> None:
        if env_args is None or "env_args" not in data.attrs:
            return
        import json

        stored = json.loads(data.attrs["env_args"])
        if stored.get("env_name") != env_args.get("env_name"):
            self._abort()
            raise DatasetError(
                str(self.path),
                f"cannot append episodes of env {env_args.get('env_name')!r} to a dataset of env {stored.get('env_name')!r}",
                key="data.attrs[env_args]",
            )

    @property
    def num_demos(self) -> int:
        """Number of demos in the file so far."""
        return len(self._file[DATA].keys())

    def add_episode(self, episode: Episode) -> str:
        """Append one episode as ``data/demo_N`` and return its name."""
        _check_episode(episode, str(self.path))
        name = demo_name(self._next)
        grp = self._file[DATA].create_group(name)
        T = len(episode)
        grp.attrs["num_samples"] = T
        for k, v in episode.attrs.items():
            grp.attrs[k] = v
        grp.create_dataset("actions", data=np.asarray(episode.actions, dtype=np.float32))
        grp.create_dataset("rewards", data=np.asarray(episode.rewards, dtype=np.float64))
        grp.create_dataset("dones", data=np.asarray(episode.dones, dtype=np.int64))
        if episode.states is not None:
            grp.create_dataset("states", data=np.asarray(episode.states, dtype=np.float64))
        self._write_obs(grp.create_group("obs"), episode.obs)
        if episode.next_obs is not None:
            self._write_obs(grp.create_group("next_obs"), episode.next_obs)
        if episode.infos:
            infos = grp.create_group("infos")
            for k, v in episode.infos.items():
                infos.create_dataset(k, data=np.asarray(v))
        if episode.action_dict:
            acts = grp.create_group("action_dict")
            for k, v in episode.action_dict.items():
                acts.create_dataset(k, data=np.asarray(v, dtype=np.float32))
        self._file[DATA].attrs["total"] = int(self._file[DATA].attrs.get("total", 0)) + T
        self._next += 1
        self._file.flush()
        return name

    def _write_obs(self, grp: h5py.Group, obs: Mapping[str, np.ndarray]) -> None:
        for k, v in obs.items():
            v = np.asarray(v)
            if is_image_key(k):
                chunks = (min(IMAGE_CHUNK_FRAMES, max(1, v.shape[0])),) + v.shape[1:]
                grp.create_dataset(k, data=v.astype(np.uint8, copy=False), chunks=chunks, compression=self.compression)
            else:
                grp.create_dataset(k, data=v)

    def set_mask(self, filter_key: str, demos: Iterable[str]) -> None:
        """Write ``mask/<filter_key>`` (replacing it), e.g. ``better``/``okay``/``worse`` or ``train``/``valid``."""
        demos = list(demos)
        missing = [d for d in demos if d not in self._file[DATA]]
        if missing:
            raise DatasetError(str(self.path), f"names demos that do not exist: {missing[:5]}", key=f"mask/{filter_key}")
        masks = self._file.require_group(MASK)
        if filter_key in masks:
            del masks[filter_key]
        masks.create_dataset(filter_key, data=np.array(demos, dtype="S"))

    def set_attr(self, key: str, value: Any) -> None:
        """Set an extra attribute on the ``data`` group (e.g. a JSON summary)."""
        self._file[DATA].attrs[key] = value

    def close(self) -> None:
        """Flush and, in atomic mode, move the finished file over the target."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if self.atomic:
            os.replace(self._work, self.path)

    def _abort(self) -> None:
        """Close without publishing: the target stays as it was."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.atomic and self._work.exists():
            self._work.unlink()

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


def _check_episode(ep: Episode, path: str) -> None:
    """Refuse an episode that would write an invalid demo (same rules as validation)."""
    from robopref.data.validate import check_episode_arrays

    check_episode_arrays(
        path,
        "demo_(new)",
        actions=np.asarray(ep.actions),
        rewards=np.asarray(ep.rewards),
        dones=np.asarray(ep.dones),
        obs={k: np.asarray(v) for k, v in ep.obs.items()},
        extra={**{f"next_obs/{k}": np.asarray(v) for k, v in (ep.next_obs or {}).items()},
               **{f"infos/{k}": np.asarray(v) for k, v in ep.infos.items()},
               **{f"action_dict/{k}": np.asarray(v) for k, v in ep.action_dict.items()},
               **({"states": np.asarray(ep.states)} if ep.states is not None else {})},
    )
