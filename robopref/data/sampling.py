"""Samplers of segment references over a dataset (the "fragmenter" of preference learning)."""

from __future__ import annotations

import zlib
from typing import Iterator, Sequence

import numpy as np

from robopref.data.dataset import Dataset
from robopref.data.segments import SegmentRef


def _eligible(lengths: dict[str, int], length: int, dataset: str) -> list[str]:
    demos = [d for d, n in lengths.items() if n >= length]
    if not demos:
        longest = max(lengths.values(), default=0)
        raise ValueError(f"{dataset}: no demo has at least {length} steps (longest has {longest}); use a shorter segment length")
    return demos


def sample_segments(
    dataset: Dataset, length: int, n: int, rng: np.random.Generator, demos: Sequence[str] | None = None
) -> list[SegmentRef]:
    """``n`` segments of ``length`` steps, demo chosen with probability proportional to its
    number of valid start positions (so every window is equally likely), start uniform."""
    lengths = {d: dataset.num_samples(d) for d in (demos if demos is not None else dataset.demos)}
    eligible = _eligible(lengths, length, dataset.path)
    starts = np.array([lengths[d] - length + 1 for d in eligible], dtype=np.float64)
    picks = rng.choice(len(eligible), size=n, p=starts / starts.sum())
    return [SegmentRef(dataset.path, eligible[i], int(rng.integers(0, starts[i])), length) for i in picks]


def iter_windows(dataset: Dataset, length: int, stride: int | None = None, demos: Sequence[str] | None = None) -> Iterator[SegmentRef]:
    """Every window of ``length`` steps with the given stride (default: non-overlapping)."""
    stride = stride or length
    for d in demos if demos is not None else dataset.demos:
        n = dataset.num_samples(d)
        for start in range(0, n - length + 1, stride):
            yield SegmentRef(dataset.path, d, start, length)


def whole_episodes(dataset: Dataset, demos: Sequence[str] | None = None) -> list[SegmentRef]:
    """One segment per demo covering the whole episode (trajectory-level queries)."""
    return [SegmentRef(dataset.path, d, 0, dataset.num_samples(d)) for d in (demos if demos is not None else dataset.demos)]


def sample_pairs(segments: Sequence[SegmentRef], n: int, rng: np.random.Generator, k: int = 2) -> list[tuple[SegmentRef, ...]]:
    """``n`` tuples of ``k`` distinct segments drawn uniformly (pairs, or triplets with k=3).
    Repeated references in ``segments`` count once."""
    segments = list(dict.fromkeys(segments))
    if len(segments) < k:
        raise ValueError(f"need at least {k} distinct segments to form queries of size {k}, got {len(segments)}")
    return [tuple(segments[i] for i in rng.choice(len(segments), size=k, replace=False)) for _ in range(n)]


def check_holdout(fraction: float) -> float:
    """``fraction`` if it is a valid ``holdout`` (share of episodes never queried), else a clear error."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout={fraction}: expected the fraction of episodes never queried, in [0, 1)")
    return fraction


def held_out_demos(dataset: Dataset, fraction: float) -> list[str]:
    """The ⌈``fraction`` × episodes⌉ demos of ``dataset`` kept away from labelling, so that a
    reward can be scored on episodes no label saw (``robopref label holdout=``).

    The choice depends only on the demo names (ranked by CRC-32), not on a seed or the
    demos' order, so every ``label`` run on the dataset keeps the same ones out, and it
    does not follow the order episodes were collected in (``quality=mixed`` collects by
    noise level)."""
    demos = list(dataset.demos)
    count = int(np.ceil(check_holdout(fraction) * len(demos)))
    return sorted(demos, key=lambda d: (zlib.crc32(d.encode()), d))[:count]
