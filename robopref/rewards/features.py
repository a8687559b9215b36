"""What a trajectory reward sees: normalised (state, action) features per step.

A :class:`FeatureSpec` names the low-dimensional observation keys (images are for
the visual rewards) and whether actions are included; it is fitted on a dataset
(mean/std per feature) and saved with the reward checkpoint so predictions on new
data use the same normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from robopref.data.dataset import Dataset
from robopref.data.layout import is_image_key
from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef


@dataclass
class FeatureSpec:
    """Observation keys (flattened, in this order) followed by the action, normalised."""

    obs_keys: list[str]
    use_actions: bool = True
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    @classmethod
    def default_for(cls, ds: Dataset, obs_keys: Sequence[str] | None = None, use_actions: bool = True) -> "FeatureSpec":
        """All non-image observation keys of ``ds`` (sorted) unless ``obs_keys`` is given."""
        keys = list(obs_keys) if obs_keys else [k for k in ds.obs_keys if not is_image_key(k)]
        bad = [k for k in keys if is_image_key(k) or k not in ds.obs_keys]
        if bad:
            raise ValueError(f"{ds.path}: obs key(s) {bad} are images or missing; low-dim keys: {[k for k in ds.obs_keys if not is_image_key(k)]}")
        if not keys and not use_actions:
            raise ValueError(f"{ds.path}: the reward would see no features (no low-dim obs keys and use_actions=false)")
        return cls(obs_keys=keys, use_actions=use_actions)

    def raw(self, arrays: dict[str, np.ndarray], lead: int = 1) -> np.ndarray:
        """Concatenate the raw features of a window, shape (L, D); with ``lead`` > 1, of a
        batch of windows whose first ``lead`` axes (e.g. candidates × steps) all arrays share."""
        parts = []
        for key in self.keys:
            x = np.asarray(arrays[key], dtype=np.float32)
            parts.append(x.reshape(*x.shape[:lead], -1))
        return np.concatenate(parts, axis=-1)

    @property
    def keys(self) -> list[str]:
        """Dataset keys to read for these features."""
        return [f"obs/{k}" for k in self.obs_keys] + (["actions"] if self.use_actions else [])

    def fit(self, pool: DatasetPool, datasets: Sequence[str]) -> "FeatureSpec":
        """Fit mean/std over every step of ``datasets`` (std floored so constant features stay finite)."""
        chunks = []
        for path in datasets:
            ds = pool.get(path)
            for demo in ds.demos:
                chunks.append(self.raw({k: ds.read(demo, k) for k in self.keys}))
        allx = np.concatenate(chunks)
        self.mean = allx.mean(0)
        self.std = np.maximum(allx.std(0), 1e-6)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Normalise raw features."""
        if self.mean is None or self.std is None:
            raise RuntimeError("FeatureSpec.transform called before fit()")
        if x.shape[-1] != self.mean.shape[-1]:
            raise ValueError(f"the reward was trained on {self.mean.shape[-1]} features per step ({self.describe()}); these data have "
                             f"{x.shape[-1]}: another robot, task or observation layout than the reward's training data?")
        return ((x - self.mean) / self.std).astype(np.float32)

    def describe(self) -> str:
        """The inputs in words, e.g. ``obs/state + actions``."""
        return " + ".join(self.keys) or "nothing"

    def segment(self, pool: DatasetPool, ref: SegmentRef) -> np.ndarray:
        """Normalised features of one segment, (L, D)."""
        ds = pool.get(ref.dataset)
        return self.transform(self.raw(ds.window(ref, keys=self.keys)))

    def episode(self, ds: Dataset, demo: str) -> np.ndarray:
        """Normalised features of a whole demo, (T, D)."""
        return self.transform(self.raw({k: ds.read(demo, k) for k in self.keys}))

    def state_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints."""
        return {"obs_keys": list(self.obs_keys), "use_actions": self.use_actions, "mean": self.mean, "std": self.std}

    @classmethod
    def from_state_dict(cls, d: dict[str, Any]) -> "FeatureSpec":
        """Inverse of :meth:`state_dict`."""
        return cls(obs_keys=list(d["obs_keys"]), use_actions=bool(d["use_actions"]), mean=np.asarray(d["mean"]), std=np.asarray(d["std"]))

    @property
    def dim(self) -> int:
        """Feature dimension (after fit)."""
        if self.mean is None:
            raise RuntimeError("FeatureSpec.dim needs fit() first")
        return int(self.mean.shape[0])
