"""Min–max normaliser round trip and the EMA update rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from robopref.policies import EMAModel, Normalizer
from robopref.policies.normalizer import image_to_float


def test_minmax_round_trip_and_range():
    rng = np.random.default_rng(0)
    x = np.stack([rng.uniform(-3, 5, 200), rng.uniform(10, 11, 200), np.full(200, 7.0)], axis=1).astype(np.float32)
    norm = Normalizer.fit_arrays({"action": x})
    y = norm.normalize("action", torch.from_numpy(x))
    assert y[:, :2].min() >= -1 - 1e-6 and y[:, :2].max() <= 1 + 1e-6
    assert torch.allclose(y[:, :2].min(0).values, torch.tensor([-1.0, -1.0])) and torch.allclose(y[:, :2].max(0).values, torch.tensor([1.0, 1.0]))
    assert torch.all(y[:, 2] == 0)  # constant feature maps to 0
    back = norm.unnormalize("action", y)
    np.testing.assert_allclose(back.numpy(), x, atol=1e-5)
    lo, hi = norm.bounds("action")
    np.testing.assert_allclose(lo, x.min(0)) and np.testing.assert_allclose(hi, x.max(0))


def test_normalizer_state_dict_round_trip():
    norm = Normalizer.fit_arrays({"action": np.array([[0.0, 1.0], [2.0, 5.0]]), "state": np.array([[1.0], [3.0]])})
    other = Normalizer({"action": 2, "state": 1})
    other.load_state_dict(norm.state_dict())
    x = torch.tensor([[1.0, 3.0]])
    assert torch.equal(other.normalize("action", x), norm.normalize("action", x))
    assert torch.allclose(other.normalize("action", x), torch.tensor([[0.0, 0.0]]))


def test_fit_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        Normalizer.fit_arrays({"action": np.array([[np.nan], [1.0]])})


def test_images_go_to_unit_range_chw():
    img = torch.tensor([[[[0, 128, 255]]]], dtype=torch.uint8)  # (1, H=1, W=1, C=3)
    out = image_to_float(img)
    assert out.shape == (1, 3, 1, 1) and torch.allclose(out.flatten(), torch.tensor([0.0, 128 / 255, 1.0]))


def test_ema_update_math():
    model = nn.Linear(1, 1, bias=False)
    nn.init.constant_(model.weight, 1.0)
    ema = EMAModel(model, power=0.75, inv_gamma=1.0, max_value=0.9999)
    assert ema.decay(0) == 0.0
    assert ema.decay(1) == pytest.approx(1 - 2**-0.75)
    assert ema.decay(10**9) == 0.9999
    model.weight.data.fill_(3.0)
    ema.step(model)  # decay 0: copies the model
    assert ema.averaged.weight.item() == pytest.approx(3.0)
    model.weight.data.fill_(5.0)
    ema.step(model)  # decay(1)
    d = 1 - 2**-0.75
    assert ema.averaged.weight.item() == pytest.approx(d * 3.0 + (1 - d) * 5.0)
    assert ema.averaged.weight.requires_grad is False
    state = ema.state_dict()
    fresh = EMAModel(model)
    fresh.load_state_dict(state)
    assert fresh.optimization_step == 2 and fresh.averaged.weight.item() == pytest.approx(ema.averaged.weight.item())


def test_ema_tracks_every_parameter_and_copies_buffers():
    """The batched update (one call for all tensors) averages each parameter and copies buffers."""
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ema = EMAModel(model, power=0.75)
    ema.step(model)  # decay 0: a copy
    before = {n: p.detach().clone() for n, p in ema.averaged.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(7.0)
    ema.step(model)
    d = ema.decay(1)
    for name, p in ema.averaged.named_parameters():
        current = dict(model.named_parameters())[name]
        torch.testing.assert_close(p, d * before[name] + (1 - d) * current.detach())
    assert torch.equal(ema.averaged[1].running_mean, torch.full((4,), 7.0))
