"""Trajectory features and intra-task distance matrices for cross-task transfer.

Gromov–Wasserstein compares two tasks only through the distances *within* each task,
so the two tasks may have different observation and action spaces. What matters is that
each task's distances are computed the same way: every trajectory is a normalised
state–action sequence (z-score per feature over the task's own data), resampled to a
fixed number of steps so that trajectories of different lengths are comparable, and each
intra-task matrix is scaled to [0, 1] (its largest entry becomes 1). For the per-block
geometry (:func:`block_distance_matrices`) each feature block gets its own matrix,
scaled so that its distances between distinct trajectories have a standard deviation of 1.

Distances:

- ``euclidean``: Frobenius distance of the time-aligned sequences divided by √L (the
  root-mean-square per-step distance). O(N² L D) with a matrix product; the default.
- ``dtw``: dynamic time warping on the normalised sequences resampled to L steps (the
  resampling bounds the cost; the warping then still aligns phases that happen at
  different times), plain numpy dynamic programming vectorised over pairs. O(N² L²):
  fine for hundreds of trajectories, too slow for thousands (use ``euclidean`` or
  ``embedding`` there).
- ``embedding``: Euclidean distance of per-trajectory vectors from an encoder: any
  callable mapping an aligned sequence (L, D) to a vector, or, by default, PCA of the
  flattened aligned sequences (:class:`PCAEncoder`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from robopref.transfer.alignment import aligned_blocks, aligned_sequences
from robopref.transfer.features import Trajectories

DISTANCES = ("euclidean", "dtw", "embedding")

Encoder = Callable[[np.ndarray], np.ndarray]


def scale_unit(matrix: np.ndarray) -> np.ndarray:
    """Divide by the largest entry so the matrix lies in [0, 1] (an all-zero matrix stays 0)."""
    top = float(matrix.max()) if matrix.size else 0.0
    return matrix / top if top > 0 else matrix


def pairwise_euclidean(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and of ``b`` (default ``a``), (Na, Nb)."""
    b = a if b is None else b
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    dist = np.sqrt(np.maximum(sq, 0.0))
    if b is a:
        np.fill_diagonal(dist, 0.0)
    return dist


def euclidean_matrix(aligned: np.ndarray) -> np.ndarray:
    """RMS per-step distance of time-aligned sequences (N, L, D), unscaled."""
    flat = aligned.reshape(len(aligned), -1)
    return pairwise_euclidean(flat) / np.sqrt(aligned.shape[1])


def dtw_matrix(aligned: np.ndarray, batch: int = 256) -> np.ndarray:
    """DTW distances between every pair of (N, L, D) sequences, unscaled: the smallest sum of
    Euclidean step costs over warping paths, divided by 2L (the longest path).

    Plain numpy: the dynamic programme sweeps the L×L grid by anti-diagonals (2L steps),
    each step vectorised over the cells of the diagonal and over a batch of pairs, so the
    work is O(N² L²). Fine for hundreds of trajectories; for thousands use ``euclidean``
    or ``embedding``.
    """
    n, length = aligned.shape[:2]
    sq = (aligned * aligned).sum(-1)  # (N, L)
    ii, kk = np.triu_indices(n, 1)
    out = np.zeros((n, n))
    for start in range(0, len(ii), batch):
        a, b = ii[start : start + batch], kk[start : start + batch]
        dots = np.einsum("bld,bmd->blm", aligned[a], aligned[b])
        cost = np.sqrt(np.maximum(sq[a][:, :, None] + sq[b][:, None, :] - 2.0 * dots, 0.0))
        acc = np.full((len(a), length + 1, length + 1), np.inf)
        acc[:, 0, 0] = 0.0
        for s in range(2, 2 * length + 1):
            r = np.arange(max(1, s - length), min(length, s - 1) + 1)
            c = s - r
            best = np.minimum(np.minimum(acc[:, r - 1, c], acc[:, r, c - 1]), acc[:, r - 1, c - 1])
            acc[:, r, c] = cost[:, r - 1, c - 1] + best
        out[a, b] = out[b, a] = acc[:, length, length] / (2 * length)
    return out


