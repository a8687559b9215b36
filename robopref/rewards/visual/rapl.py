"""RAPL: align the encoder with the person's preference from ranked video triplets.

For a triplet ranked best-first (o⁺, o_i, o_j), the preferred video o⁺ is the anchor and
the encoder should make the person's second choice closer to it, in optimal-transport
terms, than the third: P(o_i ≻ o_j) = softmax(s(o⁺, o_i)/τ, s(o⁺, o_j)/τ) with
s(a, b) = −⟨P*, C⟩ (cosine cost, Sinkhorn plan). The cross-entropy of that probability is
minimised through the differentiable Sinkhorn, training only the last stage and the head
(Tian et al. 2024), or only a linear map of the embedding (``AlignConfig.trainable``).
Each video is subsampled to a fixed number of frames, and the frozen part of the encoder
runs once per frame before training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from robopref.rewards.visual.encoders import TRAINABLE, FrameEncoder
from robopref.rewards.visual.sinkhorn import ot_score
from robopref.utils.checks import check_at_least, check_positive


ANCHORS = ("winner", "references")
DEFAULT_LR = {"last": 1e-3, "projection": 1e-2}  # align.lr when not given, by align.trainable (docs/benchmarks-visual.md, session 22)


@dataclass
class AlignConfig:
    """Alignment settings. ``temperature`` τ scales the OT scores (cosine costs lie in
    [0, 2], so score differences are small); ``epochs`` passes over the triplets. The
    default τ = 0.25: on push2d data of mixed quality (avoid and group, 10 and 30
    triplets, 12 seeds) it raised held-out Spearman over τ = 1 by 0.005–0.036 in every
    cell, and on Meta-World reach from 0.84–0.86 to 0.89 (docs/benchmarks-visual.md,
    session 21). Much smaller is worse: in session 4 (one reference video) τ = 0.05 fit
    the 30 training triplets perfectly within a few epochs, held-out Spearman 0.29 on
    push2d avoid against 0.45 with τ = 1.
    ``anchor``: what the OT scores are measured against. ``winner`` (the paper): each
    triplet's preferred video, and the loss ranks its second choice above its third.
    ``references``: the reward's own reference videos (mean score over them), and the
    loss is the Plackett–Luce likelihood of the whole ranking, so training optimises the
    score the reward is computed from, with all three videos of a triplet ranked.
    ``length_weighted``: multiply each video's OT score by its episode length relative to
    the mean length of the training videos, i.e. compare the returns the reward gives
    (per-step rewards summed over the episode, see ``VisualRewardModel``) rather than the
    length-free OT scores of the frame subsamples; off is the paper's loss.
    ``trainable``: what the alignment trains. ``last`` (the paper): the encoder's last
    stage and head. ``projection``: only a d × d linear map of the frozen embedding,
    starting as the identity, i.e. a learned metric for the OT cost; far fewer parameters
    for a few triplets to move (docs/benchmarks-visual.md, session 22). ``lr`` left
    unset is 1e-3 for ``last`` and 1e-2 for ``projection``.
    ``l2sp``: weight λ of an L2-SP penalty λ/2·‖θ − θ₀‖² that pulls the trained weights
    towards the starting (pre-trained) ones (Li et al. 2018), so that a few triplets
    do not erase what the encoder already knew about the task; 0 (default) is off. The
    recorded training loss includes the penalty."""

    epochs: int = 20
    batch_size: int = 16
    lr: float | None = None
    weight_decay: float = 1e-4
    temperature: float = 0.25
    eps: float = 0.05
    sinkhorn_iters: int = 50
    anchor: str = "winner"
    length_weighted: bool = False
    l2sp: float = 0.0
    trainable: str = "last"

    def __post_init__(self) -> None:
        if self.trainable not in TRAINABLE:
            raise ValueError(f"reward.align.trainable={self.trainable!r}: expected one of {TRAINABLE} (last: the encoder's "
                             "last stage and head, as in the paper; projection: only a linear map of the frozen embedding)")
        if self.lr is None:  # a linear map of a frozen embedding needs larger steps than the network's last stage
            self.lr = DEFAULT_LR[self.trainable]
        if self.anchor not in ANCHORS:
            raise ValueError(f"reward.align.anchor={self.anchor!r}: expected one of {ANCHORS} (winner: each triplet's "
                             "preferred video, as in the paper; references: the reward's preferred reference videos)")
        check_positive("reward.align", self, "lr", "temperature", "eps")
        check_at_least("reward.align", self, 0, "epochs", "weight_decay", "l2sp")
        check_at_least("reward.align", self, 1, "batch_size", "sinkhorn_iters")


@dataclass
class AlignHistory:
    """Per-epoch training loss and triplet accuracy (second choice closer to the anchor than the third)."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    epochs_run: int = 0


def triplet_logits(encoder: FrameEncoder, front: torch.Tensor, cfg: AlignConfig) -> torch.Tensor:
    """(B, 2) logits [s(o⁺, o_i), s(o⁺, o_j)] / τ from front features (B, 3, F, ...) ranked best-first."""
    B, K, Fr = front.shape[:3]
    z = encoder.tail(front.flatten(0, 2)).view(B, K, Fr, -1)
    anchor = torch.cat([z[:, 0], z[:, 0]])
    others = torch.cat([z[:, 1], z[:, 2]])
    s = ot_score(anchor, others, cfg.eps, cfg.sinkhorn_iters)
    return torch.stack([s[:B], s[B:]], dim=1) / cfg.temperature


