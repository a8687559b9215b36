"""Observation history → one conditioning vector for the U-Net (FiLM's input).

Per step: the normalised low-dim keys concatenated with one feature vector per camera
(each camera has its own encoder, as in Diffusion Policy); the ``n_obs_steps`` steps
are flattened into ``global_cond`` of size ``n_obs_steps * feature_dim``.

With ``sort_objects_key``, the object slots of that key are first put in a canonical
order, nearest to the robot first (distance of each slot's x, y to the robot's at the
latest step, the same order for every step of the history). Interchangeable objects
listed in a fixed but arbitrary order make the policy learn every block order
separately; sorted, "the block next to me" is always slot 0, the one a pushing expert
is usually working on.
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
        self.sort_key = cfg.sort_objects_key
        self.objects_offset, self.object_size = cfg.objects_offset, cfg.object_size
        if self.sort_key is not None:
            dim = shapes.low_dim.get(self.sort_key)
            if dim is None or self.sort_key not in self.low_dim_keys:
                raise ValueError(f"sort_objects_key={self.sort_key!r}: not one of the policy's low-dim keys {self.low_dim_keys}")
            slots = dim - self.objects_offset
            if slots < 2 * self.object_size or slots % self.object_size:
                raise ValueError(f"sort_objects_key={self.sort_key!r} has {dim} values: after objects_offset={self.objects_offset} "
                                 f"they must split into at least two slots of object_size={self.object_size}")

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        b, t = obs[(self.low_dim_keys or self.image_keys)[0]].shape[:2]
        for k in self.low_dim_keys:
            v = obs[k].reshape(b, t, -1)
            parts.append(self.sort_objects(v) if k == self.sort_key else v)
        for k in self.image_keys:
            img = image_to_float(obs[k].reshape(b * t, *obs[k].shape[2:]))
            parts.append(self.encoders[k](self.crops[k](img)).reshape(b, t, -1))
        return torch.cat(parts, dim=-1).reshape(b, -1)

    def sort_objects(self, v: torch.Tensor) -> torch.Tensor:
        """(B, T, D) with the object slots after ``objects_offset`` ordered nearest-first to the
        robot (values 0, 1) at the last step; the robot's own values are untouched."""
        b, t, _ = v.shape
        slots = v[..., self.objects_offset :].reshape(b, t, -1, self.object_size)
        dist = (slots[:, -1, :, :2] - v[:, -1, None, :2]).square().sum(-1)  # (B, n_objects)
        order = dist.argsort(dim=1)[:, None, :, None].expand(b, t, -1, self.object_size)
        return torch.cat([v[..., : self.objects_offset], slots.gather(2, order).reshape(b, t, -1)], dim=-1)
