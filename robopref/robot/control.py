"""Fixed-rate control and action-chunk scheduling with latency compensation.

:class:`RateLoop` keeps a control period (default 10 Hz) without drift and counts
overruns. :class:`ChunkScheduler` gives each action of a chunk the time it was planned
for (the observation's time plus k periods): when inference takes longer than a
period, the actions whose time has passed are stale and dropped instead of executed
late, so the arm does what the policy meant for *now* (diffusion_policy's real-robot
eval does the same with its action timestamps). :class:`PolicyDriver` keeps the
observation history a policy wants and uses chunks when the policy offers them.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, Mapping

import numpy as np


class RateLoop:
    """``for _ in loop`` style pacing: call :meth:`wait` at the end of every tick."""

    def __init__(self, hz: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if hz <= 0:
            raise ValueError(f"control rate must be positive, got {hz}")
        self.period = 1.0 / float(hz)
        self.clock, self.sleep = clock, sleep
        self.next_t = clock() + self.period
        self.ticks = 0
        self.overruns = 0
        self.max_lateness = 0.0

    def wait(self) -> None:
        """Sleep until the next tick; a late tick starts the schedule afresh (no burst to catch up)."""
        self.ticks += 1
        now = self.clock()
        delay = self.next_t - now
        if delay > 0:
            self.sleep(delay)
            self.next_t += self.period
        else:
            self.overruns += 1
            self.max_lateness = max(self.max_lateness, -delay)
            self.next_t = now + self.period

    def restart(self) -> None:
        self.next_t = self.clock() + self.period


class ChunkScheduler:
    """Timestamped action queue: ``push`` a chunk, ``pop(now)`` the action due now."""

    def __init__(self, period: float) -> None:
        self.period = float(period)
        self._q: deque[tuple[float, np.ndarray]] = deque()
        self.dropped = 0
        self.executed = 0

    def __len__(self) -> int:
        return len(self._q)

    def clear(self) -> None:
        self._q.clear()

    def push(self, actions: np.ndarray, t_first: float) -> None:
        """Schedule ``actions[k]`` for ``t_first + k·period`` (``t_first``: when the observation was taken)."""
        self._q.clear()
        for k, a in enumerate(np.asarray(actions)):
            self._q.append((t_first + k * self.period, np.asarray(a)))

    def pop(self, now: float) -> np.ndarray | None:
        """The action for ``now``; those meant for earlier ticks are dropped (counted in ``dropped``)."""
        while self._q and self._q[0][0] < now - self.period / 2:
            self._q.popleft()
            self.dropped += 1
        if not self._q:
            return None
        self.executed += 1
        return self._q.popleft()[1]


class PolicyDriver:
    """Run a ``reset``/``act`` policy in a real-time loop.

    Policies with ``predict_chunk(history)`` and ``n_obs_steps``/``n_action_steps``
    (robopref's DiffusionRolloutPolicy) are run chunk-wise with latency compensation;
    any other policy is asked for one action per tick.
    """

    def __init__(self, policy: Any, period: float, latency_compensation: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.latency_compensation = bool(latency_compensation)
        self.chunked = hasattr(policy, "predict_chunk") and hasattr(policy, "n_obs_steps")
        self.n_obs_steps = int(getattr(policy, "n_obs_steps", 1))
        self.n_action_steps = int(getattr(policy, "n_action_steps", 1))
        self.scheduler = ChunkScheduler(period)
        self._history: deque[Mapping[str, np.ndarray]] = deque(maxlen=self.n_obs_steps)
        self.inference_s: list[float] = []

    def reset(self, seed: int | None = None) -> None:
        self.policy.reset(seed=seed)
        self._history.clear()
        self.scheduler.clear()

    def act(self, obs: Mapping[str, np.ndarray], t_obs: float) -> np.ndarray:
        """The action for the current tick, given the observation taken at ``t_obs`` (monotonic clock)."""
        if not self.chunked:
            t0 = self.clock()
            a = np.asarray(self.policy.act(obs))
            self.inference_s.append(self.clock() - t0)
            return a
        self._history.append(obs)
        while len(self._history) < self.n_obs_steps:
            self._history.appendleft(self._history[0])  # episode start: repeat the first observation
        a = self.scheduler.pop(self.clock())
        if a is not None:
            return a
        t0 = self.clock()
        chunk = np.asarray(self.policy.predict_chunk(list(self._history)))
        self.inference_s.append(self.clock() - t0)
        start = self.n_obs_steps - 1
        actions = chunk[start : start + self.n_action_steps]
        self.scheduler.push(actions, t_first=t_obs if self.latency_compensation else self.clock())
        a = self.scheduler.pop(self.clock())
        if a is None:  # inference took longer than the whole chunk: take its last action rather than nothing
            a = actions[-1]
        return a
