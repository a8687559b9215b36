"""Quality schedules of `robopref collect` (robopref/rollout/quality.py)."""

from __future__ import annotations

import pytest

from robopref.rollout.quality import EpisodePlan, plan_episodes


def test_expert_uses_the_configured_noise():
    assert plan_episodes("expert", 3, noise=0.2) == [EpisodePlan(0.2)] * 3


def test_mixed_cycles_levels_from_expert_to_near_random():
    plans = plan_episodes("mixed", 7, mixed_noise=[0.0, 0.5, 1.0])
    assert [p.noise for p in plans] == [0.0, 0.5, 1.0, 0.0, 0.5, 1.0, 0.0]
    assert all(p.operator is None for p in plans)


def test_mh_splits_into_contiguous_operator_blocks():
    plans = plan_episodes("mh", 8)
    assert [p.operator for p in plans] == ["better"] * 3 + ["okay"] * 3 + ["worse"] * 2
    assert [p.noise for p in plans[::3]] == [0.05, 0.3, 0.6]


def test_bad_settings_are_errors():
    with pytest.raises(ValueError):
        plan_episodes("great", 3)
    with pytest.raises(ValueError, match="mixed_noise"):
        plan_episodes("mixed", 3, mixed_noise=[])
