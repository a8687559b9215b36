"""Inference-only forward of :class:`ConditionalUnet1D` for a fixed list of diffusion steps.

It reads the same weights and computes the same function as ``ConditionalUnet1D.forward``
(up to float rounding), rearranged for sampling at small batch on a CPU, where the
module's forward spends most of its time in per-operation overhead and in a slow
matrix-product orientation (docs/benchmarks-policy.md, "Inference"):

- activations stay time-major, (B, T, C), the layout of an action chunk. Every
  convolution is then one im2col (``unfold``) and one ``addmm``, a (B·T, k·C) @
  (k·C, C_out) product; ``conv1d`` at batch 1 runs (C_out, C·k) @ (C·k, T) with T of 4–16,
  an orientation MKL executes several times slower;
- the weights are rearranged once (:class:`InferenceWeights`; the sampler keeps them
  until a weight changes): each convolution's as a (k·C_in, C_out) matrix ordered (tap,
  channel), so that an im2col row is k·C_in consecutive values of the padded input (a
  contiguous copy, 3.5–5× faster than gathering channel-major windows) and the product
  reads its right operand untransposed (10–20 % faster at 4–16 rows than ``F.linear``'s
  transposed weight); the transposed convolution (kernel 4, stride 2, padding 1) as one
  product whose outputs are the even and the odd time steps side by side;
- the FiLM scale and bias of every residual block depend only on the diffusion step and
  the observation features, both fixed while one chunk is sampled: the step part of all
  blocks is a table kept per list of timesteps, and the observation part is one product
  per chunk (:func:`chunk_films`), since ``Linear(mish(cat(step, obs)))`` is the sum of
  a product with ``mish(step)`` and one with ``mish(obs)``;
- ``F.mish`` (``x·tanh(softplus(x))``) takes about 3.5 ns per value on this CPU, longer
  than the convolution's own GroupNorm: tanh alone takes 2.5 ns, sigmoid 0.4 ns.
  :func:`mish_` uses ``tanh(softplus(x)) = p / (2 − p)`` with ``p = s(2 − s)``,
  ``s = sigmoid(x)``, exact up to float rounding (within 2e-7 relative); on 8,192
  values it takes 17 µs instead of 32, below 4,096 values the six operations cost more
  than F.mish's one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from robopref.policies.ddim import DDIMUpdate
from robopref.policies.unet1d import ConditionalResidualBlock1D, ConditionalUnet1D, Conv1dBlock

MISH_BY_SIGMOID_MIN_NUMEL = 4096  # from this size on, mish_ is faster through sigmoid than F.mish
_TWO = torch.tensor(2.0)  # a tensor, not the Python 2: `2 - p` wraps the scalar on every call (~3 µs of 20 in mish_)


def residual_blocks(unet: ConditionalUnet1D) -> list[ConditionalResidualBlock1D]:
    """The residual blocks in the order :func:`forward_time_major` applies them."""
    down = [b for level in unet.down_modules for b in level[:2]]
    up = [b for level in unet.up_modules for b in level[:2]]
    return down + list(unet.mid_modules) + up


def conv_modules(unet: ConditionalUnet1D) -> list[nn.Conv1d]:
    """Every ``nn.Conv1d`` of the U-Net, in a fixed order (that of :attr:`InferenceWeights.convs`)."""
    return [m for m in unet.modules() if isinstance(m, nn.Conv1d)]


def up_modules(unet: ConditionalUnet1D) -> list[nn.ConvTranspose1d]:
    """The up-sampling layers in forward order."""
    return [up for _, _, up in unet.up_modules if isinstance(up, nn.ConvTranspose1d)]


def conv_weight_time_major(conv: nn.Conv1d) -> torch.Tensor:
    """``conv.weight`` as (k·C_in, C_out), rows ordered (tap, channel): the right operand of :func:`conv1d_time_major`."""
    if conv.dilation[0] != 1 or conv.groups != 1 or not isinstance(conv.padding, tuple):
        raise ValueError(f"{conv}: only dilation 1, groups 1 and numeric padding are supported")
    return conv.weight.permute(2, 1, 0).flatten(0, 1).contiguous()


def conv_transpose_weight(conv: nn.ConvTranspose1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight (3·C_in, 2·C_out) and bias (2·C_out,) of ConvTranspose1d(kernel 4, stride 2, padding 1) as one product.

    Output step 2m takes taps 1 (input m) and 3 (input m-1); step 2m+1 takes taps 0
    (input m+1) and 2 (input m). Over the window (m-1, m, m+1) of the input these are
    two 3-tap kernels, side by side as columns (parity, channel); rows are (tap, channel)
    like :func:`conv_weight_time_major`.
    """
    if (conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.output_padding[0], conv.dilation[0], conv.groups) != (4, 2, 1, 0, 1, 1):
        raise ValueError(f"{conv}: only kernel 4, stride 2, padding 1 is supported")
    w = conv.weight  # (C_in, C_out, 4)
    zero = torch.zeros_like(w[:, :, 0])
    even = torch.stack((w[:, :, 3], w[:, :, 1], zero))  # (3 taps, C_in, C_out)
    odd = torch.stack((zero, w[:, :, 2], w[:, :, 0]))
    weight = torch.cat((even, odd), dim=-1).flatten(0, 1).contiguous()  # (3 * C_in, 2 * C_out)
    bias = conv.bias.repeat(2) if conv.bias is not None else w.new_zeros(2 * w.shape[1])
    return weight, bias


