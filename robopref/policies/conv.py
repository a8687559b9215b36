"""``nn.Conv1d`` computed as im2col and one matrix product on a CPU, for training the U-Net.

On the CPUs this project runs on (2 cores, AVX2), oneDNN's 1-D convolution reaches 30–35
GFLOP/s on the U-Net's shapes (a batch of 64 chunks of 4–16 steps, 32–256 channels,
kernel 5), and its backward pass less: a training step spent more than half its time in
convolutions (docs/benchmarks-policy.md, "Training step on the CPU"). Written as
``unfold`` → one ``(B·T_out, C_in·k) @ (C_in·k, C_out)`` product, the forward and the
backward (two products and a fold) are MKL matrix products at about 64 GFLOP/s; with the
im2col copies the whole training step is about 13 % faster with 2 threads (73 against
84 ms over four alternating pairs of runs).

The layer is an ``nn.Conv1d`` (same parameters, same ``state_dict``, same function up to
float rounding); on other devices, or with options the product form does not cover
(groups, dilation, non-zero padding modes, string padding), it calls ``nn.Conv1d``'s own
forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Conv1d(nn.Conv1d):
    """``nn.Conv1d`` whose CPU forward is im2col + ``addmm`` (see the module docstring)."""

    def _product_form(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and x.dim() == 3 and self.groups == 1 and self.dilation[0] == 1
                and self.padding_mode == "zeros" and isinstance(self.padding, tuple))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._product_form(x):
            return super().forward(x)
        b = x.shape[0]
        k, stride, pad = self.kernel_size[0], self.stride[0], self.padding[0]
        out_channels = self.weight.shape[0]
        if k == 1 and stride == 1 and pad == 0:
            cols = x.transpose(1, 2).reshape(-1, x.shape[1])  # (B·T, C_in)
        else:
            if pad:
                x = F.pad(x, (pad, pad))
            windows = x.unfold(2, k, stride)  # (B, C_in, T_out, k), a view
            cols = windows.transpose(1, 2).reshape(-1, x.shape[1] * k)  # (B·T_out, C_in·k), channel-major like the weight
        w = self.weight.reshape(out_channels, -1).t()
        y = torch.addmm(self.bias, cols, w) if self.bias is not None else cols @ w
        return y.reshape(b, -1, out_channels).transpose(1, 2)  # (B, C_out, T_out)
