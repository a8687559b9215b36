"""Trajectory reward models: a Bradley–Terry ensemble and PEARL's Gaussian robust reward.

Both are an :class:`~robopref.rewards.ensemble.EnsembleMLP` over normalised (s, a)
features. The BT head outputs r(s, a); the Gaussian (RRL) head outputs μ(s, a) and
log σ²(s, a). Predictions average the members; the reported std combines member
disagreement with the Gaussian's own σ when there is one.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from robopref.rewards.config import RewardConfig, TrustFilterConfig
from robopref.rewards.ensemble import EnsembleMLP
from robopref.rewards.features import FeatureSpec
from robopref.utils.atomic import atomic_torch_save

CHECKPOINT_FORMAT = "robopref.trajectory_reward/1"


class TrajectoryRewardNet(nn.Module):
    """Per-step reward heads for K members: returns (μ, log σ²) of shape (K, N, L) each;
    log σ² is None for the BT kind."""

    def __init__(self, d_in: int, cfg: RewardConfig) -> None:
        super().__init__()
        self.gaussian = cfg.kind == "rrl"
        self.output_tanh = cfg.output_tanh
        self.logvar_bounds = (cfg.logvar_min, cfg.logvar_max)
        self.mlp = EnsembleMLP(cfg.ensemble, d_in, 2 if self.gaussian else 1, tuple(cfg.hidden), cfg.activation)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        lead = x.shape[:-1]
        out = self.mlp(x.reshape(-1, x.shape[-1]))  # (K, N*L, out)
        out = out.reshape(out.shape[0], *lead, out.shape[-1])
        mu = out[..., 0]
        if self.output_tanh:
            mu = torch.tanh(mu)
        if not self.gaussian:
            return mu, None
        lo, hi = self.logvar_bounds
        logvar = lo + (hi - lo) * torch.sigmoid(out[..., 1])  # smooth bounds keep σ finite
        return mu, logvar

    def forward_steps(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`forward` of padded segments ``x`` (N, L, D), run on the real steps only.

        ``mask`` (N, L) marks the real steps; the outputs, (K, N, L) each, hold 0 at padding
        (μ and log σ² alike). Whole-episode comparisons are padded to the longest episode, about
        twice the mean length, so this halves the network's work; every masked sum and mean
        of the losses gives what the padded forward gives, since padding is multiplied by 0.
        """
        real = mask > 0
        mu_steps, lv_steps = self(x[real])  # (K, M) each: the M real steps in row-major order
        return _scatter(mu_steps, real), (_scatter(lv_steps, real) if lv_steps is not None else None)


def _scatter(values: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(K, M) values of the real steps → (K, N, L) with zeros at padding (differentiable)."""
    where = real.expand(values.shape[0], *real.shape)
    return values.new_zeros(where.shape).masked_scatter(where, values)


class TrajectoryRewardModel:
    """A learned r(s, a) with its feature normalisation; fit, predict, save, load."""

    def __init__(self, cfg: RewardConfig, spec: FeatureSpec) -> None:
        self.cfg = cfg
        self.spec = spec
        torch.manual_seed(cfg.seed)
        self.net = TrajectoryRewardNet(spec.dim, cfg)

    @property
    def gaussian(self) -> bool:
        """True for the RRL kind (a mean and a variance per step)."""
        return self.net.gaussian

    @torch.no_grad()
    def predict_features(self, x: np.ndarray | torch.Tensor, batch: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """Per-step (mean, std) for normalised features (..., D), in batches."""
        self.net.eval()
        x = torch.as_tensor(x, dtype=torch.float32)
        flat = x.reshape(-1, x.shape[-1])
        means, stds = [], []
        for i in range(0, len(flat), batch):
            mu, logvar = self.net(flat[i : i + batch])
            var = mu.var(0, unbiased=False)
            if logvar is not None:
                var = var + logvar.exp().mean(0)
            means.append(mu.mean(0))
            stds.append(var.sqrt())
        shape = x.shape[:-1]
        return torch.cat(means).reshape(shape).numpy(), torch.cat(stds).reshape(shape).numpy()

    def reward(self, x: np.ndarray | torch.Tensor, kappa: float | None = None) -> np.ndarray:
        """The reward used downstream: μ, or μ − κσ when a pessimistic reward is wanted."""
        mean, std = self.predict_features(x)
        k = self.cfg.kappa if kappa is None else kappa
        return mean - k * std if k else mean

    @torch.no_grad()
    def member_probs(self, x0: torch.Tensor, m0: torch.Tensor, x1: torch.Tensor, m1: torch.Tensor) -> torch.Tensor:
        """P(σ0 ≻ σ1) under each member's mean reward, (K, N): for query selection."""
        self.net.eval()
        r0 = self.net.forward_steps(x0, m0)[0].sum(-1)  # padding is already 0
        r1 = self.net.forward_steps(x1, m1)[0].sum(-1)
        return torch.sigmoid(r0 - r1)

    # -- checkpoints ---------------------------------------------------------------
    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """One file with config, feature spec and weights (written atomically)."""
        blob = {
            "format": CHECKPOINT_FORMAT,
            "config": asdict(self.cfg),
            "features": self.spec.state_dict(),
            "state_dict": self.net.state_dict(),
            "extra": extra or {},
        }
        return atomic_torch_save(blob, path)

    @classmethod
    def load(cls, path: str | Path, map_location: str = "cpu") -> "TrajectoryRewardModel":
        """Load a checkpoint written by :meth:`save`; clear errors for other files."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"reward checkpoint {path} does not exist")
        try:
            blob = torch.load(path, map_location=map_location, weights_only=False)
        except Exception as e:  # torch raises several types for non-checkpoint files
            raise ValueError(f"{path}: not a torch checkpoint ({e})") from e
        if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: not a robopref trajectory reward checkpoint (format {blob.get('format') if isinstance(blob, dict) else type(blob).__name__!r})")
        conf = dict(blob["config"])
        conf["trust"] = TrustFilterConfig(**conf["trust"])
        model = cls(RewardConfig(**conf), FeatureSpec.from_state_dict(blob["features"]))
        model.net.load_state_dict(blob["state_dict"])
        model.extra = blob.get("extra", {})
        return model
