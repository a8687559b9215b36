"""The DDIM sampling loop of a diffusion policy, fast at batch 1 on a CPU.

:func:`sample_chunk` runs ``num_inference_steps`` DDIM steps from given noise with the
time-major U-Net forward (:mod:`robopref.policies.unet_inference`) and the precomputed
DDIM update (:mod:`robopref.policies.ddim`). At batch 1 one U-Net step is about 250
small operations, and Python's per-operation overhead is more than half of its time;
:class:`ChunkSamplerCache` therefore runs the whole loop, every step and every DDIM
update, as one TorchScript trace once it has been called twice with the same kind of
input (a one-off call is not worth the ~1 s of tracing). It also keeps what does not
change from one chunk to the next: the rearranged weights
(:class:`~robopref.policies.unet_inference.InferenceWeights`) and the step part of the
FiLM terms, rebuilt when a parameter is updated in place (its version counter moves) or
replaced.

The trace holds the U-Net's own parameter tensors by reference rather than copies of
them (the rearranged weights are its inputs), so it follows in-place updates (optimiser
and EMA steps, ``load_state_dict``); every trace is dropped when a parameter tensor is
replaced. Nothing in the traced graph depends on the batch size except the form each
Mish takes (:func:`~robopref.policies.unet_inference.mish_forms`), so one trace serves
every batch size with the same forms: batched rollouts, whose batch shrinks as episodes
end, trace a few times instead of once per size. Traces run with TorchScript's graph
optimisation off: it would spend its first two calls profiling (0.5–0.7 s each),
specialise the graph to their shapes, and its rewrites change float rounding.

Several chunks for one observation (best-of-N) share its features: ``global_cond`` may
then have one row for all of them, and the FiLM terms are computed once and broadcast
instead of once per chunk.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Hashable

import torch
from torch import nn

from robopref.policies.ddim import DDIMUpdate
from robopref.policies.unet1d import ConditionalUnet1D
from robopref.policies.unet_inference import InferenceWeights, chunk_films, film_step_table, mish_forms, mish_row_sizes, sample_loop

log = logging.getLogger(__name__)
TRACE_AFTER_CALLS = 2  # trace a kind of input on its second call: rollouts call it hundreds of times, one-off calls never pay

ChunkLoop = Callable[[torch.Tensor, torch.Tensor, InferenceWeights], torch.Tensor]  # (noise, films, weights) -> chunk


def sample_chunk(unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
    """Denoise ``noise`` (B, horizon, action_dim) into a normalised action chunk, conditioned on ``global_cond``.

    ``global_cond`` is (B, G), or (B / k, G) for k chunks per observation (rows of one
    observation adjacent); with one row its FiLM terms are broadcast over the batch.
    Eager, with nothing kept between calls (autograd may run through it).
    """
    weights = InferenceWeights.of(unet)
    step_table = film_step_table(unet, weights, _timesteps(ddim, noise.device))
    films = chunk_films(step_table, weights, _per_chunk_cond(global_cond, noise.shape[0]))
    return sample_loop(unet, ddim, noise, films, weights)


def _timesteps(ddim: DDIMUpdate, device: torch.device) -> torch.Tensor:
    return torch.tensor(ddim.timesteps, dtype=torch.long, device=device)


def _per_chunk_cond(global_cond: torch.Tensor, batch: int) -> torch.Tensor:
    """``global_cond`` with one row per chunk, or a single row (broadcast by the FiLM terms)."""
    rows = global_cond.shape[0]
    if rows == batch or rows == 1:
        return global_cond
    if batch % rows:
        raise ValueError(f"global_cond has {rows} rows for a batch of {batch} chunks: expected {batch}, 1 or a divisor of {batch}")
    return global_cond.repeat_interleave(batch // rows, dim=0)


class _ChunkLoop(nn.Module):
    """:func:`sample_loop` with flat tensor arguments, for ``torch.jit.trace``.

    Traced as a module, the graph reads the U-Net's parameters by reference, not as
    copies; the DDIM coefficients become constants of the trace.
    """

    def __init__(self, unet: ConditionalUnet1D, ddim: DDIMUpdate, layout: InferenceWeights) -> None:
        super().__init__()
        self.unet = unet
        self.ddim = ddim
        self.layout = layout

    def forward(self, noise: torch.Tensor, films: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        return sample_loop(self.unet, self.ddim, noise, films, self.layout.with_tensors(weights))


def trace_chunk_loop(unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, films: torch.Tensor, weights: InferenceWeights) -> ChunkLoop:
    """A TorchScript trace of :func:`sample_loop` for inputs shaped like these, called with the same arguments.

    The trace shares the U-Net's parameter tensors, so in-place updates reach it;
    :class:`ChunkSamplerCache` retraces when a parameter tensor is replaced.
    """
    with warnings.catch_warnings():
        # torch 2.13 marks torch.jit.trace deprecated; it is the one option here that cuts the
        # per-operation overhead without a minute-long compile (torch.compile, see the benchmarks doc).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(_ChunkLoop(unet, ddim, weights), (noise, films, *weights.tensors()), check_trace=False)

    def loop(noise: torch.Tensor, films: torch.Tensor, w: InferenceWeights) -> torch.Tensor:
        with torch.jit.optimized_execution(False):  # the recorded graph as is (see the module docstring)
            return traced(noise, films, *w.tensors())

    return loop


class _WeightsCache:
    """:class:`InferenceWeights` and FiLM step tables of one U-Net, rebuilt when a parameter changes.

    A parameter has changed when the tensor in its slot was replaced (another object,
    or the same object with new storage) or updated in place (its version counter
    moved). Looking the parameters up through a fixed list of (module, name) slots
    costs ~40 µs for the low-dim U-Net; ``unet.parameters()`` alone would cost ~350.
    """

    def __init__(self, unet: ConditionalUnet1D, dtype: torch.dtype = torch.float32) -> None:
        self.unet, self.dtype = unet, dtype
        self.slots = [(m, name) for m in unet.modules() for name, p in m._parameters.items() if p is not None]
        self.key: tuple = ()
        self.tensors: tuple = ()  # (id, storage) of every parameter: what a trace holds by reference
        self.generation = 0  # counts replacements of parameter tensors (traces of older generations are stale)
        self.weights: InferenceWeights | None = None
        self.tables: dict[Hashable, torch.Tensor] = {}
        self._mish_sizes: dict[int, tuple[int, ...]] = {}

    def mish_forms(self, noise: torch.Tensor) -> int:
        """:func:`~robopref.policies.unet_inference.mish_forms` for a batch of chunks like ``noise``."""
        horizon = noise.shape[1]
        if horizon not in self._mish_sizes:
            self._mish_sizes[horizon] = mish_row_sizes(self.unet, horizon)
        return mish_forms(self._mish_sizes[horizon], noise.shape[0])

    def get(self, ddim: DDIMUpdate, device: torch.device) -> tuple[InferenceWeights, torch.Tensor]:
        """The current weights and the FiLM step table for ``ddim``'s timesteps."""
        key = tuple((id(p), p.data_ptr(), p._version) for p in (m._parameters[n] for m, n in self.slots))
        if key != self.key or self.weights is None:
            tensors = tuple(k[:2] for k in key)
            if tensors != self.tensors:
                self.tensors, self.generation = tensors, self.generation + 1
            self.weights, self.key = InferenceWeights.of(self.unet, self.dtype), key
            self.tables.clear()
        steps = (tuple(ddim.timesteps), device)
        table = self.tables.get(steps)
        if table is None:
            table = self.tables[steps] = film_step_table(self.unet, self.weights, _timesteps(ddim, device))
        return self.weights, table


