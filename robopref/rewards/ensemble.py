"""An ensemble of K MLPs evaluated as one batched network.

Members are stacked along a leading axis and applied with ``torch.baddbmm``, so K
members cost one kernel per layer instead of K: this is most of why robopref trains
reward ensembles faster than looping over members.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """K independent linear layers: (K, N, in) → (K, N, out)."""

    def __init__(self, k: int, d_in: int, d_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, d_in, d_out))
        self.bias = nn.Parameter(torch.empty(k, 1, d_out))
        bound = 1.0 / math.sqrt(d_in)
        nn.init.uniform_(self.weight, -bound, bound)  # torch.nn.Linear's default init, per member
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


class EnsembleMLP(nn.Module):
    """K MLPs ``d_in → hidden… → d_out`` sharing an architecture, not weights.

    Input (N, d_in) is broadcast to every member; input (K, N, d_in) gives each member
    its own rows. Output is (K, N, d_out).
    """

    def __init__(self, k: int, d_in: int, d_out: int, hidden: tuple[int, ...] = (256, 256), activation: str = "leaky_relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: expected one of {sorted(ACTIVATIONS)}")
        self.k = k
        dims = (d_in, *hidden, d_out)
        layers: list[nn.Module] = []
        for i in range(len(dims) - 1):
            layers.append(EnsembleLinear(k, dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.k, -1, -1)
        return self.net(x)
