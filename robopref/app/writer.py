"""Group commit: answers that arrive together are written in one transaction.

A durable SQLite commit costs one fsync (5-8 ms on the development machine's disk), and
writers take turns, so ten people answering at the same moment would each wait for up
to nine fsyncs. Instead one writer thread takes every answer that is waiting, writes
each inside its own savepoint (a bad answer is rolled back alone), and commits them
all with one fsync. Each request gets its result only after that commit, so a
``201`` still means "on disk" (``synchronous=FULL``), never "in a buffer".

A write function returns its result and the label row it added (or ``None``). The
writer tells a :class:`Listener` (the server's answer index) how many rows are about to
be committed, and after the commit which ones, still on the writer thread, so the index
is current before any request learns of its answer and never mistakes this server's
own rows for another writer's.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Callable, Optional, Protocol, TypeVar

from robopref.prefs import Label, PreferenceStore

T = TypeVar("T")
MAX_GROUP = 64  # answers per transaction at most: keeps one commit short
WAIT_S = 60.0  # a request gives up waiting for its commit after this long

WriteFn = Callable[[PreferenceStore], tuple[T, Optional[Label]]]
"""Writes in the open transaction; returns its result and the label row it added, if any."""
_Job = tuple[Callable[[PreferenceStore], tuple[object, Optional[Label]]], Future]
_Outcome = tuple[object, Optional[Label], Optional[Exception]]  # result, added label, failure


class Listener(Protocol):
    """What learns of the rows the writer commits (see :class:`~robopref.app.index.HumanAnswers`)."""

    def expect(self, rows: int) -> None:
        """``rows`` new label rows are about to be committed."""

    def record(self, label: Label) -> None:
        """``label`` was committed."""

    def lost(self) -> None:
        """A commit failed: the announced rows may or may not be stored."""


class GroupWriter:
    """Runs write functions on one thread, committing the ones that queue up together."""

    def __init__(self, store: PreferenceStore, listener: Listener) -> None:
        self.store = store
        self.listener = listener
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="answer-writer", daemon=True)
        self._thread.start()

    async def write(self, fn: WriteFn[T]) -> T:
        """Run ``fn(store)`` in a write transaction shared with concurrent writes; return
        its result once committed (and its label recorded by the listener), or raise
        what it raised (its writes rolled back).

        Awaited on the event loop: a request waiting for its commit holds no thread.
        Cancelled before the writer took it, ``fn`` never runs; after, it completes.
        """
        if not self._thread.is_alive():
            raise RuntimeError("the answer writer has stopped")
        done: Future = Future()
        self._queue.put((fn, done))
        return await asyncio.wait_for(asyncio.wrap_future(done), WAIT_S)

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
            # a job whose caller gave up before now is dropped; the rest can no longer be cancelled
            group = [job for job in group if job[1].set_running_or_notify_cancel()]
            if group:
                self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Job]) -> None:
        """Write the group in one transaction; tell the listener, then every job's
        caller, once it is committed."""
        try:
            with self.store.batch():
                outcomes = [self._attempt(fn) for fn, _ in group]
                added = [label for _, label, failure in outcomes if label is not None and failure is None]
                self.listener.expect(len(added))
        except Exception as err:  # the commit itself failed: nothing of the group is stored
            self.listener.lost()
            for _, done in group:
                done.set_exception(err)
            return
        for label in added:
            self.listener.record(label)
        for (_, done), (result, _, failure) in zip(group, outcomes):
            if failure is None:
                done.set_result(result)
            else:
                done.set_exception(failure)

    def _attempt(self, fn: Callable[[PreferenceStore], tuple[object, Optional[Label]]]) -> _Outcome:
        """Run one job in a savepoint, so that a failing answer is undone alone."""
        try:
            with self.store.batch():
                result, label = fn(self.store)
        except Exception as err:
            return None, None, err
        return result, label, None