class ChunkSamplerCache:
    """Samples chunks like :func:`sample_chunk`, keeping the rearranged weights and traced loops.

    ``trace=False`` keeps the eager loop (same result up to float rounding). Not copied
    by ``copy.deepcopy`` (an EMA copy of a policy starts with an empty cache). With
    autograd enabled it calls :func:`sample_chunk` and keeps nothing (float32).
    ``weights_dtype=torch.bfloat16`` keeps the convolution weights in bf16 (the policy's
    ``inference_dtype``).
    """

    def __init__(self, trace: bool = True, max_entries: int = 8, weights_dtype: torch.dtype = torch.float32) -> None:
        self.trace = trace
        self.max_entries = max_entries
        self.weights_dtype = weights_dtype
        self._calls: dict[Hashable, int] = {}
        self._traced: dict[Hashable, ChunkLoop] = {}
        self._generation = 0
        self._weights: _WeightsCache | None = None
        self._failed = False

    def __deepcopy__(self, memo: dict[int, Any]) -> "ChunkSamplerCache":
        return ChunkSamplerCache(self.trace, self.max_entries, self.weights_dtype)

    def __getstate__(self) -> dict[str, Any]:
        return {"trace": self.trace, "max_entries": self.max_entries, "weights_dtype": self.weights_dtype}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def clear(self) -> None:
        self._calls.clear()
        self._traced.clear()

    def __call__(self, unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return sample_chunk(unet, ddim, noise, global_cond)
        if self._weights is None or self._weights.unet is not unet:
            self._weights = _WeightsCache(unet, self.weights_dtype)
            self.clear()
        weights, step_table = self._weights.get(ddim, noise.device)
        films = chunk_films(step_table, weights, _per_chunk_cond(global_cond, noise.shape[0]))
        loop = self._loop(unet, ddim, noise, films, weights) if self.trace and not self._failed else None
        return loop(noise, films, weights) if loop is not None else sample_loop(unet, ddim, noise, films, weights)

    def _loop(self, unet: ConditionalUnet1D, ddim: DDIMUpdate, noise: torch.Tensor, films: torch.Tensor, weights: InferenceWeights) -> ChunkLoop | None:
        """The traced loop for these inputs, tracing it on the second call of their kind; None while eager."""
        if self._weights.generation != self._generation:  # a parameter was replaced: drop the traces that hold the old ones
            self.clear()
            self._generation = self._weights.generation
        key = (tuple(noise.shape[1:]), self._weights.mish_forms(noise), noise.device, noise.dtype, ddim.steps, ddim.prediction_type, ddim.clip_range)
        loop = self._traced.get(key)
        if loop is not None:
            return loop
        self._calls[key] = self._calls.get(key, 0) + 1
        if self._calls[key] < TRACE_AFTER_CALLS:
            return None
        try:
            loop = trace_chunk_loop(unet, ddim, noise, films, weights)
        except Exception as e:  # a torch without TorchScript, an unsupported op: the eager loop is still right
            log.warning("tracing the sampling loop failed (%s: %s); sampling eagerly", type(e).__name__, e)
            self._failed = True
            return None
        if len(self._traced) >= self.max_entries:
            self._traced.pop(next(iter(self._traced)))
        self._traced[key] = loop
        return loop
