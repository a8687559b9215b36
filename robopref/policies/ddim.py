"""Deterministic DDIM update (eta = 0) with its coefficients precomputed for fixed timesteps.

diffusers' ``DDIMScheduler.step`` looks the alphas up and recomputes their square roots
on every call, a dozen small tensor operations (about 60 µs at batch 1 on the lab CPU,
8 times per action chunk). Sampling always walks the same timesteps, so
:class:`DDIMUpdate` computes those coefficients once, from the scheduler's own
``alphas_cumprod`` and in float32 as diffusers does, and applies the same formulas in
the same order: the result equals ``scheduler.step(...).prev_sample`` up to float
rounding (tests/policies/test_fast_sampling.py checks 1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DDIMStepCoefficients:
    """The scalars of one DDIM step from ``timestep`` to the previous one (float32 values)."""

    timestep: int
    sqrt_alpha: float  # sqrt(alpha_bar_t)
    sqrt_beta: float  # sqrt(1 - alpha_bar_t)
    sqrt_alpha_prev: float  # sqrt(alpha_bar_prev)
    sqrt_beta_prev: float  # sqrt(1 - alpha_bar_prev), the eta = 0 direction coefficient


class DDIMUpdate:
    """``x_prev = DDIM(model_output, x_t)`` for the timesteps a diffusers DDIMScheduler is set to.

    Args:
        scheduler: a ``diffusers.DDIMScheduler`` after ``set_timesteps``; only its
            config, ``alphas_cumprod``, ``final_alpha_cumprod`` and ``timesteps`` are read.
    """

    def __init__(self, scheduler) -> None:
        cfg = scheduler.config
        if cfg.prediction_type not in ("epsilon", "sample"):
            raise ValueError(f"prediction_type={cfg.prediction_type!r}: the precomputed DDIM update supports 'epsilon' and 'sample'")
        if cfg.thresholding:
            raise ValueError("dynamic thresholding is not supported by the precomputed DDIM update")
        if scheduler.num_inference_steps is None:
            raise ValueError("call scheduler.set_timesteps(n) before building a DDIMUpdate")
        self.prediction_type: str = cfg.prediction_type
        self.clip_range: float | None = float(cfg.clip_sample_range) if cfg.clip_sample else None
        stride = cfg.num_train_timesteps // scheduler.num_inference_steps
        alphas = scheduler.alphas_cumprod.to(torch.float32)
        final = torch.as_tensor(scheduler.final_alpha_cumprod, dtype=torch.float32)
        steps = []
        for t in (int(t) for t in scheduler.timesteps):
            a = alphas[t]
            a_prev = alphas[t - stride] if t - stride >= 0 else final
            # the same float32 expressions as DDIMScheduler.step (std_dev_t = 0 when eta = 0)
            steps.append(DDIMStepCoefficients(t, (a**0.5).item(), ((1 - a) ** 0.5).item(), (a_prev**0.5).item(), ((1 - a_prev) ** 0.5).item()))
        self.steps: tuple[DDIMStepCoefficients, ...] = tuple(steps)

    @property
    def timesteps(self) -> list[int]:
        return [s.timestep for s in self.steps]

    def __len__(self) -> int:
        return len(self.steps)

    def step(self, index: int, model_output: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """The sample after step ``index`` (0 = the noisiest timestep), from the network's output."""
        c = self.steps[index]
        if self.prediction_type == "epsilon":
            x0 = (sample - c.sqrt_beta * model_output) / c.sqrt_alpha
            eps = model_output
        else:
            x0 = model_output
            eps = (sample - c.sqrt_alpha * x0) / c.sqrt_beta
        if self.clip_range is not None:
            x0 = x0.clamp(-self.clip_range, self.clip_range)
        return c.sqrt_alpha_prev * x0 + c.sqrt_beta_prev * eps
