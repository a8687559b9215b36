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

At batch 16 (best-of-N) the products are compute-bound and near the core's peak, so the
rest of the step is what can shrink (docs/benchmarks-alignment.md, "Best-of-N latency"):

- the im2col copy of a channel-major window (C_in, k) gathers k values C_in apart; with
  the weight reordered tap-major, (C_out, k·C_in) (:func:`tap_major_weights`, passed in
  like the up-sampling weights), each window is k·C_in contiguous values and the copy
  runs 3.5–5× faster. At batch 1 the copies are small and reordering the weights on every
  chunk would cost more than it saves, so the sampler passes them only for large batches;
- ``F.mish`` (``x·tanh(softplus(x))``) takes about 3.5 ns per value on this CPU, longer
  than the convolution's own GroupNorm: tanh alone takes 2.5 ns, sigmoid 0.4 ns.
  :func:`mish_` uses ``tanh(softplus(x)) = p / (2 − p)`` with ``p = s(2 − s)``,
  ``s = sigmoid(x)``, exact up to float rounding (within 2e-7 relative); on 8,192
  values it takes 17 µs instead of 32, below 4,096 values the six operations cost more
  than F.mish's one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robopref.policies.unet1d import ConditionalResidualBlock1D, ConditionalUnet1D, Conv1dBlock

Film = tuple[torch.Tensor, torch.Tensor]  # (scale, bias), each (B, 1, C), or (1, 1, C) shared by every row of the batch
UpWeight = tuple[torch.Tensor, torch.Tensor | None]  # an up-sampling layer as one product: (weight, bias)
MISH_BY_SIGMOID_MIN_NUMEL = 4096  # from this size on, mish_ is faster through sigmoid than F.mish
_TWO = torch.tensor(2.0)  # a tensor, not the Python 2: `2 - p` wraps the scalar on every call (~3 µs of 20 in mish_)


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


def kernel_convs(unet: ConditionalUnet1D) -> list[nn.Conv1d]:
    """The convolutions with a kernel wider than 1, in a fixed order (that of :func:`tap_major_weights`)."""
    return [m for m in unet.modules() if isinstance(m, nn.Conv1d) and m.kernel_size[0] > 1]


def tap_major_weights(unet: ConditionalUnet1D) -> list[torch.Tensor]:
    """The weight of every :func:`kernel_convs` convolution as (C_out, k·C_in), ordered (tap, channel)."""
    return [conv.weight.transpose(1, 2).flatten(1).contiguous() for conv in kernel_convs(unet)]


def conv1d_time_major(x: torch.Tensor, conv: nn.Conv1d, tap_major: torch.Tensor | None = None) -> torch.Tensor:
    """``conv(x)`` for time-major ``x`` (B, T, C_in) → (B, T_out, C_out), as im2col + one product.

    ``tap_major`` is the weight from :func:`tap_major_weights`; with it the im2col
    windows are contiguous runs of the padded input (a fast copy), without it they are
    gathered channel-major to match ``conv.weight``.
    """
    if conv.dilation[0] != 1 or conv.groups != 1 or not isinstance(conv.padding, tuple):
        raise ValueError(f"{conv}: only dilation 1, groups 1 and numeric padding are supported")
    k, stride, pad = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    if k == 1 and stride == 1:
        return F.linear(x, conv.weight.flatten(1), conv.bias)
    if pad:
        x = F.pad(x, (0, 0, pad, pad))
    windows = x.unfold(1, k, stride)  # (B, T_out, C_in, k), a view
    if tap_major is None:
        return F.linear(windows.flatten(2), conv.weight.flatten(1), conv.bias)  # (B, T_out, C_in * k), channel-major like the weight
    cols = windows.transpose(2, 3).flatten(2).contiguous()  # (B, T_out, k * C_in): each row is k * C_in consecutive values of x
    return F.linear(cols, tap_major, conv.bias)


def mish_(x: torch.Tensor) -> torch.Tensor:
    """Mish of ``x``, written into ``x``; see the module docstring for the sigmoid form on large tensors."""
    if x.numel() < MISH_BY_SIGMOID_MIN_NUMEL:
        return F.mish(x, inplace=True)
    p = torch.sigmoid(x)
    p.mul_(torch.sub(_TWO, p))  # p = s (2 - s) = 1 - (1 - s)^2, without cancellation when s is small
    return x.mul_(p).div_(torch.sub(_TWO, p))  # x tanh(softplus(x)) = x p / (2 - p)


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


TapMajor = dict[nn.Conv1d, torch.Tensor]  # convolution -> its tap_major_weights entry


def conv_block(x: torch.Tensor, block: Conv1dBlock, taps: TapMajor) -> torch.Tensor:
    conv, norm, _ = block.block
    return mish_(group_norm_time_major(conv1d_time_major(x, conv, taps.get(conv)), norm))


def residual_block(x: torch.Tensor, block: ConditionalResidualBlock1D, film: Film, taps: TapMajor) -> torch.Tensor:
    h = conv_block(x, block.blocks[0], taps)
    h = torch.addcmul(film[1], film[0], h)
    h = conv_block(h, block.blocks[1], taps)
    skip = conv1d_time_major(x, block.residual_conv) if isinstance(block.residual_conv, nn.Conv1d) else x
    return h.add_(skip)


def forward_time_major(
    unet: ConditionalUnet1D, x: torch.Tensor, films: list[Film], up_weights: list[UpWeight], tap_major: list[torch.Tensor] | None = None
) -> torch.Tensor:
    """The U-Net's output for time-major ``x`` (B, T, input_dim) at one step.

    ``films`` is that step's row of :func:`film_for_steps`; ``up_weights`` the
    :func:`conv_transpose_weight` of each up-sampling layer, in order; ``tap_major``
    optionally :func:`tap_major_weights` (faster im2col for large batches).
    """
    taps = dict(zip(kernel_convs(unet), tap_major)) if tap_major else {}
    film, up_weight = iter(films), iter(up_weights)
    skips = []
    for res1, res2, down in unet.down_modules:
        x = residual_block(residual_block(x, res1, next(film), taps), res2, next(film), taps)
        skips.append(x)
        if isinstance(down, nn.Conv1d):
            x = conv1d_time_major(x, down, taps.get(down))
    for mid in unet.mid_modules:
        x = residual_block(x, mid, next(film), taps)
    for res1, res2, up in unet.up_modules:
        x = torch.cat((x, skips.pop()), dim=-1)
        x = residual_block(residual_block(x, res1, next(film), taps), res2, next(film), taps)
        if isinstance(up, nn.ConvTranspose1d):
            x = conv_transpose_time_major(x, *next(up_weight))
    final_block, final_conv = unet.final_conv
    return conv1d_time_major(conv_block(x, final_block, taps), final_conv)


def up_sampling_weights(unet: ConditionalUnet1D) -> list[UpWeight]:
    """:func:`conv_transpose_weight` of every up-sampling layer, in forward order."""
    return [conv_transpose_weight(up) for _, _, up in unet.up_modules if isinstance(up, nn.ConvTranspose1d)]
