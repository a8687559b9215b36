"""The emergency stop: a latch. Once pressed, every command is refused until a person releases it.

It is reachable from the client (``RobotClient.estop()``, which the record and rollout
loops bind to a key) and from the server's own terminal (:class:`StdinEStop`: press
Enter where ``robopref-robot serve`` runs). Releasing is a separate, explicit call, so a
stop can never be undone by a stray command.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Callable, TextIO

log = logging.getLogger(__name__)


class EStop:
    """Thread-safe latched emergency stop; ``on_latch`` callbacks stop the hardware."""

    def __init__(self) -> None:
        self._latched = threading.Event()
        self._lock = threading.Lock()
        self.reason = ""
        self.source = ""
        self.latched_at: float | None = None
        self.count = 0
        self._callbacks: list[Callable[[], None]] = []

    @property
    def latched(self) -> bool:
        return self._latched.is_set()

    def on_latch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (e.g. ``arm.stop``) every time the stop latches."""
        self._callbacks.append(callback)

    def latch(self, reason: str = "emergency stop", source: str = "unknown") -> None:
        with self._lock:
            self.reason, self.source, self.latched_at = reason, source, time.time()
            self.count += 1
            self._latched.set()
        log.critical("EMERGENCY STOP from %s: %s", source, reason)
        for cb in self._callbacks:
            try:
                cb()
            except Exception:  # every callback must run even if one fails
                log.exception("emergency-stop callback %r failed", cb)

    def release(self, source: str = "unknown") -> None:
        with self._lock:
            was = self._latched.is_set()
            self._latched.clear()
        if was:
            log.warning("emergency stop released by %s", source)


class StdinEStop:
    """Latch ``estop`` when a line is typed in the server's terminal (Enter is enough)."""

    def __init__(self, estop: EStop, stream: TextIO | None = None) -> None:
        self.estop = estop
        self.stream = stream if stream is not None else sys.stdin
        self._thread = threading.Thread(target=self._run, name="stdin-estop", daemon=True)

    def start(self) -> "StdinEStop":
        self._thread.start()
        return self

    def _run(self) -> None:
        for line in self.stream:
            if line.strip().lower() in ("r", "release"):
                self.estop.release(source="server terminal")
            else:
                self.estop.latch("Enter pressed in the server terminal", source="server terminal")
