"""Inference-only forward of :class:`ConditionalUnet1D` for a fixed list of diffusion steps.

It reads the same weights and computes the same function as ``ConditionalUnet1D.forward``
(up to float rounding), rearranged for sampling at small batch on a CPU, where the
module's forward spends most of its time in per-operation overhead and in a slow
matrix-product orientation (docs/benchmarks-policy.md, "Inference"):

- activations stay time-major, (B, T, C), the layout of an action chunk. Every
  convolution is then one im2col (``unfold``) and one ``F.linear``, a (B·T, C·k) @
  (C·k, C_out) product; ``conv1d`` at batch 1 runs (C_out, C·k) @ (C·k, T) with T of 4–16,
  an orientation MKL executes several times slower;
- the transposed convolution (kernel 4, stride 2, padding 1) is one product whose
  outputs are the even and the odd time steps side by side;
- the FiLM scale and bias of every residual block depend only on the diffusion step
  and the observation features, both fixed while one chunk is sampled, so
  :func:`film_for_steps` computes them for all steps in one batched pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robopref.policies.unet1d import ConditionalResidualBlock1D, ConditionalUnet1D, Conv1dBlock

Film = tuple[torch.Tensor, torch.Tensor]  # (scale, bias), each (B, 1, C)
UpWeight = tuple[torch.Tensor, torch.Tensor | None]  # an up-sampling layer as one product: (weight, bias)


def residual_blocks(unet: ConditionalUnet1D) -> list[ConditionalResidualBlock1D]:
    """The residual blocks in the order :func:`forward_time_major` applies them."""
    down = [b for level in unet.down_modules for b in level[:2]]
    up = [b for level in unet.up_modules for b in level[:2]]
    return down + list(unet.mid_modules) + up


def film_for_steps(unet: ConditionalUnet1D, timesteps: torch.Tensor, global_cond: torch.Tensor) -> list[list[Film]]:
    """FiLM (scale, bias) per step and residual block: ``films[step][block]``, each (B, 1, C).

    ``timesteps`` (S,) are the sampling steps in order, ``global_cond`` (B, G) the
    observation features. One linear layer per block over all S·B conditions.
    """
    s, b = timesteps.shape[0], global_cond.shape[0]
    step_emb = unet.diffusion_step_encoder(timesteps)  # (S, D)
    cond = torch.cat((step_emb[:, None].expand(s, b, -1), global_cond[None].expand(s, b, -1)), dim=-1)
    cond = F.mish(cond)  # every block's cond_encoder starts with Mish of the same condition
    per_block = []
    for block in residual_blocks(unet):
        linear = block.cond_encoder[1]
        film = F.linear(cond, linear.weight, linear.bias).unflatten(-1, (2, 1, block.out_channels))  # (S, B, 2, 1, C)
        scales, biases = film.unbind(2)
        per_block.append(list(zip(scales.unbind(0), biases.unbind(0))))
    return [list(step) for step in zip(*per_block)]


def conv1d_time_major(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv(x)`` for time-major ``x`` (B, T, C_in) → (B, T_out, C_out), as im2col + one product."""
    if conv.dilation[0] != 1 or conv.groups != 1 or not isinstance(conv.padding, tuple):
        raise ValueError(f"{conv}: only dilation 1, groups 1 and numeric padding are supported")
    k, stride, pad = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    if k == 1 and stride == 1:
        return F.linear(x, conv.weight.flatten(1), conv.bias)
    if pad:
        x = F.pad(x, (0, 0, pad, pad))
    cols = x.unfold(1, k, stride).flatten(2)  # (B, T_out, C_in * k), channel-major like the weight
    return F.linear(cols, conv.weight.flatten(1), conv.bias)


