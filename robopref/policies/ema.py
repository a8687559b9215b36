"""Exponential moving average of model weights, with Diffusion Policy's decay warm-up.

decay(step) = clamp(1 - (1 + step / inv_gamma) ** -power, min_value, max_value), so early
updates follow the model closely and the average slows down as training goes on
(power 0.75 and max 0.9999 are diffusion_policy's defaults). Buffers (e.g. normaliser
statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMAModel:
    """Holds ``averaged``, a frozen copy of ``model`` updated by :meth:`step`."""

    def __init__(self, model: nn.Module, power: float = 0.75, inv_gamma: float = 1.0, min_value: float = 0.0, max_value: float = 0.9999) -> None:
        self.averaged = copy.deepcopy(model).eval().requires_grad_(False)
        self.power, self.inv_gamma = power, inv_gamma
        self.min_value, self.max_value = min_value, max_value
        self.optimization_step = 0

    def decay(self, step: int) -> float:
        """The averaging weight of the old average at update number ``step`` (0-based)."""
        value = 1 - (1 + step / self.inv_gamma) ** -self.power
        return 0.0 if step <= 0 else max(self.min_value, min(value, self.max_value))

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        """``avg = decay * avg + (1 - decay) * param`` for every parameter; buffers copied."""
        d = self.decay(self.optimization_step)
        params = dict(model.named_parameters())
        for name, p_avg in self.averaged.named_parameters():
            p_avg.mul_(d).add_(params[name].detach(), alpha=1 - d)
        buffers = dict(model.named_buffers())
        for name, b_avg in self.averaged.named_buffers():
            b_avg.copy_(buffers[name])
        self.optimization_step += 1

    def state_dict(self) -> dict[str, Any]:
        return {"averaged": self.averaged.state_dict(), "optimization_step": self.optimization_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.averaged.load_state_dict(state["averaged"])
        self.optimization_step = int(state["optimization_step"])
