"""Min–max normalisers fitted on a dataset and saved with the policy.

Actions and low-dim observations are mapped feature-wise from [min, max] to [-1, 1]
(the range DDPM's sample clipping assumes, so sampled actions never leave the range
seen in the demonstrations). Constant features map to 0. Images are not fitted: they
go from uint8 to [0, 1] (:func:`image_to_float`). The normaliser is an ``nn.Module``
with buffers, so it moves with the policy to a device and lives in its state dict.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import torch
from torch import nn

EPS = 1e-6


class MinMax(nn.Module):
    """One key's feature-wise affine map ``y = x * scale + offset`` onto [-1, 1]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("offset", torch.zeros(dim))
        self.register_buffer("low", torch.full((dim,), -1.0))
        self.register_buffer("high", torch.ones(dim))

    def fit(self, data: np.ndarray | torch.Tensor) -> "MinMax":
        """Fit on samples (N, dim)."""
        x = torch.as_tensor(np.asarray(data, dtype=np.float64)).reshape(-1, self.scale.shape[0])
        if x.shape[0] == 0:
            raise ValueError("cannot fit a normaliser on zero samples")
        if not torch.isfinite(x).all():
            raise ValueError("cannot fit a normaliser on data with NaN or Inf")
        low, high = x.min(0).values, x.max(0).values
        rng = high - low
        const = rng < EPS
        scale = torch.where(const, torch.ones_like(rng), 2.0 / rng.clamp_min(EPS))
        offset = torch.where(const, -low, -1.0 - low * scale)
        self.scale.copy_(scale.float())
        self.offset.copy_(offset.float())
        self.low.copy_(low.float())
        self.high.copy_(high.float())
        return self

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset

    def unnormalize(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.offset) / self.scale


class Normalizer(nn.Module):
    """Named :class:`MinMax` maps, e.g. ``action`` and each low-dim observation key."""

    def __init__(self, dims: Mapping[str, int]) -> None:
        super().__init__()
        self.maps = nn.ModuleDict({k: MinMax(d) for k, d in dims.items()})

    @classmethod
    def fit_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "Normalizer":
        """A normaliser fitted on ``{key: (N, dim) array}``."""
        norm = cls({k: int(np.asarray(v).shape[-1]) for k, v in arrays.items()})
        for k, v in arrays.items():
            norm.maps[k].fit(v)
        return norm

    def keys(self) -> Iterable[str]:
        return self.maps.keys()

    def normalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        return self.maps[key].normalize(x)

    def unnormalize(self, key: str, y: torch.Tensor) -> torch.Tensor:
        return self.maps[key].unnormalize(y)

    def bounds(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The (min, max) seen when fitting ``key``."""
        m = self.maps[key]
        return m.low.cpu().numpy(), m.high.cpu().numpy()


def image_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., H, W, C) → float (..., C, H, W) in [0, 1]."""
    return x.movedim(-1, -3).float().div_(255.0) if x.dtype == torch.uint8 else x.movedim(-1, -3).float()
