"""Robust training on noisy preference labels, two parts: RIME's loss-based sample
selection and label flipping (Cheng et al. 2024) during training, and robopref's
label-cleaning rounds before it (measured in docs/benchmarks.md).

* :func:`clean_labels`, before training: ``rounds`` fits, each from fresh weights on
  the labels as the previous round corrected them. After a round, every comparison is
  scored against its *original* label: above ``round_flip`` nats the label is flipped,
  above ``round_drop`` it is left out of the next round. The rounds' models use the
  noise-aware likelihood (``round_flip_prob``), which caps what a wrong label can pull,
  so their loss on wrong labels stays high; a fresh start each round keeps the
  previous round's memorised labels from carrying over.
* :func:`trust_filter`, during training: keep comparisons whose loss is below a bound
  decaying from ``start`` to ``end``, and flip those above ``flip``. With
  ``peer_select`` each ensemble member keeps the comparisons its peers find easy
  (co-teaching, Han et al. 2018) instead of those the whole ensemble finds easy.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch

from robopref.rewards.config import RewardConfig
from robopref.rewards.features import FeatureSpec
from robopref.rewards.losses import smooth_labels
from robopref.rewards.model import TrajectoryRewardModel
from robopref.rewards.preferences import ComparisonTensors

FitRound = Callable[[TrajectoryRewardModel, torch.Tensor, torch.Tensor], None]  # (model, labels, keep) → trains it in place


def _label_loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of labels ``y`` under predicted P(σ0 ≻ σ1) ``p``, clamped away from 0 and 1."""
    p = p.clamp(1e-6, 1 - 1e-6)
    return -(y * p.log() + (1 - y) * (1 - p).log())


@torch.no_grad()
def per_comparison_loss(model: TrajectoryRewardModel, data: ComparisonTensors, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the ensemble-mean prediction for each comparison, (N,)."""
    return _label_loss(model.member_probs(data.x0, data.m0, data.x1, data.m1).mean(0), y)


@torch.no_grad()
def peer_comparison_loss(model: TrajectoryRewardModel, data: ComparisonTensors, y: torch.Tensor) -> torch.Tensor:
    """(K, N): for member k, the cross-entropy of the other members' mean prediction, so
    no member judges the labels it has itself memorised (co-teaching). One member: its own."""
    p = model.member_probs(data.x0, data.m0, data.x1, data.m1)
    K = p.shape[0]
    if K > 1:
        p = (p.sum(0, keepdim=True) - p) / (K - 1)
    return _label_loss(p, y)


def flip_and_keep(loss: torch.Tensor, y: torch.Tensor, bound: float, flip: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(keep weights, labels with the flips applied, flip mask) for per-comparison ``loss``
    of labels ``y``: flip decided labels whose loss exceeds ``flip``, keep the flipped and
    those with loss ≤ ``bound``. Ties (0.5) are never flipped."""
    flipped = (loss > flip) & (y != 0.5)
    keep = ((loss <= bound) | flipped).float()
    return keep, torch.where(flipped, 1.0 - y, y), flipped


def clean_labels(spec: FeatureSpec, train: ComparisonTensors, cfg: RewardConfig, fit_round: FitRound) -> tuple[torch.Tensor, int]:
    """Labels of ``train`` after ``cfg.trust.rounds`` cleaning rounds, and how many of
    them are flipped. Each round fits a fresh model (seed ``cfg.seed + 1 + r``) that
    assumes ``round_flip_prob`` wrong labels, so its own P(σ0 ≻ σ1) is not pulled
    towards the labels it doubts."""
    t = cfg.trust
    y, keep = train.y, torch.ones(len(train))
    flipped = torch.zeros(len(train), dtype=torch.bool)
    for r in range(t.rounds):
        judge = TrajectoryRewardModel(replace(cfg, seed=cfg.seed + 1 + r, flip_prob=t.round_flip_prob), spec)
        fit_round(judge, y, keep)
        keep, y, flipped = flip_and_keep(per_comparison_loss(judge, train, train.y), train.y, t.round_drop, t.round_flip)
    return y, int(flipped.sum())


def trust_filter(model: TrajectoryRewardModel, train: ComparisonTensors, y_base: torch.Tensor, cfg: RewardConfig, epoch: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """RIME's sample selection during training, relative to labels ``y_base``: trust
    low-loss comparisons, flip the very high-loss ones. Returns (keep, labels, flipped):
    keep and labels are (N,), or (K, N) per member with ``peer_select``; flipped counts
    comparisons (averaged over members)."""
    t = cfg.trust
    bound = max(t.end, t.start * t.decay ** (epoch - t.warmup))
    loss = peer_comparison_loss(model, train, y_base) if t.peer_select else per_comparison_loss(model, train, y_base)
    keep, _, flipped = flip_and_keep(loss, y_base, bound, t.flip)
    y = smooth_labels(y_base, cfg.label_smoothing)
    return keep, torch.where(flipped, 1.0 - y, y), round(float(flipped.reshape(-1, len(y_base)).sum(1).float().mean()))
