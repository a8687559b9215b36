"""The RLHF visual baseline of RAPL's paper: the same frozen backbone, a scalar reward
head on its features, trained with Bradley–Terry on preference pairs (the pairs a
triplet ranking implies, or pair labels).

A segment's return is estimated from a fixed subsample of its frames: the mean per-frame
reward times the segment length, i.e. the sum the dense reward would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from robopref.utils.checks import check_at_least, check_positive


@dataclass
class BTConfig:
    """Bradley–Terry training of the reward head (full batch; data are a few hundred pairs at most)."""

    epochs: int = 300
    lr: float = 1e-3
    weight_decay: float = 1e-3
    hidden: int = 64

    def __post_init__(self) -> None:
        check_at_least("reward.bt", self, 1, "epochs", "hidden")
        check_at_least("reward.bt", self, 0, "weight_decay")
        check_positive("reward.bt", self, "lr")


@dataclass
class BTHistory:
    """Per-epoch loss and pair accuracy on the training pairs."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    epochs_run: int = 0


def segment_returns(head: nn.Module, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(S,) estimated returns from trunk features (S, F, d) of F subsampled frames of each segment."""
    return head(feats).squeeze(-1).mean(1) * lengths


def train_bt_head(
    head: nn.Module,
    feats: torch.Tensor,
    lengths: torch.Tensor,
    first: torch.Tensor,
    second: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    cfg: BTConfig,
    progress: bool = False,
) -> BTHistory:
    """Fit ``head`` so that σ(R(first) − R(second)) matches the soft labels ``y`` (weights ``w``).

    ``first``/``second`` index rows of ``feats`` (S, F, d); lengths (S,) are segment lengths.
    """
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # lengths enter as a relative factor so that the logits stay O(1) for long segments
    rel = lengths / lengths.float().mean()
    hist = BTHistory()
    head.train()
    decided = y != 0.5
    for epoch in range(cfg.epochs):
        R = segment_returns(head, feats, rel)
        logits = R[first] - R[second]
        loss = (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).sum() / w.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.train_loss.append(loss.item())
        acc = ((logits > 0) == (y > 0.5))[decided].float().mean() if decided.any() else torch.tensor(float("nan"))
        hist.train_accuracy.append(float(acc))
        hist.epochs_run = epoch + 1
        if progress and (epoch % 50 == 0 or epoch == cfg.epochs - 1):
            print(f"rlhf_visual epoch {epoch}: loss {float(loss):.4f} accuracy {float(acc):.3f}", flush=True)
    head.eval()
    return hist
