"""Group commit on SQLite: concurrent writes of one process share one write transaction.

SQLite has one writer. Under load every payment creation took the write lock, began,
committed and handed the lock on by itself, and the lock was the platform's limit (bench
payments: ~75 % busy). Here the first request to arrive leads: while it waits for the
lock, the requests that arrive after it queue behind it; once it holds the lock it runs
every queued piece of work in one transaction, each in its own savepoint, and commits
once. A piece of work that raises has its savepoint rolled back (its writes undone, the
others' kept) and its caller gets the exception; the others' callers get their results
only once the shared commit has succeeded, and if the commit fails every caller in the
batch gets that error (nothing of the batch was committed). Nobody waits for a timer: a
request that finds no leader leads at once, so without contention this is a plain
transaction.

Only SQLite: on PostgreSQL writers of different rows do not queue, and one transaction
holding the row locks of many wallets could deadlock with another holding them in
another order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from corridor.platform.adapters.db import SqlUnitOfWork
from corridor.platform.services.ports import UnitOfWork

T = TypeVar("T")
BATCH_MAX = 64  # pieces of work in one transaction (bounds the time the lock is held)


class _Item:
    __slots__ = ("done", "error", "promoted", "result", "work")

    def __init__(self, work: Callable[[UnitOfWork], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.promoted = False  # woken to lead the next batch, not with its outcome
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommitter:
    """Runs `work(uow)` in a write transaction it may share with other threads' work (see
    the module's docstring). `work` must not commit."""

    def __init__(self, new_uow: Callable[[], SqlUnitOfWork], batch_max: int = BATCH_MAX) -> None:
        assert batch_max >= 1
        self._new_uow = new_uow
        self._batch_max = batch_max
        self._lock = threading.Lock()
        self._queue: list[_Item] = []
        self._leading = False
        self.batches = 0  # transactions committed or attempted (tests and diagnostics)

    def queued(self) -> int:
        """Pieces of work waiting for a transaction (the one being led included)."""
        with self._lock:
            return len(self._queue)

    def run(self, work: Callable[[UnitOfWork], T]) -> T:
        item = _Item(work)
        with self._lock:
            self._queue.append(item)
            lead = not self._leading
            self._leading = True
        if not lead:
            item.done.wait()
            lead = item.promoted
        if lead:
            self._lead()
            assert item.done.is_set() and not item.promoted
        if item.error is not None:
            raise item.error
        result: T = item.result
        return result

    def _lead(self) -> None:
        """Runs one batch (this thread's own item is at the queue's head), then hands the
        lead to the next waiting item, if any."""
        batch: list[_Item] = []
        try:
            with self._new_uow() as uow:
                # The lock is held from here: whatever queued while we waited joins.
                with self._lock:
                    batch = self._queue[:self._batch_max]
                    del self._queue[:len(batch)]
                for item in batch:
                    try:
                        with uow.savepoint():
                            item.result = item.work(uow)
                    except Exception as exc:  # this item's failure only: its caller's to see
                        if not uow.in_transaction():
                            # SQLite rolled the whole transaction back (a full disk, an I/O
                            # error): the items before this one are lost too.
                            raise
                        item.error = exc
                self.batches += 1
                uow.commit()
        except BaseException as exc:  # nothing of the batch committed
            for item in batch:
                item.error, item.result = exc, None
            if not batch:  # the lock was not had: this thread's own item fails with it
                with self._lock:
                    batch = self._queue[:1]
                    del self._queue[:1]
                for item in batch:
                    item.error = exc
            if not isinstance(exc, Exception):
                self._finish(batch)
                raise
        self._finish(batch)

    def _finish(self, batch: list[_Item]) -> None:
        for item in batch:
            item.promoted = False
            item.done.set()
        with self._lock:
            if self._queue:
                nxt = self._queue[0]
                nxt.promoted = True
                nxt.done.set()
            else:
                self._leading = False
