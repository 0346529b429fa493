"""SQLite's writer queue: the write gate every SQLite writer of the platform passes."""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref

import sqlalchemy as sa
from sqlalchemy.engine import Engine

SQLITE_BUSY_S = 30  # a writer waits this long for SQLite's write lock, then fails
FLOCK_NAP_MAX_S = 0.0005  # the longest sleep between two tries of another process's lock


class WriteGate:
    """The queue SQLite writers wait in, in this process and across processes on the same
    file: a thread lock, then an exclusive `flock` on a file beside the database, taken
    before BEGIN IMMEDIATE and released when the transaction ends. SQLite's own wait for
    its write lock is a sleep-and-retry loop (1, 2, 5 ... 100 ms naps): under contention a
    writer slept long after the lock came free, and 32 concurrent payment requests spent
    most of ~0.4 s each asleep. A blocked thread lock wakes the moment the holder lets go;
    across processes only one thread per process waits on the `flock`, polling it at most
    every FLOCK_NAP_MAX_S (several API processes hand the lock over hundreds of times a
    second: a longer nap left it idle while a writer slept), and the kernel drops the
    `flock` if its holder dies. Both waits give up after SQLITE_BUSY_S, as SQLite would.
    Writers that bypass the gate (other tools) still meet SQLite's lock: correctness
    never depends on the gate."""

    def __init__(self, lock_path: str | None) -> None:
        self._thread_lock = threading.Lock()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd (a forked child must open its own)

    def acquire(self) -> None:
        if not self._thread_lock.acquire(timeout=SQLITE_BUSY_S):
            raise _locked("write gate: another thread held it too long")
        try:
            if self._lock_path is not None:
                self._flock()
        except BaseException:
            self._thread_lock.release()
            raise

    def _flock(self) -> None:
        assert self._lock_path is not None
        if self._fd is None or self._pid != os.getpid():
            # A forked child shares the parent's open file, and with it the lock.
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        deadline = time.monotonic() + SQLITE_BUSY_S
        nap = 0.0001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _locked("write gate: another process held it too long") from None
                time.sleep(nap)
                nap = min(nap * 2, FLOCK_NAP_MAX_S)

    def release(self) -> None:
        try:
            if self._fd is not None and self._lock_path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


def _locked(why: str) -> sa.exc.OperationalError:
    """The error SQLite itself gives a writer that waited too long."""
    return sa.exc.OperationalError(why, None, Exception(f"database is locked ({why})"))


_GATES: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def add_gate(engine: Engine, lock_path: str | None) -> None:
    """Gives a SQLite engine its writer queue (`lock_path`: the flock file; None for a
    database in memory, which only this process sees)."""
    _GATES[engine] = WriteGate(lock_path)


def write_gate(engine: Engine) -> WriteGate | None:
    """The SQLite engine's writer queue (None on PostgreSQL: row locks, no queue)."""
    return _GATES.get(engine)
