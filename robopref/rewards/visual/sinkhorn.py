"""Batched, differentiable entropic optimal transport (Sinkhorn) in the log domain.

RAPL scores two videos by the optimal-transport cost between their frame embeddings and
trains the encoder through that score, so the solver must (1) run on a whole batch of
video pairs at once, (2) let gradients flow to the cost matrix, and (3) stay finite for
small ε, where the plain ``K = exp(-C/ε)`` iteration underflows. Working with dual
potentials and ``logsumexp`` gives all three; the plan has the same definition as POT's
``ot.sinkhorn(a, b, C, reg=ε)``.

When every row of C spans less than ``KERNEL_RANGE`` × ε (cosine costs lie in [0, 2], so
ε ≥ 0.04 in float32), the scaling iteration on the row-shifted kernel cannot underflow
and runs as batched vector–matrix products, several times faster than ``logsumexp``;
``method="auto"`` picks it then and the log domain otherwise.

Speed (docs/benchmarks-visual.md, "Speed"; 1,000 pairs of 50 × 24 frames, one thread):
every iteration reads the (B, n, m) kernel, a few MB that live in the shared L3 cache,
so the solver is bound by how many times it passes over that tensor, not by arithmetic.
Both paths therefore do one pass per half-iteration where they used to do three to eight:

- kernel domain: ``K v`` and ``Kᵀ u`` as ``bmm`` of a row vector with ``Kᵀ`` / ``K``
  (a copy of ``Kᵀ`` is made once), the orientation in which MKL's batched product reads
  each matrix once; broadcast-multiply-and-sum took three passes, and ``bmm(K, v)`` with
  a column vector is 8× slower than either;
- log domain: the iteration runs on the log plan ``L = S + f + g`` itself. Adding f (or g)
  is a per-row (per-column) constant, so the row update ``f = log a − logsumexp_j(S + g)``
  is ``L ← log a + log_softmax_j(L)`` and the column update likewise over i: the same
  iterates, with one fused ``log_softmax`` in place of add / max / subtract / exp / sum.
"""

from __future__ import annotations

import torch

KERNEL_RANGE = {torch.float32: 50.0, torch.float64: 500.0}
"""Largest (row range of C) / ε for which the kernel iteration is safe, by dtype."""


