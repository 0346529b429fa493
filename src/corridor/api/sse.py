"""The supervision feed as Server-Sent Events (issue 16), for the API's
`GET /v1/regulator/feed` and the regulator's page (which signs in by cookie, so
EventSource can open it): one stream written once, here.

A connection is bounded: it ends after `connection_ms` or `events_max` events, and the
client reconnects with `Last-Event-ID` (EventSource does so by itself, after `retry_ms`);
between events a comment line keeps proxies from closing it. The events are read from the
store (services/supervision.py), so any process serves any client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from corridor.platform.domain.principal import Principal
from corridor.platform.services import supervision
from corridor.platform.services.ports import Deps

MEDIA_TYPE = "text/event-stream"
LAST_EVENT_ID_LEN_MAX = 20
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Bounds:
    """How a connection is paced and where it ends."""

    poll_ms: int = 1_000  # how often the store is asked for new events
    heartbeat_ms: int = 15_000  # a comment line when nothing was sent for this long
    connection_ms: int = 300_000  # a connection ends after this; the client reconnects
    events_max: int = 1_000  # ... or after this many events
    retry_ms: int = 2_000  # what EventSource waits before reconnecting

    def __post_init__(self) -> None:
        assert 0 < self.poll_ms <= self.heartbeat_ms, self
        assert self.events_max > 0 and self.connection_ms >= 0, self


BOUNDS = Bounds()
CONNECTION_MS_MAX = BOUNDS.connection_ms


def last_event_id(header: str | None, query: str | None = None) -> int | None:
    """The resume point: the `Last-Event-ID` header (EventSource's reconnection) or the
    `last_event_id` query value (a first connection that already saw some); None when
    absent or not a sequence number (then the feed starts from now)."""
    for raw in (header, query):
        text = (raw or "").strip()
        if text and len(text) <= LAST_EVENT_ID_LEN_MAX and text.isdigit():
            return int(text)
    return None


def frame(event: supervision.FeedEvent) -> str:
    """One event on the wire: its id (the resume point), its kind as the event type, and
    its JSON on one data line."""
    data = json.dumps(event.json(), separators=(",", ":"), ensure_ascii=False, default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


async def stream(deps: Deps, who: Principal, after: int | None, bounds: Bounds = BOUNDS, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> AsyncIterator[str]:
    """The feed from `after` (None: from now on). The start is checked and audited when
    this is awaited, before any response begins (a refusal is an error answer, not a
    broken stream); the frames follow until a bound."""
    cursor = await run_in_threadpool(supervision.feed_start, deps, who, after)
    return _frames(deps, who, cursor, bounds, sleep, clock)


async def _frames(deps: Deps, who: Principal, cursor: int, bounds: Bounds,
                  sleep: Callable[[float], Awaitable[None]],
                  clock: Callable[[], float]) -> AsyncIterator[str]:
    start = last_sent = clock()
    sent = 0
    yield f"retry: {bounds.retry_ms}\n: cursor {cursor}\n\n"
    while True:
        events, cursor = await run_in_threadpool(supervision.feed_after, deps, who, cursor,
                                                 bounds.events_max - sent)
        for e in events:
            yield frame(e)
            sent += 1
        now = clock()
        if events:
            last_sent = now
        if sent >= bounds.events_max or (now - start) * 1000 >= bounds.connection_ms:
            return
        if events:
            continue  # more may be waiting: ask again at once
        if (now - last_sent) * 1000 >= bounds.heartbeat_ms:
            yield ": heartbeat\n\n"
            last_sent = now
        await sleep(bounds.poll_ms / 1000)
