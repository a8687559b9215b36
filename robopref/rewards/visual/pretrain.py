"""Short self-supervised pre-training of the encoder when no pre-trained weights exist.

Time-contrastive learning (TCN-style, with InfoNCE): two frames of the same episode a few
steps apart should embed close; every other frame in the batch (other times, other
episodes) is a negative. Unlabelled videos of the task are all it needs, and it gives
the features a sense of task progress, which RAPL then aligns with the person's
preference. In tests and on machines without ImageNet weights this is the starting point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from robopref.rewards.visual.encoders import FrameEncoder
from robopref.utils.checks import check_at_least, check_positive


@dataclass
class PretrainConfig:
    """``steps`` of InfoNCE on ``batch_size`` (anchor, positive) pairs, positives within ``window`` steps."""

    steps: int = 200
    batch_size: int = 64
    window: int = 3
    temperature: float = 0.1
    lr: float = 1e-3

    def __post_init__(self) -> None:
        check_at_least("reward.pretrain", self, 0, "steps")
        check_at_least("reward.pretrain", self, 1, "batch_size", "window")
        check_positive("reward.pretrain", self, "temperature", "lr")


def pretrain_time_contrastive(encoder: FrameEncoder, videos: Sequence[np.ndarray], cfg: PretrainConfig, seed: int = 0,
                              progress: bool = False) -> list[float]:
    """Train all of ``encoder`` on uint8 videos (each (T, H, W, 3)); returns the loss per step
    (``progress``: a bar with the running loss, for the minutes a ResNet-18 takes on a CPU)."""
    videos = [v for v in videos if len(v) >= 2]
    if not videos:
        raise ValueError("time-contrastive pre-training needs at least one video with 2 or more frames")
    if cfg.steps <= 0:
        return []
    rng = np.random.default_rng(seed)
    encoder.train()
    opt = torch.optim.Adam(encoder.parameters(), lr=cfg.lr)
    lengths = np.array([len(v) for v in videos])
    losses: list[float] = []
    bar = tqdm(range(cfg.steps), desc="visual reward: time-contrastive pre-training", unit="step", disable=not progress)
    for _ in bar:
        e = rng.integers(0, len(videos), cfg.batch_size)
        t = rng.integers(0, lengths[e])
        dt = rng.integers(1, cfg.window + 1, cfg.batch_size) * rng.choice([-1, 1], cfg.batch_size)
        tp = np.clip(t + dt, 0, lengths[e] - 1)
        tp = np.where(tp == t, np.where(t > 0, t - 1, t + 1), tp)  # a positive is another frame
        anchors = np.stack([videos[i][j] for i, j in zip(e, t)])
        positives = np.stack([videos[i][j] for i, j in zip(e, tp)])
        z = F.normalize(encoder(np.concatenate([anchors, positives])), dim=-1)
        za, zp = z[: cfg.batch_size], z[cfg.batch_size :]
        logits = za @ zp.T / cfg.temperature
        target = torch.arange(cfg.batch_size, device=logits.device)
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    encoder.eval()
    return losses
