"""Control-loop pieces (fixed rate, stale-action dropping, policy chunks) and the no-torch rule."""

import subprocess
import sys

import numpy as np
import pytest

from robopref.robot.control import ChunkScheduler, PolicyDriver, RateLoop
from robopref.robot.policies import GoalReachPolicy


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0

    def clock(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        self.t += dt


def test_rate_loop_keeps_period_without_drift_and_counts_overruns():
    ft = FakeTime()
    loop = RateLoop(10, clock=ft.clock, sleep=ft.sleep)
    for work in [0.02, 0.05, 0.0, 0.09]:
        ft.t += work
        loop.wait()
    assert ft.t == pytest.approx(0.4) and loop.overruns == 0
    ft.t += 0.25  # a tick that took 2.5 periods
    loop.wait()
    assert loop.overruns == 1 and loop.max_lateness == pytest.approx(0.15)
    start = ft.t
    loop.wait()
    assert ft.t - start == pytest.approx(0.1)  # no burst to catch up


def test_chunk_scheduler_drops_stale_actions():
    s = ChunkScheduler(0.1)
    s.push(np.arange(8)[:, None], t_first=1.0)
    assert s.pop(1.0)[0] == 0
    assert s.pop(1.32)[0] == 3  # actions 1 and 2 were meant for 1.1 and 1.2: stale
    assert s.dropped == 2 and s.executed == 2
    assert s.pop(5.0) is None and s.dropped == 6


def test_policy_driver_compensates_inference_latency():
    ft = FakeTime()

    class SlowChunkPolicy:
        n_obs_steps, n_action_steps = 2, 6

        def __init__(self):
            self.histories = []

        def reset(self, seed=None):
            self.histories.clear()

        def predict_chunk(self, history):
            self.histories.append([h["x"] for h in history])
            ft.t += 0.25  # inference takes 2.5 control periods
            return np.arange(10, dtype=float)[:, None] + 100 * len(self.histories)

    pol = SlowChunkPolicy()
    d = PolicyDriver(pol, 0.1, clock=ft.clock)
    d.reset(seed=0)
    a = d.act({"x": 1}, t_obs=ft.t)
    # the chunk starts at index n_obs_steps - 1 = 1 (for t_obs); 0.25 s later the actions meant for t_obs and
    # t_obs + 0.1 are stale, and the one for t_obs + 0.2 (chunk index 3) is due
    assert a[0] == 100 + 3 and d.scheduler.dropped == 2
    assert pol.histories[0] == [1, 1]  # the first observation repeated to fill the history
    d2 = PolicyDriver(SlowChunkPolicy(), 0.1, latency_compensation=False, clock=ft.clock)
    assert d2.act({"x": 1}, t_obs=ft.t - 1.0)[0] == 101  # without compensation the first action runs late


def test_goal_reach_policy_moves_toward_the_goal_in_bounded_steps():
    pol = GoalReachPolicy(step=0.01, n_obs_steps=2, n_action_steps=4, horizon=8)
    obs = {"ee_pos": np.zeros(3), "task_state": np.concatenate([np.zeros(36), [0.1, 0.0, -0.045]])}
    chunk = pol.predict_chunk([obs, obs])
    assert chunk.shape == (8, 4)
    steps = np.linalg.norm(np.diff(chunk[1:, :3], axis=0), axis=1)
    assert np.all(steps <= 0.01 + 1e-6) and chunk[-1, 0] > chunk[1, 0]
    with pytest.raises(KeyError, match="task_state"):
        pol.act({"ee_pos": np.zeros(3)})


def test_robopref_hardware_never_imports_torch():
    code = (
        "import importlib, pkgutil, sys\n"
        "import robopref_hardware\n"
        "mods = [m.name for m in pkgutil.walk_packages(robopref_hardware.__path__, 'robopref_hardware.')]\n"
        "for m in mods:\n"
        "    importlib.import_module(m)\n"
        "from robopref_hardware.factory import build_robot\n"
        "bad = sorted(k for k in sys.modules if k == 'torch' or k.startswith('torch.') or k.startswith('robopref.'))\n"
        "print(len(mods), bad)\n"
        "sys.exit(1 if bad or len(mods) < 20 else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
