"""Training loop for trajectory rewards: minibatches, validation, early stopping, trust filter."""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from robopref.rewards.losses import gaussian_kl_standard, masked_mean, masked_sum, smooth_labels, soft_bt_loss
from robopref.rewards.model import TrajectoryRewardModel
from robopref.rewards.preferences import ComparisonTensors
from robopref.utils.threads import torch_threads

log = logging.getLogger(__name__)


@dataclass
class TrainHistory:
    """Per-epoch metrics of a reward training run."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    kept_fraction: list[float] = field(default_factory=list)
    flipped: list[int] = field(default_factory=list)
    best_epoch: int = -1
    epochs_run: int = 0


def split_comparisons(data: ComparisonTensors, val_fraction: float, rng: np.random.Generator) -> tuple[ComparisonTensors, ComparisonTensors | None]:
    """Random train/validation split; no validation set when it would be empty."""
    n_val = int(round(len(data) * val_fraction))
    if n_val == 0 or n_val >= len(data):
        return data, None
    perm = rng.permutation(len(data))
    return data.subset(perm[n_val:]), data.subset(perm[:n_val])


def batch_loss(model: TrajectoryRewardModel, b: ComparisonTensors, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Mean loss over members and comparisons. ``w`` may be (N,) or per member (K, N)."""
    net, cfg = model.net, model.cfg
    mu0, lv0 = net(b.x0)
    mu1, lv1 = net(b.x1)
    if lv0 is None:
        r0, r1 = masked_sum(mu0, b.m0), masked_sum(mu1, b.m1)
        return soft_bt_loss(r0 - r1, y, w)
    # RRL: reparameterised per-step samples, BT cross-entropy on the sampled returns
    s0 = mu0 + (0.5 * lv0).exp() * torch.randn_like(mu0)
    s1 = mu1 + (0.5 * lv1).exp() * torch.randn_like(mu1)
    ce = soft_bt_loss(masked_sum(s0, b.m0) - masked_sum(s1, b.m1), y, w)
    kl = 0.5 * (masked_mean(gaussian_kl_standard(mu0, lv0), b.m0) + masked_mean(gaussian_kl_standard(mu1, lv1), b.m1))
    return ce + cfg.kl_weight * kl


@torch.no_grad()
def per_comparison_loss(model: TrajectoryRewardModel, data: ComparisonTensors, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the ensemble-mean prediction for each comparison, (N,)."""
    p = model.member_probs(data.x0, data.m0, data.x1, data.m1).mean(0).clamp(1e-6, 1 - 1e-6)
    return -(y * p.log() + (1 - y) * (1 - p).log())


@torch.no_grad()
def evaluate(model: TrajectoryRewardModel, data: ComparisonTensors) -> tuple[float, float]:
    """(loss, accuracy) of the ensemble-mean prediction; accuracy over non-tied labels."""
    loss = float(per_comparison_loss(model, data, data.y).mean())
    p = model.member_probs(data.x0, data.m0, data.x1, data.m1).mean(0)
    decided = data.y != 0.5
    acc = float(((p > 0.5) == (data.y > 0.5))[decided].float().mean()) if decided.any() else math.nan
    return loss, acc


def train_reward(model: TrajectoryRewardModel, data: ComparisonTensors, progress: bool = True) -> TrainHistory:
    """Fit ``model`` on ``data`` (a validation split is held out per config); the
    weights of the best validation epoch are restored at the end."""
    with torch_threads(model.cfg.threads):
        return _train(model, data, progress)


def _train(model: TrajectoryRewardModel, data: ComparisonTensors, progress: bool) -> TrainHistory:
    cfg = model.cfg
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    train, val = split_comparisons(data, cfg.val_fraction, rng)
    K, N = cfg.ensemble, len(train)
    boot = torch.from_numpy(rng.poisson(1.0, size=(K, N)).astype(np.float32)) if cfg.bootstrap and K > 1 else torch.ones(K, N)
    y_used = smooth_labels(train.y, cfg.label_smoothing)
    keep = torch.ones(N)
    opt = torch.optim.Adam(model.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    hist = TrainHistory()
    best, best_state, stale = math.inf, None, 0
    bar = tqdm(range(cfg.epochs), desc=f"reward {cfg.kind}", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        if cfg.trust.enabled and epoch >= cfg.trust.warmup:
            keep, y_used, flipped = _trust_filter(model, train, cfg, epoch)
            hist.flipped.append(flipped)
        hist.kept_fraction.append(float(keep.mean()))
        model.net.train()
        perm = torch.randperm(N)
        total = 0.0
        for i in range(0, N, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            w = boot[:, idx] * (train.w[idx] * keep[idx]).unsqueeze(0)
            if float(w.sum()) == 0.0:
                continue
            loss = batch_loss(model, train.subset(idx), y_used[idx], w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        hist.train_loss.append(total / N)
        hist.epochs_run = epoch + 1
        score = hist.train_loss[-1]
        if val is not None:
            vl, va = evaluate(model, val)
            hist.val_loss.append(vl)
            hist.val_accuracy.append(va)
            if len(val) >= cfg.min_val:
                score = vl
        if score < best - 1e-5:
            best, best_state, stale, hist.best_epoch = score, copy.deepcopy(model.net.state_dict()), 0, epoch
        else:
            stale += 1
        bar.set_postfix(loss=f"{hist.train_loss[-1]:.3f}", val=f"{score:.3f}")
        if stale >= cfg.patience:
            break
    if best_state is not None:
        model.net.load_state_dict(best_state)
    on_val = val is not None and len(val) >= cfg.min_val
    log.info("reward %s: %d epochs, best epoch %d, best %s loss %.4f", cfg.kind, hist.epochs_run, hist.best_epoch, "val" if on_val else "train", best)
    return hist


def _trust_filter(model: TrajectoryRewardModel, train: ComparisonTensors, cfg, epoch: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """RIME's sample selection: trust low-loss comparisons, flip the very high-loss ones."""
    t = cfg.trust
    bound = max(t.end, t.start * t.decay ** (epoch - t.warmup))
    y = smooth_labels(train.y, cfg.label_smoothing)
    loss = per_comparison_loss(model, train, train.y)
    flip = (loss > t.flip) & (train.y != 0.5)
    y = torch.where(flip, 1.0 - y, y)
    keep = ((loss <= bound) | flip).float()
    return keep, y, int(flip.sum())
