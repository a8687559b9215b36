"""The Diffusion-DPO objective on action chunks (Wallace et al. 2023), as plain functions.

For a preferred chunk w and a dispreferred chunk l with a shared diffusion step t and
noise ε: Δ = (‖ε − ε_θ(w_t)‖² − ‖ε − ε_ref(w_t)‖²) − (‖ε − ε_θ(l_t)‖² − ‖ε − ε_ref(l_t)‖²),
loss = −log σ(−β Δ). Segment preferences sum Δ over the chunks of each segment pair.
With ``prediction_type=sample`` the denoiser predicts the clean chunk, and the errors
are measured against it instead of ε (the same objective in the other parameterisation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dpo_pair_delta(err_w: torch.Tensor, ref_err_w: torch.Tensor, err_l: torch.Tensor, ref_err_l: torch.Tensor, pair_id: torch.Tensor, n_pairs: int) -> torch.Tensor:
    """Δ per pair: per-chunk (policy − reference) error gaps, summed over each pair's chunks."""
    per_chunk = (err_w - ref_err_w) - (err_l - ref_err_l)
    return torch.zeros(n_pairs, dtype=per_chunk.dtype, device=per_chunk.device).index_add(0, pair_id, per_chunk)


def dpo_loss(delta: torch.Tensor, beta: float, weight: torch.Tensor | None = None) -> torch.Tensor:
    """−log σ(−β Δ), averaged over pairs (weighted by ``weight`` when given)."""
    per = -F.logsigmoid(-beta * delta)
    if weight is None:
        return per.mean()
    return (per * weight).sum() / weight.sum().clamp_min(1e-12)


def chunk_errors(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per chunk: (B, H, A) → (B,)."""
    return (pred - target).pow(2).flatten(1).mean(1)
