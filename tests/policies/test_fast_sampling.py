"""The fast sampling path gives the reference path's result: DDIM update, U-Net forward, whole chunks."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from robopref.policies import ConditionalUnet1D, DiffusionPolicy, PolicyShapes
from robopref.policies.chunk_sampler import TRACE_AFTER_CALLS
from robopref.policies.ddim import DDIMUpdate
from robopref.policies.diffusion_policy import make_schedulers
from robopref.policies.unet_inference import InferenceWeights, chunk_films, film_step_table, forward_time_major
from tests.policies.conftest import tiny_config

ATOL = 1e-5  # whole chunks: eight steps of float32 rounding differences in different summation orders


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample"])
@pytest.mark.parametrize("clip_sample", [True, False])
@pytest.mark.parametrize("steps", [8, 16, 3])
def test_ddim_update_matches_diffusers_step(prediction_type, clip_sample, steps):
    _, scheduler = make_schedulers(tiny_config(prediction_type=prediction_type, clip_sample=clip_sample))
    scheduler.set_timesteps(steps)
    update = DDIMUpdate(scheduler)
    assert update.timesteps == [int(t) for t in scheduler.timesteps]
    gen = torch.Generator().manual_seed(0)
    for i, t in enumerate(scheduler.timesteps):
        sample = torch.randn(3, 16, 7, generator=gen) * 1.5  # some predicted x0 fall outside [-1, 1], so clipping matters
        output = torch.randn(3, 16, 7, generator=gen) * 1.5
        expected = scheduler.step(output, t, sample, eta=0.0).prev_sample
        torch.testing.assert_close(update.step(i, output, sample), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("down_dims", [[16, 32, 64], [16, 32], [16]])
def test_time_major_forward_matches_unet_forward(batch, down_dims):
    torch.manual_seed(0)
    unet = ConditionalUnet1D(input_dim=3, global_cond_dim=10, diffusion_step_embed_dim=16, down_dims=down_dims, kernel_size=5, n_groups=8).eval()
    timesteps = torch.tensor([90, 45, 0])
    cond = torch.randn(batch, 10)
    x = torch.randn(batch, 16, 3)
    with torch.no_grad():
        weights = InferenceWeights.of(unet)
        films = chunk_films(film_step_table(unet, weights, timesteps), weights, cond)
        for i, t in enumerate(timesteps):
            fast = forward_time_major(unet, x, films[i], weights)
            torch.testing.assert_close(fast, unet(x, t, cond), rtol=0, atol=1e-5)


def _policy(variant: str, prediction_type: str) -> tuple[DiffusionPolicy, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    images = {"top_image": (16, 16, 3)} if variant == "image" else {}
    cfg = tiny_config(down_dims=[16, 32, 64], horizon=16, prediction_type=prediction_type, num_inference_steps=8, image_keys=list(images))
    model = DiffusionPolicy(cfg, PolicyShapes(action_dim=3, low_dim={"state": 4}, images=images)).eval()
    obs = {"state": torch.randn(1, 2, 4)}
    if images:
        obs["top_image"] = torch.randint(0, 255, (1, 2, 16, 16, 3), dtype=torch.uint8)
    return model, obs


def _same(model: DiffusionPolicy, obs: dict[str, torch.Tensor], seed: int = 7) -> None:
    fast = model.predict_action(obs, generator=torch.Generator().manual_seed(seed))
    reference = model.predict_action_reference(obs, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(fast, reference, rtol=0, atol=ATOL)


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample"])
@pytest.mark.parametrize("variant", ["lowdim", "image"])
def test_fast_chunks_match_the_reference_eager_and_traced(variant, prediction_type):
    model, obs = _policy(variant, prediction_type)
    for _ in range(TRACE_AFTER_CALLS + 1):  # the first call is eager, later ones go through the trace
        _same(model, obs)
    assert len(model.chunk_sampler._traced) == 1
    model.chunk_sampler.trace = False
    _same(model, obs, seed=8)


def test_one_trace_serves_every_batch_size_with_the_same_mish_forms():
    """Batched rollouts shrink their batch as episodes end: each size must not cost a trace of its own."""
    model, _ = _policy("lowdim", "sample")
    gen = torch.Generator().manual_seed(0)
    for batch in (3, 3, 5, 1, 2, 16, 16, 20):  # the tiny U-Net's Mish changes form from batch 16 on
        obs = {"state": torch.randn(batch, 2, 4, generator=gen)}
        fast = model.predict_action(obs, generator=torch.Generator().manual_seed(batch))
        reference = model.predict_action_reference(obs, generator=torch.Generator().manual_seed(batch))
        torch.testing.assert_close(fast, reference, rtol=0, atol=ATOL)
    assert len(model.chunk_sampler._traced) == 2


def test_traced_sampling_follows_weight_updates():
    model, obs = _policy("lowdim", "epsilon")
    for _ in range(TRACE_AFTER_CALLS):
        model.predict_action(obs)
    assert model.chunk_sampler._traced
    kept = model.chunk_sampler._weights.weights
    model.predict_action(obs)
    assert model.chunk_sampler._weights.weights is kept  # unchanged weights: the rearranged copies are reused
    with torch.no_grad():  # an optimiser or EMA step: in place
        for p in model.parameters():
            p.mul_(1.05)
    _same(model, obs)
    model.load_state_dict(DiffusionPolicy(model.cfg, model.shapes).state_dict())  # copies into the same tensors
    _same(model, obs)
    model.load_state_dict(DiffusionPolicy(model.cfg, model.shapes).state_dict(), assign=True)  # new tensors: retrace
    _same(model, obs)
    ema_copy = copy.deepcopy(model)  # an EMA copy starts with its own, empty cache
    assert not ema_copy.chunk_sampler._traced
    _same(ema_copy, obs)


def test_sampling_with_grad_enabled_or_other_step_counts_matches():
    model, obs = _policy("lowdim", "sample")
    for steps in (4, 8, 4):
        fast = model.predict_action(obs, generator=torch.Generator().manual_seed(1), num_inference_steps=steps)
        reference = model.predict_action_reference(obs, generator=torch.Generator().manual_seed(1), num_inference_steps=steps)
        torch.testing.assert_close(fast, reference, rtol=0, atol=ATOL)
    with torch.enable_grad():  # predict_action runs under no_grad whatever the caller's mode
        assert not model.predict_action(obs).requires_grad


def test_sampled_chunks_are_ordinary_tensors():
    """Sampling runs in inference mode, but callers may feed the chunk to autograd code (e.g. as training targets)."""
    model, obs = _policy("lowdim", "epsilon")
    chunk = model.predict_action(obs)
    assert not chunk.is_inference()
    weight = torch.ones((), requires_grad=True)
    (chunk * weight).sum().backward()


def test_bfloat16_inference_keeps_the_weights_and_stays_near_float32():
    """inference_dtype=bfloat16: the convolutions multiply in bf16 (weights kept as bf16 copies), the rest in float32;
    traced and eager agree exactly, the float32 parameters are untouched, and chunks stay within bf16 rounding."""
    model, obs = _policy("image", "epsilon")
    fast = DiffusionPolicy(dataclasses.replace(model.cfg, inference_dtype="bfloat16"), model.shapes).eval()
    fast.load_state_dict(model.state_dict())
    noise = torch.randn(1, 16, 3, generator=torch.Generator().manual_seed(3))
    eager = fast.predict_action(obs, noise=noise)
    for _ in range(TRACE_AFTER_CALLS):
        traced = fast.predict_action(obs, noise=noise)
    assert len(fast.chunk_sampler._traced) == 1 and torch.equal(traced, eager)
    assert all(p.dtype == torch.float32 for p in fast.parameters())
    assert all(w.dtype == torch.bfloat16 for w in fast.chunk_sampler._weights.weights.convs)
    reference = model.predict_action(obs, noise=noise)
    spread = (reference.max() - reference.min()).item()
    assert not torch.equal(eager, reference)  # bf16 products round differently ...
    torch.testing.assert_close(eager, reference, rtol=0, atol=0.05 * spread)  # ... but only by rounding
    with pytest.raises(ValueError, match=r"policy.inference_dtype='float16': expected one of \['float32', 'bfloat16'\]"):
        dataclasses.replace(model.cfg, inference_dtype="float16")


def test_a_checkpoint_loads_with_another_inference_dtype(tmp_path):
    from robopref.policies.checkpoint import load_policy, save_checkpoint

    model, obs = _policy("lowdim", "epsilon")
    save_checkpoint(tmp_path / "p.ckpt", model)
    assert load_policy(tmp_path / "p.ckpt", device="cpu").model.chunk_sampler.weights_dtype == torch.float32
    bf16 = load_policy(tmp_path / "p.ckpt", device="cpu", inference_dtype="bfloat16").model
    assert bf16.cfg.inference_dtype == "bfloat16" and bf16.chunk_sampler.weights_dtype == torch.bfloat16
    with pytest.raises(ValueError, match="policy.inference_dtype='half'"):
        bf16.set_inference_dtype("half")
