"""Group commit: answers that arrive together are written in one transaction.

A durable SQLite commit costs one fsync (5-8 ms on the development machine's disk), and
writers take turns, so ten people answering at the same moment would each wait for up
to nine fsyncs. Instead one writer thread takes every answer that is waiting, writes
each inside its own savepoint (a bad answer is rolled back alone), and commits them
all with one fsync. Each request gets its result only after that commit, so a
``201`` still means "on disk" (``synchronous=FULL``), never "in a buffer".
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable, TypeVar

from robopref.prefs import PreferenceStore

T = TypeVar("T")
MAX_GROUP = 64  # answers per transaction at most: keeps one commit short
WAIT_S = 60.0  # a request gives up waiting for its commit after this long


class GroupWriter:
    """Runs write functions on one thread, committing the ones that queue up together."""

    def __init__(self, store: PreferenceStore) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[tuple[Callable[[PreferenceStore], object], Future] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="answer-writer", daemon=True)
        self._thread.start()

    def write(self, fn: Callable[[PreferenceStore], T]) -> T:
        """Run ``fn(store)`` in a write transaction shared with concurrent writes; return
        its result once committed, or raise what it raised (its writes rolled back)."""
        if not self._thread.is_alive():
            raise RuntimeError("the answer writer has stopped")
        done: Future = Future()
        self._queue.put((fn, done))
        return done.result(timeout=WAIT_S)

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=WAIT_S)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[tuple[Callable[[PreferenceStore], object], Future]]) -> None:
        outcomes: list[tuple[Future, object, BaseException | None]] = []
        try:
            with self.store.batch():
                for fn, done in group:
                    try:
                        with self.store.batch():  # a savepoint: a failing answer is undone alone
                            outcomes.append((done, fn(self.store), None))
                    except Exception as err:
                        outcomes.append((done, None, err))
        except Exception as err:  # the commit itself failed: nothing of the group is stored
            for _, done in group:
                done.set_exception(err)
            return
        for done, result, err in outcomes:
            if err is None:
                done.set_result(result)
            else:
                done.set_exception(err)
