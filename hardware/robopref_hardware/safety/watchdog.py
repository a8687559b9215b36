"""Stop the arm when commands stop arriving (a crashed client, a hung policy, a pulled cable).

The server feeds the watchdog on every motion command and calls :meth:`Watchdog.poll`
on every loop turn (the loop wakes at least every ``timeout/4``), so the arm is stopped
at most ``timeout + timeout/4`` after the last command. It fires once per stall and
re-arms on the next command: an idle, stopped arm is not stopped over and over.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

log = logging.getLogger(__name__)


class Watchdog:
    """Calls ``on_timeout`` when ``timeout_s`` passes without :meth:`feed`."""

    def __init__(self, timeout_s: float, on_timeout: Callable[[], None], clock: Callable[[], float] = time.monotonic) -> None:
        if timeout_s <= 0:
            raise ValueError(f"watchdog timeout must be positive, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self.on_timeout = on_timeout
        self.clock = clock
        self._last: float | None = None
        self.fired = 0
        self.last_fired_at: float | None = None

    @property
    def poll_interval(self) -> float:
        """How often the owner should call :meth:`poll`."""
        return self.timeout_s / 4

    def feed(self) -> None:
        self._last = self.clock()

    def disarm(self) -> None:
        self._last = None

    def poll(self) -> bool:
        """Fire if the last feed is too old; True when it fired now."""
        if self._last is None:
            return False
        now = self.clock()
        if now - self._last <= self.timeout_s:
            return False
        stalled = now - self._last
        self._last = None
        self.fired += 1
        self.last_fired_at = now
        log.warning("watchdog: no command for %.3f s (timeout %.3f s): stopping the arm", stalled, self.timeout_s)
        self.on_timeout()
        return True