def reference_logits(encoder: FrameEncoder, front: torch.Tensor, ref_front: torch.Tensor, cfg: AlignConfig) -> torch.Tensor:
    """(B, 3) logits: each video's mean OT score against the R references / τ.

    Args:
        front: front features (B, 3, F, ...) of the triplets; ref_front: (R, F', ...) of the references.
    """
    B, K, Fr = front.shape[:3]
    z = encoder.tail(front.flatten(0, 2)).view(B * K, Fr, -1)
    zr = encoder.tail(ref_front.flatten(0, 1)).view(ref_front.shape[0], ref_front.shape[1], -1)
    R = zr.shape[0]
    s = ot_score(zr[None].expand(B * K, -1, -1, -1).flatten(0, 1), z[:, None].expand(-1, R, -1, -1).flatten(0, 1), cfg.eps, cfg.sinkhorn_iters)
    return s.view(B, K, R).mean(-1) / cfg.temperature


def plackett_luce_loss(logits: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of the ranking 0 ≻ 1 ≻ … ≻ K−1 under Plackett–Luce, mean over the batch."""
    target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
    return sum(F.cross_entropy(logits[:, k:], target) for k in range(logits.shape[1] - 1))  # type: ignore[return-value]


def length_weights(lengths: np.ndarray | None, shape: tuple[int, int], cfg: AlignConfig) -> torch.Tensor | None:
    """(Q, 3) episode lengths relative to their mean, the factor ``length_weighted`` puts on
    each video's OT score; None when the option is off."""
    if not cfg.length_weighted:
        return None
    if lengths is None or np.shape(lengths) != shape:
        raise ValueError(f"align.length_weighted needs each triplet video's episode length, shape {shape}, got "
                         f"{None if lengths is None else np.shape(lengths)}")
    w = torch.as_tensor(np.asarray(lengths, dtype=np.float64), dtype=torch.float32)
    if not bool((w > 0).all()):
        raise ValueError("align.length_weighted: episode lengths must be > 0")
    return w / w.mean()


def align_encoder(encoder: FrameEncoder, videos: np.ndarray, cfg: AlignConfig, seed: int = 0, progress: bool = False,
                  references: np.ndarray | None = None, lengths: np.ndarray | None = None) -> AlignHistory:
    """Train the part of ``encoder`` that ``cfg.trainable`` names (the last stage and the head
    by default) on ranked triplets.

    Args:
        videos: uint8 (Q, 3, F, H, W, 3): each triplet's videos, best first.
        references: uint8 (R, F, H, W, 3), the preferred reference videos; needed when ``cfg.anchor == "references"``.
        lengths: (Q, 3) episode lengths of the triplet videos (the frames are a subsample); needed
            when ``cfg.length_weighted``.
    """
    if videos.ndim != 6 or videos.shape[1] != 3:
        raise ValueError(f"expected triplet videos of shape (Q, 3, frames, H, W, 3), got {videos.shape}")
    if cfg.anchor == "references" and (references is None or references.ndim != 5 or len(references) == 0):
        raise ValueError("align.anchor=references needs the reference videos, shape (R, frames, H, W, 3)")
    weights = length_weights(lengths, videos.shape[:2], cfg)
    Q, _, Fr = videos.shape[:3]
    encoder.set_trainable(cfg.trainable)
    encoder.freeze_front()
    front = encoder.frozen(videos.reshape(Q * 3 * Fr, *videos.shape[3:]))
    front = front.view(Q, 3, Fr, *front.shape[1:])
    ref_front = None
    if cfg.anchor == "references":
        ref_front = encoder.frozen(references.reshape(-1, *references.shape[2:]))  # type: ignore[union-attr]
        ref_front = ref_front.view(len(references), references.shape[1], *ref_front.shape[1:])  # type: ignore[union-attr]
    params = list(encoder.trainable_parameters())
    start = [q.detach().clone() for q in params] if cfg.l2sp > 0 else []
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    hist = AlignHistory()
    for module in encoder.tail_modules():
        module.train()
    target = torch.zeros(Q, dtype=torch.long)
    for epoch in range(cfg.epochs):
        order = torch.randperm(Q, generator=gen)
        tot, correct = 0.0, 0
        for i in range(0, Q, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if ref_front is None:
                logits = triplet_logits(encoder, front[idx], cfg)
                if weights is not None:  # the winner's own return is not compared: only the other two
                    logits = logits * weights[idx, 1:]
                loss = F.cross_entropy(logits, target[: len(idx)])
            else:
                logits = reference_logits(encoder, front[idx], ref_front, cfg)
                if weights is not None:
                    logits = logits * weights[idx]
                loss = plackett_luce_loss(logits)
            if start:
                loss = loss + 0.5 * cfg.l2sp * sum(((q - q0) ** 2).sum() for q, q0 in zip(params, start))
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
            correct += int((logits[:, :-1] > logits[:, 1:]).all(1).sum())  # ranked right (winner: second above third)
        hist.train_loss.append(tot / Q)
        hist.train_accuracy.append(correct / Q)
        hist.epochs_run = epoch + 1
        if progress and (epoch % 10 == 0 or epoch == cfg.epochs - 1):
            print(f"rapl epoch {epoch}: loss {hist.train_loss[-1]:.4f} accuracy {hist.train_accuracy[-1]:.3f}", flush=True)
    encoder.eval()
    return hist
