"""Preference losses, written as plain functions so tests can check them by hand.

Bradley–Terry: P(σ0 ≻ σ1) = exp R0 / (exp R0 + exp R1) = σ(R0 − R1), trained by
cross-entropy with soft labels y. RRL (PEARL) adds a Gaussian reward: per-step
r = μ + σ ε, the same cross-entropy on sampled returns, plus λ · KL(N(μ, σ²) ‖ N(0, 1))
averaged over steps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bt_logits(r0: torch.Tensor, r1: torch.Tensor) -> torch.Tensor:
    """Logit of P(σ0 ≻ σ1) from segment returns: R0 − R1."""
    return r0 - r1


def smooth_labels(y: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Label smoothing toward 0.5: y (1 − s) + s / 2."""
    return y * (1.0 - smoothing) + 0.5 * smoothing


def soft_bt_loss(
    logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None, reduce: bool = True, flip_prob: float = 0.0,
    gce_q: float = 0.0, self_target: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy −[y log p + (1 − y) log(1 − p)], p = σ(logits); weighted mean over
    the last axis' batch when ``reduce`` (weights = label confidences). With
    ``flip_prob`` ε > 0 the label is modelled as flipped with probability ε:
    p = ε + (1 − 2ε) σ(logits) (forward noise correction), so a confidently
    contradicted label costs at most −log ε.

    Two noise-robust replacements of the cross-entropy (0 = off for both):
    ``gce_q`` q ∈ (0, 1] is the generalised cross-entropy (Zhang & Sabuncu 2018),
    [1 − y p^q − (1 − y)(1 − p)^q] / q: q → 0 is the cross-entropy, q = 1 the
    mean absolute error, whose gradient vanishes on confidently contradicted labels.
    ``self_target`` b ∈ (0, 1) is soft bootstrapping (Reed et al. 2015): the target is
    (1 − b) y + b p with p not differentiated, so the model's own prediction dilutes a
    label it disagrees with."""
    y = y.expand_as(logits)
    if flip_prob > 0.0:
        log_eps, log_keep = math.log(flip_prob), math.log1p(-2.0 * flip_prob)
        log_p = torch.logaddexp(torch.full_like(logits, log_eps), log_keep + F.logsigmoid(logits))
        log_q = torch.logaddexp(torch.full_like(logits, log_eps), log_keep + F.logsigmoid(-logits))
    else:
        log_p, log_q = F.logsigmoid(logits), F.logsigmoid(-logits)
    if self_target > 0.0:
        y = (1.0 - self_target) * y + self_target * log_p.detach().exp()
    if gce_q > 0.0:
        per = (1.0 - y * (gce_q * log_p).exp() - (1 - y) * (gce_q * log_q).exp()) / gce_q
    elif flip_prob > 0.0 or self_target > 0.0:
        per = -(y * log_p + (1 - y) * log_q)
    else:
        per = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    if not reduce:
        return per
    if w is None:
        return per.mean()
    w = w.expand_as(per)
    return (per * w).sum() / w.sum().clamp_min(1e-12)


def gaussian_kl_standard(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) elementwise = ½ (μ² + σ² − log σ² − 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def masked_sum(r: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ_t r_t over real steps: r (..., N, L), mask (N, L) → (..., N)."""
    return (r * mask).sum(-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x over real steps of all segments."""
    m = mask.expand_as(x)
    return (x * m).sum() / m.sum().clamp_min(1.0)