@dataclass(frozen=True)
class InferenceWeights:
    """A U-Net's weights rearranged for :func:`forward_time_major`; see the module docstring.

    Build with :meth:`of`. The tensors are copies: after an in-place weight update they
    are stale, so :class:`~robopref.policies.chunk_sampler.ChunkSamplerCache` rebuilds
    them when a parameter's version changes. GroupNorm weights and the convolutions'
    biases are read from the module itself.
    """

    convs: tuple[torch.Tensor, ...]  # conv_weight_time_major of every conv_modules(unet) entry
    ups: tuple[torch.Tensor, ...]  # conv_transpose_weight of every up_modules(unet) entry: weight ...
    up_biases: tuple[torch.Tensor, ...]  # ... and bias
    film_step: torch.Tensor  # (D, F): the step-embedding rows of every block's FiLM layer, blocks side by side
    film_cond: torch.Tensor  # (G, F): the observation rows
    film_bias: torch.Tensor  # (F,)
    film_sizes: tuple[int, ...]  # 2·C per residual block, in residual_blocks order; F is their sum

    @classmethod
    def of(cls, unet: ConditionalUnet1D, dtype: torch.dtype = torch.float32) -> "InferenceWeights":
        """The layout of ``unet``; ``dtype``: that of the convolution weights (bfloat16: their products run in bf16)."""
        blocks = residual_blocks(unet)
        linears = [block.cond_encoder[1] for block in blocks]
        step_dim = unet.diffusion_step_encoder[-1].out_features
        weight = torch.cat([lin.weight for lin in linears]).t()  # (D + G, F)
        ups = [conv_transpose_weight(up) for up in up_modules(unet)]
        return cls(
            convs=tuple(conv_weight_time_major(c).to(dtype) for c in conv_modules(unet)),
            ups=tuple(w.to(dtype) for w, _ in ups),
            up_biases=tuple(b for _, b in ups),
            film_step=weight[:step_dim].contiguous(),
            film_cond=weight[step_dim:].contiguous(),
            film_bias=torch.cat([lin.bias for lin in linears]),
            film_sizes=tuple(lin.out_features for lin in linears),
        )

    def tensors(self) -> list[torch.Tensor]:
        """What :func:`forward_time_major` reads, flat (a trace's inputs); :meth:`with_tensors` undoes it."""
        return [*self.convs, *self.ups, *self.up_biases]

    def with_tensors(self, tensors: Sequence[torch.Tensor]) -> "InferenceWeights":
        """This layout with :meth:`tensors` replaced by ``tensors`` (the FiLM fields unchanged)."""
        n, u = len(self.convs), len(self.ups)
        return replace(self, convs=tuple(tensors[:n]), ups=tuple(tensors[n : n + u]), up_biases=tuple(tensors[n + u : n + 2 * u]))


