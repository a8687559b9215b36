"""Read robomimic-layout datasets lazily.

Nothing is loaded at open time except the demo list and small attributes. Windows
(:class:`~robopref.data.segments.SegmentRef`) are read by slicing h5py datasets, so a
window of a long image episode decompresses only the chunks it touches.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Sequence

import h5py
import numpy as np

from robopref.data.episode import Episode
from robopref.data.errors import DatasetError
from robopref.data.layout import DATA, MASK, is_image_key
from robopref.data.segments import SegmentRef
from robopref.data.validate import validate_file


class Dataset:
    """A read-only view of one dataset file.

    Args:
        path: the ``.hdf5`` file.
        validate: check the whole layout on open (shapes, dtypes, NaN/Inf in actions
            and rewards, masks); raises :class:`DatasetError` naming file, demo and key.
        filter_key: restrict :attr:`demos` to ``mask/<filter_key>`` (e.g. ``better``).

    The h5py handle is opened per process on first use, so a Dataset can be passed to
    worker processes (e.g. a torch DataLoader with workers) safely.
    """

    def __init__(self, path: str | os.PathLike, validate: bool = True, filter_key: str | None = None) -> None:
        self.path = str(path)
        if not os.path.exists(self.path):
            raise DatasetError(self.path, "file does not exist")
        self._file: h5py.File | None = None
        self._pid: int | None = None
        f = self._h5
        if validate:
            demos = validate_file(f, self.path)
        else:
            if DATA not in f:
                raise DatasetError(self.path, "missing group 'data' (not a robomimic-layout dataset)", key="data")
            from robopref.data.layout import sort_demos

            demos = sort_demos(list(f[DATA].keys()))
        if filter_key is not None:
            mask = set(self.mask(filter_key))
            demos = [d for d in demos if d in mask]
        self.demos: list[str] = demos
        self.filter_key = filter_key

    def require_episodes(self, purpose: str) -> "Dataset":
        """``self`` if it holds at least one episode (after its filter), else an error naming the
        file and ``purpose`` (an empty file is valid, but nothing can be learned or labelled from it)."""
        if not self.demos:
            where = f" in mask {self.filter_key!r}" if self.filter_key else ""
            raise DatasetError(self.path, f"has no episodes{where}: {purpose}")
        return self

    # -- file handle -------------------------------------------------------------
    @property
    def _h5(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as e:
                raise DatasetError(self.path, f"cannot be opened as HDF5 ({e})") from e
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        """Close the HDF5 handle (it reopens on next use)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    # -- metadata ----------------------------------------------------------------
    @property
    def env_args(self) -> dict[str, Any]:
        """The robomimic ``env_args`` dict (``{}`` when the file has none)."""
        raw = self._h5[DATA].attrs.get("env_args")
        if raw is None:
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as e:
            raise DatasetError(self.path, f"attr env_args is not valid JSON ({e})", key="data.attrs[env_args]") from e

    def __len__(self) -> int:
        return len(self.demos)

    def _demo(self, demo: str) -> h5py.Group:
        if demo not in self._h5[DATA]:
            raise DatasetError(self.path, "no such demo", demo)
        return self._h5[DATA][demo]

    def num_samples(self, demo: str) -> int:
        """Number of steps of ``demo``."""
        return int(self._demo(demo)["actions"].shape[0])

    def demo_attrs(self, demo: str) -> dict[str, Any]:
        """The demo's attributes (``seed``, ``policy_seed``, ``noise``, ...), without ``num_samples``."""
        return {k: v.item() if hasattr(v, "item") else v for k, v in self._demo(demo).attrs.items() if k != "num_samples"}

    @property
    def lengths(self) -> dict[str, int]:
        """Steps per demo, for the selected demos."""
        return {d: self.num_samples(d) for d in self.demos}

    @property
    def obs_keys(self) -> list[str]:
        """Observation keys of the first demo (all demos share them in valid files)."""
        return sorted(self._demo(self.demos[0])["obs"].keys()) if self.demos else []

    @property
    def image_keys(self) -> list[str]:
        """Observation keys that hold images (``<camera>_image``)."""
        return [k for k in self.obs_keys if is_image_key(k)]

    @property
    def info_keys(self) -> list[str]:
        """Per-step info keys stored under ``infos/`` of the first demo."""
        if not self.demos or "infos" not in self._demo(self.demos[0]):
            return []
        return sorted(self._demo(self.demos[0])["infos"].keys())

    @property
    def action_dim(self) -> int:
        """Dimension of the action vectors."""
        return int(self._demo(self.demos[0])["actions"].shape[1])

    def camera_key(self, camera: str | None = None, purpose: str = "") -> str:
        """``obs/<camera>_image`` for ``camera`` (``front`` or ``front_image``; default: the
        first camera). ``purpose`` ends the error raised when the file has no frames."""
        keys = self.image_keys
        if camera is not None:
            key = camera if is_image_key(camera) else f"{camera}_image"
            if key not in keys:
                raise DatasetError(self.path, f"no camera {camera!r}; image keys are {keys}", key=f"obs/{key}")
            return f"obs/{key}"
        if not keys:
            raise DatasetError(self.path, "has no obs/<camera>_image frames" + (f": {purpose}" if purpose else ""))
        return f"obs/{keys[0]}"

    def masks(self) -> list[str]:
        """Names of the filter keys under ``mask/``."""
        return sorted(self._h5[MASK].keys()) if MASK in self._h5 else []

    def mask(self, filter_key: str) -> list[str]:
        """Demo names listed in ``mask/<filter_key>``."""
        if MASK not in self._h5 or filter_key not in self._h5[MASK]:
            raise DatasetError(self.path, f"no such filter key; available: {self.masks()}", key=f"mask/{filter_key}")
        return [n.decode() if isinstance(n, bytes) else str(n) for n in self._h5[MASK][filter_key][()]]

    # -- data --------------------------------------------------------------------
    def read(self, demo: str, key: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Read ``data/<demo>/<key>[start:stop]`` (``key`` like ``actions``, ``obs/top_image``, ``infos/success``)."""
        grp = self._demo(demo)
        if key not in grp:
            raise DatasetError(self.path, "missing key", demo, key)
        return grp[key][start:stop]

    def action_dict_keys(self, demo: str) -> list[str]:
        """Names under ``data/<demo>/action_dict`` (other action streams, e.g. ``intended``)."""
        grp = self._demo(demo)
        return sorted(grp["action_dict"].keys()) if "action_dict" in grp else []

    def has(self, demo: str, key: str) -> bool:
        """Whether ``data/<demo>/<key>`` exists."""
        return key in self._demo(demo)

    def window(self, ref: SegmentRef, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Arrays of one segment. ``keys`` default: actions, rewards, all obs and infos."""
        n = self.num_samples(ref.demo)
        if ref.stop > n:
            raise DatasetError(self.path, f"segment [{ref.start}, {ref.stop}) is past the end of the demo ({n} steps)", ref.demo)
        if keys is None:
            keys = self.default_keys(ref.demo)
        return {k: self.read(ref.demo, k, ref.start, ref.stop) for k in keys}

    def default_keys(self, demo: str) -> list[str]:
        """``actions``, ``rewards``, every ``obs/*`` and ``infos/*`` key of ``demo``."""
        grp = self._demo(demo)
        keys = ["actions", "rewards"] + [f"obs/{k}" for k in grp["obs"].keys()]
        if "infos" in grp:
            keys += [f"infos/{k}" for k in grp["infos"].keys()]
        return keys

    def episode(self, demo: str, obs_keys: Iterable[str] | None = None) -> Episode:
        """Load a whole demo as an :class:`Episode` (images included unless ``obs_keys`` excludes them)."""
        grp = self._demo(demo)
        keys = list(obs_keys) if obs_keys is not None else list(grp["obs"].keys())
        return Episode(
            actions=grp["actions"][()],
            rewards=grp["rewards"][()],
            dones=grp["dones"][()],
            obs={k: grp["obs"][k][()] for k in keys},
            next_obs={k: grp["next_obs"][k][()] for k in keys if k in grp["next_obs"]} if "next_obs" in grp else None,
            states=grp["states"][()] if "states" in grp else None,
            infos={k: grp["infos"][k][()] for k in grp["infos"].keys()} if "infos" in grp else {},
            action_dict={k: grp["action_dict"][k][()] for k in grp["action_dict"].keys()} if "action_dict" in grp else {},
            attrs={k: v for k, v in grp.attrs.items() if k != "num_samples"},
        )

    def info_sum(self, ref: SegmentRef, key: str) -> float:
        """Sum of ``infos/<key>`` over a segment (ground-truth returns for teachers/eval)."""
        return float(np.sum(self.read(ref.demo, f"infos/{key}", ref.start, ref.stop)))
