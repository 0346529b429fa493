"""The cyclic garbage collector's policy in a process that hosts one node for its lifetime.

A node's memory is almost all ledger records: accounts, holdings, results, transactions. They
are immutable tuples that never form reference cycles, so reference counting alone frees
them, and the cyclic GC only ever rescans them for nothing. CPython cannot create a tuple
outside the GC's lists, but `gc.freeze()` moves everything tracked into a permanent
generation that collections skip, in O(1). So:

- `settle()`, once the state is loaded: freeze it (a full pass over 10^6 accounts stalls the
  main thread ~0.9 s) and make the young generation larger than what one block allocates.
- `after_commit()`, after every block: freeze what the block made. Its records are now the
  committed state, and the young passes that would otherwise rescan them cost ~4% of the
  apply loop (docs/decisions/0002).

A frozen object is still freed when its last reference goes; only garbage *cycles* made
elsewhere (exceptions with tracebacks, say) wait in the permanent generation. `after_commit`
therefore runs a full collection when the process's allocated memory blocks have grown by a
quarter since the last one (CPython's own rule for full passes, on a measure that also sees
frozen garbage), or an hour has passed. At a steady state, where new records replace old ones,
that is the clock: under a second an hour at 10^6 accounts (`corridor bench ledger`:
gc_full_pass_ms), instead of a young pass per block.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import Final

log = logging.getLogger("corridor.node")

# Young-generation size (CPython's default: 700). Larger than what a full block allocates
# (~9 tracked tuples per transaction, BLOCK_TXS_MAX = 10,000), so no young pass lands inside a
# block's execution; the block's objects are frozen at its commit instead.
YOUNG_THRESHOLD: Final = 200_000
FULL_EVERY_S: Final = 3_600.0
FULL_GROWTH: Final = 0.25  # a full collection once allocated blocks grew by this share
# sys.getallocatedblocks walks pymalloc's pools: ~1 ms at 10^6 accounts, so not every block.
GROWTH_CHECK_EVERY_S: Final = 10.0


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector while start-up builds millions of records
    (parsing the genesis, loading the state store): none of them is garbage, yet each young
    pass and every full pass (which rescans all of them) costs time: ~40% of loading's CPU
    time, measured at 1M accounts."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class GcPolicy:
    """Freezes committed state out of the cyclic GC; collects in full now and then."""

    def __init__(
        self,
        *,
        full_every_s: float = FULL_EVERY_S,
        full_growth: float = FULL_GROWTH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.full_every_s = full_every_s
        self.full_growth = full_growth
        self._clock = clock
        self._blocks_after_full = 0  # sys.getallocatedblocks() after the last full collection
        self._last_full = self._last_check = clock()
        self.full_collections = 0

    def settle(self) -> None:
        """Freezes everything alive now (the loaded state) and sets the young threshold."""
        gc.freeze()
        gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        self._restart()

    def after_commit(self) -> None:
        """Freezes what the committed block made; a full collection when one is due."""
        self.freeze_block()
        if self.full_pass_due():
            self.collect_all()

    @staticmethod
    def freeze_block() -> None:
        """Freezes everything made since the last freeze, in O(1)."""
        gc.freeze()

    def full_pass_due(self) -> bool:
        now = self._clock()
        if now - self._last_full >= self.full_every_s:
            return True
        if now - self._last_check < GROWTH_CHECK_EVERY_S:
            return False
        self._last_check = now
        return sys.getallocatedblocks() > self._blocks_after_full * (1 + self.full_growth)

    def collect_all(self) -> None:
        """A full collection over everything, frozen objects included, then freeze again.
        Costs a pass over every tracked object (~0.9 s at 10^6 accounts)."""
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.full_collections += 1
        self._restart()
        log.info(
            "full GC pass: %d unreachable objects, %.0f ms",
            found,
            (time.perf_counter() - started) * 1e3,
        )

    def _restart(self) -> None:
        self._blocks_after_full = sys.getallocatedblocks()
        self._last_full = self._last_check = self._clock()
