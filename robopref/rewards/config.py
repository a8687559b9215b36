"""Hyper-parameters of trajectory rewards (Bradley–Terry ensembles and RRL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class TrustFilterConfig:
    """RIME-style robust training (Cheng et al. 2024): after ``warmup`` epochs, keep only
    comparisons whose loss is below a bound that decays from ``start`` to ``end`` nats,
    and flip the label of those whose loss exceeds ``flip`` nats (the model is confident
    the label is wrong).

    With ``rounds`` > 0, labels are first cleaned (:func:`robopref.rewards.trust.clean_labels`):
    ``rounds`` fits of ``round_epochs`` epochs, each from fresh weights on the previous
    round's corrected labels and with the noise-aware likelihood (``round_flip_prob``);
    after each, labels whose loss exceeds ``round_flip`` are flipped and those above
    ``round_drop`` nats are left out of the next round. Training then starts from the
    model's own initial weights on all comparisons, flipped ones included. Costs
    ``rounds * round_epochs`` extra epochs. Defaults measured in docs/benchmarks.md."""

    enabled: bool = False
    warmup: int = 10
    start: float = 3.0
    end: float = 0.9
    decay: float = 0.97
    flip: float = 2.5
    rounds: int = 2  # label-cleaning rounds before training; 0: only the in-training filter
    round_epochs: int = 15
    round_flip: float = 3.0  # nats: flip a label whose loss under a round's model exceeds this (P < 0.05)
    round_drop: float = 0.693  # nats (ln 2: the round's model prefers the other answer)
    round_flip_prob: float = 0.2  # the rounds' models assume this label-flip chance (RewardConfig.flip_prob)
    peer_select: bool = False  # co-teaching: each member keeps/flips by the other members' loss, not the ensemble's (one member: its own); no gain on push2d, docs/benchmarks.md

    def __post_init__(self) -> None:
        if self.warmup < 0:
            raise ValueError(f"trust warmup={self.warmup}: expected >= 0 epochs")
        if not 0.0 < self.end <= self.start:
            raise ValueError(f"trust start={self.start}, end={self.end}: expected 0 < end <= start (nats)")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"trust decay={self.decay}: expected in (0, 1]")
        if self.flip <= 0.0 or self.round_flip <= 0.0 or self.round_drop <= 0.0:
            raise ValueError(f"trust flip={self.flip}, round_flip={self.round_flip}, round_drop={self.round_drop}: expected > 0 nats")
        if self.rounds < 0 or self.round_epochs < 1:
            raise ValueError(f"trust rounds={self.rounds}, round_epochs={self.round_epochs}: expected rounds >= 0 and round_epochs >= 1")
        if not 0.0 <= self.round_flip_prob < 0.5:
            raise ValueError(f"trust round_flip_prob={self.round_flip_prob}: expected in [0, 0.5)")


@dataclass
class RewardConfig:
    """A trajectory reward r(s, a): ``kind`` bt (Bradley–Terry) or rrl (Gaussian robust)."""

    kind: str = "bt"
    ensemble: int = 3
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    activation: str = "leaky_relu"
    output_tanh: bool = False  # squash per-step rewards to [-1, 1] (B-Pref style)
    lr: float = 1e-3
    weight_decay: float = 0.0  # Adam's L2 penalty; 0.02 with 5 members made trust filtering more robust to label noise (docs/benchmarks.md)
    epochs: int = 100
    batch_size: int = 128
    val_fraction: float = 0.1
    patience: int = 30  # epochs without validation improvement before stopping
    min_val: int = 50  # fewer held-out comparisons than this are too noisy to stop on: train all epochs
    bootstrap: bool = False  # Poisson(1) resampling per member; off: members differ by init only (PEBBLE), more accurate on few labels
    label_smoothing: float = 0.0
    flip_prob: float = 0.0  # assumed chance a label is wrong: P(label) = ε + (1 − 2ε) P_BT, bounds each wrong label's loss by −log ε
    gce_q: float = 0.0  # generalised cross-entropy exponent q in (0, 1] instead of the cross-entropy (0: off; losses.soft_bt_loss); lower accuracy on push2d, docs/benchmarks.md
    self_target: float = 0.0  # soft bootstrapping: target (1 − b) y + b P_model, b in [0, 1) (0: off; losses.soft_bt_loss)
    trust: TrustFilterConfig = field(default_factory=TrustFilterConfig)
    # SURF-style pseudo-labels (Park et al. 2022): each epoch from ``pseudo_warmup`` on, this many
    # random new pairs of the labelled segments, labelled by the model where it is sure (0: off; no gain on noisy push2d labels)
    pseudo_pairs: int = 0
    pseudo_threshold: float = 0.95
    pseudo_weight: float = 1.0
    pseudo_warmup: int = 5
    kl_weight: float = 0.1  # RRL's λ; PEARL's value is not public
    logvar_min: float = -8.0
    logvar_max: float = 4.0
    kappa: float = 0.0  # pessimism: downstream reward μ − κσ
    seed: int = 0
    threads: Optional[int] = 1  # torch threads while training: small MLPs are fastest on one

    def __post_init__(self) -> None:
        if self.kind not in ("bt", "rrl"):
            raise ValueError(f"reward kind={self.kind!r}: expected 'bt' or 'rrl'")
        if self.ensemble < 1:
            raise ValueError(f"reward ensemble={self.ensemble}: expected >= 1 members")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing={self.label_smoothing}: expected in [0, 1)")
        if not 0.0 <= self.flip_prob < 0.5:
            raise ValueError(f"flip_prob={self.flip_prob}: expected in [0, 0.5)")
        if not 0.0 <= self.gce_q <= 1.0:
            raise ValueError(f"gce_q={self.gce_q}: expected in [0, 1] (0: cross-entropy)")
        if not 0.0 <= self.self_target < 1.0:
            raise ValueError(f"self_target={self.self_target}: expected in [0, 1) (0: off)")
        if self.pseudo_pairs < 0 or self.pseudo_warmup < 0 or not 0.5 < self.pseudo_threshold <= 1.0 or self.pseudo_weight < 0.0:
            raise ValueError(f"pseudo_pairs={self.pseudo_pairs}, pseudo_warmup={self.pseudo_warmup}, pseudo_threshold={self.pseudo_threshold}, "
                             f"pseudo_weight={self.pseudo_weight}: expected pairs, warmup, weight >= 0 and threshold in (0.5, 1]")
        if not self.weight_decay >= 0.0:
            raise ValueError(f"weight_decay={self.weight_decay}: expected >= 0")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction={self.val_fraction}: expected in [0, 1)")
        if not self.lr > 0.0:
            raise ValueError(f"reward lr={self.lr}: expected > 0")
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"reward {name}={getattr(self, name)}: expected >= 1")
        if self.min_val < 0:
            raise ValueError(f"reward min_val={self.min_val}: expected >= 0 comparisons")
        if any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"reward hidden={list(self.hidden)}: expected layer widths >= 1 ([] is a linear reward)")
        if self.kl_weight < 0.0 or not self.logvar_min < self.logvar_max:
            raise ValueError(f"kl_weight={self.kl_weight}, logvar_min={self.logvar_min}, logvar_max={self.logvar_max}: "
                             "expected kl_weight >= 0 and logvar_min < logvar_max")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"reward threads={self.threads}: expected >= 1, or null to keep torch's setting")