def conv_transpose_weight(conv: nn.ConvTranspose1d) -> UpWeight:
    """Weight (2·C_out, 3·C_in) and bias of ConvTranspose1d(kernel 4, stride 2, padding 1) as one product.

    Output step 2m takes taps 1 (input m) and 3 (input m-1); step 2m+1 takes taps 0
    (input m+1) and 2 (input m). Over the window (m-1, m, m+1) of the input these are
    two 3-tap kernels, stacked as rows (parity, channel).
    """
    if (conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.output_padding[0], conv.dilation[0], conv.groups) != (4, 2, 1, 0, 1, 1):
        raise ValueError(f"{conv}: only kernel 4, stride 2, padding 1 is supported")
    w = conv.weight  # (C_in, C_out, 4)
    zero = torch.zeros_like(w[:, :, 0])
    even = torch.stack((w[:, :, 3], w[:, :, 1], zero), dim=-1)  # (C_in, C_out, 3)
    odd = torch.stack((zero, w[:, :, 2], w[:, :, 0]), dim=-1)
    weight = torch.stack((even, odd)).transpose(1, 2).flatten(2).flatten(0, 1)  # (2 * C_out, C_in * 3)
    bias = conv.bias.repeat(2) if conv.bias is not None else None
    return weight, bias


def conv_transpose_time_major(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """ConvTranspose1d(kernel 4, stride 2, padding 1) of time-major ``x`` (B, T, C_in) → (B, 2T, C_out)."""
    cols = F.pad(x, (0, 0, 1, 1)).unfold(1, 3, 1).flatten(2)  # (B, T, C_in * 3)
    out = F.linear(cols, weight, bias)  # (B, T, 2 * C_out): even then odd output step
    return out.unflatten(-1, (2, -1)).flatten(1, 2)


def group_norm_time_major(x: torch.Tensor, norm: nn.GroupNorm) -> torch.Tensor:
    """GroupNorm over the channels of time-major ``x`` (B, T, C), via a channels-last (B, C, 1, T) view."""
    out = F.group_norm(x.transpose(1, 2).unsqueeze(2), norm.num_groups, norm.weight, norm.bias, norm.eps)
    return out.squeeze(2).transpose(1, 2)


def conv_block(x: torch.Tensor, block: Conv1dBlock) -> torch.Tensor:
    conv, norm, _ = block.block
    return F.mish(group_norm_time_major(conv1d_time_major(x, conv), norm), inplace=True)


def residual_block(x: torch.Tensor, block: ConditionalResidualBlock1D, film: Film) -> torch.Tensor:
    h = conv_block(x, block.blocks[0])
    h = torch.addcmul(film[1], film[0], h)
    h = conv_block(h, block.blocks[1])
    skip = conv1d_time_major(x, block.residual_conv) if isinstance(block.residual_conv, nn.Conv1d) else x
    return h.add_(skip)


def forward_time_major(unet: ConditionalUnet1D, x: torch.Tensor, films: list[Film], up_weights: list[UpWeight]) -> torch.Tensor:
    """The U-Net's output for time-major ``x`` (B, T, input_dim) at one step.

    ``films`` is that step's row of :func:`film_for_steps`; ``up_weights`` the
    :func:`conv_transpose_weight` of each up-sampling layer, in order.
    """
    film, up_weight = iter(films), iter(up_weights)
    skips = []
    for res1, res2, down in unet.down_modules:
        x = residual_block(residual_block(x, res1, next(film)), res2, next(film))
        skips.append(x)
        if isinstance(down, nn.Conv1d):
            x = conv1d_time_major(x, down)
    for mid in unet.mid_modules:
        x = residual_block(x, mid, next(film))
    for res1, res2, up in unet.up_modules:
        x = torch.cat((x, skips.pop()), dim=-1)
        x = residual_block(residual_block(x, res1, next(film)), res2, next(film))
        if isinstance(up, nn.ConvTranspose1d):
            x = conv_transpose_time_major(x, *next(up_weight))
    final_block, final_conv = unet.final_conv
    return conv1d_time_major(conv_block(x, final_block), final_conv)


def up_sampling_weights(unet: ConditionalUnet1D) -> list[UpWeight]:
    """:func:`conv_transpose_weight` of every up-sampling layer, in forward order."""
    return [conv_transpose_weight(up) for _, _, up in unet.up_modules if isinstance(up, nn.ConvTranspose1d)]