class PCAEncoder:
    """Default trajectory encoder: PCA of flattened aligned sequences to ``dim`` components.

    Fitted per task (the tasks' spaces differ); the components keep the directions along
    which that task's trajectories vary most, which is what intra-task distances need.
    Large inputs use a randomised SVD (a few power iterations on a ``dim + 10`` sketch),
    so 10,000 trajectories of thousands of features fit in seconds.
    """

    def __init__(self, dim: int = 32, seed: int = 0) -> None:
        self.dim = int(dim)
        self.seed = seed
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None

    def fit(self, flat: np.ndarray) -> "PCAEncoder":
        """Fit on (N, F) rows."""
        self.mean = flat.mean(0)
        centred = flat - self.mean
        k = min(self.dim, *centred.shape)
        if min(centred.shape) <= 4 * (k + 10):
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
        else:
            rng = np.random.default_rng(self.seed)
            sketch = centred @ rng.standard_normal((centred.shape[1], k + 10))
            for _ in range(2):  # power iterations sharpen the leading subspace
                sketch = centred @ (centred.T @ np.linalg.qr(sketch)[0])
            basis = np.linalg.qr(sketch)[0]
            _, _, vt = np.linalg.svd(basis.T @ centred, full_matrices=False)
        self.components = vt[:k]
        return self

    def transform(self, flat: np.ndarray) -> np.ndarray:
        """Project (N, F) rows to (N, dim)."""
        if self.mean is None or self.components is None:
            raise RuntimeError("PCAEncoder.transform called before fit()")
        return (flat - self.mean) @ self.components.T

    def fit_transform(self, flat: np.ndarray) -> np.ndarray:
        """Fit, then project."""
        return self.fit(flat).transform(flat)


def embed(aligned: np.ndarray, encoder: Encoder | None = None, dim: int = 32) -> np.ndarray:
    """Vectors of aligned sequences (N, L, D): ``encoder`` applied to each, or PCA."""
    if encoder is None:
        return PCAEncoder(dim).fit_transform(aligned.reshape(len(aligned), -1))
    return np.stack([np.asarray(encoder(x), dtype=np.float64).ravel() for x in aligned])


def distance_matrix(
    sequences: Trajectories,
    distance: str = "euclidean",
    length: int = 50,
    encoder: Encoder | None = None,
    embed_dim: int = 32,
    time: str = "absolute",
) -> np.ndarray:
    """Intra-task distance matrix of one task's raw sequences (feature blocks or a list of
    (T_i, D) arrays), aligned on ``time`` (see :mod:`robopref.transfer.alignment`), scaled to [0, 1]."""
    return scale_unit(_distances(aligned_sequences(sequences, length, time), distance, encoder, embed_dim))


def block_distance_matrices(
    sequences: Trajectories,
    distance: str = "euclidean",
    length: int = 50,
    encoder: Encoder | None = None,
    embed_dim: int = 32,
    time: str = "absolute",
) -> list[np.ndarray]:
    """One intra-task distance matrix per feature block (the ``per_block`` geometry of
    :func:`robopref.transfer.plans.gw_entropic_blocks`), each scaled to a standard
    deviation of 1 over its pairs of distinct trajectories, so that every block weighs
    the same in the GW loss. The spread, not the size: with fixed marginals, adding a
    constant to a matrix leaves the GW plan unchanged (Σ C_ik T_ij T_kl = Σ C_ik p_i p_k),
    so only how much a block's distances vary steers the plan. Blocks scaled to an RMS
    entry of 1 (sessions 12–19) let the block with the most varied distances dominate:
    on push2d the action deltas (coefficient of variation 0.3, against 0.12–0.17 for
    states and actions; docs/benchmarks-transfer.md, session 20). A block whose
    distances are all equal carries no geometry and is left unscaled. A plain list of
    arrays is one block."""
    return [scale_spread(_distances(block, distance, encoder, embed_dim)) for block in aligned_blocks(sequences, length, time)]


def spread(matrix: np.ndarray) -> float:
    """Standard deviation of the off-diagonal entries of a square distance matrix, or 1
    when they are all equal or there is a single trajectory (nothing to scale by)."""
    n = len(matrix)
    value = float(matrix[~np.eye(n, dtype=bool)].std()) if n > 1 else 0.0
    return value if value > 1e-12 else 1.0


def scale_spread(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` divided by its :func:`spread` (unchanged when its off-diagonal entries
    are all equal, or when there is a single trajectory)."""
    return matrix / spread(matrix)


def _distances(aligned: np.ndarray, distance: str, encoder: Encoder | None, embed_dim: int) -> np.ndarray:
    """Unscaled ``distance`` matrix of aligned sequences (N, L, D)."""
    if distance not in DISTANCES:
        raise ValueError(f"distance={distance!r}: expected one of {', '.join(DISTANCES)}")
    if distance == "dtw":
        return dtw_matrix(aligned)
    if distance == "euclidean":
        return euclidean_matrix(aligned)
    return pairwise_euclidean(embed(aligned, encoder, embed_dim))
