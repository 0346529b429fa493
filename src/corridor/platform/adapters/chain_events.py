"""The chain's committed blocks, in order and without a gap, for the outbox worker.

Blocks come from the node's event stream (`GET /v1/events`, server-sent events, one
`block` event per height with its transactions' results), read on a daemon thread into a
bounded queue. The stream resumes where it stopped (SSE's Last-Event-ID) after any drop.
Only when the stream skipped heights, or is down, does `Follower` fall back to reading
blocks one by one (`GET /v1/blocks/{h}`): polling is the repair, not the rule.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
from collections.abc import Iterator

import httpx

from corridor.platform.adapters.ledger_client import block_outcomes, node_headers
from corridor.platform.services.ledger_port import BlockOutcomes, LedgerNode
from corridor.platform.services.ports import Clock

log = logging.getLogger("corridor.platform.chain_events")

QUEUED_BLOCKS_MAX = 256  # blocks read ahead of the worker; the reader waits beyond it
BLOCKS_PER_TAKE_MAX = 64  # blocks handed to the worker at once
POLL_BLOCKS_MAX = 50  # blocks read one by one per call when the stream is down
STALL_MS = 5_000  # a stream silent this long is checked against the chain with one read
RECONNECT_S = 0.5
# The node sends a heartbeat every 15 s (node.limits.EVENTS_HEARTBEAT_S): a longer silence
# is a dead connection.
READ_TIMEOUT_S = 40.0
EVENT_BYTES_MAX = 8 * 1024 * 1024  # one block's event (the node's block size is far below)


class EventStream:
    """The node's SSE stream on a daemon thread: block events into a bounded queue."""

    def __init__(self, url: str, *, token: str = "") -> None:
        self.url = url.rstrip("/")
        self.headers = node_headers(token)
        self._queue: queue.Queue[BlockOutcomes] = queue.Queue(QUEUED_BLOCKS_MAX)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._resume_after = 0  # the last height received or applied
        self._lock = threading.Lock()
        self.connected = False
        self._client: httpx.Client | None = None
        self._response: httpx.Response | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, after_height: int) -> None:
        """Reads blocks from `after_height` + 1 on."""
        assert not self.running, "already started"
        self._resume_after = after_height
        self._thread = threading.Thread(target=self._run, name="chain-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:  # wake the read blocked on the socket (closing the
            _shut(response)        # client would not: it waits for the next heartbeat)
        if self._thread is not None:
            self._thread.join(READ_TIMEOUT_S)
            self._thread = None
        self._stop.clear()
        self.connected = False
        while self.take(0):  # what was read ahead is read again from the cursor
            pass

    def skip_to(self, height: int) -> None:
        """The worker has every block up to `height`: a reconnection starts after it."""
        with self._lock:
            self._resume_after = max(self._resume_after, height)

    def take(self, wait_s: float) -> list[BlockOutcomes]:
        """The blocks read so far (up to BLOCKS_PER_TAKE_MAX), waiting up to `wait_s` for
        the first."""
        out: list[BlockOutcomes] = []
        try:
            out.append(self._queue.get(timeout=wait_s) if wait_s > 0
                       else self._queue.get_nowait())
            while len(out) < BLOCKS_PER_TAKE_MAX:
                out.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for block in self._events():
                    while not self._stop.is_set():
                        try:
                            self._queue.put(block, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    self.skip_to(block.height)
            except (httpx.HTTPError, ValueError, RuntimeError) as exc:
                if not self._stop.is_set():
                    log.info("event stream dropped (%s); reconnecting", type(exc).__name__)
            except Exception:
                if not self._stop.is_set():  # closing the client under a read may raise
                    log.exception("event stream failed; reconnecting")
            self.connected = False
            self._stop.wait(RECONNECT_S)

    def _events(self) -> Iterator[BlockOutcomes]:
        with self._lock:
            if self._stop.is_set():
                return
            self._client = httpx.Client(base_url=self.url, headers=self.headers,
                                        timeout=httpx.Timeout(10.0, read=READ_TIMEOUT_S))
            after = self._resume_after
        try:
            with self._client.stream("GET", "/v1/events",
                                     headers={"Last-Event-ID": str(after)}) as r:
                if r.status_code != 200:
                    raise httpx.HTTPStatusError(f"event stream answered {r.status_code}",
                                                request=r.request, response=r)
                with self._lock:
                    self._response = r
                if self._stop.is_set():
                    return
                self.connected = True
                yield from _parse(r.iter_lines())
        finally:
            with self._lock:
                self._response = None
                self._client.close()
                self._client = None


def _shut(response: httpx.Response) -> None:
    """Shuts the response's socket down, so a read blocked on it returns at once."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _parse(lines: Iterator[str]) -> Iterator[BlockOutcomes]:
    """Block events of an SSE text stream (comments, other events and ids ignored)."""
    event, event_id, size = "", "", 0
    data: list[str] = []
    for line in lines:
        if line == "":
            if event == "block" and event_id.isdigit() and data:
                yield block_outcomes(int(event_id), json.loads("\n".join(data)))
            event, event_id, data, size = "", "", [], 0
            continue
        size += len(line)
        if size > EVENT_BYTES_MAX:
            raise ValueError("an event larger than any block")
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "id":
            event_id = value
        elif field == "data":
            data.append(value)


class Follower:
    """Committed blocks after a cursor, in order with no gap: the stream's, with the holes
    filled by reading blocks from the node. A hole is a skipped height, a stream that is
    down, or one silent for STALL_MS while the chain may have moved (checked with one read)."""

    def __init__(self, node: LedgerNode, stream: EventStream | None, clock: Clock) -> None:
        self.node = node
        self.stream = stream
        self.clock = clock
        self._heard_ms = clock.now_ms()

    def after(self, cursor: int, wait_s: float) -> list[BlockOutcomes]:
        """Blocks cursor+1, cursor+2, ... as far as is known now (waiting up to `wait_s`
        for the stream when nothing is known)."""
        got = [] if self.stream is None else self.stream.take(wait_s)
        now = self.clock.now_ms()
        out: list[BlockOutcomes] = []
        nxt = cursor + 1
        for block in got:
            if block.height < nxt:
                continue  # already applied (a reconnection or a poll got there first)
            if block.height > nxt:  # the stream skipped heights
                filled = self._poll(nxt, block.height - 1)
                out.extend(filled)
                nxt += len(filled)
                if nxt != block.height:
                    break  # the hole is not readable yet: the rest comes again
            out.append(block)
            nxt = block.height + 1
        if got:
            self._heard_ms = now
        elif self.stream is None or not self.stream.connected:
            out.extend(self._poll(nxt, nxt + POLL_BLOCKS_MAX - 1))
        elif now - self._heard_ms > STALL_MS:
            self._heard_ms = now
            out.extend(self._poll(nxt, nxt + POLL_BLOCKS_MAX - 1))
            if out:
                log.warning("event stream silent past block %d; read by polling", cursor)
        if out and self.stream is not None:
            self.stream.skip_to(out[-1].height)
        return out

    def _poll(self, first: int, last: int) -> list[BlockOutcomes]:
        out: list[BlockOutcomes] = []
        for height in range(first, last + 1):
            block = self.node.block(height)
            if block is None:
                break
            out.append(block)
        return out
