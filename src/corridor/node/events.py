"""New blocks and transaction results as a stream that clients can resume from any height.

Committed blocks are read back from the block store, so a client that reconnects with
`from_height` (or SSE's Last-Event-ID) misses nothing; the hub says "height advanced" and
keeps the last EVENTS_RECENT_BLOCKS_MAX blocks as they were committed, so a subscriber that
keeps up never has the store read and decode them again (py-spy: a tenth of the node's time
under load went to decoding blocks it had just written).
Mempool drops caused by a block are kept for the last EVENTS_RECENT_DROPS_MAX blocks.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from corridor.ledger.block import Block
from corridor.ledger.errors import Rejection
from corridor.ledger.results import TxResult
from corridor.node.limits import (
    EVENTS_CACHED_BLOCKS_MAX,
    EVENTS_RECENT_BLOCKS_MAX,
    EVENTS_RECENT_DROPS_MAX,
)


class EventHub:
    def __init__(self, height: int) -> None:
        self.height = height
        self._changed = asyncio.Event()
        self._drops: OrderedDict[int, tuple[tuple[bytes, Rejection], ...]] = OrderedDict()
        # Recent blocks' event text, built once for all subscribers (not once per subscriber).
        self._texts: OrderedDict[int, str] = OrderedDict()
        self._blocks: OrderedDict[int, tuple[Block, tuple[TxResult, ...]]] = OrderedDict()

    def cached_text(self, height: int) -> str | None:
        return self._texts.get(height)

    def cache_text(self, height: int, text: str) -> None:
        self._texts[height] = text
        while len(self._texts) > EVENTS_CACHED_BLOCKS_MAX:
            self._texts.popitem(last=False)

    def recent_block(self, height: int) -> tuple[Block, tuple[TxResult, ...]] | None:
        """The block at `height` and its results, if it is among the last few committed."""
        return self._blocks.get(height)

    def published(
        self,
        height: int,
        dropped: tuple[tuple[bytes, Rejection], ...],
        committed: tuple[Block, tuple[TxResult, ...]] | None = None,
    ) -> None:
        """The chain is at `height` now; `committed` is that block and its results."""
        self.height = height
        if committed is not None:
            self._blocks[height] = committed
            while len(self._blocks) > EVENTS_RECENT_BLOCKS_MAX:
                self._blocks.popitem(last=False)
        if dropped:
            self._drops[height] = dropped
            while len(self._drops) > EVENTS_RECENT_DROPS_MAX:
                self._drops.popitem(last=False)
        self._changed.set()
        self._changed = asyncio.Event()

    def drops(self, height: int) -> tuple[tuple[bytes, Rejection], ...]:
        return self._drops.get(height, ())

    async def wait_beyond(self, height: int, timeout_s: float) -> bool:
        """Waits until the chain is above `height` (True) or the timeout passes (False)."""
        if self.height > height:
            return True
        waiter = self._changed
        try:
            await asyncio.wait_for(waiter.wait(), timeout_s)
        except TimeoutError:
            return self.height > height
        return self.height > height


def sse(event: str, event_id: int | None, data: str) -> str:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + "".join(f"data: {line}\n" for line in data.splitlines()) + "\n"


def block_event(height: int, view: dict[str, Any]) -> dict[str, Any]:
    return {"height": height, **view}
