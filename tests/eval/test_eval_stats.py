"""Confidence intervals against hand-worked examples."""

from __future__ import annotations

import math

import pytest

from robopref.eval.stats import mean_ci, proportion_ci


def test_t_interval_hand_worked():
    # values 1..5: mean 3, s = sqrt(2.5) = 1.58114, t(0.975, 4) = 2.776445
    # half width = 2.776445 * 1.58114 / sqrt(5) = 1.963243
    est = mean_ci([1, 2, 3, 4, 5])
    assert est.mean == 3 and est.n == 5 and est.method == "t"
    assert est.low == pytest.approx(3 - 1.963243, abs=1e-5)
    assert est.high == pytest.approx(3 + 1.963243, abs=1e-5)


def test_t_interval_single_value_has_zero_width():
    est = mean_ci([2.5])
    assert (est.mean, est.low, est.high) == (2.5, 2.5, 2.5)


def test_wilson_interval_hand_worked():
    # 8 of 10, z = 1.959964: centre = (0.8 + z²/20) / (1 + z²/10) = 0.716736
    # half = z * sqrt(0.016 + z²/400) / (1 + z²/10) = 0.226576 -> [0.490160, 0.943312]
    est = proportion_ci([True] * 8 + [False] * 2)
    assert est.mean == pytest.approx(0.8)
    assert est.low == pytest.approx(0.490160, abs=1e-5)
    assert est.high == pytest.approx(0.943312, abs=1e-5)


def test_wilson_interval_at_the_edges_stays_in_unit_range_and_is_not_a_point():
    est = proportion_ci([True] * 6)
    z2 = 1.959964**2
    assert est.high == 1.0
    assert est.low == pytest.approx(6 / (6 + z2), abs=1e-5)  # Wilson lower bound at p = 1: n / (n + z²)
    assert 0 < est.low < 1 and not math.isclose(est.low, est.high)


def test_empty_input_is_an_error():
    with pytest.raises(ValueError):
        mean_ci([])
    with pytest.raises(ValueError):
        proportion_ci([])