def film_step_table(unet: ConditionalUnet1D, weights: InferenceWeights, timesteps: torch.Tensor) -> torch.Tensor:
    """The step part of every block's FiLM terms, bias included: (S, F) for ``timesteps`` (S,)."""
    step_emb = F.mish(unet.diffusion_step_encoder(timesteps))  # each block's cond_encoder starts with Mish
    return torch.addmm(weights.film_bias, step_emb, weights.film_step)


def chunk_films(step_table: torch.Tensor, weights: InferenceWeights, global_cond: torch.Tensor) -> torch.Tensor:
    """FiLM terms of every step and block for one chunk: (S, B, F), from the step table and ``global_cond`` (B, G)."""
    return step_table[:, None] + (F.mish(global_cond) @ weights.film_cond)[None]


def time_major_product(cols: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``cols @ weight + bias`` for ``weight`` (K, N) as :class:`InferenceWeights` keeps it.

    Written as ``F.linear`` of the transposed view: linear transposes it back and runs
    one ``addmm`` on the contiguous (K, N) matrix. A direct ``torch.addmm`` call would
    be decomposed by TorchScript into ``mm`` and ``add``, whose rounding differs from
    the eager call's, and a traced chunk must equal an eager one bit for bit (a policy
    reset with the same seed repeats its actions exactly).

    A bfloat16 ``weight`` (``inference_dtype``) multiplies a bf16 copy of ``cols``; the product
    comes back as float32 before the bias, so normalisation, FiLM and the DDIM update stay float32.
    """
    if weight.dtype != cols.dtype:
        out = F.linear(cols.to(weight.dtype), weight.t()).float()
        return out if bias is None else out + bias
    return F.linear(cols, weight.t(), bias)


def conv1d_time_major(x: torch.Tensor, conv: nn.Conv1d, weight: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for time-major ``x`` (B, T, C_in) → (B, T_out, C_out); ``weight`` is :func:`conv_weight_time_major`.

    Each im2col row is k·C_in consecutive values of the padded input.
    """
    k, stride, pad = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    if k == 1 and stride == 1 and pad == 0:
        return time_major_product(x, weight, conv.bias)
    if pad:
        x = F.pad(x, (0, 0, pad, pad))
    # (B, T_out, k·C_in). flatten, not reshape to computed sizes (a trace would redo those as tensor
    # arithmetic); contiguous, because F.linear of the overlapping view is 2.5x slower at batch 64
    cols = x.unfold(1, k, stride).transpose(2, 3).flatten(2).contiguous()
    return time_major_product(cols, weight, conv.bias)


