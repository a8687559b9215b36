"""Few-shot helpers: plan choice by agreement, label weighting and merging."""

from __future__ import annotations

import numpy as np
import pytest

from robopref.data import SegmentRef
from robopref.rewards import Comparison
from robopref.transfer.fewshot import agreement, merge_comparisons, pick_by_agreement, transferred_confidence_scale
from robopref.transfer.labels import TransferredLabels


def _labels(values) -> TransferredLabels:
    v = np.asarray(values, dtype=float)
    return TransferredLabels(np.arange(len(v)), np.arange(len(v)) + 1, v, np.ones(len(v)), np.ones(len(v)))


def test_agreement_and_pick():
    z = np.array([1.0, 0.0, 1.0, 0.5])  # the tie is ignored
    good, mirror, unsure = _labels([0.9, 0.2, 0.7, 0.1]), _labels([0.1, 0.8, 0.3, 0.9]), _labels([0.5, 0.5, 0.5, 0.5])
    assert agreement(good, z) == 1.0 and agreement(mirror, z) == 0.0 and agreement(unsure, z) == 0.5
    assert pick_by_agreement([mirror, unsure, good], z) == 2
    # equal agreement: the lower GW loss wins
    assert pick_by_agreement([good, good], z, losses=[0.3, 0.1]) == 1


def test_merge_weighs_real_labels_and_drops_transferred_duplicates():
    a, b, c = (SegmentRef("t.hdf5", f"demo_{i}", 0, 10) for i in range(3))
    transferred = [Comparison(a, b, 0.8, 0.9), Comparison(b, c, 0.3, 0.5)]
    real = [Comparison(b, a, 0.0, 1.0)]  # same pair as the first transferred one, other order
    merged = merge_comparisons(transferred, real, target_weight=4.0)
    assert [(m.first, m.second, m.y, m.w) for m in merged] == [(b, a, 0.0, 4.0), (b, c, 0.3, 0.5)]
    assert transferred_confidence_scale(4.0) == 0.25
    with pytest.raises(ValueError, match="target_weight"):
        transferred_confidence_scale(0.5)
