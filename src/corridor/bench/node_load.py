"""Load generators for the benchmarks: pre-signed transactions posted to a node's RPC by
client threads, in a closed loop or paced."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from corridor.bench.harness import HTTP_TIMEOUT_S
from corridor.bench.node_process import CommitFollower

# --- submitting -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    """Shared by the submitting threads (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    submitted: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    sent_at: dict[int, float] = field(default_factory=dict)  # request index -> perf_counter


# A kept-alive connection the server closed while idle (uvicorn does after 5 s: a closed loop
# can wait longer than that for commits) fails on the next request in one of these ways.
_STALE_CONNECTION = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    """POST /v1/txs; on a connection the server closed while idle, reconnects and sends once
    more (had the server taken the first one, its txs come back as duplicates: rejected)."""
    try:
        return _post_once(conn, body)
    except _STALE_CONNECTION:
        conn.close()  # the next request opens a fresh connection
        return _post_once(conn, body)


def _post_once(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", "/v1/txs", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


def _record(tally: _Tally, txs: int, status: int, payload: bytes) -> None:
    if status != 200:
        accepted = 0
        error = payload[:200].decode(errors="replace")
    else:
        accepted = json.loads(payload)["accepted"] if txs > 1 else txs
        error = "" if accepted == txs else payload[:200].decode(errors="replace")
    with tally.lock:
        tally.accepted += accepted
        tally.rejected += txs - accepted
        if error and len(tally.errors) < 5:
            tally.errors.append(error)


def request_bodies(txs: Sequence[tuple[str, str]], per_request: int) -> list[tuple[bytes, int]]:
    """Encoded request bodies of `per_request` transactions each, and their counts."""
    bodies = []
    for at in range(0, len(txs), per_request):
        chunk = txs[at : at + per_request]
        if per_request == 1:
            body = json.dumps({"tx": chunk[0][1]})
        else:
            body = json.dumps({"txs": [encoded for _, encoded in chunk]})
        bodies.append((body.encode(), len(chunk)))
    return bodies


def client_orders(clients: int, ports: Sequence[int]) -> Callable[[], tuple[int, Iterator[int]]]:
    """Hands each client thread (port, the body indices it sends). One port: every client
    takes the next unsent body. Several: client k posts to ports[k % len(ports)] and sends
    bodies k, k + clients, ...: with a round's bodies a multiple of `clients`, each sender's
    payments always reach the same node, in sequence order (no gaps for a mempool to hold)."""
    assert ports and clients >= len(ports)
    shared = itertools.count()
    taken = itertools.count()

    def take() -> tuple[int, Iterator[int]]:
        k = next(taken)
        if len(ports) == 1:
            return ports[0], shared
        return ports[k % len(ports)], itertools.count(k, clients)

    return take


def submit_closed_loop(
    ports: Sequence[int],
    bodies: Sequence[tuple[bytes, int]],
    follower: CommitFollower,
    *,
    clients: int,
    committed_before: int,
    over: Callable[[], bool],
    in_flight_max: int,
) -> _Tally:
    """Sends `bodies` in order from `clients` connections until `over()` (the window is
    over) or the bodies run out, keeping at most `in_flight_max` transactions uncommitted
    (see `client_orders` for how several ports share the bodies)."""
    tally = _Tally()
    take = client_orders(clients, ports)

    def client() -> None:
        port, order = take()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
        try:
            while True:
                i = next(order)
                if i >= len(bodies) or over():
                    return
                body, txs = bodies[i]
                while tally.submitted - (follower.committed - committed_before) > in_flight_max:
                    if over() and follower.error is None:
                        break
                    time.sleep(0.002)
                with tally.lock:
                    tally.submitted += txs
                status, payload = post(conn, body)
                _record(tally, txs, status, payload)
        finally:
            conn.close()

    _run_threads(client, clients)
    return tally


def submit_paced(
    ports: Sequence[int],
    bodies: Sequence[tuple[bytes, int]],
    rate_tps: float,
    *,
    clients: int,
    until: float,
) -> _Tally:
    """Sends body i at `start + i * its size / rate_tps`, recording when each was sent (see
    `client_orders` for how several ports share the bodies)."""
    tally = _Tally()
    take = client_orders(clients, ports)
    start = time.perf_counter() + 0.05
    due_at = list(itertools.accumulate((txs / rate_tps for _, txs in bodies), initial=start))

    def client() -> None:
        port, order = take()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
        try:
            while True:
                i = next(order)
                if i >= len(bodies) or due_at[i] >= until:
                    return
                wait = due_at[i] - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                body, txs = bodies[i]
                sent = time.perf_counter()
                with tally.lock:
                    tally.submitted += txs
                    tally.sent_at[i] = sent
                status, payload = post(conn, body)
                _record(tally, txs, status, payload)
        finally:
            conn.close()

    _run_threads(client, clients)
    return tally


def _run_threads(target: Callable[[], None], n: int) -> None:
    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            target()
        except BaseException as exc:  # surfaced below, on the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=guarded, name=f"client-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        # Wrapped: a BrokenPipeError reaching the CLI would pass for a closed stdout, which
        # click turns into a silent exit 1.
        raise RuntimeError(f"a load client failed: {failures[0]!r}") from failures[0]
