"""Hyper-parameters of trajectory rewards (Bradley–Terry ensembles and RRL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class TrustFilterConfig:
    """RIME-style robust training (Cheng et al. 2024): after ``warmup`` epochs, keep only
    comparisons whose loss is below a bound that decays from ``start`` to ``end`` nats,
    and flip the label of those whose loss exceeds ``flip`` nats (the model is confident
    the label is wrong)."""

    enabled: bool = False
    warmup: int = 10
    start: float = 3.0
    end: float = 0.9
    decay: float = 0.97
    flip: float = 2.5


@dataclass
class RewardConfig:
    """A trajectory reward r(s, a): ``kind`` bt (Bradley–Terry) or rrl (Gaussian robust)."""

    kind: str = "bt"
    ensemble: int = 3
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    activation: str = "leaky_relu"
    output_tanh: bool = False  # squash per-step rewards to [-1, 1] (B-Pref style)
    lr: float = 1e-3
    weight_decay: float = 0.0
    epochs: int = 100
    batch_size: int = 128
    val_fraction: float = 0.1
    patience: int = 30  # epochs without validation improvement before stopping
    min_val: int = 50  # fewer held-out comparisons than this are too noisy to stop on: train all epochs
    bootstrap: bool = False  # Poisson(1) resampling per member; off: members differ by init only (PEBBLE), more accurate on few labels
    label_smoothing: float = 0.0
    trust: TrustFilterConfig = field(default_factory=TrustFilterConfig)
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
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction={self.val_fraction}: expected in [0, 1)")
