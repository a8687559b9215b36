"""The U-Net's training layers: the sigmoid Mish and the im2col Conv1d compute what
``nn.Mish`` and ``nn.Conv1d`` compute (values and gradients), and load the same weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robopref.policies.conv import Conv1d
from robopref.policies.mish import Mish, mish
from robopref.policies.unet1d import ConditionalUnet1D


def test_mish_matches_torch_values_and_gradients_without_overflow():
    x = torch.linspace(-200.0, 200.0, 40001, dtype=torch.float64, requires_grad=True)
    y_ref, y = F.mish(x), mish(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    (g_ref,) = torch.autograd.grad(y_ref.sum(), x)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-10)
    x32 = torch.tensor([-1e4, -90.0, -20.0, 0.0, 20.0, 90.0, 1e4], requires_grad=True)
    y32 = Mish()(x32)
    (g32,) = torch.autograd.grad(y32.sum(), x32)
    assert torch.isfinite(y32).all() and torch.isfinite(g32).all()
    torch.testing.assert_close(y32, F.mish(x32.detach()), rtol=1e-6, atol=1e-6)


def test_mish_passes_gradcheck():
    x = (torch.randn(40, dtype=torch.float64) * 4).requires_grad_()
    assert torch.autograd.gradcheck(mish, (x,))


@pytest.mark.parametrize("c_in,c_out,k,stride,pad,bias", [(2, 32, 5, 1, 2, True), (32, 32, 3, 2, 1, True), (64, 16, 1, 1, 0, True),
                                                          (8, 8, 5, 1, 2, False), (3, 4, 4, 2, 0, True)])
def test_conv1d_matches_torch_values_and_gradients(c_in, c_out, k, stride, pad, bias):
    torch.manual_seed(0)
    ref = nn.Conv1d(c_in, c_out, k, stride, pad, bias=bias).double()
    fast = Conv1d(c_in, c_out, k, stride, pad, bias=bias).double()
    fast.load_state_dict(ref.state_dict())  # same parameter names and shapes
    x = torch.randn(6, c_in, 16, dtype=torch.float64, requires_grad=True)
    y_ref, y = ref(x), fast(x)
    torch.testing.assert_close(y, y_ref)
    g = torch.randn_like(y)
    grads_ref = torch.autograd.grad(y_ref, [x, *ref.parameters()], g)
    grads = torch.autograd.grad(y, [x, *fast.parameters()], g)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b)


def test_conv1d_falls_back_to_torch_for_what_the_product_does_not_cover():
    torch.manual_seed(0)
    ref = nn.Conv1d(4, 6, 3, dilation=2, padding=2)
    fast = Conv1d(4, 6, 3, dilation=2, padding=2)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(2, 4, 10)
    torch.testing.assert_close(fast(x), ref(x))


def test_unet_checkpoints_are_those_of_the_torch_layers():
    """The fast layers add no parameter and rename none: state_dict keys are unchanged."""
    torch.manual_seed(0)
    unet = ConditionalUnet1D(2, 10, diffusion_step_embed_dim=16, down_dims=(16, 32))
    keys = set(unet.state_dict())
    assert "down_modules.0.0.blocks.0.block.0.weight" in keys and "final_conv.1.weight" in keys
    assert not any("mish" in k.lower() for k in keys)
    out = unet(torch.randn(3, 8, 2), torch.tensor([1, 5, 9]), torch.randn(3, 10))
    assert out.shape == (3, 8, 2) and torch.isfinite(out).all()
