"""Per-block Gromov–Wasserstein for thousands of trajectories: a plan through landmarks.

The per-block entropic solver (:func:`robopref.transfer.plans.gw_entropic_blocks`) needs
an N×N matrix per block and task and O(N³) work per iteration: 2,000 trajectories a side
take ~20 s and 1 GB, 10,000 would take hours. :func:`gw_landmarks` keeps its geometry and
solves it on a summary of each task, then places every trajectory against it:

1. **landmarks**: per task, k-means (k = ``landmarks``) on the PCA of the block-balanced,
   time-aligned trajectories; each cluster is represented by its member nearest the
   centre (a real trajectory) and weighs the mass of its members;
2. **core plan**: per-block entropic GW between the two sets of landmarks, with their
   masses as marginals (k×k matrices per block, scaled by spread as the full ones);
3. **every target trajectory** j gets its own column over the source landmarks: the GW
   cost linearised at the core plan, c(a, j) = mean over blocks of
   Σ_a'b' (Cx_b[a, a'] − Cy_b[j, b'])² core[a', b'] (Cy_b[j, ·]: j's distances to the target
   landmarks), and one entropic OT between the source landmarks' masses and all the
   target trajectories (``columns``, k × N);
4. **every source trajectory** i takes its cluster's row in proportion to its mass:
   T_ij = p_i / P_a(i) · columns[a(i), j], a coupling of p and q. It is dense and never
   built; :class:`LandmarkCoupling` keeps it factored.

The transfer rule on that plan factors too (:meth:`LandmarkCoupling.transfer`):
(Tᵀ Z T)_jl = columns[:, j]ᵀ Z̄ columns[:, l] with Z̄ = Aᵀ Z A the source labels summed
per pair of source clusters (A_ia = p_i / P_a for i in a), so every target pair is
answered from every source label in O(|labels| + k² N + k · pairs).

Step 3 matters: expanding the core plan by target cluster as well (each member of a
target cluster sharing its column) gave 0.78 on 2,000 push2d episodes a side, the
per-trajectory columns 0.866, and the dense per-block solver on all 2,000 0.870
(docs/benchmarks-transfer.md, session 20). Unlike the quantized solver
(:func:`~robopref.transfer.plans.gw_quantized`: joint geometry, a sparse plan that
pairs each trajectory with a few others), the coverage does not depend on how densely
the source is labelled: with 20,000 source labels the quantized plan left 87 % of those
target pairs without a label. Distances are Euclidean (time-aligned).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import ot
import scipy.sparse as sp

from robopref.transfer.alignment import aligned_blocks, balanced
from robopref.transfer.distances import pairwise_euclidean, spread
from robopref.transfer.features import Trajectories
from robopref.transfer.labels import SourceLabels, TransferredLabels, check_pairs, finish_transfer, label_matrices
from robopref.transfer.plans import Plan, check_marginal, gw_entropic_blocks, kmeans_parts


@dataclass
class Landmarks:
    """One task summarised by k of its trajectories."""

    cluster: np.ndarray  # (n,) the cluster of each trajectory
    index: np.ndarray  # (k,) the trajectory standing for each cluster (its member nearest the centre)
    mass: np.ndarray  # (k,) the marginal mass of each cluster


def pick_landmarks(vectors: np.ndarray, weights: np.ndarray, k: int, dim: int = 32, seed: int = 0) -> Landmarks:
    """k-means parts (:func:`~robopref.transfer.plans.kmeans_parts`) of one task's
    trajectory ``vectors`` (aligned, block-balanced, flattened; see the module doc), each
    represented by its member nearest the centre; there may be fewer than ``k``."""
    emb, labels, centres, mass = kmeans_parts(vectors, weights, k, dim, seed)
    distance = pairwise_euclidean(emb, centres)
    index = np.array([np.flatnonzero(labels == a)[np.argmin(distance[labels == a, a])] for a in range(len(centres))])
    return Landmarks(labels, index, mass)


@dataclass
class LandmarkCoupling:
    """The plan T_ij = source_weight[i] · columns[source_cluster[i], j], kept factored."""

    source_cluster: np.ndarray  # (m,) a(i)
    source_weight: np.ndarray  # (m,) p_i / P_a(i)
    columns: np.ndarray  # (k_x, n) each target trajectory's plan column over the source clusters; column sums q

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.source_cluster), self.columns.shape[1]

    def _source_map(self) -> sp.csr_matrix:
        m = len(self.source_cluster)
        return sp.csr_matrix((self.source_weight, (np.arange(m), self.source_cluster)), shape=(m, self.columns.shape[0]))

    def expand(self) -> sp.csr_matrix:
        """The full (m, n) plan; dense in general, so for small problems and tests only."""
        return sp.csr_matrix(self._source_map() @ self.columns)

    def transfer(self, labels: SourceLabels, first: np.ndarray, second: np.ndarray, chunk: int = 65536) -> TransferredLabels:
        """The transfer rule of :func:`~robopref.transfer.labels.transfer_labels` on the
        expanded plan, computed through the source clusters (see the module doc)."""
        m, n = self.shape
        first, second = check_pairs(first, second, n)
        z, mask = label_matrices(labels, m)
        a = self._source_map()
        z_cols = (a.T @ z @ a) @ self.columns  # Z̄ columns, (k_x, n)
        w_cols = (a.T @ mask @ a) @ self.columns
        num, den = np.zeros(len(first)), np.zeros(len(first))
        for s in range(0, len(first), chunk):
            j, l = first[s : s + chunk], second[s : s + chunk]
            num[s : s + chunk] = np.einsum("at,at->t", self.columns[:, j], z_cols[:, l])
            den[s : s + chunk] = np.einsum("at,at->t", self.columns[:, j], w_cols[:, l])
        column_mass = self.columns.sum(0)
        return finish_transfer(first, second, num, den, column_mass[first] * column_mass[second])


def gw_landmarks(
    xs: Trajectories, ys: Trajectories, p: np.ndarray | None = None, q: np.ndarray | None = None, landmarks: int = 400,
    length: int = 100, time_axis: str = "absolute", embed_dim: int = 32, epsilon: float = 0.3, seed: int = 0,
) -> Plan:
    """Per-block entropic GW between ``landmarks`` trajectories of each task, with a column
    over the source landmarks for every target trajectory (see the module doc). The plan's
    ``matrix`` is None; ``factors`` holds it."""
    t0 = time.perf_counter()
    p, q = check_marginal(p, len(xs), "source"), check_marginal(q, len(ys), "target")
    bx, by = aligned_blocks(xs, length, time_axis), aligned_blocks(ys, length, time_axis)
    lx = pick_landmarks(balanced(bx).reshape(len(p), -1), p, landmarks, embed_dim, seed)
    ly = pick_landmarks(balanced(by).reshape(len(q), -1), q, landmarks, embed_dim, seed + 1)
    cxs, cys, to_landmarks = [], [], []
    for block_x, block_y in zip(bx, by):
        # flattened and divided by √length, rows are as far apart as the RMS per-step distance (distances.euclidean_matrix)
        fx, fy = block_x.reshape(len(p), -1) / np.sqrt(length), block_y.reshape(len(q), -1) / np.sqrt(length)
        dx, dy = pairwise_euclidean(fx[lx.index]), pairwise_euclidean(fy[ly.index])
        sx, sy = spread(dx), spread(dy)
        cxs.append(dx / sx)
        cys.append(dy / sy)
        to_landmarks.append(pairwise_euclidean(fy, fy[ly.index]) / sy)  # (n, k_y): every target to the target landmarks
    core = gw_entropic_blocks(cxs, cys, lx.mass, ly.mass, epsilon)
    plan_core = core.dense()
    landmark_mass = plan_core.sum(0)
    cost = sum(((cx**2) @ lx.mass)[:, None] + ((cy**2) @ landmark_mass)[None, :] - 2.0 * cx @ plan_core @ cy.T
               for cx, cy in zip(cxs, to_landmarks)) / len(cxs)  # (k_x, n), the linearised GW cost
    gradient = 2.0 * cost
    columns = ot.sinkhorn(lx.mass, q, gradient - gradient.min(), epsilon, numItermax=5000)
    if not np.isfinite(columns).all():
        raise FloatingPointError(f"gw_landmarks: the target columns diverged with epsilon={epsilon}; use a larger epsilon")
    cluster_mass = lx.mass[lx.cluster]
    source_weight = np.divide(p, cluster_mass, out=np.zeros_like(p), where=cluster_mass > 0)  # a massless cluster's members carry none
    coupling = LandmarkCoupling(lx.cluster, source_weight, columns)
    info = {"epsilon": epsilon, "geometry": "per_block", "blocks": len(cxs), "landmarks": (len(lx.index), len(ly.index)),
            "iterations": core.info["iterations"]}
    return Plan(None, "gw_landmarks", core.loss, time.perf_counter() - t0, info, factors=coupling)
