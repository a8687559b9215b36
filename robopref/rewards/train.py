"""Training loop for trajectory rewards: minibatches, validation, early stopping, trust filter."""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from robopref.rewards.config import RewardConfig
from robopref.rewards.losses import gaussian_kl_standard, masked_mean, masked_sum, smooth_labels, soft_bt_loss
from robopref.rewards.model import TrajectoryRewardModel
from robopref.rewards.preferences import ComparisonTensors
from robopref.rewards.trust import clean_labels, per_comparison_loss, trust_filter
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
    cleaned_flips: int = 0  # labels flipped by the cleaning rounds before training
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
    mu0, lv0 = net.forward_steps(b.x0, b.m0)
    mu1, lv1 = net.forward_steps(b.x1, b.m1)
    if lv0 is None:
        r0, r1 = masked_sum(mu0, b.m0), masked_sum(mu1, b.m1)
        return soft_bt_loss(r0 - r1, y, w, flip_prob=cfg.flip_prob, gce_q=cfg.gce_q, self_target=cfg.self_target)
    # RRL: reparameterised per-step samples, BT cross-entropy on the sampled returns
    s0 = mu0 + (0.5 * lv0).exp() * torch.randn_like(mu0)
    s1 = mu1 + (0.5 * lv1).exp() * torch.randn_like(mu1)
    ce = soft_bt_loss(masked_sum(s0, b.m0) - masked_sum(s1, b.m1), y, w, flip_prob=cfg.flip_prob, gce_q=cfg.gce_q, self_target=cfg.self_target)
    kl = 0.5 * (masked_mean(gaussian_kl_standard(mu0, lv0), b.m0) + masked_mean(gaussian_kl_standard(mu1, lv1), b.m1))
    return ce + cfg.kl_weight * kl


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
    y_base, hist = train.y, TrainHistory()
    if cfg.trust.enabled and cfg.trust.rounds > 0:
        y_base, hist.cleaned_flips = clean_labels(model.spec, train, cfg, lambda judge, y, keep: _fit_round(judge, train, y, keep, cfg))
        torch.manual_seed(cfg.seed)  # the main fit draws the same batches as without cleaning
    y_used = smooth_labels(y_base, cfg.label_smoothing)
    keep = torch.ones(N)
    gen = torch.Generator().manual_seed(cfg.seed + 7919)  # pseudo pairs draw from their own stream: the labelled batches stay the same
    opt = torch.optim.Adam(model.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_state, stale = math.inf, None, 0
    bar = tqdm(range(cfg.epochs), desc=f"reward {cfg.kind}", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        if cfg.trust.enabled and epoch >= cfg.trust.warmup:
            keep, y_used, flipped = trust_filter(model, train, y_base, cfg, epoch)
            hist.flipped.append(flipped)
        hist.kept_fraction.append(float(keep.mean()))
        w = boot * (train.w * keep)  # keep: (N,) or (K, N)
        if cfg.pseudo_pairs > 0 and epoch >= cfg.pseudo_warmup:
            total = _run_epoch(model, opt, *_with_pseudo_pairs(model, train, y_used, w, cfg, gen), cfg.batch_size)
        else:
            total = _run_epoch(model, opt, train, y_used, w, cfg.batch_size)
        hist.train_loss.append(total)
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


def _run_epoch(model: TrajectoryRewardModel, opt: torch.optim.Optimizer, train: ComparisonTensors, y: torch.Tensor, w: torch.Tensor, batch_size: int) -> float:
    """One pass over ``train`` in shuffled minibatches with per-member weights ``w``
    (K, N) and labels ``y`` (N,) or per member (K, N); returns the mean training loss (batches with zero weight are skipped)."""
    model.net.train()
    N = len(train)
    perm = torch.randperm(N)
    total = 0.0
    for i in range(0, N, batch_size):
        idx = perm[i : i + batch_size]
        if float(w[:, idx].sum()) == 0.0:
            continue
        loss = batch_loss(model, train.subset(idx), y[..., idx], w[:, idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(idx)
    return total / N


@torch.no_grad()
def _with_pseudo_pairs(model: TrajectoryRewardModel, train: ComparisonTensors, y: torch.Tensor, w: torch.Tensor, cfg: RewardConfig,
                       gen: torch.Generator) -> tuple[ComparisonTensors, torch.Tensor, torch.Tensor]:
    """SURF's pseudo-labelling (Park et al. 2022): ``cfg.pseudo_pairs`` random new pairs of
    the labelled comparisons' segments, labelled by the ensemble's mean prediction and kept
    (weight ``cfg.pseudo_weight``) where it is at least ``cfg.pseudo_threshold`` sure.
    Returns (comparisons, labels, weights) with the pseudo pairs after the labelled ones."""
    xs, ms = torch.cat([train.x0, train.x1]), torch.cat([train.m0, train.m1])
    i, j = torch.randint(len(xs), (2, cfg.pseudo_pairs), generator=gen)
    p = model.member_probs(xs[i], ms[i], xs[j], ms[j]).mean(0)
    sure = (torch.maximum(p, 1 - p) >= cfg.pseudo_threshold) & (i != j)
    i, j, yp = i[sure], j[sure], (p[sure] > 0.5).float()
    ones = torch.ones(len(yp))
    both = ComparisonTensors(torch.cat([train.x0, xs[i]]), torch.cat([train.m0, ms[i]]), torch.cat([train.x1, xs[j]]),
                             torch.cat([train.m1, ms[j]]), torch.cat([train.y, yp]), torch.cat([train.w, ones]))
    K = w.shape[0]
    y_all = torch.cat([y.expand(K, -1), yp.expand(K, -1)], -1) if y.dim() == 2 else torch.cat([y, yp])
    return both, y_all, torch.cat([w, cfg.pseudo_weight * ones.expand(K, -1)], -1)


def _fit_round(model: TrajectoryRewardModel, train: ComparisonTensors, y: torch.Tensor, w: torch.Tensor, cfg: RewardConfig) -> None:
    """A label-cleaning round: ``cfg.trust.round_epochs`` epochs with a fresh optimiser;
    ``w`` (N,) weights the comparisons."""
    opt = torch.optim.Adam(model.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    y = smooth_labels(y, cfg.label_smoothing)
    for _ in range(cfg.trust.round_epochs):
        _run_epoch(model, opt, train, y, (w * train.w).unsqueeze(0), cfg.batch_size)
