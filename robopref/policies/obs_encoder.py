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

With ``image_state_key`` each camera's encoder is a state estimator
(:mod:`robopref.policies.state_estimator`): it outputs its estimate of that key, in the
key's normalised units, and is frozen (trained before the policy, never with it). Its
feature is the estimate, which ``sort_objects_key`` may name to order the estimated
objects; a batch may carry the estimate precomputed under :func:`estimate_key`, and
the frames are then not needed.
"""

from __future__ import annotations

import torch
from torch import nn

from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.normalizer import image_to_float
from robopref.policies.vision import RESNET18_FEATURE_DIM, RandomCrop, make_image_encoder

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def crop_size(height: int, width: int, ratio: float) -> tuple[int, int]:
    """The (height, width) a camera of ``height`` x ``width`` is cropped to with ``crop_ratio`` ``ratio``."""
    return max(1, int(round(height * ratio))), max(1, int(round(width * ratio)))


def estimate_key(camera: str, state_key: str) -> str:
    """The batch key of ``camera``'s precomputed estimate of ``state_key`` (never a dataset key: those have no ``:``)."""
    return f"{camera}:{state_key}"


class ObsEncoder(nn.Module):
    """Encodes ``{key: (B, T, ...)}`` (low-dim already normalised, images uint8 HWC) into (B, T * feature_dim)."""

    def __init__(self, cfg: DiffusionPolicyConfig, shapes: PolicyShapes) -> None:
        super().__init__()
        self.low_dim_keys = sorted(shapes.low_dim)
        self.image_keys = sorted(shapes.images)
        if not self.low_dim_keys and not self.image_keys:
            raise ValueError("the policy has no observation keys (no low-dim keys and no cameras)")
        self.state_key = cfg.image_state_key
        if self.state_key is not None and (not self.image_keys or self.state_key not in shapes.estimated):
            raise ValueError(f"image_state_key={self.state_key!r} needs cameras (image_keys) and the key's size in shapes.estimated")
        pooled = 2 * cfg.image_keypoints if cfg.image_pool == "spatial_softmax" else RESNET18_FEATURE_DIM  # resnet18 without a head
        image_dim = shapes.estimated[self.state_key] if self.state_key is not None else (cfg.image_feature_dim or pooled)
        head = image_dim if self.state_key is not None else (cfg.image_feature_dim or None)  # None: resnet18 without a head
        self.signed, self.imagenet_norm = cfg.image_range == "signed", cfg.imagenet_norm
        self.channel_stats = self._channel_stats(cfg, shapes)
        self.encoders = nn.ModuleDict()
        self.crops = nn.ModuleDict()
        for k in self.image_keys:
            h, w, _ = shapes.images[k]
            ratio = 1.0 if self.state_key is not None else cfg.crop_ratio  # an estimator reads absolute positions: no crop
            self.crops[k] = RandomCrop(*crop_size(h, w, ratio))
            self.encoders[k] = make_image_encoder(cfg.image_encoder, head, cfg.image_norm, cfg.image_weights, cfg.image_pool, cfg.image_keypoints)
            if self.state_key is not None:
                self.encoders[k].requires_grad_(False)  # trained by state_estimator.pretrain_state_estimators only
        self.feature_dim = sum(shapes.low_dim.values()) + image_dim * len(self.image_keys)
        self.sort_key = cfg.sort_objects_key
        self.objects_offset, self.object_size = cfg.objects_offset, cfg.object_size
        if self.sort_key is not None:
            dim = shapes.low_dim.get(self.sort_key) if self.sort_key != self.state_key else image_dim
            if dim is None or (self.sort_key not in self.low_dim_keys and self.sort_key != self.state_key):
                raise ValueError(f"sort_objects_key={self.sort_key!r}: not one of the policy's low-dim keys {self.low_dim_keys}"
                                 + (f" nor its cameras' estimate {self.state_key!r}" if self.state_key else ""))
            slots = dim - self.objects_offset
            if slots < 2 * self.object_size or slots % self.object_size:
                raise ValueError(f"sort_objects_key={self.sort_key!r} has {dim} values: after objects_offset={self.objects_offset} "
                                 f"they must split into at least two slots of object_size={self.object_size}")

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        b, t = next(iter(obs.values())).shape[:2]
        for k in self.low_dim_keys:
            v = obs[k].reshape(b, t, -1)
            parts.append(self.sort_objects(v) if k == self.sort_key else v)
        for k in self.image_keys:
            parts.append(self.camera_features(k, obs))
        return torch.cat(parts, dim=-1).reshape(b, -1)

    def camera_features(self, camera: str, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, T, feature) of one camera: its encoder's output, or the precomputed estimate when ``obs`` has it."""
        if self.state_key is not None and estimate_key(camera, self.state_key) in obs:
            v = obs[estimate_key(camera, self.state_key)]
        else:
            b, t = obs[camera].shape[:2]
            img = image_to_float(obs[camera].reshape(b * t, *obs[camera].shape[2:]))
            v = self.encoders[camera](self.pixels(self.crops[camera](img), camera)).reshape(b, t, -1)
        return self.sort_objects(v) if self.state_key is not None and self.sort_key == self.state_key else v

    @staticmethod
    def _channel_stats(cfg: DiffusionPolicyConfig, shapes: PolicyShapes) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``image_stats`` as (mean, std) tensors (1, C, 1, 1) per camera, checked against the cameras."""
        if cfg.image_stats is None:
            return {}
        unknown, missing = sorted(set(cfg.image_stats) - set(shapes.images)), sorted(set(shapes.images) - set(cfg.image_stats))
        if unknown or missing:
            raise ValueError(f"policy.image_stats has cameras {sorted(cfg.image_stats)}; the policy's are {sorted(shapes.images)}")
        out = {}
        for cam, st in cfg.image_stats.items():
            mean, std = (torch.tensor([float(v) for v in st[n]]).view(1, -1, 1, 1) for n in ("mean", "std"))
            if mean.shape[1] != shapes.images[cam][2]:
                raise ValueError(f"policy.image_stats.{cam}: {mean.shape[1]} values a statistic; camera {cam} has {shapes.images[cam][2]} channels")
            out[cam] = (mean, std)
        return out

    def pixels(self, img: torch.Tensor, camera: str | None = None) -> torch.Tensor:
        """Frames (N, C, H, W) in [0, 1] as ``camera``'s encoder takes them: ``image_range``, ``imagenet_norm``
        and the camera's ``image_stats``."""
        if self.signed:
            img = img * 2.0 - 1.0
        if self.imagenet_norm:
            img = (img - IMAGENET_MEAN.to(img.device)) / IMAGENET_STD.to(img.device)
        if camera in self.channel_stats:
            mean, std = self.channel_stats[camera]
            img = (img - mean.to(img.device)) / std.to(img.device)
        return img

    def sort_objects(self, v: torch.Tensor) -> torch.Tensor:
        """(B, T, D) with the object slots after ``objects_offset`` ordered nearest-first to the
        robot (values 0, 1) at the last step; the robot's own values are untouched."""
        b, t, _ = v.shape
        slots = v[..., self.objects_offset :].reshape(b, t, -1, self.object_size)
        dist = (slots[:, -1, :, :2] - v[:, -1, None, :2]).square().sum(-1)  # (B, n_objects)
        order = dist.argsort(dim=1)[:, None, :, None].expand(b, t, -1, self.object_size)
        return torch.cat([v[..., : self.objects_offset], slots.gather(2, order).reshape(b, t, -1)], dim=-1)
