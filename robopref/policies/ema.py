"""Exponential moving average of model weights, with Diffusion Policy's decay warm-up.

decay(step) = clamp(1 - (1 + step / inv_gamma) ** -power, min_value, max_value), so early
updates follow the model closely and the average slows down as training goes on
(power 0.75 and max 0.9999 are diffusion_policy's defaults). Buffers (e.g. normaliser
statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class _Pairs:
    """Parameters and buffers of the average, each beside the model's tensor of the same name."""

    averaged: list[torch.Tensor]
    params: list[torch.Tensor]
    averaged_buffers: list[torch.Tensor]
    buffers: list[torch.Tensor]


class EMAModel:
    """Holds ``averaged``, a frozen copy of ``model`` updated by :meth:`step`."""

    def __init__(self, model: nn.Module, power: float = 0.75, inv_gamma: float = 1.0, min_value: float = 0.0, max_value: float = 0.9999) -> None:
        self.averaged = copy.deepcopy(model).eval().requires_grad_(False)
        self.power, self.inv_gamma = power, inv_gamma
        self.min_value, self.max_value = min_value, max_value
        self.optimization_step = 0
        self._cached: tuple[nn.Module, _Pairs] | None = None

    def decay(self, step: int) -> float:
        """The averaging weight of the old average at update number ``step`` (0-based)."""
        value = 1 - (1 + step / self.inv_gamma) ** -self.power
        return 0.0 if step <= 0 else max(self.min_value, min(value, self.max_value))

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        """``avg = decay * avg + (1 - decay) * param`` for every parameter; buffers copied."""
        d = self.decay(self.optimization_step)
        pairs = self._pairs(model)
        torch._foreach_lerp_(pairs.averaged, pairs.params, 1.0 - d)  # avg + (1 - d)(param - avg) in one call: ~10x faster than a loop on a CPU
        for b_avg, b in zip(pairs.averaged_buffers, pairs.buffers):
            b_avg.copy_(b)
        self.optimization_step += 1

    def _pairs(self, model: nn.Module) -> _Pairs:
        """The (average, model) tensors matched by name, found once per model: walking the
        module tree on every step cost as much as the update itself."""
        if self._cached is None or self._cached[0] is not model:
            params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
            avg_params, avg_buffers = list(self.averaged.named_parameters()), list(self.averaged.named_buffers())
            pairs = _Pairs([p for _, p in avg_params], [params[n].detach() for n, _ in avg_params],
                           [b for _, b in avg_buffers], [buffers[n] for n, _ in avg_buffers])
            self._cached = (model, pairs)
        return self._cached[1]

    def state_dict(self) -> dict[str, Any]:
        return {"averaged": self.averaged.state_dict(), "optimization_step": self.optimization_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.averaged.load_state_dict(state["averaged"])
        self.optimization_step = int(state["optimization_step"])
