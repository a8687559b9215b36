"""A keypoint image encoder: a small convolutional trunk read out by a spatial softmax.

robomimic's visual encoders pool their last feature maps with a spatial softmax (Levine
et al. 2016, "deep spatial autoencoders"): every channel becomes the expected (x, y)
of its own attention map, so the features are image coordinates of things the network
learned to find. That suits scenes where *where* things are is what matters (a block to
push, a gripper to reach): a position error of a fraction of a pixel is reachable from
a 32×32 map, which global average pooling throws away.
"""

from __future__ import annotations

import torch
from torch import nn


class SpatialSoftmax(nn.Module):
    """(B, K, H, W) feature maps → (B, 2K): the expected x of each map, then the expected y, in [-1, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k, h, w = x.shape
        attention = x.reshape(b, k, h * w).softmax(-1).reshape(b, k, h, w)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        return torch.cat([(attention.sum(2) * xs).sum(-1), (attention.sum(3) * ys).sum(-1)], dim=1)


class KeypointEncoder(nn.Module):
    """Images (B, C, H, W) in [0, 1] → features (B, out_dim) through ``keypoints`` learned image points.

    The trunk halves the resolution once (a 5×5 stride-2 convolution) and keeps it for
    two 3×3 convolutions, so a 64×64 camera is located on a 32×32 grid; a 1×1
    convolution makes one map per keypoint, and an MLP reads the keypoints out.
    """

    def __init__(self, out_dim: int = 64, keypoints: int = 32, channels: int = 32, hidden: int = 256, in_channels: int = 3) -> None:
        super().__init__()
        if min(out_dim, keypoints, channels, hidden) < 1:
            raise ValueError(f"out_dim, keypoints, channels and hidden must be >= 1, got {out_dim}, {keypoints}, {channels}, {hidden}")
        self.trunk = nn.Sequential(
            nn.Conv2d(in_channels, channels, 5, 2, 2), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(channels, keypoints, 1),
            SpatialSoftmax(),
        )
        self.head = nn.Sequential(nn.Linear(2 * keypoints, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))
