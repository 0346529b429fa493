"""`corridor bench payments`: the load over real HTTP, closed-loop (clients that wait for
their answer, bounded by payments in flight) and paced (open loop at a set rate)."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from corridor.bench.payments_setup import BENCH_MARK, Customer
from corridor.platform.adapters.db import table_of
from corridor.platform.domain.payments import Payment

PAY_AMOUNT = "1.00"  # USD, what the recipient receives (the fee comes on top)
IN_FLIGHT_POLL_S = 0.1
LATENCY_CLIENTS = 64  # threads that send the paced requests (open loop: never the limit)
HTTP_TIMEOUT_S = 60.0


def now_ms() -> float:
    return time.time() * 1000.0


# --- load -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Sent:
    payment_id: str
    sent_ms: float  # wall clock, just before the request was written


@dataclass(slots=True)
class Load:
    """What one phase's clients did."""

    sent: list[_Sent] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    late_s_max: float = 0.0  # paced: the worst delay behind schedule
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Client:
    """One keep-alive connection to the platform API."""

    def __init__(self, port: int, customers: Sequence[Customer]) -> None:
        self.port = port
        self.customers = customers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)

    def pay(self, n: int, key: str, load: Load) -> None:
        sender = self.customers[n % len(self.customers)]
        recipient = self.customers[(n + 1) % len(self.customers)]
        body = json.dumps(
            {
                "recipient": {"type": "user", "email": recipient.email},
                "asset": "USD",
                "amount": PAY_AMOUNT,
            }
        ).encode()
        headers = {
            "Authorization": f"Bearer {sender.token}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        }
        sent_ms = now_ms()
        try:
            self.conn.request("POST", "/v1/payments", body, headers)
            response = self.conn.getresponse()
            status, payload = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)
            with load.lock:
                load.statuses[0] += 1
                load.errors.append(f"{type(exc).__name__}: {exc}")
            return
        with load.lock:
            load.statuses[status] += 1
            if status == 201:
                load.sent.append(_Sent(json.loads(payload)["id"], sent_ms))
            elif len(load.errors) < 20:
                load.errors.append(f"{status}: {payload[:300]!r}")

    def close(self) -> None:
        self.conn.close()


def _threads(target: Callable[[int], None], n: int) -> None:
    failures: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # re-raised below, in the caller
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


class InFlight:
    """Payments created by a phase and not yet credited (or failed), from a count of the
    platform's payments polled on a plain read connection (no write lock taken)."""

    def __init__(self, url: str, load: Load) -> None:
        # Autocommit (no BEGIN/ROLLBACK) and a query of its own shape, marked: PostgreSQL's
        # count of the platform's statements leaves this one out (payments_pg.py).
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.load = load
        self.baseline = self._done()
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="in-flight", daemon=True)
        self._thread.start()

    def _done(self) -> int:
        table = table_of(Payment)
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count(table.c.id))
                    .prefix_with(BENCH_MARK)
                    .where(table.c.status.in_(("credited", "failed")))
                ).scalar_one()
            )

    def _run(self) -> None:
        while not self._stop.wait(IN_FLIGHT_POLL_S):
            self.done = self._done() - self.baseline

    def count(self) -> int:
        with self.load.lock:
            created = len(self.load.sent)
        return created - self.done

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()


def run_closed_loop(
    port: int,
    customers: Sequence[Customer],
    clients: int,
    until: float,
    prefix: str,
    db_url: str,
    in_flight_max: int,
) -> Load:
    """`clients` connections each sending one payment after another until `until`
    (perf_counter), pausing while `in_flight_max` are created and not yet credited;
    senders round-robin over all customers."""
    load = Load()
    counter = itertools.count()
    lock = threading.Lock()
    in_flight = InFlight(db_url, load)

    def client(_: int) -> None:
        c = _Client(port, customers)
        try:
            while time.perf_counter() < until:
                if in_flight.count() >= in_flight_max:
                    time.sleep(0.01)
                    continue
                with lock:
                    n = next(counter)
                c.pay(n, f"{prefix}-{n}", load)
        finally:
            c.close()

    try:
        _threads(client, clients)
    finally:
        in_flight.close()
    return load


def run_paced(
    port: int, customers: Sequence[Customer], rate: float, seconds: float, prefix: str
) -> Load:
    """Open loop: payment n is due at start + n / rate, whoever is free sends it; a
    payment sent late is sent anyway (its latency counts from when it was sent, and the
    worst lateness is reported)."""
    load = Load()
    total = max(1, int(rate * seconds))
    counter = itertools.count()
    lock = threading.Lock()
    start = time.perf_counter() + 0.05

    def client(_: int) -> None:
        c = _Client(port, customers)
        try:
            while True:
                with lock:
                    n = next(counter)
                if n >= total:
                    return
                due = start + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    with load.lock:
                        load.late_s_max = max(load.late_s_max, -delay)
                c.pay(n, f"{prefix}-{n}", load)
        finally:
            c.close()

    _threads(client, LATENCY_CLIENTS)
    return load
