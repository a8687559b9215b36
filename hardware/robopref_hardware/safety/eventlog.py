"""Log safety events without letting the log slow the control path.

A policy that pushes against a limit produces a clamp on every command; writing each
one to the server's log file costs more than the command itself. The first event of a
kind (say ``clamp step``) is logged at once; repeats within ``window_s`` are counted and
written as one summary line when the window ends. Emergency stops and the first refusal
of each reason are never delayed. Every event is still counted by the guard and kept in
its recent-events buffer.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable


class RateLimitedEventLog:
    def __init__(self, logger: logging.Logger, window_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.window_s = float(window_s)
        self.clock = clock
        self._window_start: float | None = None
        self._seen: set[tuple[str, str]] = set()
        self._repeats: Counter[tuple[str, str]] = Counter()

    def log(self, level: int, what: str, violations: str, message: str) -> None:
        now = self.clock()
        if self._window_start is None or now - self._window_start >= self.window_s:
            self.flush()
            self._window_start = now
        key = (what, violations)
        if what == "estop" or key not in self._seen:
            self._seen.add(key)
            self.logger.log(level, "%s %s: %s", what, violations, message)
        else:
            self._repeats[key] += 1

    def flush(self) -> None:
        """Write the summary of the repeats of the window that ends now."""
        if self._repeats:
            parts = ", ".join(f"{what} {v or '-'} ×{n}" for (what, v), n in self._repeats.most_common())
            self.logger.warning("safety events repeated in the last %.1f s: %s", self.window_s, parts)
        self._repeats.clear()
        self._seen.clear()
