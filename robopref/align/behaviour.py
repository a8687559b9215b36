"""Score episodes by the behaviour that produced them, not only by how each one turned out.

Reward-filtered fine-tuning imitates the episodes a learned reward ranks highest, but
behaviour cloning reproduces behaviours, not outcomes. When an expert's behaviour
honours the person's preference only sometimes (push2d group: the expert that pushes one
block after the other keeps the blocks together in about a quarter of its episodes),
its lucky episodes rank as high as those of the expert that always honours it, and a
policy that imitates them learns the risky behaviour and breaks the preference in the
states it reaches itself (docs/benchmarks-alignment.md, session 14).

The expected outcome of a behaviour is estimated here by averaging each episode's learned
return with that of its ``k`` nearest episodes in action-sequence space (a k-nearest-
neighbour regression of return on behaviour): a lucky episode sits among its behaviour's
unlucky ones and its score drops; an episode of a behaviour that reliably honours the
preference keeps its score. Actions are z-scored per dimension over all steps and each
episode is stretched to a common number of steps (normalised time), so that episodes
are compared by what the policy did over the course of the task rather than by their
length, which the learned return already sees.

One average looks only at an episode's immediate neighbourhood, and a lucky episode's
nearest neighbours are often other lucky episodes of the same behaviour. Averaging
``hops`` times spreads each score along the neighbour graph (label propagation on the
k-NN graph, as in Zhou et al. 2004), so that it reflects the whole cluster of alike
behaviour rather than one corner of it: on push2d group's demos the kept third's share
of the expert that reliably keeps the blocks together rose from 0.71 at k = 20, one hop
to 0.83 at k = 10, four hops (seeds 0-4; docs/benchmarks-alignment.md, session 15). Too
many hops blur across behaviours: on a connected graph every score tends to the same
mean (at k = 20, eight hops turned one seed's kept third to the other expert).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from robopref.data.pool import DatasetPool
from robopref.data.segments import SegmentRef

BEHAVIOUR_LENGTH = 50  # steps every episode's action sequence is stretched to
_CHUNK = 1024  # rows of the distance matrix computed at once: memory stays O(chunk × N)


def behaviour_vectors(pool: DatasetPool, refs: Sequence[SegmentRef], length: int = BEHAVIOUR_LENGTH) -> np.ndarray:
    """(N, length × action_dim): each episode's z-scored actions over normalised time, flattened.

    The trajectory reading and alignment are robopref.transfer's (the same per-feature
    z-scoring and resampling its GW distances use); imported here because that package
    loads POT, which filtered fine-tuning without ``neighbours`` never needs.
    """
    from robopref.transfer.alignment import aligned_sequences
    from robopref.transfer.pipeline import read_sequences

    aligned = aligned_sequences(read_sequences(pool, refs, features="actions"), length, time="normalised")
    return aligned.reshape(len(aligned), -1)


def nearest_neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    """(N, min(k, N − 1)) indices of each row's nearest other rows by Euclidean distance, nearest first."""
    from robopref.transfer.distances import pairwise_euclidean  # with robopref.transfer, POT (see behaviour_vectors)

    n = len(vectors)
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((n, 0), dtype=np.int64)
    x = np.asarray(vectors, dtype=np.float64)
    out = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, _CHUNK):
        rows = slice(start, min(start + _CHUNK, n))
        d = pairwise_euclidean(x[rows], x)
        d[np.arange(d.shape[0]), np.arange(start, rows.stop)] = np.inf  # not its own neighbour
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1, kind="stable")
        out[rows] = np.take_along_axis(part, order, axis=1)
    return out


def neighbour_mean(values: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Each value averaged with its neighbours' (itself counted once)."""
    values = np.asarray(values, dtype=np.float64)
    if neighbours.shape[1] == 0:
        return values.copy()
    return (values + values[neighbours].sum(axis=1)) / (1 + neighbours.shape[1])


def propagate(values: np.ndarray, neighbours: np.ndarray, hops: int) -> np.ndarray:
    """``values`` after ``hops`` rounds of :func:`neighbour_mean` (0 hops: a copy)."""
    if hops < 0:
        raise ValueError(f"hops={hops}: expected >= 0 rounds of neighbour averaging")
    out = np.asarray(values, dtype=np.float64).copy()
    for _ in range(hops):
        out = neighbour_mean(out, neighbours)
    return out


def behaviour_scores(returns: np.ndarray, pool: DatasetPool, refs: Sequence[SegmentRef], k: int, hops: int = 1) -> np.ndarray:
    """``returns`` of the episodes ``refs`` averaged ``hops`` times over each episode's ``k`` nearest behaviours.

    k = 0 or hops = 0 leaves them unchanged (and reads no actions).
    """
    if k < 0:
        raise ValueError(f"k={k}: expected >= 0 neighbours")
    if hops < 0:
        raise ValueError(f"hops={hops}: expected >= 0 rounds of neighbour averaging")
    if k == 0 or hops == 0:
        return np.asarray(returns, dtype=np.float64).copy()
    return propagate(returns, nearest_neighbours(behaviour_vectors(pool, refs), k), hops)
