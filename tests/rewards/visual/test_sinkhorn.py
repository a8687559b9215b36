"""The batched log-domain Sinkhorn against POT, its gradients, and small-ε stability."""

from __future__ import annotations

import numpy as np
import ot
import torch

from robopref.rewards.visual.sinkhorn import cosine_cost, ot_score, ot_step_rewards, sinkhorn


def test_plans_match_pot_on_random_inputs():
    g = torch.Generator().manual_seed(0)
    C = torch.rand(5, 12, 17, generator=g, dtype=torch.float64)
    a = torch.rand(5, 12, generator=g, dtype=torch.float64) + 0.1
    b = torch.rand(5, 17, generator=g, dtype=torch.float64) + 0.1
    a, b = a / a.sum(1, keepdim=True), b / b.sum(1, keepdim=True)
    for eps, method in ((0.5, "auto"), (0.05, "kernel"), (0.05, "log"), (0.02, "auto")):
        uniform = sinkhorn(C, eps=eps, iters=3000, method=method)
        weighted = sinkhorn(C, eps=eps, a=a, b=b, iters=3000, method=method)
        for i in range(5):
            ref_u = ot.sinkhorn(np.full(12, 1 / 12), np.full(17, 1 / 17), C[i].numpy(), eps, numItermax=100000, stopThr=1e-13)
            ref_w = ot.sinkhorn(a[i].numpy(), b[i].numpy(), C[i].numpy(), eps, numItermax=100000, stopThr=1e-13)
            np.testing.assert_allclose(uniform[i].numpy(), ref_u, atol=1e-7)
            np.testing.assert_allclose(weighted[i].numpy(), ref_w, atol=1e-7)
    # a 2-D cost gives a 2-D plan; tolerance-based stopping still satisfies the marginals
    P = sinkhorn(C[0].float(), eps=0.1, iters=5000, tol=1e-6)
    assert P.shape == (12, 17)
    np.testing.assert_allclose(P.sum(1).numpy(), np.full(12, 1 / 12), atol=1e-5)


def test_gradients_through_sinkhorn():
    g = torch.Generator().manual_seed(1)
    C = torch.rand(2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    for method in ("log", "kernel"):
        assert torch.autograd.gradcheck(lambda c: (sinkhorn(c, eps=0.2, iters=30, method=method) * c).sum(), (C,))
    x = torch.randn(3, 6, 8, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 7, 8, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: ot_score(x, y, eps=0.1, iters=30), (x,))


def test_inference_path_matches_the_autograd_path():
    # without autograd the solver updates its iterates in place; it must give the same plans
    g = torch.Generator().manual_seed(3)
    C = torch.rand(4, 9, 6, generator=g, dtype=torch.float64)
    for eps, method in ((0.05, "kernel"), (0.01, "log")):
        with torch.no_grad():
            fast = sinkhorn(C, eps=eps, iters=40, method=method)
        graph = sinkhorn(C.clone().requires_grad_(True), eps=eps, iters=40, method=method)
        np.testing.assert_allclose(fast.numpy(), graph.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_small_eps_is_finite_and_close_to_exact_ot():
    g = torch.Generator().manual_seed(2)
    C = torch.rand(3, 10, 10, generator=g)
    C.requires_grad_(True)
    P = sinkhorn(C, eps=1e-3, iters=500)  # auto: the log domain (exp(-1/ε) underflows)
    (P * C).sum().backward()
    assert torch.isfinite(P).all() and torch.isfinite(C.grad).all()
    np.testing.assert_allclose(P.sum((1, 2)).detach().numpy(), 1.0, atol=1e-4)
    for i in range(3):
        exact = ot.emd2(np.full(10, 0.1), np.full(10, 0.1), C[i].detach().double().numpy())
        assert abs(float((P[i] * C[i]).sum()) - exact) < 0.01


def test_ot_score_and_step_rewards():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(4, 9, 16, generator=g)
    b = torch.randn(4, 11, 16, generator=g)
    # a video matches itself at (almost) zero cost, better than any other video
    self_score = ot_score(a, a, eps=0.01, iters=200)
    assert torch.all(self_score > ot_score(a, b, eps=0.01, iters=200))
    assert torch.all(self_score > -0.05)
    r = ot_step_rewards(a, b, eps=0.05)
    assert r.shape == (4, 9)
    torch.testing.assert_close(r.sum(1), ot_score(a, b, eps=0.05))
    C = cosine_cost(a, b)
    assert C.shape == (4, 9, 11) and float(C.min()) >= -1e-6 and float(C.max()) <= 2 + 1e-6
