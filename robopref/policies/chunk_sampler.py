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

Several chunks for one observation (best-of-N) share its features: ``global_cond`` may
then have one row for all of them, and the FiLM conditioning is computed once and
broadcast instead of once per chunk. From :data:`TAP_MAJOR_MIN_ROWS` batch × horizon
rows on, the sampler also passes the tap-major convolution weights
(:func:`~robopref.policies.unet_inference.tap_major_weights`, reordered once per chunk).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Hashable

import torch
from torch import nn

from robopref.policies.ddim import DDIMUpdate
from robopref.policies.unet1d import ConditionalUnet1D
from robopref.policies.unet_inference import Film, UpWeight, film_for_steps, forward_time_major, residual_blocks, tap_major_weights, up_sampling_weights

log = logging.getLogger(__name__)
TRACE_AFTER_CALLS = 2  # trace a shape on its second call: rollouts call it hundreds of times, one-off calls never pay
TAP_MAJOR_MIN_ROWS = 128  # batch x horizon from which reordering the conv weights once per chunk pays (batch 8 at horizon 16)


UnetStep = Callable[[torch.Tensor, list[Film], list[UpWeight], list[torch.Tensor] | None], torch.Tensor]


def sample_chunk(unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, global_cond: torch.Tensor, unet_step: UnetStep | None = None) -> torch.Tensor:
    """Denoise ``noise`` (B, horizon, action_dim) into a normalised action chunk, conditioned on ``global_cond``.

    ``global_cond`` is (B, G), or (B / k, G) for k chunks per observation (rows of one
    observation adjacent); with one row its FiLM terms are broadcast over the batch.
    ``unet_step(x, films, up_weights, tap_major)`` is the network at one step (default:
    the eager :func:`forward_time_major`; :class:`ChunkSamplerCache` passes its trace).
    """
    global_cond = _per_chunk_cond(global_cond, noise.shape[0])
    timesteps = torch.tensor(ddim.timesteps, dtype=torch.long, device=noise.device)
    films = film_for_steps(unet, timesteps, global_cond)
    up_weights = up_sampling_weights(unet)
    tap_major = _tap_major_for(unet, noise)
    step = unet_step or (lambda x, f, u, t: forward_time_major(unet, x, f, u, t))
    x = noise
    for i, step_films in enumerate(films):
        x = ddim.step(i, step(x, step_films, up_weights, tap_major), x)
    return x


def _tap_major_for(unet: ConditionalUnet1D, noise: torch.Tensor) -> list[torch.Tensor] | None:
    """The tap-major conv weights when the batch is large enough for them to pay, else None."""
    return tap_major_weights(unet) if noise.shape[0] * noise.shape[1] >= TAP_MAJOR_MIN_ROWS else None


def _per_chunk_cond(global_cond: torch.Tensor, batch: int) -> torch.Tensor:
    """``global_cond`` with one row per chunk, or a single row (broadcast by the FiLM terms)."""
    rows = global_cond.shape[0]
    if rows == batch or rows == 1:
        return global_cond
    if batch % rows:
        raise ValueError(f"global_cond has {rows} rows for a batch of {batch} chunks: expected {batch}, 1 or a divisor of {batch}")
    return global_cond.repeat_interleave(batch // rows, dim=0)


class _UnetStep(nn.Module):
    """:func:`forward_time_major` with flat tensor arguments, for ``torch.jit.trace``.

    Traced as a module, the graph reads the U-Net's parameters by reference, not as copies.
    """

    def __init__(self, unet: ConditionalUnet1D) -> None:
        super().__init__()
        self.unet = unet
        self.n_blocks = len(residual_blocks(unet))
        self.n_up = len(up_sampling_weights(unet))

    def forward(self, x: torch.Tensor, *flat: torch.Tensor) -> torch.Tensor:
        n, u = 2 * self.n_blocks, 2 * (self.n_blocks + self.n_up)
        films = list(zip(flat[0:n:2], flat[1:n:2]))
        up_weights = list(zip(flat[n:u:2], flat[n + 1 : u : 2]))
        return forward_time_major(self.unet, x, films, up_weights, list(flat[u:]) or None)


def trace_unet_step(unet: ConditionalUnet1D, x: torch.Tensor, films: list[Film], up_weights: list[UpWeight], tap_major: list[torch.Tensor] | None = None) -> UnetStep:
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
        traced = torch.jit.trace(_UnetStep(unet), (x, *_flatten(films, up_weights, tap_major)), check_trace=False)
    return lambda x, f, u, t: traced(x, *_flatten(f, u, t))


def _flatten(films: list[Film], up_weights: list[UpWeight], tap_major: list[torch.Tensor] | None) -> list[torch.Tensor]:
    return [t for pair in films for t in pair] + [t for pair in up_weights for t in pair] + list(tap_major or [])


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
        key = (tuple(noise.shape), global_cond.shape[0], noise.device, noise.dtype)
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
        films = film_for_steps(unet, timesteps, _per_chunk_cond(global_cond, noise.shape[0]))[0]
        return trace_unet_step(unet, noise, films, up_sampling_weights(unet), _tap_major_for(unet, noise))
