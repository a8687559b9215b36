"""Training windows for diffusion policies over a robopref (robomimic-layout) dataset.

One sample is an observation history of ``n_obs_steps`` steps and an action chunk of
``horizon`` steps starting at the same step, as in Diffusion Policy. Windows may start
before the episode (``n_obs_steps - 1`` steps) and end after it (``n_action_steps - 1``
steps); the missing steps repeat the first or last step, so every step of every demo
is the "current" step of some window.

Memory: low-dim arrays (actions, state keys) are small and cached per process on first
use; images are read lazily, one window at a time, from the chunked HDF5 file, so a
dataset larger than RAM trains with bounded memory. The h5py handle is opened per
process (:class:`robopref.data.Dataset` reopens after fork), so DataLoader workers work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from robopref.data import Dataset


@dataclass(frozen=True)
class WindowSpec:
    """The time structure of a sample: prediction ``horizon``, observation steps, executed actions."""

    horizon: int
    n_obs_steps: int
    n_action_steps: int

    def __post_init__(self) -> None:
        if min(self.horizon, self.n_obs_steps, self.n_action_steps) < 1:
            raise ValueError(f"horizon, n_obs_steps and n_action_steps must be >= 1, got {self}")
        if self.n_obs_steps - 1 + self.n_action_steps > self.horizon:
            raise ValueError(
                f"horizon={self.horizon} is too short: the executed actions are steps "
                f"[n_obs_steps - 1, n_obs_steps - 1 + n_action_steps) = [{self.n_obs_steps - 1}, "
                f"{self.n_obs_steps - 1 + self.n_action_steps}) of the chunk"
            )


def split_demos(demos: Sequence[str], val_ratio: float, seed: int) -> tuple[list[str], list[str]]:
    """Split demo names into train and validation sets (by demo, never by step).

    At least one demo stays in training; with ``val_ratio > 0`` and two or more demos
    at least one goes to validation. The split depends only on the names and ``seed``.
    """
    demos = list(demos)
    if not demos:
        raise ValueError("no demos to train on (empty dataset or empty filter key)")
    n_val = int(round(len(demos) * val_ratio))
    if val_ratio > 0 and len(demos) > 1:
        n_val = min(max(n_val, 1), len(demos) - 1)
    else:
        n_val = 0
    perm = np.random.default_rng(seed).permutation(len(demos))
    val = sorted((demos[i] for i in perm[:n_val]), key=demos.index)
    train = [d for d in demos if d not in set(val)]
    return train, val


class SequenceDataset(torch.utils.data.Dataset):
    """Windows ``{"obs": {key: (n_obs_steps, ...)}, "action": (horizon, A)}`` of the given demos.

    Args:
        dataset: an open :class:`robopref.data.Dataset` (pickles without its file handle).
        demos: demo names to draw windows from (e.g. the training split).
        spec: horizon / n_obs_steps / n_action_steps.
        low_dim_keys: observation keys returned as float32 (e.g. ``["state"]``).
        image_keys: camera keys returned as uint8 HWC (e.g. ``["top_image"]``).
        action_key: the actions to imitate: ``actions`` or ``action_dict/<name>``.
        extra: per-step arrays computed elsewhere, ``{key: {demo: (T, D)}}``, returned under
            ``key`` like a low-dim observation (e.g. a frozen camera encoder's output per frame).
    """

    def __init__(self, dataset: Dataset, demos: Sequence[str], spec: WindowSpec, low_dim_keys: Sequence[str], image_keys: Sequence[str] = (),
                 action_key: str = "actions", extra: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> None:
        self.dataset = dataset
        self.action_key = action_key
        self.demos = list(demos)
        self.spec = spec
        self.low_dim_keys = list(low_dim_keys)
        self.image_keys = list(image_keys)
        self.extra = {k: dict(v) for k, v in (extra or {}).items()}
        for k, per_demo in self.extra.items():
            missing = [d for d in self.demos if d not in per_demo]
            if missing or k in self.low_dim_keys:
                raise ValueError(f"extra key {k!r}: " + (f"no arrays for demo(s) {missing[:3]}" if missing else "is also a low-dim key"))
        pad_before, pad_after = spec.n_obs_steps - 1, spec.n_action_steps - 1
        index = []
        for i, d in enumerate(self.demos):
            n = dataset.num_samples(d)
            for start in range(-pad_before, n - spec.horizon + pad_after + 1):
                index.append((i, start))
            if n - spec.horizon + pad_after + 1 <= -pad_before:  # episode shorter than a chunk: still one window
                index.append((i, -pad_before))
        self.index = np.asarray(index, dtype=np.int64).reshape(-1, 2)
        self._low_dim: dict[str, dict[str, np.ndarray]] | None = None
        self._flat: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def low_dim_arrays(self) -> dict[str, dict[str, np.ndarray]]:
        """``{demo: {"action": (T, A), key: (T, D)}}`` for the low-dim data: views into
        :meth:`_flat_arrays`, read once per process."""
        if self._low_dim is None:
            flat = self._flat_arrays()
            self._low_dim = {d: {k: flat[k][o : o + n] for k in ("action", *self._obs_arrays())}
                             for d, o, n in zip(self.demos, flat["offsets"].tolist(), flat["lengths"].tolist())}
        return self._low_dim

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_low_dim"] = state["_flat"] = None  # workers rebuild their caches instead of copying them through pickle
        return state

    def _flat_arrays(self) -> dict[str, np.ndarray]:
        """The low-dim arrays of all demos end to end, one (ΣT, ...) array per key, with each
        demo's first row (``offsets``) and length (``lengths``): what :meth:`get_batch` gathers from."""
        if self._flat is None:
            per_demo = [{"action": self.dataset.read(d, self.action_key).astype(np.float32),
                         **{k: self.dataset.read(d, f"obs/{k}").astype(np.float32) for k in self.low_dim_keys},
                         **{k: np.asarray(v[d], dtype=np.float32) for k, v in self.extra.items()}} for d in self.demos]
            lengths = np.array([a["action"].shape[0] for a in per_demo], dtype=np.int64)
            for d, a in zip(self.demos, per_demo):
                wrong = [k for k in self.extra if len(a[k]) != len(a["action"])]
                if wrong:
                    raise ValueError(f"extra key(s) {wrong} of demo {d!r}: {len(a[wrong[0]])} rows for {len(a['action'])} steps")
            self._flat = {k: np.concatenate([a[k] for a in per_demo]) if per_demo else np.zeros(0, np.float32) for k in ("action", *self._obs_arrays())}
            self._flat["lengths"] = lengths
            self._flat["offsets"] = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return self._flat

    def _obs_arrays(self) -> list[str]:
        """The observation keys served from memory: the low-dim keys, then the extra ones."""
        return [*self.low_dim_keys, *self.extra]

    def _window_steps(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Each window's demo (B,) and its steps within that demo (B, horizon): the steps before
        the start repeat the first one, those after the end the last one."""
        demo_i, start = self.index[np.asarray(indices, dtype=np.int64)].T
        lengths = self._flat_arrays()["lengths"]
        return demo_i, np.clip(start[:, None] + np.arange(self.spec.horizon), 0, lengths[demo_i, None] - 1)

    def _low_dim_batch(self, demo_i: np.ndarray, steps: np.ndarray) -> dict:
        """The low-dim observations (B, n_obs_steps, ...) and actions (B, horizon, A) at ``steps`` of ``demo_i``."""
        flat = self._flat_arrays()
        rows = steps + flat["offsets"][demo_i, None]
        return {"obs": {k: torch.from_numpy(flat[k][rows[:, : self.spec.n_obs_steps]]) for k in self._obs_arrays()},
                "action": torch.from_numpy(flat["action"][rows])}

    def get_batch(self, indices: Sequence[int]) -> dict:
        """Windows ``indices`` stacked as the DataLoader's default collation stacks
        :meth:`__getitem__`'s (the same values, shapes and dtypes), gathered with one index
        per key: a batch of 64 low-dim windows in about 0.1 ms instead of 2-4 ms window by
        window (``benchmarks/bench_policy_inference.py --only batches``). Camera frames are
        read window by window, as always."""
        if self.image_keys:
            return torch.utils.data.default_collate([self[int(i)] for i in indices])
        return self._low_dim_batch(*self._window_steps(indices))

    def __getitem__(self, idx: int) -> dict:
        demo_i, steps = self._window_steps([idx])
        one = self._low_dim_batch(demo_i, steps)
        obs = {k: v[0] for k, v in one["obs"].items()}
        obs_steps = steps[0, : self.spec.n_obs_steps]
        lo, hi = int(obs_steps[0]), int(obs_steps[-1]) + 1
        for k in self.image_keys:
            frames = self.dataset.read(self.demos[int(demo_i[0])], f"obs/{k}", lo, hi)  # only the chunks of these frames are decompressed
            obs[k] = torch.from_numpy(np.ascontiguousarray(frames[obs_steps - lo]))
        return {"obs": obs, "action": one["action"][0]}


def check_action_key(dataset: Dataset, action_key: str) -> None:
    """Refuse an ``action_key`` that is not ``actions`` or an ``action_dict/<name>`` every demo has, naming what there is."""
    if action_key != "actions" and not action_key.startswith("action_dict/"):
        raise ValueError(f"action_key={action_key!r}: expected 'actions' or 'action_dict/<name>'")
    missing = [d for d in dataset.demos if not dataset.has(d, action_key)]
    if missing:
        demo = missing[0]
        have = dataset.action_dict_keys(demo)
        raise ValueError(f"{dataset.path}: action_key={action_key!r} is missing in {len(missing)} demo(s), e.g. {demo}; "
                         f"its action_dict has {have or 'nothing'} (collect with a noisy scripted expert to record action_dict/intended)")


def fit_arrays(dataset: Dataset, demos: Sequence[str], low_dim_keys: Sequence[str], action_key: str = "actions") -> dict[str, np.ndarray]:
    """All actions (``action_key``) and low-dim observations of ``demos`` stacked, for fitting normalisers."""
    out = {"action": np.concatenate([dataset.read(d, action_key) for d in demos]).astype(np.float32)}
    for k in low_dim_keys:
        out[k] = np.concatenate([dataset.read(d, f"obs/{k}").reshape(dataset.num_samples(d), -1) for d in demos]).astype(np.float32)
    return out
