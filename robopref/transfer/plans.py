"""Gromov–Wasserstein plans between a source task's and a target task's trajectories.

Every solver returns a :class:`Plan`: a scipy.sparse (M, N) coupling whose row sums are
the source marginal ``p`` and column sums the target marginal ``q`` (the landmark solver
keeps its coupling factored instead). Sparse, because the
scalable solver never materialises an M×N dense plan; the label transfer rule
(:mod:`robopref.transfer.labels`) works on sparse plans.

Solvers and when to use them:

- :func:`gw_exact`: POT's conditional-gradient GW (``ot.gromov.gromov_wasserstein``) on
  the two [0, 1]-scaled intra-task matrices. GW is non-convex; ``restarts`` extra runs
  from random vertices of the coupling polytope keep the plan of lowest GW loss. Needs
  both M×M and N×N matrices and O(M N (M + N)) work per iteration: use it up to ~1,500
  trajectories a side.
- :func:`gw_entropic`: POT's entropic GW (projected gradient with Sinkhorn steps); a
  smoother, denser plan. Same matrices and size limit.
- :func:`gw_entropic_blocks`: the same iteration on one matrix pair per feature block,
  matching every block's geometry at once (``geometry=per_block``, the default of
  :class:`robopref.transfer.pipeline.TransferSettings`). K blocks cost K times the work.
- :func:`~robopref.transfer.landmarks.gw_landmarks` (its own module): the per-block
  geometry for thousands of trajectories, solved between k landmarks of each task and
  kept as a factored plan; what ``method=gw`` uses above ``exact_max``.
- :func:`gw_quantized`: for thousands of trajectories, joint geometry. Per task: PCA of the trajectory
  vectors to ``dim`` components, k-means into k parts (cluster masses become weighted
  marginals), exact GW between the k representatives, then, inside every pair of matched
  parts, an exact OT whose cost is the GW cost linearised at the coarse plan (a point's
  distances to its task's representatives compared through the coarse plan). Memory is
  O((M + N) k), never M×M or M×N; the result is sparse with about M + N + k² entries.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import ot
import scipy.sparse as sp
from scipy.cluster.vq import kmeans2

from robopref.transfer.distances import PCAEncoder, pairwise_euclidean
from robopref.transfer.labels import SourceLabels, TransferredLabels, transfer_labels

SOLVERS = ("gw_exact", "gw_entropic", "gw_quantized")


@dataclass
class Plan:
    """A coupling of source (rows) and target (columns) trajectories: a sparse ``matrix``,
    or, for the landmark solver, ``factors`` (a
    :class:`~robopref.transfer.landmarks.LandmarkCoupling`) and no matrix."""

    matrix: sp.csr_matrix | None
    method: str
    loss: float | None = None  # GW objective where the solver reports it
    seconds: float = 0.0
    info: dict = field(default_factory=dict)
    factors: Any = None  # LandmarkCoupling when the plan is kept factored (matrix None)

    @property
    def shape(self) -> tuple[int, int]:
        return self.factors.shape if self.matrix is None else self.matrix.shape  # type: ignore[return-value]

    @property
    def nonzeros(self) -> int:
        """Stored entries: the sparse matrix's, or the factored plan's columns and source map."""
        if self.matrix is not None:
            return int(self.matrix.nnz)
        return int(np.count_nonzero(self.factors.columns)) + self.factors.shape[0]

    def dense(self) -> np.ndarray:
        """The plan as a dense array (small problems and tests only)."""
        return (self.factors.expand() if self.matrix is None else self.matrix).toarray()

    def transfer(self, labels: SourceLabels, first: np.ndarray, second: np.ndarray) -> TransferredLabels:
        """PEARL's transfer rule through this plan for target pairs (first[t], second[t])."""
        if self.matrix is None:
            return self.factors.transfer(labels, first, second)
        return transfer_labels(self.matrix, labels, first, second)


def uniform(n: int) -> np.ndarray:
    """Uniform marginal over ``n`` trajectories."""
    if n < 1:
        raise ValueError("a marginal needs at least one trajectory")
    return np.full(n, 1.0 / n)


def check_marginal(weights: np.ndarray | None, n: int, name: str) -> np.ndarray:
    """``weights`` (non-negative, any scale) normalised to sum 1; uniform when None."""
    if weights is None:
        return uniform(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (n,) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"{name} marginal must be {n} non-negative finite weights with a positive sum, got shape {w.shape}")
    return w / w.sum()


