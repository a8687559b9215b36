"""The visual reward benchmark's data designs: which datasets each one collects, and the
statistics that say how the held-out episodes spread over the task and the preference."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from robopref.data import DatasetWriter
from robopref.data.pool import DatasetPool
from robopref.data.sampling import whole_episodes
from tests.data.helpers import ENV_ARGS, make_episode

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_visual_reward.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_visual_reward", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_designs_collect_mixed_noise_by_default_and_keep_the_noise_05_datasets(bench):
    name, overrides = bench.collect_overrides("avoid", "gripper", True, 1, 40, "mixed")
    assert name == "visual_avoid_gripper_al_mixed"
    assert "quality=mixed" in overrides and not any(o.startswith("noise=") for o in overrides)
    assert {"env=push2d_avoid", "aligned=true", "seed=1", "episodes=40"} <= set(overrides)
    name, overrides = bench.collect_overrides("group", "gripper", False, 4, 40, "noise05")
    assert name == "visual_group_gripper_un"  # the cache name of sessions 1-6, so their data is reused
    assert "noise=0.5" in overrides and "aligned=false" in overrides and not any(o.startswith("quality=") for o in overrides)
    with pytest.raises(ValueError, match="unknown data design"):
        bench.collect_overrides("avoid", "gripper", True, 1, 40, "noise0.5")
    assert bench.task_data.__defaults__[-1] == "mixed"


def test_design_stats_reads_success_honour_and_the_parts_of_pref_score(bench, tmp_path):
    # (length, success, violation steps, task reward per step, penalty per violating step)
    episodes = [(4, True, 0, -1.0, 0.0), (5, True, 2, -1.0, 1.0), (6, False, 0, -2.0, 0.0), (6, False, 1, -1.5, 2.0), (7, False, 3, -0.5, 3.0)]
    path = tmp_path / "d.hdf5"
    pref, task = [], []
    with DatasetWriter(path, env_args=ENV_ARGS, mode="w") as w:
        for i, (T, success, bad, reward, penalty) in enumerate(episodes):
            ep = make_episode(T=T, seed=i)
            violation = np.arange(T) < bad
            ep.infos = {"success": np.full(T, success) & (np.arange(T) == T - 1), "violation": violation,
                        "task_reward": np.full(T, reward), "pref_score": np.full(T, reward) - penalty * violation}
            w.add_episode(ep)
            pref.append(ep.infos["pref_score"].sum())
            task.append(ep.infos["task_reward"].sum())
    pool = DatasetPool()
    refs = whole_episodes(pool.get(str(path)))
    stats = bench.design_stats(pool, refs)
    assert stats["episodes"] == 5
    assert stats["success"] == pytest.approx(0.4) and stats["honour"] == pytest.approx(0.4)
    assert stats["success_and_honour"] == pytest.approx(0.2) and stats["neither"] == pytest.approx(0.4)
    pref, task = np.array(pref), np.array(task)
    assert stats["rho_pref_task"] == pytest.approx(spearmanr(pref, task)[0])
    assert stats["rho_pref_minus_penalty"] == pytest.approx(spearmanr(pref, pref - task)[0])
    assert stats["rho_pref_minus_penalty"] > 0  # minus the penalty, not the penalty
    assert stats["rho_pref_minus_length"] == pytest.approx(spearmanr(pref, -np.array([e[0] for e in episodes]))[0])

    class Returns:  # a reward whose learned return is minus the penalty: all preference, no task
        def returns(self, pool, refs):
            return pref - task

    parts = bench.part_correlations(Returns(), pool, refs)
    assert parts["spearman_minus_penalty"] == pytest.approx(1.0)
    assert parts["spearman_task"] == pytest.approx(spearmanr(pref - task, task)[0])
