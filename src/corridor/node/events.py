"""New blocks and transaction results as a stream that clients can resume from any height.

Committed blocks are read back from the block store, so a client that reconnects with
`from_height` (or SSE's Last-Event-ID) misses nothing; the hub only says "height advanced".
Mempool drops caused by a block are kept for the last EVENTS_RECENT_DROPS_MAX blocks.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from corridor.ledger.errors import Rejection
from corridor.node.limits import EVENTS_CACHED_BLOCKS_MAX, EVENTS_RECENT_DROPS_MAX


class EventHub:
    def __init__(self, height: int) -> None:
        self.height = height
        self._changed = asyncio.Event()
        self._drops: OrderedDict[int, tuple[tuple[bytes, Rejection], ...]] = OrderedDict()
        # Recent blocks' event text, built once for all subscribers (not once per subscriber).
        self._texts: OrderedDict[int, str] = OrderedDict()

    def cached_text(self, height: int) -> str | None:
        return self._texts.get(height)

    def cache_text(self, height: int, text: str) -> None:
        self._texts[height] = text
        while len(self._texts) > EVENTS_CACHED_BLOCKS_MAX:
            self._texts.popitem(last=False)

    def published(self, height: int, dropped: tuple[tuple[bytes, Rejection], ...]) -> None:
        self.height = height
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
