"""PEARL's label transfer rule on a (sparse) Gromov–Wasserstein plan.

Source pair labels z_ik = P(x_i ≻ x_k) are spread to target pairs through the plan T
(source rows, target columns):

    ẑ_jl = Σ_(i,k)∈W T_ij T_kl z_ik / Σ_(i,k)∈W T_ij T_kl = (Tᵀ Z T)_jl / (Tᵀ W T)_jl

over the labelled set W. Pair labels are antisymmetric, so W is symmetrised: a label z_ik
on (i, k) also puts 1 − z_ik on (k, i). Then Z + Zᵀ = W, hence ẑ_lj = 1 − ẑ_jl: the rule
gives the same answer whichever way round a target pair is asked. The diagonal i = k is
not in W: a trajectory is never compared with itself, so the mass a target pair sends to
"both ends on the same source trajectory" carries no label. Several labels on one source
pair are averaged (weighted by their confidence) into one z_ik.

Confidence. The denominator (Tᵀ W T)_jl is the transport mass of the target pair that
lands on labelled source pairs. Its scale is 1/(MN)²-ish and depends on the marginals,
so it is divided by q_j q_l (q = the plan's column sums, the total mass of the pair in
T ⊗ T): confidence = the *fraction* of the pair's transport mass that lands on labelled
source pairs, in [0, 1]. With uniform marginals it is the paper's mass times a constant,
so the ranking is the paper's; a uniform (uninformative) plan gives the density of the
labelled set, |W| / M²; it is 0 when both target trajectories go to the same source
trajectory (they cannot be told apart) or only to unlabelled pairs.

Training labels (:meth:`TransferredLabels.training_labels`). ``soft`` trains on ẑ itself
with weight = confidence, as PEARL does. ``hard`` (the default) trains on the side ẑ picks
(1 or 0) with weight = confidence × |2ẑ − 1|. The entropic plan averages the labels of a
neighbourhood of source pairs, so ẑ is shrunk toward 0.5 by the plan's spread, not only
by real doubt; a Bradley–Terry fit to ẑ is then asked for small return gaps even where the
transferred side is right. Hard labels keep the side and use the margin only as a weight:
on push2d gripper → short stick RRL on them reached 97–104 % of RRL on oracle labels,
against 83–98 % on the soft ẑ (docs/benchmarks-transfer.md, session 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

LABEL_MODES = ("hard", "soft")


def check_label_mode(mode: str) -> str:
    """``mode`` if it is a known training-label mode, else a ValueError naming them."""
    if mode not in LABEL_MODES:
        raise ValueError(f"label_mode={mode!r}: expected one of {', '.join(LABEL_MODES)}")
    return mode


@dataclass
class SourceLabels:
    """Pair labels over source trajectory indices: P(first ≻ second) = ``z`` with weight ``w``."""

    first: np.ndarray
    second: np.ndarray
    z: np.ndarray
    w: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.first = np.asarray(self.first, dtype=np.int64)
        self.second = np.asarray(self.second, dtype=np.int64)
        self.z = np.asarray(self.z, dtype=np.float64)
        self.w = np.ones(len(self.z)) if self.w is None else np.asarray(self.w, dtype=np.float64)
        if not (len(self.first) == len(self.second) == len(self.z) == len(self.w)):
            raise ValueError("SourceLabels: first, second, z and w must have one entry per label")
        if np.any((self.z < 0) | (self.z > 1)) or not np.isfinite(self.z).all():
            raise ValueError("SourceLabels: z must be probabilities in [0, 1]")
        if np.any(self.first == self.second):
            raise ValueError("SourceLabels: a pair label compares two different trajectories (first == second found)")

    def __len__(self) -> int:
        return len(self.z)


def symmetrised(labels: SourceLabels, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, z): each ordered labelled pair once, both orientations (z and 1 − z),
    repeated labels of a pair averaged by weight; never the diagonal."""
    if len(labels) == 0:
        raise ValueError("no source labels to transfer")
    if max(labels.first.max(), labels.second.max()) >= m or min(labels.first.min(), labels.second.min()) < 0:
        raise ValueError(f"source label indices must lie in [0, {m})")
    rows = np.concatenate([labels.first, labels.second])
    cols = np.concatenate([labels.second, labels.first])
    zs = np.concatenate([labels.z, 1.0 - labels.z])
    ws = np.concatenate([labels.w, labels.w])
    keys, inverse = np.unique(rows * m + cols, return_inverse=True)
    total_w = np.bincount(inverse, weights=ws)
    mean_z = np.bincount(inverse, weights=ws * zs) / np.maximum(total_w, 1e-300)
    return keys // m, keys % m, mean_z


