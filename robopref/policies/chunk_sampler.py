"""The DDIM sampling loop of a diffusion policy, fast at batch 1 on a CPU.

:func:`sample_chunk` runs ``num_inference_steps`` DDIM steps from given noise with the
time-major U-Net forward (:mod:`robopref.policies.unet_inference`) and the precomputed
DDIM update (:mod:`robopref.policies.ddim`). At batch 1 one U-Net step is about 300
small operations, and Python's per-operation overhead is about half of its time;
:class:`ChunkSamplerCache` therefore runs the U-Net step as a TorchScript trace once a
shape has been sampled twice (a one-off call is not worth the ~0.2 s of tracing).

The trace holds the U-Net's parameter tensors by reference rather than copies of
them, so it uses the current weights after in-place updates (optimiser and EMA steps,
``load_state_dict``); it is keyed by the shapes, device and dtype it was recorded
for, and every trace is dropped when a parameter tensor is replaced.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Hashable

import torch
from torch import nn

from robopref.policies.ddim import DDIMUpdate
from robopref.policies.unet1d import ConditionalUnet1D
from robopref.policies.unet_inference import Film, UpWeight, film_for_steps, forward_time_major, residual_blocks, up_sampling_weights

log = logging.getLogger(__name__)
TRACE_AFTER_CALLS = 2  # trace a shape on its second call: rollouts call it hundreds of times, one-off calls never pay


UnetStep = Callable[[torch.Tensor, list[Film], list[UpWeight]], torch.Tensor]


def sample_chunk(unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, global_cond: torch.Tensor, unet_step: UnetStep | None = None) -> torch.Tensor:
    """Denoise ``noise`` (B, horizon, action_dim) into a normalised action chunk, conditioned on ``global_cond`` (B, G).

    ``unet_step(x, films, up_weights)`` is the network at one step (default: the eager
    :func:`forward_time_major`; :class:`ChunkSamplerCache` passes its trace).
    """
    timesteps = torch.tensor(ddim.timesteps, dtype=torch.long, device=noise.device)
    films = film_for_steps(unet, timesteps, global_cond)
    up_weights = up_sampling_weights(unet)
    step = unet_step or (lambda x, f, u: forward_time_major(unet, x, f, u))
    x = noise
    for i, step_films in enumerate(films):
        x = ddim.step(i, step(x, step_films, up_weights), x)
    return x


class _UnetStep(nn.Module):
    """:func:`forward_time_major` with flat tensor arguments, for ``torch.jit.trace``.

    Traced as a module, the graph reads the U-Net's parameters by reference, not as copies.
    """

    def __init__(self, unet: ConditionalUnet1D) -> None:
        super().__init__()
        self.unet = unet
        self.n_blocks = len(residual_blocks(unet))

    def forward(self, x: torch.Tensor, *flat: torch.Tensor) -> torch.Tensor:
        n = 2 * self.n_blocks
        films = list(zip(flat[0:n:2], flat[1:n:2]))
        up_weights = list(zip(flat[n::2], flat[n + 1 :: 2]))
        return forward_time_major(self.unet, x, films, up_weights)


def trace_unet_step(unet: ConditionalUnet1D, x: torch.Tensor, films: list[Film], up_weights: list[UpWeight]) -> UnetStep:
    """A TorchScript trace of one U-Net step for inputs shaped like these, called as :func:`forward_time_major`'s arguments.

    The trace shares the U-Net's parameter tensors, so in-place updates (optimiser and
    EMA steps, ``load_state_dict``) reach it; :class:`ChunkSamplerCache` retraces when a
    parameter tensor is replaced.
    """
    if any(b is None for _, b in up_weights):
        raise ValueError("tracing needs biases on the up-sampling layers")
    with warnings.catch_warnings():
        # torch 2.13 marks torch.jit.trace deprecated; it is the one option here that cuts the
        # per-operation overhead without a minute-long compile (torch.compile, see the benchmarks doc).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(_UnetStep(unet), (x, *_flatten(films, up_weights)), check_trace=False)
    return lambda x, f, u: traced(x, *_flatten(f, u))


def _flatten(films: list[Film], up_weights: list[UpWeight]) -> list[torch.Tensor]:
    return [t for pair in films for t in pair] + [t for pair in up_weights for t in pair]


class ChunkSamplerCache:
    """Samples chunks with :func:`sample_chunk`, with a traced U-Net step per input shape once the shape repeats.

    ``trace=False`` keeps the eager loop (same result up to float rounding). Not copied
    by ``copy.deepcopy`` (an EMA copy of a policy starts with an empty cache).
    """

    def __init__(self, trace: bool = True, max_entries: int = 8) -> None:
        self.trace = trace
        self.max_entries = max_entries
        self._calls: dict[Hashable, int] = {}
        self._traced: dict[Hashable, UnetStep] = {}
        self._params: tuple[tuple[int, int], ...] = ()
        self._failed = False

    def __deepcopy__(self, memo: dict[int, Any]) -> "ChunkSamplerCache":
        return ChunkSamplerCache(self.trace, self.max_entries)

    def __getstate__(self) -> dict[str, Any]:
        return {"trace": self.trace, "max_entries": self.max_entries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def clear(self) -> None:
        self._calls.clear()
        self._traced.clear()

    def __call__(self, unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
        if not self.trace or self._failed or torch.is_grad_enabled():
            return sample_chunk(unet, ddim, noise, global_cond)
        params = tuple((id(p), p.data_ptr()) for p in unet.parameters())
        if params != self._params:  # a parameter was replaced: drop the traces that hold the old ones
            self.clear()
            self._params = params
        key = (tuple(noise.shape), noise.device, noise.dtype)
        step = self._traced.get(key)
        if step is None:
            self._calls[key] = self._calls.get(key, 0) + 1
            if self._calls[key] < TRACE_AFTER_CALLS:
                return sample_chunk(unet, ddim, noise, global_cond)
            try:
                step = self._trace(unet, ddim, noise, global_cond)
            except Exception as e:  # a torch without TorchScript, an unsupported op: the eager loop is still right
                log.warning("tracing the U-Net step failed (%s: %s); sampling eagerly", type(e).__name__, e)
                self._failed = True
                return sample_chunk(unet, ddim, noise, global_cond)
            if len(self._traced) >= self.max_entries:
                self._traced.pop(next(iter(self._traced)))
            self._traced[key] = step
        return sample_chunk(unet, ddim, noise, global_cond, step)

    @staticmethod
    def _trace(unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, global_cond: torch.Tensor) -> UnetStep:
        timesteps = torch.tensor(ddim.timesteps[:1], dtype=torch.long, device=noise.device)
        return trace_unet_step(unet, noise, film_for_steps(unet, timesteps, global_cond)[0], up_sampling_weights(unet))
