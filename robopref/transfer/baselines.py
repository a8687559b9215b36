"""Baselines from PEARL's ablations: label a target pair from its nearest labelled source pair.

A pair is the concatenation of its two trajectories' feature vectors (normalised,
time-aligned sequences, flattened). The nearest labelled source pair (i, k) of target
pair (j, l) is found by Euclidean distance or by cosine similarity of the concatenated
vectors, over the symmetrised labelled set (label 1 − z on (k, i)); its label is copied.
Both decompose over the two halves, so they need only the M×N cross matrix of the
trajectories, not a matrix over pairs:

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
    method: str = "nearest_distance", chunk: int = 512,
) -> TransferredLabels:
    """Copy the label of the nearest labelled source pair to each target pair.

    ``x`` (M, L, Dx) and ``y`` (N, L, Dy) are aligned normalised sequences. Confidence is 1:
    the baselines have no notion of it.
    """
    if method not in BASELINES:
        raise ValueError(f"baseline method={method!r}: expected one of {', '.join(BASELINES)}")
    fx, fy = pad_features(x, y)
    si, sk, sz = symmetrised(labels, len(fx))  # labelled pairs, both orientations
    if method == "nearest_distance":
        d2 = pairwise_euclidean(fy, fx) ** 2  # (N, M)
    else:
        gram = fy @ fx.T
        nx, ny = (fx * fx).sum(1), (fy * fy).sum(1)
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    value = np.empty(len(first))
    for s in range(0, len(first), chunk):
        j, l = first[s : s + chunk], second[s : s + chunk]
        if method == "nearest_distance":
            best = np.argmin(d2[j][:, si] + d2[l][:, sk], axis=1)
        else:
            norms = np.sqrt(ny[j] + ny[l])[:, None] * np.sqrt(nx[si] + nx[sk])[None, :]
            best = np.argmax((gram[j][:, si] + gram[l][:, sk]) / np.maximum(norms, 1e-12), axis=1)
        value[s : s + chunk] = sz[best]
    ones = np.ones(len(first))
    return TransferredLabels(first, second, value, ones, ones)