def _random_vertex(p: np.ndarray, q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random vertex of the coupling polytope U(p, q): an OT plan for a random cost."""
    return ot.emd(p, q, rng.random((len(p), len(q))))


def gw_exact_candidates(
    cx: np.ndarray, cy: np.ndarray, p: np.ndarray | None = None, q: np.ndarray | None = None,
    restarts: int = 0, seed: int = 0, max_iter: int = 10000,
) -> list[Plan]:
    """Conditional-gradient GW (POT) from the product plan p qᵀ and from ``restarts``
    random vertices of the coupling polytope: one local optimum per start."""
    p, q = check_marginal(p, len(cx), "source"), check_marginal(q, len(cy), "target")
    rng = np.random.default_rng(seed)
    plans = []
    for r in range(restarts + 1):
        t0 = time.perf_counter()
        g0 = None if r == 0 else _random_vertex(p, q, rng)
        plan, log = ot.gromov.gromov_wasserstein(cx, cy, p, q, "square_loss", symmetric=True, log=True, G0=g0, max_iter=max_iter)
        plans.append(Plan(sp.csr_matrix(plan), "gw_exact", float(log["gw_dist"]), time.perf_counter() - t0, {"start": r}))
    return plans


def gw_exact(
    cx: np.ndarray, cy: np.ndarray, p: np.ndarray | None = None, q: np.ndarray | None = None,
    restarts: int = 0, seed: int = 0, max_iter: int = 10000,
) -> Plan:
    """Conditional-gradient GW (POT): the lowest-loss plan of :func:`gw_exact_candidates`."""
    plans = gw_exact_candidates(cx, cy, p, q, restarts, seed, max_iter)
    best = min(plans, key=lambda plan: plan.loss)
    best.seconds = sum(plan.seconds for plan in plans)
    best.info["restarts"] = restarts
    return best


def gw_entropic(
    cx: np.ndarray, cy: np.ndarray, p: np.ndarray | None = None, q: np.ndarray | None = None,
    epsilon: float = 5e-3, max_iter: int = 1000,
) -> Plan:
    """Entropic GW (POT, projected gradient); ``epsilon`` is relative to [0, 1]-scaled matrices."""
    t0 = time.perf_counter()
    p, q = check_marginal(p, len(cx), "source"), check_marginal(q, len(cy), "target")
    plan, log = ot.gromov.entropic_gromov_wasserstein(cx, cy, p, q, "square_loss", epsilon=epsilon, symmetric=True, log=True, max_iter=max_iter)
    if not np.isfinite(plan).all():
        raise FloatingPointError(f"entropic GW diverged with epsilon={epsilon}; use a larger epsilon or method=gw_exact")
    return Plan(sp.csr_matrix(plan), "gw_entropic", float(log["gw_dist"]), time.perf_counter() - t0, {"epsilon": epsilon})


def gw_entropic_blocks(
    cxs: Sequence[np.ndarray], cys: Sequence[np.ndarray], p: np.ndarray | None = None, q: np.ndarray | None = None,
    epsilon: float = 0.3, max_iter: int = 1000, tol: float = 1e-9,
) -> Plan:
    """Entropic GW that matches several intra-task geometries at once: the plan minimises
    the mean over blocks b of Σ |Cx_b,ik − Cy_b,jl|² T_ij T_kl (``per_block`` geometry).

    With one distance over all feature blocks (``joint``), a pair of trajectories whose
    states differ a lot and whose action jitter differs little looks like a pair with the
    opposite mix, since only the sum is compared; keeping the blocks apart asks every
    block's distances to agree. The iteration is POT's entropic GW (projected gradient
    with a Sinkhorn step, Peyré et al. 2016) with the square-loss gradient averaged over
    blocks; with one block it is the same plan as :func:`gw_entropic`. ``epsilon`` is in
    the units of the blocks' squared distances: 0.3 suits blocks scaled to a standard
    deviation of 1 (:func:`~robopref.transfer.distances.block_distance_matrices`).
    """
    if len(cxs) != len(cys) or not cxs:
        raise ValueError(f"per-block GW needs the same number (>= 1) of source and target matrices, got {len(cxs)} and {len(cys)}")
    t0 = time.perf_counter()
    p, q = check_marginal(p, len(cxs[0]), "source"), check_marginal(q, len(cys[0]), "target")
    k = len(cxs)
    const = sum(((cx**2) @ p)[:, None] + ((cy**2) @ q)[None, :] for cx, cy in zip(cxs, cys)) / k

    def linear_cost(plan: np.ndarray) -> np.ndarray:  # Σ_kl |Cx_ik − Cy_jl|² T_kl, averaged over blocks
        return const - 2.0 * sum(cx @ plan @ cy.T for cx, cy in zip(cxs, cys)) / k

    plan, iterations = np.outer(p, q), 0
    while iterations < max_iter:
        gradient = 2.0 * linear_cost(plan)  # the gradient is twice the linear cost
        # a constant shift leaves the Sinkhorn plan unchanged; the smallest entry at 0 keeps exp(−cost / ε) from underflowing
        new = ot.sinkhorn(p, q, gradient - gradient.min(), epsilon)
        change = float(np.linalg.norm(new - plan))
        plan, iterations = new, iterations + 1
        if change < tol:
            break
    if not np.isfinite(plan).all():
        raise FloatingPointError(f"per-block entropic GW diverged with epsilon={epsilon}; use a larger epsilon")
    loss = float(np.sum(linear_cost(plan) * plan))
    return Plan(sp.csr_matrix(plan), "gw_entropic", loss, time.perf_counter() - t0, {"epsilon": epsilon, "geometry": "per_block", "blocks": k, "iterations": iterations})


def default_clusters(n: int) -> int:
    """Parts per task for the quantized solver: about 2√n, between 8 and 256 (and ≤ n)."""
    return int(min(n, max(8, min(256, round(2 * math.sqrt(n))))))


@dataclass
class _Quantized:
    """One task reduced to k representatives."""

    labels: np.ndarray  # (n,) part of each trajectory
    mass: np.ndarray  # (k,) marginal mass of each part
    anchor: np.ndarray  # (n, k) scaled distance of each trajectory to each representative
    reps: np.ndarray  # (k, k) scaled distances between representatives


def kmeans_parts(vectors: np.ndarray, weights: np.ndarray, k: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One task's trajectory ``vectors`` split into at most k parts: (PCA embedding to
    ``dim``, part of each trajectory, part centres, part masses from ``weights``).
    k-means can leave a centre empty: it is dropped and the parts are relabelled densely.
    Shared by the quantized and the landmark solvers."""
    emb = PCAEncoder(dim, seed=seed).fit_transform(vectors) if vectors.shape[1] > dim else vectors
    k = max(1, min(k, len(emb)))
    centres, labels = kmeans2(emb, k, iter=20, minit="++", seed=np.random.default_rng(seed))
    used = np.unique(labels)
    remap = np.full(k, -1)
    remap[used] = np.arange(len(used))
    labels, centres = remap[labels], centres[used]
    return emb, labels, centres, np.bincount(labels, weights=weights, minlength=len(used))


def _quantize(vectors: np.ndarray, weights: np.ndarray, k: int, dim: int, seed: int) -> _Quantized:
    emb, labels, centres, mass = kmeans_parts(vectors, weights, k, dim, seed)
    anchor = pairwise_euclidean(emb, centres)
    scale = float(anchor.max()) or 1.0  # the task's diameter, estimated without an n×n matrix
    reps = pairwise_euclidean(centres) / scale
    return _Quantized(labels, mass, anchor / scale, reps)


def gw_quantized(
    x: np.ndarray, y: np.ndarray, p: np.ndarray | None = None, q: np.ndarray | None = None,
    clusters: int | None = None, dim: int = 32, restarts: int = 2, seed: int = 0,
) -> Plan:
    """Quantized GW between trajectory vectors ``x`` (M, F) and ``y`` (N, G) (see the module doc)."""
    t0 = time.perf_counter()
    p, q = check_marginal(p, len(x), "source"), check_marginal(q, len(y), "target")
    qx = _quantize(np.asarray(x, np.float64), p, clusters or default_clusters(len(x)), dim, seed)
    qy = _quantize(np.asarray(y, np.float64), q, clusters or default_clusters(len(y)), dim, seed + 1)
    coarse = gw_exact(qx.reps, qy.reps, qx.mass, qy.mass, restarts=restarts, seed=seed).dense()
    # linearised GW cost c(i, j) = Σ_ab (Ax_ia − Ay_jb)² T_ab = u_i + v_j − 2 (Ax T Ayᵀ)_ij
    u = (qx.anchor**2) @ coarse.sum(1)
    v = (qy.anchor**2) @ coarse.sum(0)
    ax_t = qx.anchor @ coarse
    members_x = [np.flatnonzero(qx.labels == a) for a in range(len(qx.mass))]
    members_y = [np.flatnonzero(qy.labels == b) for b in range(len(qy.mass))]
    rows, cols, vals = [], [], []
    blocks = np.argwhere(coarse > 1e-12 * coarse.max())
    for a, b in blocks:
        ia, jb, mass = members_x[a], members_y[b], coarse[a, b]
        cost = u[ia, None] + v[None, jb] - 2.0 * ax_t[ia] @ qy.anchor[jb].T
        local = ot.emd(p[ia] / p[ia].sum(), q[jb] / q[jb].sum(), cost)
        r, c = np.nonzero(local)
        rows.append(ia[r]), cols.append(jb[c]), vals.append(local[r, c] * mass)
    matrix = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(x), len(y))).tocsr()
    info = {"clusters": (len(qx.mass), len(qy.mass)), "blocks": int(len(blocks)), "dim": dim}
    return Plan(matrix, "gw_quantized", None, time.perf_counter() - t0, info)


def gw_loss(cx: np.ndarray, cy: np.ndarray, plan: np.ndarray) -> float:
    """Σ |Cx_ik − Cy_jl|² T_ij T_kl for a dense plan (square loss, as POT computes it)."""
    p, q = plan.sum(1), plan.sum(0)
    const = (cx**2) @ p @ p + (cy**2) @ q @ q
    return float(const - 2.0 * np.sum((cx @ plan @ cy.T) * plan))
