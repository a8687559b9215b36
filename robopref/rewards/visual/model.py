"""``VisualRewardModel``: a learned visual reward (RAPL or the RLHF baseline) in one file.

The model owns its encoder, its config and what it needs at prediction time: for RAPL
the embedded preferred reference videos (features, not frames, so the checkpoint stands
alone); for RLHF-visual the scalar reward head. It turns camera frames into per-step
rewards, batched over many rollouts, and saves/loads as one ``torch.save`` file.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef
from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
from robopref.rewards.visual.frames import read_video
from robopref.rewards.visual.sinkhorn import cosine_cost, sinkhorn
from robopref.utils.atomic import atomic_torch_save

FORMAT = "robopref/visual-reward/1"
KINDS = ("rapl", "rlhf_visual")


def reward_head(in_dim: int, hidden: int = 64) -> nn.Module:
    """RLHF-visual's scalar reward head on frozen trunk features."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))


class VisualRewardModel:
    """Per-step rewards from camera frames.

    Args:
        kind: ``rapl`` (OT reward against ``references``) or ``rlhf_visual`` (``head`` on trunk features).
        encoder: the (aligned) frame encoder.
        settings: prediction settings: ``eps``, ``sinkhorn_iters``, ``frames`` (per video when
            picking the best reference), ``camera``, ``per_frame_scale`` (RAPL: r_t is the
            matched cost of frame t, i.e. the paper's −Σ_j P_tj C_tj times the number of
            frames, so a frame's reward does not shrink with the episode length).
        references: RAPL's preferred videos, (R, frames, out_dim) features.
        head: RLHF-visual's reward head.
        meta: anything to keep with the model (training episodes, config, label counts).
    """

    def __init__(
        self,
        kind: str,
        encoder: FrameEncoder,
        settings: dict[str, Any],
        references: torch.Tensor | None = None,
        head: nn.Module | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"visual reward kind {kind!r}: expected one of {KINDS}")
        if kind == "rapl" and (references is None or len(references) == 0):
            raise ValueError("a RAPL reward needs at least one preferred reference video")
        if kind == "rlhf_visual" and head is None:
            raise ValueError("an RLHF-visual reward needs its reward head")
        self.kind, self.encoder, self.settings = kind, encoder.eval(), dict(settings)
        self.references, self.head, self.meta = references, None if head is None else head.eval(), dict(meta or {})

    # -- prediction ----------------------------------------------------------------
    @torch.no_grad()
    def frame_rewards(self, videos: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per-step rewards of uint8 videos (each (T, H, W, 3)), batched over videos."""
        lengths = [len(v) for v in videos]
        feats = self.encoder.encode(np.concatenate(videos)) if self.kind == "rapl" else None
        if self.kind == "rlhf_visual":
            trunk = self._trunk(np.concatenate(videos))
            r = self.head(trunk).squeeze(-1).cpu().numpy()
            return list(np.split(r, np.cumsum(lengths)[:-1]))
        return self._ot_rewards(feats, lengths)

    def _trunk(self, frames: np.ndarray, batch: int = 512) -> torch.Tensor:
        enc = self.encoder
        return torch.cat([enc.last(enc.front(enc.preprocess(frames[i : i + batch]))) for i in range(0, len(frames), batch)])

    def _ot_rewards(self, feats: torch.Tensor, lengths: list[int]) -> list[np.ndarray]:
        T = max(lengths)
        padded = feats.new_zeros(len(lengths), T, feats.shape[1])
        mask = torch.zeros(len(lengths), T, dtype=feats.dtype)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        for i, n in enumerate(lengths):
            padded[i, :n] = feats[offsets[i] : offsets[i] + n]
            mask[i, :n] = 1.0 / n
        if self.settings.get("reference_mode", "best") == "mean":
            # one Sinkhorn per reference: batching all R x B pairs at once was 2x slower on a CPU (cache)
            r = torch.stack([self._matched_cost(padded, mask, ref.expand(len(lengths), -1, -1)) for ref in self.references]).mean(0)
        else:
            r = self._matched_cost(padded, mask, self.references[self.best_references(padded, lengths)])
        if self.settings.get("per_frame_scale", True):
            r = r * torch.tensor(lengths, dtype=r.dtype)[:, None]
        return [r[i, :n].cpu().numpy() for i, n in enumerate(lengths)]

    def _matched_cost(self, padded: torch.Tensor, mask: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
        """Per-frame reward −Σ_j P_tj C_tj of each padded rollout (B, T, D) against its reference (B, F, D)."""
        C = cosine_cost(padded, refs)
        P = sinkhorn(C, eps=float(self.settings["eps"]), a=mask, iters=int(self.settings["sinkhorn_iters"]))
        return -(P * C).sum(-1)

    def best_references(self, padded: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        """Index of the best-matching reference video for each rollout: the highest OT
        score between a ``frames``-frame subsample of the rollout and every reference."""
        R, F = self.references.shape[:2]
        if R == 1:
            return torch.zeros(len(lengths), dtype=torch.long)
        idx = torch.stack([torch.as_tensor(np.round(np.linspace(0, n - 1, F)).astype(np.int64)) for n in lengths])
        sub = torch.gather(padded, 1, idx[:, :, None].expand(-1, -1, padded.shape[-1]))  # (B, F, D)
        B = len(lengths)
        x, y = torch.nn.functional.normalize(sub, dim=-1), torch.nn.functional.normalize(self.references, dim=-1)
        C = (1.0 - torch.einsum("bfd,rgd->brfg", x, y)).reshape(B * R, F, F)  # every (rollout, reference) pair at once
        P = sinkhorn(C, float(self.settings["eps"]), iters=int(self.settings["sinkhorn_iters"]))
        return (-(P * C).sum((1, 2))).view(B, R).argmax(1)

    def segment_rewards(self, pool: DatasetPool, refs: Sequence[SegmentRef], chunk: int = 128) -> list[np.ndarray]:
        """Per-step rewards of segments, read lazily and processed ``chunk`` at a time."""
        out: list[np.ndarray] = []
        cam = self.settings.get("camera")
        for i in range(0, len(refs), chunk):
            out += self.frame_rewards([read_video(pool, r, None, cam) for r in refs[i : i + chunk]])
        return out

    def returns(self, pool: DatasetPool, refs: Sequence[SegmentRef], chunk: int = 128) -> np.ndarray:
        """Learned return (sum of per-step rewards) of every segment."""
        return np.array([float(r.sum()) for r in self.segment_rewards(pool, refs, chunk)])

    # -- persistence ---------------------------------------------------------------
    def save(self, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
        """Write the model (weights, config, references/head, meta + ``extra``) to one file (atomically)."""
        return atomic_torch_save(
            {
                "format": FORMAT,
                "kind": self.kind,
                "encoder_config": asdict(self.encoder.cfg),
                "encoder": self.encoder.state_dict(),
                "settings": self.settings,
                "references": self.references,
                "head": None if self.head is None else self.head.state_dict(),
                "head_shape": None if self.head is None else [int(self.head[0].in_features), int(self.head[0].out_features)],
                "meta": {**self.meta, **(extra or {})},
            },
            path,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "VisualRewardModel":
        """Inverse of :meth:`save`; clear errors for a missing or foreign file."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"visual reward checkpoint {os.fspath(path)!r} does not exist")
        try:  # tensors and plain containers only: no code runs on load
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated files, non-torch files, pickled objects
            raise ValueError(f"{os.fspath(path)}: cannot be read as a robopref visual reward checkpoint ({type(e).__name__}: {e})") from e
        if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
            raise ValueError(f"{os.fspath(path)}: not a robopref visual reward checkpoint (format {FORMAT})")
        enc_cfg = EncoderConfig(**{**ckpt["encoder_config"], "weights": None})  # weights are in the state dict
        encoder = FrameEncoder(enc_cfg)
        encoder.load_state_dict(ckpt["encoder"])
        encoder.cfg.weights = ckpt["encoder_config"].get("weights")
        head = None
        if ckpt["head"] is not None:
            head = reward_head(*ckpt["head_shape"])
            head.load_state_dict(ckpt["head"])
        return cls(ckpt["kind"], encoder, ckpt["settings"], ckpt["references"], head, ckpt["meta"])
