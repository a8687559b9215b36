"""Preferred/dispreferred action chunks for Diffusion-DPO, cut from labelled segments.

A segment of L steps is cut into chunks whose "current" steps are start, start +
stride, ... (stride = the policy's ``n_action_steps`` by default); each chunk carries
the observation history the policy would have seen and the ``horizon`` actions that
followed (padded at episode edges exactly as in training). Chunk k of the preferred
segment is paired with chunk k of the other segment, and all chunks of one labelled
pair share a ``pair_id`` so the DPO loss can sum their terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef
from robopref.policies.dataset import SequenceDataset, WindowSpec
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.train import check_fits_policy


@dataclass
class ChunkPairs:
    """Row b: preferred chunk (obs_w, act_w) vs other chunk (obs_l, act_l) of pair pair_id[b]."""

    obs_w: dict[str, torch.Tensor]
    act_w: torch.Tensor
    obs_l: dict[str, torch.Tensor]
    act_l: torch.Tensor
    pair_id: torch.Tensor
    weight: torch.Tensor  # per pair (n_pairs,): label confidence × strength of the preference

    def __len__(self) -> int:
        return int(self.act_w.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.weight.shape[0])

    def pairs_subset(self, pairs: np.ndarray) -> "ChunkPairs":
        """Rows of the given pair ids, renumbered 0..len(pairs)-1."""
        pairs = np.asarray(pairs)
        remap = {int(p): i for i, p in enumerate(pairs)}
        rows = np.flatnonzero(np.isin(self.pair_id.numpy(), pairs))
        sel = torch.as_tensor(rows, dtype=torch.long)
        return ChunkPairs(
            {k: v[sel] for k, v in self.obs_w.items()}, self.act_w[sel],
            {k: v[sel] for k, v in self.obs_l.items()}, self.act_l[sel],
            torch.tensor([remap[int(p)] for p in self.pair_id[sel]], dtype=torch.long),
            self.weight[torch.as_tensor(pairs, dtype=torch.long)],
        )


class ChunkReader:
    """Reads policy-shaped windows (obs history + action chunk) at any step of any demo."""

    def __init__(self, pool: DatasetPool, spec: WindowSpec, low_dim_keys: Sequence[str], image_keys: Sequence[str] = (),
                 policy: DiffusionPolicy | None = None) -> None:
        self.pool, self.spec = pool, spec
        self.low_dim_keys, self.image_keys = list(low_dim_keys), list(image_keys)
        self.policy = policy  # when given, each dataset is checked against the policy's shapes on first use
        self._sets: dict[tuple[str, str], SequenceDataset] = {}
        self._checked: set[str] = set()

    def window(self, dataset: str, demo: str, step: int) -> dict:
        """``{"obs": {k: (n_obs_steps, ...)}, "action": (horizon, A)}`` whose current step is
        ``step``; steps before/after the episode repeat its first/last step, as in training."""
        key = (dataset, demo)
        if self.policy is not None and dataset not in self._checked:
            check_fits_policy(self.pool.get(dataset), self.policy.cfg, self.policy.shapes)
            self._checked.add(dataset)
        if key not in self._sets:
            self._sets[key] = SequenceDataset(self.pool.get(dataset), [demo], self.spec, self.low_dim_keys, self.image_keys)
        seq = self._sets[key]
        arrays = seq.low_dim_arrays()[demo]
        n = arrays["action"].shape[0]
        if not 0 <= step < n:
            raise ValueError(f"{dataset}: data/{demo}: step {step} is outside the episode (0..{n - 1})")
        start = step - (self.spec.n_obs_steps - 1)
        steps = np.clip(np.arange(start, start + self.spec.horizon), 0, n - 1)
        obs_steps = steps[: self.spec.n_obs_steps]
        obs = {k: torch.from_numpy(arrays[k][obs_steps]) for k in self.low_dim_keys}
        lo, hi = int(obs_steps[0]), int(obs_steps[-1]) + 1
        for k in self.image_keys:
            frames = seq.dataset.read(demo, f"obs/{k}", lo, hi)
            obs[k] = torch.from_numpy(np.ascontiguousarray(frames[obs_steps - lo]))
        return {"obs": obs, "action": torch.from_numpy(arrays["action"][steps])}


def chunk_steps(seg: SegmentRef, stride: int) -> list[int]:
    """Current steps of the chunks cut from a segment."""
    return list(range(seg.start, seg.stop, stride))


def build_chunk_pairs(
    pairs: Sequence[tuple[SegmentRef, SegmentRef, float]], reader: ChunkReader, stride: int | None = None
) -> ChunkPairs:
    """Chunk pairs from (preferred segment, other segment, weight) triples."""
    stride = stride or reader.spec.n_action_steps
    rows_w, rows_l, pair_ids, weights = [], [], [], []
    for p, (win, lose, w) in enumerate(pairs):
        steps_w, steps_l = chunk_steps(win, stride), chunk_steps(lose, stride)
        for sw, sl in zip(steps_w, steps_l):
            rows_w.append(reader.window(win.dataset, win.demo, sw))
            rows_l.append(reader.window(lose.dataset, lose.demo, sl))
            pair_ids.append(p)
        weights.append(w)
    if not rows_w:
        raise ValueError("no preference pairs to build DPO chunks from")

    def stack(rows: list[dict]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {k: torch.stack([r["obs"][k] for r in rows]) for k in rows[0]["obs"]}, torch.stack([r["action"] for r in rows])

    obs_w, act_w = stack(rows_w)
    obs_l, act_l = stack(rows_l)
    return ChunkPairs(obs_w, act_w, obs_l, act_l, torch.tensor(pair_ids, dtype=torch.long), torch.tensor(weights, dtype=torch.float32))
