"""The batch paths added for best-of-N latency compute what the plain module computes.

- the time-major forward at batch 16 and the sigmoid form of Mish (large batches) against ``ConditionalUnet1D.forward``;
- ``predict_action(num_samples=k)`` (one encoding, broadcast FiLM) against the reference
  sampler on the observation repeated k times, eager and traced.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from robopref.policies import ConditionalUnet1D, DiffusionPolicy, PolicyShapes
from robopref.policies.chunk_sampler import TRACE_AFTER_CALLS
from robopref.policies.unet_inference import MISH_BY_SIGMOID_MIN_NUMEL, InferenceWeights, chunk_films, film_step_table, forward_time_major, mish_
from tests.policies.conftest import tiny_config

ATOL = 1e-5  # as tests/policies/test_fast_sampling.py: float32 rounding in another summation order


def test_mish_matches_torch_on_both_sides_of_the_size_threshold():
    for numel in (MISH_BY_SIGMOID_MIN_NUMEL - 1, MISH_BY_SIGMOID_MIN_NUMEL, 100_000):
        x = torch.linspace(-120.0, 120.0, numel)  # saturating tails included: no overflow, no nan
        x[:5] = torch.tensor([-1e-30, 0.0, 1e-30, -17.0, 25.0])
        expected = F.mish(x.double())
        got = mish_(x.clone()).double()
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("film_rows", [16, 1])
def test_time_major_forward_matches_unet_forward_at_batch_16(film_rows):
    torch.manual_seed(0)
    unet = ConditionalUnet1D(input_dim=3, global_cond_dim=10, diffusion_step_embed_dim=16, down_dims=[16, 32, 64], kernel_size=5, n_groups=8).eval()
    batch, horizon = 16, 16
    assert batch * horizon * 16 >= MISH_BY_SIGMOID_MIN_NUMEL  # the first level (16 channels) takes the sigmoid form of Mish
    cond = torch.randn(film_rows, 10)
    x = torch.randn(batch, horizon, 3)
    timesteps = torch.tensor([90, 45, 0])
    with torch.no_grad():
        weights = InferenceWeights.of(unet)
        films = chunk_films(film_step_table(unet, weights, timesteps), weights, cond)
        for i, t in enumerate(timesteps):
            fast = forward_time_major(unet, x, films[i], weights)
            torch.testing.assert_close(fast, unet(x, t, cond.expand(batch, -1)), rtol=0, atol=ATOL)


def _policy() -> tuple[DiffusionPolicy, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    cfg = tiny_config(down_dims=[16, 32, 64], horizon=16, num_inference_steps=8)
    model = DiffusionPolicy(cfg, PolicyShapes(action_dim=3, low_dim={"state": 4}, images={})).eval()
    return model, {"state": torch.randn(2, 2, 4)}


@pytest.mark.parametrize("obs_rows,samples", [(1, 16), (2, 8), (1, 3)])
def test_samples_per_observation_match_the_reference_on_repeated_observations(obs_rows, samples):
    model, obs = _policy()
    obs = {k: v[:obs_rows] for k, v in obs.items()}
    repeated = {k: v.repeat_interleave(samples, dim=0) for k, v in obs.items()}
    for _ in range(TRACE_AFTER_CALLS + 1):  # eager first, then through the trace
        fast = model.predict_action(obs, generator=torch.Generator().manual_seed(5), num_samples=samples)
        reference = model.predict_action_reference(repeated, generator=torch.Generator().manual_seed(5))
        assert fast.shape == (obs_rows * samples, model.cfg.horizon, 3)
        torch.testing.assert_close(fast, reference, rtol=0, atol=ATOL)
    assert len(model.chunk_sampler._traced) == 1


def test_num_samples_must_be_positive():
    model, obs = _policy()
    with pytest.raises(ValueError, match="num_samples"):
        model.predict_action(obs, num_samples=0)