def label_matrices(labels: SourceLabels, m: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(Z, W), both (m, m) sparse: W the 0/1 symmetrised labelled mask, Z the averaged
    labels on it, so Z + Zᵀ = W; the diagonal is empty."""
    r, c, z = symmetrised(labels, m)
    return sp.csr_matrix((z, (r, c)), shape=(m, m)), sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(m, m))


@dataclass
class TransferredLabels:
    """Transferred soft labels for target pairs (first[t], second[t])."""

    first: np.ndarray
    second: np.ndarray
    value: np.ndarray  # ẑ: P(first ≻ second); 0.5 where no mass reached a labelled pair
    confidence: np.ndarray  # fraction of the pair's transport mass on labelled source pairs
    mass: np.ndarray  # the raw denominator Σ T_ij T_kl over labelled (i, k)

    def keep(self, min_confidence: float) -> np.ndarray:
        """Boolean mask of the labels whose confidence reaches ``min_confidence`` (and is > 0)."""
        return (self.confidence >= min_confidence) & (self.mass > 0)

    def training_labels(self, mode: str = "hard") -> tuple[np.ndarray, np.ndarray]:
        """(y, w) to train a reward on (see the module doc): ``soft``: y = ẑ, w = confidence;
        ``hard``: y = 1 where ẑ > 0.5, 0 where ẑ < 0.5 (0.5 stays 0.5), w = confidence × |2ẑ − 1|."""
        if check_label_mode(mode) == "soft":
            return self.value.copy(), self.confidence.copy()
        y = np.where(self.value > 0.5, 1.0, np.where(self.value < 0.5, 0.0, 0.5))
        return y, self.confidence * np.abs(2.0 * self.value - 1.0)


def transfer_labels(
    plan: sp.spmatrix | np.ndarray, labels: SourceLabels, first: np.ndarray, second: np.ndarray, chunk: int = 4096
) -> TransferredLabels:
    """ẑ and confidence for the target pairs (first[t], second[t]); see the module doc.

    Works column-pair by column-pair on the sparse plan, so only the requested pairs are
    ever formed (never the N×N matrices Tᵀ Z T and Tᵀ W T).
    """
    t = sp.csc_matrix(plan)
    m, n = t.shape
    first, second = check_pairs(first, second, n)
    z, mask = label_matrices(labels, m)
    zt, wt = (z @ t).tocsc(), (mask @ t).tocsc()
    col_mass = np.asarray(t.sum(0)).ravel()
    num, den = np.zeros(len(first)), np.zeros(len(first))
    for s in range(0, len(first), chunk):
        j, l = first[s : s + chunk], second[s : s + chunk]
        tj = t[:, j]
        num[s : s + chunk] = np.asarray(tj.multiply(zt[:, l]).sum(0)).ravel()
        den[s : s + chunk] = np.asarray(tj.multiply(wt[:, l]).sum(0)).ravel()
    return finish_transfer(first, second, num, den, col_mass[first] * col_mass[second])


def finish_transfer(first: np.ndarray, second: np.ndarray, num: np.ndarray, den: np.ndarray, pair_mass: np.ndarray) -> TransferredLabels:
    """ẑ = num / den and confidence = den / pair mass (the module doc) from the rule's sums
    (Tᵀ Z T)_jl, (Tᵀ W T)_jl and q_j q_l for target pairs (first[t], second[t])."""
    den = np.array(den, dtype=np.float64)
    # a share below 1e-9 is solver round-off (plans carry ~1e-15 residues), not a match
    den[den <= 1e-9 * pair_mass] = 0.0
    value = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.5)
    confidence = np.clip(np.where(pair_mass > 0, den / np.where(pair_mass > 0, pair_mass, 1.0), 0.0), 0.0, 1.0)
    return TransferredLabels(first, second, np.clip(value, 0.0, 1.0), confidence, den)


def check_pairs(first: np.ndarray, second: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Target pair indices as int64 arrays, or a ValueError unless they pair up and lie in [0, n)."""
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    if len(first) != len(second):
        raise ValueError("first and second must list the same number of target pairs")
    if len(first) and (min(first.min(), second.min()) < 0 or max(first.max(), second.max()) >= n):
        raise ValueError(f"target pair indices must lie in [0, {n})")
    return first, second


def all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered target pair (j < l) of ``n`` trajectories."""
    return np.triu_indices(n, 1)
