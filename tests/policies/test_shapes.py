"""Shapes through the U-Net, the policy and the rollout wrapper for several horizon settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.data import Dataset
from robopref.policies import ConditionalUnet1D, DiffusionPolicy, DiffusionRolloutPolicy, PolicyShapes, SequenceDataset, WindowSpec
from robopref.policies.dataset import split_demos
from tests.policies.conftest import tiny_config

SETTINGS = [(8, 2, 4), (16, 2, 8), (4, 1, 4), (8, 3, 2)]  # (horizon, n_obs_steps, n_action_steps)


@pytest.mark.parametrize("horizon,n_obs,n_act", SETTINGS)
@pytest.mark.parametrize("variant", ["lowdim", "image"])
def test_policy_shapes(horizon, n_obs, n_act, variant):
    torch.manual_seed(0)
    images = {"top_image": (16, 16, 3)} if variant == "image" else {}
    shapes = PolicyShapes(action_dim=3, low_dim={"state": 2}, images=images)
    cfg = tiny_config(horizon=horizon, n_obs_steps=n_obs, n_action_steps=n_act, image_keys=list(images))
    model = DiffusionPolicy(cfg, shapes)
    obs = {"state": torch.randn(5, n_obs, 2)}
    if images:
        obs["top_image"] = torch.randint(0, 255, (5, n_obs, 16, 16, 3), dtype=torch.uint8)
    loss = model.compute_loss({"obs": obs, "action": torch.randn(5, horizon, 3)})
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert model.predict_action(obs).shape == (5, horizon, 3)
    # the rollout wrapper executes n_action_steps actions per chunk
    policy = DiffusionRolloutPolicy(model, seed=0)
    calls = []
    original = policy.predict_chunk
    policy.predict_chunk = lambda h: calls.append(len(h)) or original(h)
    one = {"state": np.zeros(2, np.float32), **({"top_image": np.zeros((16, 16, 3), np.uint8)} if images else {})}
    actions = [policy.act(one) for _ in range(2 * n_act + 1)]
    assert all(a.shape == (3,) and a.dtype == np.float32 for a in actions)
    assert calls == [n_obs] * 3  # replans at steps 0, n_act, 2 * n_act with a full history


def test_resnet18_image_variant_shapes():
    shapes = PolicyShapes(action_dim=2, low_dim={}, images={"front_image": (32, 32, 3), "wrist_image": (24, 24, 3)})
    model = DiffusionPolicy(tiny_config(image_encoder="resnet18", image_keys=["front_image", "wrist_image"]), shapes)
    obs = {"front_image": torch.zeros(2, 2, 32, 32, 3, dtype=torch.uint8), "wrist_image": torch.zeros(2, 2, 24, 24, 3, dtype=torch.uint8)}
    assert model.predict_action(obs).shape == (2, 8, 2)
    assert model.obs_encoder.feature_dim == 16  # two cameras x image_feature_dim 8


def test_unet_rejects_horizon_not_divisible():
    unet = ConditionalUnet1D(2, 4, 16, down_dims=[16, 32, 64])
    with pytest.raises(ValueError, match="divisible by 4"):
        unet(torch.zeros(1, 6, 2), 0, torch.zeros(1, 4))
    with pytest.raises(ValueError, match="n_groups"):
        ConditionalUnet1D(2, 4, 16, down_dims=[12, 32])


def test_window_spec_rejects_short_horizon():
    with pytest.raises(ValueError, match="horizon=4 is too short"):
        WindowSpec(horizon=4, n_obs_steps=2, n_action_steps=4)


def test_windows_are_padded_with_the_edge_steps(line_dataset):
    ds = Dataset(line_dataset)
    spec = WindowSpec(horizon=8, n_obs_steps=2, n_action_steps=4)
    data = SequenceDataset(ds, ds.demos[:1], spec, ["state"], ["top_image"])
    n = ds.num_samples(ds.demos[0])
    actions, states = ds.read(ds.demos[0], "actions"), ds.read(ds.demos[0], "obs/state")
    images = ds.read(ds.demos[0], "obs/top_image")
    assert len(data) == n - 8 + 3 + 1 + 1  # starts -1 .. n - 8 + 3
    first, last = data[0], data[len(data) - 1]
    assert first["action"].shape == (8, 1) and first["obs"]["state"].shape == (2, 2) and first["obs"]["top_image"].shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(first["obs"]["state"].numpy(), states[[0, 0]])  # padded before the start
    np.testing.assert_array_equal(first["obs"]["top_image"].numpy(), images[[0, 0]])
    np.testing.assert_array_equal(first["action"].numpy(), actions[[0, 0, 1, 2, 3, 4, 5, 6]])
    np.testing.assert_array_equal(last["action"].numpy(), actions[[n - 5, n - 4, n - 3, n - 2, n - 1, n - 1, n - 1, n - 1]])
    assert first["obs"]["top_image"].dtype == torch.uint8


@pytest.mark.parametrize("horizon,n_obs,n_act", [(8, 2, 4), (64, 3, 8)])  # 64: longer than every demo (one padded window each)
def test_batches_gathered_whole_equal_the_collated_windows(line_dataset, horizon, n_obs, n_act):
    """Training batches are gathered with one index per key; they must be the very batches the
    DataLoader collates window by window, padding at both ends included."""
    ds = Dataset(line_dataset)
    data = SequenceDataset(ds, ds.demos, WindowSpec(horizon=horizon, n_obs_steps=n_obs, n_action_steps=n_act), ["state"])
    assert max(ds.num_samples(d) for d in ds.demos) < 64
    picks = np.random.default_rng(0).permutation(len(data))[:37].tolist() + [0, len(data) - 1]
    whole = data.get_batch(picks)
    one_by_one = torch.utils.data.default_collate([data[i] for i in picks])
    assert whole["action"].dtype == one_by_one["action"].dtype == torch.float32
    torch.testing.assert_close(whole["action"], one_by_one["action"], rtol=0, atol=0)
    torch.testing.assert_close(whole["obs"]["state"], one_by_one["obs"]["state"], rtol=0, atol=0)
    with_images = SequenceDataset(ds, ds.demos[:2], WindowSpec(8, 2, 4), ["state"], ["top_image"])  # frames: window by window
    torch.testing.assert_close(with_images.get_batch([1, 3])["obs"]["top_image"], torch.stack([with_images[1]["obs"]["top_image"], with_images[3]["obs"]["top_image"]]))


def test_split_by_demo_and_filter_key(line_dataset):
    ds = Dataset(line_dataset, filter_key="better")
    assert ds.demos == ["demo_0", "demo_1", "demo_2"]
    train, val = split_demos(ds.demos, 0.3, seed=0)
    assert len(val) == 1 and set(train) | set(val) == set(ds.demos) and not set(train) & set(val)
    assert split_demos(ds.demos, 0.3, seed=0) == (train, val)
    assert split_demos(["demo_0"], 0.5, seed=0) == (["demo_0"], [])


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample"])
def test_loss_target_follows_prediction_type(prediction_type, monkeypatch):
    torch.manual_seed(0)
    model = DiffusionPolicy(tiny_config(prediction_type=prediction_type), PolicyShapes(action_dim=2, low_dim={"state": 2}, images={}))
    batch = {"obs": {"state": torch.randn(4, 2, 2)}, "action": torch.rand(4, 8, 2) * 2 - 1}  # identity normaliser
    captured = {}

    def add_noise(x, noise, t):
        captured["noise"], captured["action"] = noise, x
        return x + noise

    monkeypatch.setattr(model.noise_scheduler, "add_noise", add_noise)
    monkeypatch.setattr(model.unet, "forward", lambda noisy, t, cond: captured["noise"] if prediction_type == "epsilon" else captured["action"])
    assert model.compute_loss(batch).item() == 0.0  # the perfect denoiser for this prediction type has zero loss