def conv_transpose_time_major(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """ConvTranspose1d(kernel 4, stride 2, padding 1) of time-major ``x`` (B, T, C_in) → (B, 2T, C_out)."""
    cols = F.pad(x, (0, 0, 1, 1)).unfold(1, 3, 1).transpose(2, 3).flatten(2).contiguous()  # (B, T, 3·C_in), as in conv1d_time_major
    return time_major_product(cols, weight, bias).unflatten(-1, (2, -1)).flatten(1, 2)  # (B, T, 2, C_out): even then odd step


def mish_(x: torch.Tensor) -> torch.Tensor:
    """Mish of ``x``, written into ``x``; see the module docstring for the sigmoid form on large tensors."""
    if x.numel() < MISH_BY_SIGMOID_MIN_NUMEL:
        return F.mish(x, inplace=True)
    p = torch.sigmoid(x)
    p.mul_(torch.sub(_TWO, p))  # p = s (2 - s) = 1 - (1 - s)^2, without cancellation when s is small
    return x.mul_(p).div_(torch.sub(_TWO, p))  # x tanh(softplus(x)) = x p / (2 - p)


def group_norm_time_major(x: torch.Tensor, norm: nn.GroupNorm) -> torch.Tensor:
    """GroupNorm over the channels of time-major ``x`` (B, T, C), via a channels-last (B, C, 1, T) view."""
    out = F.group_norm(x.transpose(1, 2).unsqueeze(2), norm.num_groups, norm.weight, norm.bias, norm.eps)
    return out.squeeze(2).transpose(1, 2)


ConvWeights = dict[nn.Conv1d, torch.Tensor]  # convolution -> its conv_weight_time_major


def conv_block(x: torch.Tensor, block: Conv1dBlock, convs: ConvWeights) -> torch.Tensor:
    conv, norm, _ = block.block
    return mish_(group_norm_time_major(conv1d_time_major(x, conv, convs[conv]), norm))


def residual_block(x: torch.Tensor, block: ConditionalResidualBlock1D, film: torch.Tensor, convs: ConvWeights) -> torch.Tensor:
    """One residual block; ``film`` (B or 1, 1, 2·C) holds its FiLM scale then bias."""
    h = conv_block(x, block.blocks[0], convs)
    scale, bias = film.chunk(2, dim=-1)
    h = torch.addcmul(bias, scale, h)
    h = conv_block(h, block.blocks[1], convs)
    skip = conv1d_time_major(x, block.residual_conv, convs[block.residual_conv]) if isinstance(block.residual_conv, nn.Conv1d) else x
    return h.add_(skip)


def forward_time_major(unet: ConditionalUnet1D, x: torch.Tensor, film: torch.Tensor, weights: InferenceWeights) -> torch.Tensor:
    """The U-Net's output for time-major ``x`` (B, T, input_dim) at one step.

    ``film`` is that step's row of :func:`chunk_films`, (B, F) or (1, F) for every row
    of the batch; ``weights`` is :meth:`InferenceWeights.of` of this U-Net.
    """
    convs = dict(zip(conv_modules(unet), weights.convs))
    films = iter(film.unsqueeze(1).split(weights.film_sizes, dim=-1))
    ups = iter(zip(weights.ups, weights.up_biases))
    skips = []
    for res1, res2, down in unet.down_modules:
        x = residual_block(residual_block(x, res1, next(films), convs), res2, next(films), convs)
        skips.append(x)
        if isinstance(down, nn.Conv1d):
            x = conv1d_time_major(x, down, convs[down])
    for mid in unet.mid_modules:
        x = residual_block(x, mid, next(films), convs)
    for res1, res2, up in unet.up_modules:
        x = torch.cat((x, skips.pop()), dim=-1)
        x = residual_block(residual_block(x, res1, next(films), convs), res2, next(films), convs)
        if isinstance(up, nn.ConvTranspose1d):
            x = conv_transpose_time_major(x, *next(ups))
    final_block, final_conv = unet.final_conv
    return conv1d_time_major(conv_block(x, final_block, convs), final_conv, convs[final_conv])


def mish_row_sizes(unet: ConditionalUnet1D, horizon: int) -> tuple[int, ...]:
    """Values per batch row of the tensors :func:`forward_time_major` applies :func:`mish_` to, distinct and sorted.

    With the batch size they decide which form each ``mish_`` call takes: a trace of
    the forward is valid for every batch size that makes the same decisions
    (:func:`mish_forms`).
    """
    t, sizes = horizon, set()
    for res1, res2, down in unet.down_modules:
        sizes |= {t * res1.out_channels, t * res2.out_channels}
        t = t // 2 if isinstance(down, nn.Conv1d) else t
    sizes |= {t * mid.out_channels for mid in unet.mid_modules}
    for res1, res2, up in unet.up_modules:
        sizes |= {t * res1.out_channels, t * res2.out_channels}
        t = t * 2 if isinstance(up, nn.ConvTranspose1d) else t
    sizes.add(t * unet.final_conv[0].block[0].out_channels)
    return tuple(sorted(sizes))


def mish_forms(row_sizes: tuple[int, ...], batch: int) -> int:
    """How many of the :func:`mish_row_sizes` take the sigmoid form at this batch size (it grows with the batch)."""
    return sum(batch * size >= MISH_BY_SIGMOID_MIN_NUMEL for size in row_sizes)


def sample_loop(unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, films: torch.Tensor, weights: InferenceWeights) -> torch.Tensor:
    """Every DDIM step from ``noise`` (B, T, input_dim); ``films`` is :func:`chunk_films` (S, B or 1, F)."""
    x = noise
    for i in range(len(ddim)):
        x = ddim.step(i, forward_time_major(unet, x, films[i], weights), x)
    return x
