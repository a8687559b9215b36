"""Baselines from PEARL's ablations: label a target pair from its nearest labelled source pair.

A pair is the concatenation of its two trajectories' feature vectors (normalised,
time-aligned sequences, flattened). The nearest labelled source pair (i, k) of target
pair (j, l) is found by Euclidean distance or by cosine similarity of the concatenated
vectors, over the symmetrised labelled set (label 1 − z on (k, i)); its label is copied.
Both decompose over the two halves, so they need only the M×N cross matrix of the
trajectories, not features of pairs:

    ‖[y_j, y_l] − [x_i, x_k]‖² = D²_ji + D²_lk,
    cos([y_j, y_l], [x_i, x_k]) = (G_ji + G_lk) / (‖[y_j, y_l]‖ ‖[x_i, x_k]‖),  G = Y Xᵀ.

The tasks may have different feature sizes: every step's features are zero-padded to the
larger size first (features are z-scored, so zero is the task's mean). This is the point
of the ablation: direct comparison across tasks is only as good as the two spaces happen
to line up, which GW does not need.
"""

from __future__ import annotations

import numpy as np

from robopref.transfer.distances import pairwise_euclidean
from robopref.transfer.labels import SourceLabels, TransferredLabels, symmetrised

BASELINES = ("nearest_distance", "nearest_cosine")


def pad_features(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad the per-step features of (M, L, Dx) and (N, L, Dy) to a common size; flatten."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"aligned sequences must share their length, got {x.shape[1]} and {y.shape[1]}")
    d = max(x.shape[2], y.shape[2])
    px = np.zeros((*x.shape[:2], d))
    py = np.zeros((*y.shape[:2], d))
    px[:, :, : x.shape[2]], py[:, :, : y.shape[2]] = x, y
    return px.reshape(len(x), -1), py.reshape(len(y), -1)


def nearest_pair_labels(
    x: np.ndarray, y: np.ndarray, labels: SourceLabels, first: np.ndarray, second: np.ndarray,
    method: str = "nearest_distance", cells: int = 8_000_000,
) -> TransferredLabels:
    """Copy the label of the nearest labelled source pair to each target pair.

    ``x`` (M, L, Dx) and ``y`` (N, L, Dy) are aligned normalised sequences. Scores of a
    chunk of target pairs against every ordered source pair are formed by broadcasting
    over a dense (M, M) grid (unlabelled cells masked), ``cells`` scores at a time: O(pairs
    × M²) work, fine for hundreds to a few thousand source trajectories. Confidence is 1:
    the baselines have no notion of it.
    """
    if method not in BASELINES:
        raise ValueError(f"baseline method={method!r}: expected one of {', '.join(BASELINES)}")
    fx, fy = pad_features(x, y)
    m = len(fx)
    si, sk, sz = symmetrised(labels, m)  # labelled pairs, both orientations
    z = np.full((m, m), 0.5)
    z[si, sk] = sz
    unlabelled = np.ones((m, m), dtype=bool)
    unlabelled[si, sk] = False
    if method == "nearest_distance":
        score = -pairwise_euclidean(fy, fx) ** 2  # (N, M): higher is nearer
        pair_norm = np.ones((m, m))
    else:
        score = fy @ fx.T
        nx = (fx * fx).sum(1)
        pair_norm = np.sqrt(np.maximum(nx[:, None] + nx[None, :], 1e-12))  # target norms are constant per pair
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    value = np.empty(len(first))
    chunk = max(1, cells // (m * m))
    for s in range(0, len(first), chunk):
        j, l = first[s : s + chunk], second[s : s + chunk]
        grid = (score[j][:, :, None] + score[l][:, None, :]) / pair_norm  # (c, M, M) over ordered (i, k)
        grid[:, unlabelled] = -np.inf
        best = grid.reshape(len(j), -1).argmax(1)
        value[s : s + chunk] = z.ravel()[best]
    ones = np.ones(len(first))
    return TransferredLabels(first, second, value, ones, ones)
