"""ConditionalUnet1D: the temporal U-Net of Diffusion Policy (Chi et al. 2023).

A 1-D U-Net over the time axis of an action chunk ``(B, horizon, action_dim)``. Every
residual block is conditioned by FiLM (a per-channel scale and bias) on the diffusion
step embedding concatenated with the observation features (``global_cond``). The
layout and names follow real-stanford/diffusion_policy so that its users recognise
``down_dims``, ``kernel_size``, ``n_groups`` and ``diffusion_step_embed_dim``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from robopref.policies.conv import Conv1d
from robopref.policies.mish import Mish


class SinusoidalPosEmb(nn.Module):
    """Transformer-style sinusoidal embedding of the (integer) diffusion step."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=x.device, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
        emb = x.float()[:, None] * freqs[None, :]
        return torch.cat((emb.sin(), emb.cos()), dim=-1)


class Conv1dBlock(nn.Module):
    """Conv1d → GroupNorm → Mish (:class:`robopref.policies.mish.Mish`, the fast form of ``nn.Mish``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, n_groups: int = 8) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(n_groups, out_channels),
            Mish(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ConditionalResidualBlock1D(nn.Module):
    """Two Conv1d blocks with FiLM in between: ``h = scale(cond) * h + bias(cond)``."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, kernel_size: int = 5, n_groups: int = 8) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [Conv1dBlock(in_channels, out_channels, kernel_size, n_groups), Conv1dBlock(out_channels, out_channels, kernel_size, n_groups)]
        )
        self.out_channels = out_channels
        self.cond_encoder = nn.Sequential(Mish(), nn.Linear(cond_dim, out_channels * 2))
        self.residual_conv = Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        out = self.blocks[0](x)
        film = self.cond_encoder(cond).reshape(cond.shape[0], 2, self.out_channels, 1)
        out = film[:, 0] * out + film[:, 1]
        out = self.blocks[1](out)
        return out + self.residual_conv(x)


class ConditionalUnet1D(nn.Module):
    """Predicts noise (or the clean sample) of an action chunk given step and observation features.

    Args:
        input_dim: action dimension.
        global_cond_dim: size of the flattened observation features (``n_obs_steps * feature_dim``).
        diffusion_step_embed_dim: size of the diffusion-step embedding.
        down_dims: channels per U-Net level; the time axis is halved between levels, so
            ``horizon`` must be divisible by ``2 ** (len(down_dims) - 1)``.
        kernel_size: temporal convolution width.
        n_groups: GroupNorm groups (must divide every entry of ``down_dims``).
    """

    def __init__(
        self,
        input_dim: int,
        global_cond_dim: int,
        diffusion_step_embed_dim: int = 128,
        down_dims: Sequence[int] = (256, 512, 1024),
        kernel_size: int = 5,
        n_groups: int = 8,
    ) -> None:
        super().__init__()
        down_dims = list(down_dims)
        bad = [d for d in down_dims if d % n_groups]
        if bad:
            raise ValueError(f"down_dims {down_dims}: every entry must be divisible by n_groups={n_groups} (GroupNorm); bad: {bad}")
        all_dims = [input_dim] + down_dims
        dsed = diffusion_step_embed_dim
        self.diffusion_step_encoder = nn.Sequential(SinusoidalPosEmb(dsed), nn.Linear(dsed, dsed * 4), Mish(), nn.Linear(dsed * 4, dsed))
        cond_dim = dsed + global_cond_dim
        in_out = list(zip(all_dims[:-1], all_dims[1:]))
        mid = all_dims[-1]
        self.mid_modules = nn.ModuleList(
            [ConditionalResidualBlock1D(mid, mid, cond_dim, kernel_size, n_groups), ConditionalResidualBlock1D(mid, mid, cond_dim, kernel_size, n_groups)]
        )
        self.down_modules = nn.ModuleList()
        for i, (din, dout) in enumerate(in_out):
            last = i == len(in_out) - 1
            self.down_modules.append(
                nn.ModuleList(
                    [
                        ConditionalResidualBlock1D(din, dout, cond_dim, kernel_size, n_groups),
                        ConditionalResidualBlock1D(dout, dout, cond_dim, kernel_size, n_groups),
                        Conv1d(dout, dout, 3, 2, 1) if not last else nn.Identity(),
                    ]
                )
            )
        self.up_modules = nn.ModuleList()
        for i, (din, dout) in enumerate(reversed(in_out[1:])):
            last = i == len(in_out) - 1
            self.up_modules.append(
                nn.ModuleList(
                    [
                        ConditionalResidualBlock1D(dout * 2, din, cond_dim, kernel_size, n_groups),
                        ConditionalResidualBlock1D(din, din, cond_dim, kernel_size, n_groups),
                        nn.ConvTranspose1d(din, din, 4, 2, 1) if not last else nn.Identity(),
                    ]
                )
            )
        self.final_conv = nn.Sequential(Conv1dBlock(down_dims[0], down_dims[0], kernel_size, n_groups), Conv1d(down_dims[0], input_dim, 1))
        self.n_downsamples = len(down_dims) - 1

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | int, global_cond: torch.Tensor) -> torch.Tensor:
        """``sample`` (B, T, input_dim), ``timestep`` (B,) or scalar, ``global_cond`` (B, global_cond_dim) → (B, T, input_dim)."""
        if sample.shape[1] % (2**self.n_downsamples):
            raise ValueError(
                f"horizon {sample.shape[1]} must be divisible by {2 ** self.n_downsamples} (2 ** (len(down_dims) - 1)); change horizon or down_dims"
            )
        x = sample.transpose(1, 2)
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([timestep], dtype=torch.long, device=sample.device)
        timestep = timestep.to(sample.device).reshape(-1).expand(sample.shape[0])
        cond = torch.cat([self.diffusion_step_encoder(timestep), global_cond], dim=-1)
        skips = []
        for res1, res2, down in self.down_modules:
            x = res2(res1(x, cond), cond)
            skips.append(x)
            x = down(x)
        for m in self.mid_modules:
            x = m(x, cond)
        for res1, res2, up in self.up_modules:
            x = torch.cat((x, skips.pop()), dim=1)
            x = res2(res1(x, cond), cond)
            x = up(x)
        return self.final_conv(x).transpose(1, 2)
