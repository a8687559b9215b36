"""Diffusion-DPO fine-tuning of a diffusion policy against a frozen copy of itself."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from tqdm import tqdm

from robopref.align.chunks import ChunkPairs
from robopref.align.dpo_loss import chunk_errors, dpo_loss, dpo_pair_delta
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.utils.checks import check_at_least, check_positive
from robopref.utils.threads import torch_threads


@dataclass
class DPOConfig:
    """Diffusion-DPO hyper-parameters. β must be re-tuned for normalised actions: image
    models use 5000, robot work has used 100–1000."""

    beta: float = 500.0
    lr: float = 1e-5
    weight_decay: float = 0.0
    bc_weight: float = 1.0  # behaviour cloning on preferred chunks keeps the policy close
    epochs: int = 20
    batch_pairs: int = 16  # labelled pairs per step (each may hold several chunks)
    grad_clip: float = 1.0
    seed: int = 0
    threads: Optional[int] = None

    def __post_init__(self) -> None:
        check_positive("dpo", self, "lr", "grad_clip")
        check_at_least("dpo", self, 0, "beta", "weight_decay", "bc_weight")  # β = 0: the DPO term has no gradient
        check_at_least("dpo", self, 1, "epochs", "batch_pairs")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"dpo.threads={self.threads}: expected null or >= 1")


@dataclass
class DPOHistory:
    """Per-epoch means of the DPO terms."""

    loss: list[float] = field(default_factory=list)
    dpo: list[float] = field(default_factory=list)
    bc: list[float] = field(default_factory=list)
    implicit_accuracy: list[float] = field(default_factory=list)  # fraction of pairs with Δ < 0
    ref_distance: list[float] = field(default_factory=list)  # L2 distance of weights to the reference


def parameter_distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """‖θ_a − θ_b‖₂ over all parameters (how far fine-tuning moved the policy)."""
    with torch.no_grad():
        return math.sqrt(sum(float((p - q).pow(2).sum()) for p, q in zip(a.parameters(), b.parameters())))


class DiffusionDPO:
    """Fine-tunes ``policy`` in place; the reference is a frozen copy taken at construction."""

    def __init__(self, policy: DiffusionPolicy, cfg: DPOConfig, reference: DiffusionPolicy | None = None) -> None:
        self.policy, self.cfg = policy, cfg
        self.reference = copy.deepcopy(reference if reference is not None else policy).eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)

    def terms(self, batch: ChunkPairs) -> dict[str, torch.Tensor]:
        """DPO and BC terms of one batch with shared (t, ε) for each chunk pair."""
        pol, ref = self.policy, self.reference
        aw = pol.normalizer.normalize("action", batch.act_w.to(pol.device, torch.float32))
        al = pol.normalizer.normalize("action", batch.act_l.to(pol.device, torch.float32))
        noise = torch.randn_like(aw)
        t = torch.randint(0, pol.cfg.num_train_timesteps, (aw.shape[0],), device=aw.device)
        xw, xl = pol.noise_scheduler.add_noise(aw, noise, t), pol.noise_scheduler.add_noise(al, noise, t)
        eps = pol.cfg.prediction_type == "epsilon"
        tw, tl = (noise, noise) if eps else (aw, al)
        err_w = chunk_errors(pol.unet(xw, t, pol.encode_obs(batch.obs_w)), tw)
        err_l = chunk_errors(pol.unet(xl, t, pol.encode_obs(batch.obs_l)), tl)
        with torch.no_grad():
            ref_w = chunk_errors(ref.unet(xw, t, ref.encode_obs(batch.obs_w)), tw)
            ref_l = chunk_errors(ref.unet(xl, t, ref.encode_obs(batch.obs_l)), tl)
        delta = dpo_pair_delta(err_w, ref_w, err_l, ref_l, batch.pair_id.to(aw.device), batch.n_pairs)
        dpo = dpo_loss(delta, self.cfg.beta, batch.weight.to(aw.device))
        bc = err_w.mean()
        return {"loss": dpo + self.cfg.bc_weight * bc, "dpo": dpo, "bc": bc, "delta": delta.detach()}

    def fit(self, data: ChunkPairs, progress: bool = True) -> DPOHistory:
        """Run ``cfg.epochs`` passes over the labelled pairs."""
        with torch_threads(self.cfg.threads):
            return self._fit(data, progress)

    def _fit(self, data: ChunkPairs, progress: bool) -> DPOHistory:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        opt = torch.optim.AdamW([p for p in self.policy.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
        hist = DPOHistory()
        self.policy.train()
        for _ in tqdm(range(cfg.epochs), desc="dpo", unit="epoch", disable=not progress, leave=False):
            sums = {"loss": 0.0, "dpo": 0.0, "bc": 0.0}
            wins, n = 0, 0
            order = rng.permutation(data.n_pairs)
            for i in range(0, len(order), cfg.batch_pairs):
                out = self.terms(data.pairs_subset(order[i : i + cfg.batch_pairs]))
                opt.zero_grad(set_to_none=True)
                out["loss"].backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip)
                opt.step()
                k = len(out["delta"])
                for key in sums:
                    sums[key] += float(out[key].detach()) * k
                wins += int((out["delta"] < 0).sum())
                n += k
            for key in sums:
                getattr(hist, key).append(sums[key] / max(n, 1))
            hist.implicit_accuracy.append(wins / max(n, 1))
            hist.ref_distance.append(parameter_distance(self.policy, self.reference))
        self.policy.eval()
        return hist
