"""The AML engine with a memory (issue 16): its window of history comes from the store, not
only from what this process evaluated, so a restart, or a second API process, is not blind
to the structuring, fan-out or cycle that began elsewhere.

Every movement that goes on or is held is recorded (`remember`, in the transaction that
records the movement itself; the record is the `Movement` as the monitors saw it, without
the recipient's name). At start, `AmlWindow.warm` rebuilds a fresh engine in a background
thread from the records of the engine's lookback, in time order (`AmlEngine.lookback_ms`:
full history for the window, only parties' activity before it), then swaps it in. Until
then the window is *warming*: evaluations go on against what this process has seen, and
each finding says `"history": "partial"` in its explanation. Afterwards the window catches
up at most every `CATCH_UP_MS` (before an evaluation) with what other processes recorded: a
cursor on the records' time, re-reading the last `OVERLAP_MS` (a movement is stamped
before its transaction commits), and the ids already learned, so none is learned twice.

The domain engine stays pure; the store is read through the `MovementLog` port (its SQL
implementation is the repository of `Movement`; `MemoryMovementLog` for tests)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from corridor.platform.domain.aml.engine import MONITOR, AmlEngine
from corridor.platform.domain.monitoring import Finding, LearnedMovement, Movement
from corridor.platform.services.ports import Clock, UnitOfWork

log = logging.getLogger("corridor.platform.aml")

PAGE_MAX = 5_000  # records read at a time
CATCH_UP_MS = 1_000  # how stale the window may be against other processes' movements
# A movement is stamped when it is evaluated, before its transaction commits: records up
# to this much older than the newest one read are read again on the next catch-up.
OVERLAP_MS = 5_000
RETRY_S = 30  # after a rebuild that failed (the store unreachable)
WARMING = "warming"
WARM = "warm"
COLD = "cold"  # not started


class MovementLog(Protocol):
    """The recorded movements, read in (at_ms, id) order."""

    def page(self, since_ms: int, *, offset: int, limit: int) -> Sequence[Movement]:
        """Up to `limit` records with `at_ms >= since_ms`, in (at_ms, id) order, skipping
        the first `offset` of them."""
        ...


def remember(uow: UnitOfWork, movement: Movement) -> None:
    """Records a movement that goes on or is held, for every process's AML window (call it
    in the transaction that records the movement; not for one refused at once)."""
    uow.repo(LearnedMovement).add(LearnedMovement.of(movement))


class UowMovementLog:
    """The records through read-only units of work (the `LearnedMovement` repository)."""

    def __init__(self, read_uow: Callable[[], UnitOfWork]) -> None:
        self.read_uow = read_uow

    def page(self, since_ms: int, *, offset: int, limit: int) -> Sequence[Movement]:
        with self.read_uow() as uow:
            found = uow.repo(LearnedMovement).many(
                order_by="at_ms", above={"at_ms": since_ms - 1}, offset=offset, limit=limit)
        return [r.movement() for r in found]


class MemoryMovementLog:
    """The port in memory (tests)."""

    def __init__(self) -> None:
        self.records: list[Movement] = []

    def add(self, m: Movement) -> None:
        self.records.append(dataclasses.replace(m, receiver_name=None))

    def page(self, since_ms: int, *, offset: int, limit: int) -> Sequence[Movement]:
        rows = sorted((m for m in self.records if m.at_ms >= since_ms),
                      key=lambda m: (m.at_ms, m.id))
        return rows[offset:offset + limit]


def read_since(movements: MovementLog, since_ms: int,
               page_max: int = PAGE_MAX) -> Iterator[Movement]:
    """Every record from `since_ms` on, in order: keyset pages on the time, the offset
    counting only the records of the last time already read."""
    at, offset = since_ms, 0
    while True:
        page = movements.page(at, offset=offset, limit=page_max)
        yield from page
        if len(page) < page_max:
            return
        last = page[-1].at_ms
        same = sum(1 for m in page if m.at_ms == last)
        offset = offset + same if last == at else same
        at = last


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WindowStatus:
    state: str  # cold, warming, warm
    learned: int  # records learned from the store
    rebuild_s: float | None  # how long the rebuild took
    parties: int


class AmlWindow:
    """`Monitor` of money movements: the AML engine over the store's records (see the
    module docstring). One per process; evaluations serialised by its lock."""

    name = MONITOR

    def __init__(self, movements: MovementLog, clock: Clock,
                 make_engine: Callable[[], AmlEngine] = AmlEngine, *,
                 catch_up_ms: int = CATCH_UP_MS, overlap_ms: int = OVERLAP_MS) -> None:
        self.movements = movements
        self.clock = clock
        self.make_engine = make_engine
        self.catch_up_ms = catch_up_ms
        self.overlap_ms = overlap_ms
        self.engine = make_engine()
        self._lock = threading.Lock()  # the engine and the cursor
        self._reading = threading.Lock()  # one catch-up at a time
        self._state = COLD
        self._warmed = threading.Event()
        self._cursor_ms = 0  # the newest record time read from the store
        self._seen: dict[str, int] = {}  # ids learned at or after cursor - overlap
        self._polled = 0.0
        self._learned = 0
        self._rebuild_s: float | None = None
        self._retry_at = 0.0  # after a failed rebuild: when to try again
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- the Monitor port -----------------------------------------------------------------

    def evaluate(self, movement: Movement) -> Sequence[Finding]:
        if self._state == COLD and time.monotonic() >= self._retry_at:
            self.warm()
        elif self._state == WARM and not self._closed and \
                time.monotonic() - self._polled >= self.catch_up_ms / 1000:
            self.catch_up()
        with self._lock:
            findings = self.engine.evaluate(movement)
            self._seen[movement.id] = movement.at_ms
            warm = self._state == WARM
        if warm or not findings:
            return findings
        return [dataclasses.replace(f, explanation={**f.explanation, "history": "partial"})
                for f in findings]

    # -- the store ------------------------------------------------------------------------

    def warm(self, *, background: bool = True) -> None:
        """Rebuilds the window from the store (once), in a thread of its own by default."""
        with self._lock:
            if self._state != COLD or self._closed:
                return
            self._state = WARMING
        if background:
            self._thread = threading.Thread(target=self._rebuild_logged, name="aml-window",
                                            daemon=True)
            self._thread.start()
        else:
            self._rebuild()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stops a rebuild under way (before the store closes) and any further one."""
        self._closed = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def wait_warm(self, timeout_s: float) -> bool:
        """Whether the window is warm, waiting up to `timeout_s` for the rebuild."""
        return self._warmed.wait(timeout_s)

    def _rebuild_logged(self) -> None:
        try:
            self._rebuild()
        except Exception:  # the store was not readable: stay partial, say so, retry later
            log.exception("AML window not rebuilt from the store; evaluating with the "
                          "movements of this process only")
            with self._lock:
                self._state = COLD
                self._retry_at = time.monotonic() + RETRY_S

    def _rebuild(self) -> None:
        t0 = time.perf_counter()
        engine = self.make_engine()
        now = self.clock.now_ms()
        full_from = now - engine.rules.history_ms
        seen: dict[str, int] = {}
        since = newest = now - engine.lookback_ms
        n = 0
        for m in read_since(self.movements, since):
            if self._closed:
                return
            if m.at_ms >= full_from:
                engine.learn(m)
            else:
                engine.learn_activity(m)
            seen[m.id] = m.at_ms
            newest = max(newest, m.at_ms)
            n += 1
        with self._lock:  # what was recorded meanwhile is read by the catch-up below
            self.engine, self._seen, self._cursor_ms = engine, seen, newest
            self._learned += n
            self._prune()
        self.catch_up()
        self._rebuild_s = time.perf_counter() - t0
        with self._lock:
            self._state = WARM
        self._warmed.set()
        log.info("AML window warm: %d movements learned from the store in %.1f s", n,
                 self._rebuild_s)

    def tick(self) -> int:
        """The periodic catch-up (adapters/aml_catch_up.py): once warm, and not closed."""
        if self._state != WARM or self._closed:
            return 0
        return self.catch_up()

    def catch_up(self) -> int:
        """Learns the movements other processes recorded since the last read; how many."""
        if not self._reading.acquire(blocking=False):
            return 0  # another thread is reading them
        try:
            self._polled = time.monotonic()
            with self._lock:
                since = self._cursor_ms - self.overlap_ms
            read = list(read_since(self.movements, since))
            n = 0
            with self._lock:
                for m in read:
                    if m.id in self._seen:  # learned already (or evaluated here)
                        continue
                    self.engine.learn(m)
                    self._seen[m.id] = m.at_ms
                    n += 1
                if read:
                    self._cursor_ms = max(self._cursor_ms, read[-1].at_ms)
                self._learned += n
                self._prune()
            return n
        finally:
            self._reading.release()

    def _prune(self) -> None:
        keep = self._cursor_ms - self.overlap_ms
        self._seen = {i: at for i, at in self._seen.items() if at >= keep}

    def status(self) -> WindowStatus:
        with self._lock:
            return WindowStatus(state=self._state, learned=self._learned,
                                rebuild_s=self._rebuild_s,
                                parties=self.engine.parties)
