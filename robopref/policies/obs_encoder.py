"""Observation history → one conditioning vector for the U-Net (FiLM's input).

Per step: the normalised low-dim keys concatenated with one feature vector per camera
(each camera has its own encoder, as in Diffusion Policy); the ``n_obs_steps`` steps
are flattened into ``global_cond`` of size ``n_obs_steps * feature_dim``.
"""

from __future__ import annotations

import torch
from torch import nn

from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.normalizer import image_to_float
from robopref.policies.vision import RandomCrop, make_image_encoder


class ObsEncoder(nn.Module):
    """Encodes ``{key: (B, T, ...)}`` (low-dim already normalised, images uint8 HWC) into (B, T * feature_dim)."""

    def __init__(self, cfg: DiffusionPolicyConfig, shapes: PolicyShapes) -> None:
        super().__init__()
        self.low_dim_keys = sorted(shapes.low_dim)
        self.image_keys = sorted(shapes.images)
        if not self.low_dim_keys and not self.image_keys:
            raise ValueError("the policy has no observation keys (no low-dim keys and no cameras)")
        self.encoders = nn.ModuleDict()
        self.crops = nn.ModuleDict()
        for k in self.image_keys:
            h, w, _ = shapes.images[k]
            self.crops[k] = RandomCrop(max(1, int(round(h * cfg.crop_ratio))), max(1, int(round(w * cfg.crop_ratio))))
            self.encoders[k] = make_image_encoder(cfg.image_encoder, cfg.image_feature_dim, cfg.image_norm, cfg.image_weights)
        self.feature_dim = sum(shapes.low_dim.values()) + cfg.image_feature_dim * len(self.image_keys)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        b, t = obs[(self.low_dim_keys or self.image_keys)[0]].shape[:2]
        for k in self.low_dim_keys:
            parts.append(obs[k].reshape(b, t, -1))
        for k in self.image_keys:
            img = image_to_float(obs[k].reshape(b * t, *obs[k].shape[2:]))
            parts.append(self.encoders[k](self.crops[k](img)).reshape(b, t, -1))
        return torch.cat(parts, dim=-1).reshape(b, -1)