def _log_marginal(w: torch.Tensor | None, batch: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """log of marginal weights, (B, size); uniform when ``w`` is None."""
    if w is None:
        return torch.full((batch, size), -float(torch.log(torch.tensor(float(size)))), dtype=like.dtype, device=like.device)
    w = w.to(like)
    if w.dim() == 1:
        w = w.expand(batch, size)
    return torch.log(w.clamp_min(torch.finfo(like.dtype).tiny))


def sinkhorn(
    cost: torch.Tensor,
    eps: float = 0.05,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    iters: int = 100,
    tol: float | None = None,
    method: str = "auto",
) -> torch.Tensor:
    """Entropic OT plans for a batch of cost matrices.

    Args:
        cost: (B, n, m) or (n, m) costs.
        eps: entropic regularisation ε (POT's ``reg``); smaller is closer to exact OT.
        a, b: source / target marginals, (n,) / (m,) or batched (B, n) / (B, m); uniform when None.
        iters: maximum number of (row, column) update pairs.
        tol: stop early once the row marginals are within ``tol`` (L1, worst pair in the
            batch; checked every 10 updates); None runs exactly ``iters`` updates, which
            keeps the graph shape fixed.
        method: ``log`` (always stable), ``kernel`` (matrix products; needs a row range of
            C below ``KERNEL_RANGE`` × ε) or ``auto`` (kernel when that holds, else log).

    Returns:
        Plans P of the same shape as ``cost``; differentiable w.r.t. ``cost`` (unrolled).
    """
    squeeze = cost.dim() == 2
    C = cost.unsqueeze(0) if squeeze else cost
    if C.dim() != 3:
        raise ValueError(f"cost must be (n, m) or (B, n, m), got shape {tuple(cost.shape)}")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    B, n, m = C.shape
    log_a = _log_marginal(a, B, n, C)
    log_b = _log_marginal(b, B, m, C)
    if method not in ("auto", "log", "kernel"):
        raise ValueError(f"method={method!r}: expected 'auto', 'log' or 'kernel'")
    # without autograd, update the iterates in place
    inplace = not (torch.is_grad_enabled() and any(t.requires_grad for t in (C, log_a, log_b)))
    shifted = C - C.amin(dim=2, keepdim=True).detach()  # a per-row shift leaves the plan unchanged
    if method == "kernel" or (method == "auto" and float(shifted.detach().amax()) < KERNEL_RANGE.get(C.dtype, 50.0) * eps):
        P = _kernel_sinkhorn(shifted, eps, log_a.exp(), log_b.exp(), iters, tol)
    else:
        P = _log_sinkhorn(-C / eps, log_a, log_b, iters, tol, inplace)
    return P[0] if squeeze else P


def _log_sinkhorn(S: torch.Tensor, log_a: torch.Tensor, log_b: torch.Tensor, iters: int, tol: float | None, inplace: bool) -> torch.Tensor:
    """Log-domain iteration on the log plan ``L = S + f + g`` (S = −C/ε): row update
    ``L ← log a + log_softmax_j(L)``, column update ``L ← log b + log_softmax_i(L)``.

    These are the potential updates ``f = log a − logsumexp_j(S + g)`` and
    ``g = log b − logsumexp_i(S + f)`` starting from f = g = 0, because a softmax ignores
    the constant the other potential adds along its axis."""
    log_a, log_b = log_a[:, :, None], log_b[:, None, :]
    L = S
    for it in range(iters):
        L = _add(torch.log_softmax(L, 2), log_a, inplace)
        L = _add(torch.log_softmax(L, 1), log_b, inplace)
        if tol is not None and it % 10 == 9:  # check every 10 updates, as POT does
            with torch.no_grad():
                if float((L.exp().sum(2) - log_a[:, :, 0].exp()).abs().sum(1).max()) < tol:
                    break
    return L.exp_() if inplace else L.exp()


def _add(x: torch.Tensor, y: torch.Tensor, inplace: bool) -> torch.Tensor:
    """x + y, into x when ``inplace`` (x is a fresh tensor that autograd does not need)."""
    return x.add_(y) if inplace else x + y


def _kernel_sinkhorn(C: torch.Tensor, eps: float, a: torch.Tensor, b: torch.Tensor, iters: int, tol: float | None) -> torch.Tensor:
    """Scaling iteration u = a / (K v), v = b / (Kᵀ u), batched, with u and v as row vectors
    (B, 1, n) and (B, 1, m): ``u = a / (v Kᵀ)``, ``v = b / (u K)``, each one ``bmm``."""
    K = torch.exp(-C / eps)  # (B, n, m)
    KT = K.transpose(1, 2).contiguous()  # (B, m, n): v Kᵀ reads it row by row, as u K reads K
    a, b = a[:, None, :], b[:, None, :]
    v = torch.ones_like(b)
    for it in range(iters):
        u = a / torch.bmm(v, KT)
        v = b / torch.bmm(u, K)
        if tol is not None and it % 10 == 9:  # check every 10 updates, as POT does
            with torch.no_grad():
                rows = u * torch.bmm(v, KT)
                if float((rows - a).abs().sum(2).max()) < tol:
                    break
    return u.transpose(1, 2) * K * v


def cosine_cost(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cosine distance 1 − cos(x_t, y_j) between frame features: (…, n, d), (…, m, d) → (…, n, m)."""
    x = torch.nn.functional.normalize(x, dim=-1)
    y = torch.nn.functional.normalize(y, dim=-1)
    return 1.0 - x @ y.transpose(-1, -2)


def ot_plan(feats_a: torch.Tensor, feats_b: torch.Tensor, eps: float = 0.05, iters: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """(plan, cost) between frame features of video pairs: (B, n, d), (B, m, d) → (B, n, m) each."""
    C = cosine_cost(feats_a, feats_b)
    return sinkhorn(C, eps=eps, iters=iters), C


def ot_score(feats_a: torch.Tensor, feats_b: torch.Tensor, eps: float = 0.05, iters: int = 100) -> torch.Tensor:
    """RAPL's video similarity s(a, b) = −⟨P*, C⟩ under cosine cost; (B,) for batched inputs."""
    P, C = ot_plan(feats_a, feats_b, eps, iters)
    return -(P * C).sum(dim=(-1, -2))


def ot_step_rewards(feats: torch.Tensor, ref: torch.Tensor, eps: float = 0.05, iters: int = 100) -> torch.Tensor:
    """Dense reward r_t = −Σ_j P*_tj C_tj of each frame of ``feats`` against ``ref``: (B, n, d), (B, m, d) → (B, n).

    The rewards sum to the OT score, so the return ranks rollouts as the score does.
    """
    P, C = ot_plan(feats, ref, eps, iters)
    return -(P * C).sum(dim=-1)
