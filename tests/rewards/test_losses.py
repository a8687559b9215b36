"""Preference losses against hand-computed values, and the batched ensemble."""

from __future__ import annotations

import math

import pytest
import torch

from robopref.rewards.ensemble import EnsembleLinear, EnsembleMLP
from robopref.rewards.losses import gaussian_kl_standard, masked_sum, smooth_labels, soft_bt_loss


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_bradley_terry_cross_entropy_by_hand():
    # returns R0 = 2, R1 = 1 → P(σ0 ≻ σ1) = σ(1)
    logits = torch.tensor([2.0 - 1.0])
    assert float(soft_bt_loss(logits, torch.tensor([1.0]))) == pytest.approx(-math.log(sig(1)), rel=1e-6)
    soft = float(soft_bt_loss(logits, torch.tensor([0.7])))
    assert soft == pytest.approx(-(0.7 * math.log(sig(1)) + 0.3 * math.log(1 - sig(1))), rel=1e-6)
    # weights are label confidences: a weighted mean
    both = soft_bt_loss(torch.tensor([1.0, -1.0]), torch.tensor([1.0, 1.0]), torch.tensor([3.0, 1.0]))
    assert float(both) == pytest.approx((3 * -math.log(sig(1)) + -math.log(sig(-1))) / 4, rel=1e-6)


def test_noise_aware_likelihood_by_hand():
    # ε = 0.1: P(label σ0 ≻ σ1) = 0.1 + 0.8 σ(2)
    p = 0.1 + 0.8 * sig(2.0)
    logits = torch.tensor([2.0, 2.0, -50.0])
    per = soft_bt_loss(logits, torch.tensor([1.0, 0.0, 1.0]), reduce=False, flip_prob=0.1)
    assert per.tolist() == pytest.approx([-math.log(p), -math.log(1 - p), math.log(10.0)], rel=1e-5)  # a contradicted label costs at most −log ε
    plain = soft_bt_loss(logits, torch.tensor([1.0, 0.3, 0.0]), reduce=False)
    assert torch.allclose(soft_bt_loss(logits, torch.tensor([1.0, 0.3, 0.0]), reduce=False, flip_prob=0.0), plain)


def test_masked_sum_ignores_padding():
    r = torch.tensor([[1.0, 2.0, 100.0]])
    assert float(masked_sum(r, torch.tensor([[1.0, 1.0, 0.0]]))) == 3.0


def test_label_smoothing_and_gaussian_kl():
    assert torch.allclose(smooth_labels(torch.tensor([1.0, 0.0, 0.5]), 0.2), torch.tensor([0.9, 0.1, 0.5]))
    kl = gaussian_kl_standard(torch.tensor([1.0, 0.0]), torch.tensor([0.0, math.log(4.0)]))
    assert torch.allclose(kl, torch.tensor([0.5, 0.5 * (4.0 - math.log(4.0) - 1.0)]))
    assert float(gaussian_kl_standard(torch.zeros(1), torch.zeros(1))) == 0.0


def test_ensemble_linear_equals_separate_layers():
    torch.manual_seed(0)
    layer = EnsembleLinear(3, 4, 2)
    x = torch.randn(3, 5, 4)
    out = layer(x)
    for k in range(3):
        assert torch.allclose(out[k], x[k] @ layer.weight[k] + layer.bias[k], atol=1e-6)


def test_ensemble_members_differ_and_broadcast():
    torch.manual_seed(0)
    net = EnsembleMLP(4, 3, 1, hidden=(8,))
    y = net(torch.randn(6, 3))
    assert y.shape == (4, 6, 1)
    assert not torch.allclose(y[0], y[1])
