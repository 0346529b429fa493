"""Payments through the platform, end to end, on this machine: `corridor bench payments`.

A one-validator node (`corridor node start`, the demo home) and the platform API
(`corridor platform serve` as it ships: its API processes, one per core by default, and
its chain workers' process; SQLite in a temporary data directory unless `--database-url`
says otherwise) run as their own processes. Customers are seeded directly in the
platform's database by this process
(users with sessions, an accepted KYC record at tier 3 so no limit binds, a custodial
wallet the platform's ledger worker opens and has authorised on chain, funded by an issuer
mint through the settlement worker): none of that is timed. Then, over real HTTP:

- `payments_per_s`: `clients` concurrent clients, closed loop, POST /v1/payments
  (1.00 USD from one customer to the next by e-mail: a same-currency transfer, no quote),
  senders taken round-robin over every customer so per-account sequencing (16 in flight a
  source) never caps the rate, and at most `in_flight_max` payments created but not yet
  credited (the clients wait above it: an ever-growing backlog is not sustained). After
  `warmup_s`, payments whose `credited` timestamp (the payment's history, recorded by the
  platform) falls in the `duration_s` window, per second of the window. Load stops when
  the window closes; every created payment must then drain to `credited` or the run fails.
- `credited_latency_ms`: {p50, p99} with creations paced open-loop at LATENCY_LOAD of the
  measured `payments_per_s`, from the moment the client sent the request to the
  payment's `credited` timestamp (both this machine's wall clock): API queueing included.
- Machine limits, measured in the same run before the processes start (the machine is
  shared): `db_commits_per_s` (one-row write transactions on a scratch SQLite file through
  the platform's own engine settings) and `sign_per_s` (Schnorr (secp256k1) signatures, one core).
- CPU accounting: CPU time of the platform, the node and this load generator over each
  phase (100 % = one core), and the platform's CPU per credited payment.
- `--profile`: py-spy samples the platform process during the throughput window and the
  hottest functions are listed (where the time goes when a target is missed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import itertools
import json
import os
import platform as platform_mod
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from corridor.bench.node_bench import _percentile
from corridor.bench.node_process import NodeProcess, free_port, stop_child
from corridor.bench.report import Row, Target, targets_json
from corridor.ledger.keys import KeyPair
from corridor.node.home import init_demo_home
from corridor.platform import bootstrap
from corridor.platform.adapters.db import SqlUnitOfWork, make_engine, table_of
from corridor.platform.config import Settings
from corridor.platform.domain import identity as idn
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Origin
from corridor.platform.domain.transfers import ISSUER, Leg, Transfer, TransferStatus, wallet_ref
from corridor.platform.domain.wallets import LedgerJob, Wallet, WalletStatus
from corridor.platform.services import sessions, settlement, wallets

BLOCK_INTERVAL_MS = 250  # the node's default
KYC_TIER = 3  # the highest limits: 1,000,000 USD a payment, 5,000,000 a day
PAY_AMOUNT = "1.00"  # USD, what the recipient receives (the fee comes on top)
FUNDING_MINOR = 100_000_000  # 1,000,000.00 USD per customer
MINT_PURPOSE = "bench_mint"  # no outcome hook: the transfer alone records the mint
LATENCY_LOAD = 0.5  # of payments_per_s
# Created but not yet credited, at most: the clients wait above it. Without a bound a closed
# loop measures an overload (the API accepts faster than the chain side credits, the backlog
# grows without end); with it, what is credited is what the platform sustains.
IN_FLIGHT_MAX = 300
IN_FLIGHT_POLL_S = 0.1
LATENCY_CLIENTS = 64  # threads that send the paced requests (open loop: never the limit)
HTTP_TIMEOUT_S = 60.0
SERVER_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SETUP_TIMEOUT_S = 300.0
POLL_S = 0.2

TARGET_PAYMENTS_PER_S = Target(op=">=", value=200)
TARGET_LATENCY_P50_MS = Target(op="<=", value=1_500)
TARGET_LATENCY_P99_MS = Target(op="<=", value=3_000)

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentsBenchConfig:
    """Sizes and durations. `QUICK` is a smoke run of well under a minute."""

    quick: bool
    customers: int
    clients: int  # closed-loop clients of the throughput phase
    warmup_s: float
    duration_s: float
    latency_warmup_s: float
    latency_duration_s: float
    drain_timeout_s: float
    probe_s: float  # each machine-limit probe
    in_flight_max: int = IN_FLIGHT_MAX


FULL = PaymentsBenchConfig(
    quick=False,
    customers=200,
    clients=32,
    warmup_s=5.0,
    duration_s=30.0,
    latency_warmup_s=3.0,
    latency_duration_s=20.0,
    drain_timeout_s=180.0,
    probe_s=2.0,
)
QUICK = PaymentsBenchConfig(
    quick=True,
    customers=8,
    clients=8,
    warmup_s=1.0,
    duration_s=3.0,
    latency_warmup_s=0.5,
    latency_duration_s=2.0,
    drain_timeout_s=60.0,
    probe_s=0.3,
    in_flight_max=40,
)


def _now_ms() -> float:
    return time.time() * 1000.0


# --- processes ------------------------------------------------------------------------------


class PlatformProcess:
    """`corridor platform serve` with its workers, as a child process; stopped with SIGTERM."""

    def __init__(self, data_dir: Path, database_url: str, node: NodeProcess) -> None:
        self.port = free_port()
        self.database_url = database_url
        self.log_path = data_dir.parent / "platform.log"
        wallets_dir = node.home.path / "wallets"
        cmd = [
            sys.executable,
            "-m",
            "corridor.cli.main",
            "platform",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
            "--node-rpc",
            f"http://127.0.0.1:{node.port}",
            "--issuer-key",
            str(wallets_dir / "issuer.json"),
            "--operator-key",
            str(wallets_dir / "treasury.json"),
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the platform exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                try:
                    conn.request("GET", "/v1/health")
                    if conn.getresponse().status == 200:
                        return
                finally:
                    conn.close()
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the platform did not answer within {SERVER_START_TIMEOUT_S:.0f} s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        stop_child(self.proc, STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) and of its child processes
    (the platform's chain workers, API workers), from /proc: the live ones, and those that
    ended and were reaped (a restarted worker's CPU is not lost)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = sum(int(f) for f in fields[11:15]) / _TICK  # utime, stime, cutime, cstime
    return own + sum(_child_cpu_s(pid))


def _child_cpu_s(pid: int) -> list[float]:
    out: list[float] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # a thread or child that just ended
            out += [_cpu_s(int(c)) for c in (task / "children").read_text().split()]
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuFigures:
    """CPU over a phase, in % of one core."""

    wall_s: float
    platform_pct: float
    node_pct: float
    bench_pct: float
    machine_busy_pct: float  # every process, % of one core (cores x 100 when saturated)


class CpuMeter:
    def __init__(self, platform_pid: int, node_pid: int) -> None:
        self.pids = (platform_pid, node_pid)
        self._start = self._sample()

    @staticmethod
    def _machine() -> tuple[float, float]:
        parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = parts[3] + parts[4]  # idle + iowait
        return sum(parts) / _TICK, idle / _TICK

    def _sample(self) -> tuple[float, float, float, float, tuple[float, float]]:
        t = os.times()
        return (
            time.perf_counter(),
            _cpu_s(self.pids[0]),
            _cpu_s(self.pids[1]),
            t.user + t.system,
            self._machine(),
        )

    def stop(self) -> CpuFigures:
        end = self._sample()
        wall = end[0] - self._start[0]
        total = end[4][0] - self._start[4][0]
        idle = end[4][1] - self._start[4][1]
        return CpuFigures(
            wall_s=wall,
            platform_pct=100 * (end[1] - self._start[1]) / wall,
            node_pct=100 * (end[2] - self._start[2]) / wall,
            bench_pct=100 * (end[3] - self._start[3]) / wall,
            machine_busy_pct=100 * (total - idle) / wall,
        )


# --- machine limits ---------------------------------------------------------------------------


def measure_db_commits(path: Path, seconds: float) -> float:
    """One-row write transactions per second on a scratch SQLite file, through the
    platform's engine (WAL, synchronous=NORMAL, BEGIN IMMEDIATE): the write rate every
    platform write competes for."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        meta = sa.MetaData()
        t = sa.Table(
            "probe",
            meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("body", sa.String(200)),
        )
        meta.create_all(engine)
        n = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            with engine.begin() as conn:
                conn.execute(t.insert().values(body="x" * 150))
            n += 1
        return n / elapsed
    finally:
        engine.dispose()


def measure_sign(seconds: float) -> float:
    kp = KeyPair.from_seed(b"\x01" * 32)
    message = b"\x02" * 32  # keys sign 32-byte digests
    n = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            kp.sign(message)
        n += 50
    return n / elapsed


# --- set-up ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    email: str
    token: str
    wallet_id: str


def seed_customers(p: bootstrap.Platform, count: int) -> list[Customer]:
    """Users with live sessions, accepted KYC and a custodial wallet whose opening and USD
    authorisation are queued for the platform's ledger worker."""
    deps = p.deps
    now = deps.clock.now_ms()
    password_hash = deps.hasher.hash("bench customer password")  # nobody signs in with it
    out = []
    with deps.uow() as uow:
        for i in range(count):
            email = idn.normalise_email(f"bench{i}@bench.example")
            user = User(
                id=deps.rand.new_id(),
                kind="customer",
                staff_role=None,
                name=f"Bench {i}",
                email=email,
                email_verified=True,
                phone=None,
                phone_verified=False,
                password_hash=password_hash,
                totp_secret_enc=None,
                totp_enabled=False,
                totp_last_step=0,
                status=idn.UserStatus.ACTIVE,
                failed_logins=0,
                locked_until_ms=0,
                terms_version=idn.TERMS_VERSION,
                privacy_version=idn.PRIVACY_VERSION,
                terms_accepted_ms=now,
                created_ms=now,
                updated_ms=now,
            )
            uow.repo(User).add(user)
            token = sessions.open_session(deps, uow, user, Origin(ip="127.0.0.1"))
            kyc_id = deps.rand.new_id()
            uow.repo(KycCustomer).add(
                KycCustomer(
                    id=kyc_id,
                    subject_type="user",
                    subject_id=user.id,
                    status="ACCEPTED",
                    requested_tier=KYC_TIER,
                    tier=KYC_TIER,
                    risk="low",
                    # sealed as the KYC area seals it: payments open it (the verified name)
                    data_enc=deps.sealer.seal(b"{}", f"kyc-customer:{kyc_id}"),
                    field_status={},
                    submitted_ms=now,
                    decided_ms=now,
                    decided_by=None,
                    decision_reason="benchmark customer",
                    review_due_ms=None,
                    created_ms=now,
                    updated_ms=now,
                )
            )
            wallet_id = wallets.ensure_wallet(deps, uow, owner_type="user", owner_id=user.id)
            wallets.request_authorisation(
                deps,
                uow,
                owner_type="user",
                owner_id=user.id,
                asset_codes=("USD",),
                actor_id=user.id,
            )
            out.append(Customer(email, token, wallet_id))
        uow.commit()
    return out


def _wait(
    what: str, check: Callable[[], bool], timeout_s: float, alive: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if not alive():
            raise RuntimeError(f"a process died while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(POLL_S)


def _wallets_ready(p: bootstrap.Platform, ids: Sequence[str]) -> bool:
    with p.deps.uow() as uow:
        jobs = uow.repo(LedgerJob).many()
        failed = [j for j in jobs if j.status == "failed"]
        if failed:
            raise RuntimeError(f"{len(failed)} ledger jobs failed: {failed[0]}")
        if any(j.status != "done" for j in jobs):
            return False
        ws = [uow.repo(Wallet).get(i) for i in ids]
    return all(w is not None and w.status == WalletStatus.OPEN for w in ws)


def fund(p: bootstrap.Platform, customers: Sequence[Customer]) -> list[str]:
    """Queues an issuer mint to every customer's wallet; returns the transfer ids."""
    deps = p.deps
    ids = []
    with deps.uow() as uow:
        for c in customers:
            leg = Leg(
                source=ISSUER,
                destination=wallet_ref(c.wallet_id),
                code="USD",
                amount_minor=FUNDING_MINOR,
            )
            t = settlement.queue(
                deps,
                uow,
                purpose=MINT_PURPOSE,
                ref_id=deps.rand.new_id(),
                source=ISSUER,
                legs=[leg],
            )
            ids.append(t.id)
        uow.commit()
    return ids


def _mints_done(p: bootstrap.Platform, ids: Sequence[str]) -> bool:
    with p.deps.uow() as uow:
        ts = [uow.repo(Transfer).get(i) for i in ids]
    bad = [t for t in ts if t is not None and t.status == TransferStatus.REJECTED]
    if bad:
        raise RuntimeError(
            f"a funding mint was refused: {bad[0].result_code} {bad[0].result_message}"
        )
    return all(t is not None and t.status == TransferStatus.COMMITTED for t in ts)


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
        sent_ms = _now_ms()
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
        self.engine = sa.create_engine(url)
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
                    sa.select(sa.func.count())
                    .select_from(table)
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


# --- reading outcomes from the platform's database --------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    created_ms: int
    credited_ms: int | None


def outcomes(p: bootstrap.Platform, ids: Sequence[str]) -> dict[str, Outcome]:
    table = table_of(Payment)
    out: dict[str, Outcome] = {}
    with p.deps.uow() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        for i in range(0, len(ids), 500):
            rows = uow.execute(
                sa.select(table.c.id, table.c.status, table.c.created_ms, table.c.history).where(
                    table.c.id.in_(ids[i : i + 500])
                )
            )
            for pid, status, created_ms, history in rows:
                if isinstance(history, str):
                    history = json.loads(history)
                credited = next(
                    (int(h["at_ms"]) for h in history if h["status"] == "credited"), None
                )
                out[pid] = Outcome(str(status), int(created_ms), credited)
    return out


def _drain(
    p: bootstrap.Platform, ids: Sequence[str], timeout_s: float, alive: Callable[[], bool]
) -> tuple[dict[str, Outcome], float]:
    """Waits until every payment is credited or failed; returns the outcomes and the wait."""
    started = time.perf_counter()
    pending = list(ids)
    done: dict[str, Outcome] = {}
    deadline = time.monotonic() + timeout_s
    while pending:
        got = outcomes(p, pending)
        for pid, o in got.items():
            if o.status in ("credited", "failed"):
                done[pid] = o
        pending = [i for i in pending if i not in done]
        if not pending:
            break
        if not alive():
            raise RuntimeError("a process died while payments were draining")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} payments not credited after {timeout_s:.0f} s")
        time.sleep(POLL_S)
    return done, time.perf_counter() - started


# --- phases ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ThroughputFigures:
    payments_per_s: float  # credited in the window / window
    created_per_s: float  # accepted by the API (201) in the window / window
    window_s: float
    credited_in_window: int
    created: int
    failed: int
    refused: dict[str, int]  # HTTP status (0: transport error) -> count, non-201
    backlog_at_close: int  # created but not credited when the window closed
    drain_s: float
    clients: int
    cpu: CpuFigures
    errors: list[str]


def measure_throughput(
    p: bootstrap.Platform,
    server: PlatformProcess,
    node: NodeProcess,
    customers: Sequence[Customer],
    config: PaymentsBenchConfig,
    log: Log,
) -> ThroughputFigures:
    start = time.perf_counter()
    open_perf = start + config.warmup_s
    close_perf = open_perf + config.duration_s
    wall_offset = _now_ms() - start * 1000  # perf_counter -> wall clock (ms)
    open_ms, close_ms = open_perf * 1000 + wall_offset, close_perf * 1000 + wall_offset
    meter: list[CpuMeter] = []

    def start_meter() -> None:
        time.sleep(max(0.0, open_perf - time.perf_counter()))
        meter.append(CpuMeter(server.pid, node.pid))

    timer = threading.Thread(target=start_meter, daemon=True)
    timer.start()
    load = run_closed_loop(
        server.port,
        customers,
        config.clients,
        close_perf,
        "tput",
        server.database_url,
        config.in_flight_max,
    )
    timer.join()
    cpu = meter[0].stop()
    ids = [s.payment_id for s in load.sent]
    if not ids:
        raise RuntimeError(f"the API created no payment: {dict(load.statuses)} {load.errors[:3]}")
    at_close = outcomes(p, ids)
    backlog = sum(1 for o in at_close.values() if o.credited_ms is None)
    log(f"  load stopped: {len(ids):,} payments created, {backlog:,} not yet credited")
    done, drain_s = _drain(p, ids, config.drain_timeout_s, lambda: server.alive())
    credited_in_window = sum(
        1
        for o in done.values()
        if o.credited_ms is not None and open_ms <= o.credited_ms < close_ms
    )
    created_in_window = sum(1 for o in done.values() if open_ms <= o.created_ms < close_ms)
    window_s = (close_ms - open_ms) / 1000
    return ThroughputFigures(
        payments_per_s=credited_in_window / window_s,
        created_per_s=created_in_window / window_s,
        window_s=window_s,
        credited_in_window=credited_in_window,
        created=len(ids),
        failed=sum(1 for o in done.values() if o.status == "failed"),
        refused={str(k): v for k, v in load.statuses.items() if k != 201},
        backlog_at_close=backlog,
        drain_s=drain_s,
        clients=config.clients,
        cpu=cpu,
        errors=load.errors[:5],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyFigures:
    rate_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_p50_ms: float  # from the platform's own creation timestamp
    server_p99_ms: float
    samples: int
    failed: int
    refused: dict[str, int]
    late_s_max: float
    cpu: CpuFigures
    errors: list[str]


def measure_latency(
    p: bootstrap.Platform,
    server: PlatformProcess,
    node: NodeProcess,
    customers: Sequence[Customer],
    rate: float,
    config: PaymentsBenchConfig,
) -> LatencyFigures:
    seconds = config.latency_warmup_s + config.latency_duration_s
    measure_from_ms = _now_ms() + config.latency_warmup_s * 1000
    meter = CpuMeter(server.pid, node.pid)
    load = run_paced(server.port, customers, rate, seconds, "lat")
    cpu = meter.stop()
    ids = [s.payment_id for s in load.sent]
    done, _ = _drain(p, ids, config.drain_timeout_s, lambda: server.alive())
    client: list[float] = []
    own: list[float] = []
    for s in load.sent:
        o = done[s.payment_id]
        if s.sent_ms < measure_from_ms or o.credited_ms is None:
            continue
        client.append(o.credited_ms - s.sent_ms)
        own.append(float(o.credited_ms - o.created_ms))
    if not client:
        raise RuntimeError("no payment was credited in the latency phase")
    client.sort()
    own.sort()
    return LatencyFigures(
        rate_per_s=rate,
        p50_ms=_percentile(client, 50),
        p99_ms=_percentile(client, 99),
        max_ms=client[-1],
        server_p50_ms=_percentile(own, 50),
        server_p99_ms=_percentile(own, 99),
        samples=len(client),
        failed=sum(1 for o in done.values() if o.status == "failed"),
        refused={str(k): v for k, v in load.statuses.items() if k != 201},
        late_s_max=load.late_s_max,
        cpu=cpu,
        errors=load.errors[:5],
    )


# --- profile ----------------------------------------------------------------------------------


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    """py-spy sampling the platform process (all threads) into collapsed stacks."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        exe = _py_spy()
        if exe is None:
            raise RuntimeError("--profile needs py-spy (pip install py-spy)")
        self.out = out
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, int(seconds))),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
                "--subprocesses",  # the chain workers (and any API workers) too
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def summary(self, top: int = 15) -> list[dict[str, Any]]:
        try:
            _, err = self.proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return []
        if self.proc.returncode != 0 or not self.out.exists():
            return [{"error": err.decode(errors="replace")[-300:]}]
        return summarise_stacks(self.out.read_text().splitlines(), top)


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "create (corridor/platform/services/payments.py:512)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name


def summarise_stacks(lines: Sequence[str], top: int) -> list[dict[str, Any]]:
    """Collapsed stacks ("a;b;c count") -> the `top` functions by self and by inclusive
    share of busy samples (idle waits - sleeping, selecting, waiting on locks - excluded)."""
    idle = ("wait (threading.py", "select (selectors.py", "sleep", "get (queue.py")
    self_n: Counter[str] = Counter()
    incl_n: Counter[str] = Counter()
    busy = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [
            _frame_name(f)
            for f in stack.split(";")
            if f and not f.startswith("process ") and not f.startswith("thread ")
        ]
        if not frames or any(i in frames[-1] for i in idle):
            continue
        n = int(count)
        busy += n
        self_n[frames[-1]] += n
        for f in set(frames):
            incl_n[f] += n
    if not busy:
        return []
    hot = [
        {"function": f, "self_pct": 100 * n / busy, "incl_pct": 100 * incl_n[f] / busy}
        for f, n in self_n.most_common(top)
    ]
    corridor = [
        {"function": f, "self_pct": 100 * self_n[f] / busy, "incl_pct": 100 * n / busy}
        for f, n in incl_n.most_common()
        if "corridor/" in f
    ][:top]
    return [
        {"busy_samples": busy},
        *[{"kind": "self", **h} for h in hot],
        *[{"kind": "corridor", **h} for h in corridor],
    ]


# --- the whole run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentsFigures:
    config: PaymentsBenchConfig
    database: str
    throughput: ThroughputFigures
    latency: LatencyFigures
    db_commits_per_s: float
    sign_per_s: float
    setup_s: float
    load_avg_1m: float
    profile: list[dict[str, Any]]
    elapsed_s: float


def _timestamped(log: Log, started: float) -> Log:
    return lambda line: log(f"[{time.perf_counter() - started:6.1f} s] {line}")


def run(
    config: PaymentsBenchConfig,
    log: Log = lambda _: None,
    *,
    database_url: str | None = None,
    duration_s: float | None = None,
    profile: bool = False,
) -> PaymentsFigures:
    """Every measurement (seconds when quick, a few minutes otherwise)."""
    if duration_s is not None:
        config = dataclasses.replace(config, duration_s=duration_s)
    if profile and _py_spy() is None:
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    started = time.perf_counter()
    load_avg_1m = os.getloadavg()[0]
    log = _timestamped(log, started)
    with tempfile.TemporaryDirectory(prefix="corridor-bench-payments-") as tmp:
        root = Path(tmp)
        log("machine limits: SQLite write transactions, signatures")
        db_commits = measure_db_commits(root / "probe.db", config.probe_s)
        sign = measure_sign(config.probe_s)
        log(f"  {db_commits:,.0f} commits/s, {sign:,.0f} signatures/s")
        home = init_demo_home(root / "home", genesis_time_ms=int(time.time() * 1000))
        node = NodeProcess(home, block_interval_ms=BLOCK_INTERVAL_MS)
        data_dir = root / "platform"
        url = database_url or f"sqlite:///{data_dir / 'platform.db'}"
        settings = Settings(data_dir=data_dir, database_url=url, fast_password_hashing=True)
        p = bootstrap.build(settings)  # migrates; this process only reads and seeds
        server: PlatformProcess | None = None
        try:
            log(f"seeding {config.customers} customers")
            customers = seed_customers(p, config.customers)
            server = PlatformProcess(data_dir, url, node)
            alive = server.alive
            ids = [c.wallet_id for c in customers]
            _wait(
                "the wallets to open on chain",
                lambda: _wallets_ready(p, ids),
                SETUP_TIMEOUT_S,
                alive,
            )
            log("funding every wallet (issuer mints)")
            mints = fund(p, customers)
            _wait("the mints", lambda: _mints_done(p, mints), SETUP_TIMEOUT_S, alive)
            setup_s = time.perf_counter() - started
            log(
                f"throughput: {config.clients} clients, {config.warmup_s:.0f} s warm-up, "
                f"{config.duration_s:.0f} s window"
            )
            profilers: list[Profiler] = []
            timer = None
            if profile:  # py-spy samples the window only, not the warm-up
                pid, out = server.pid, root / "profile.txt"
                timer = threading.Timer(
                    config.warmup_s, lambda: profilers.append(Profiler(pid, config.duration_s, out))
                )
                timer.start()
            throughput = measure_throughput(p, server, node, customers, config, log)
            log(
                f"  {throughput.payments_per_s:,.1f} credited/s "
                f"({throughput.created_per_s:,.1f} created/s), drained in "
                f"{throughput.drain_s:.1f} s"
            )
            if timer is not None:
                timer.join()
            summary = profilers[0].summary() if profilers else []
            rate = max(1.0, LATENCY_LOAD * throughput.payments_per_s)
            log(
                f"latency: paced at {rate:,.1f} payments/s for "
                f"{config.latency_warmup_s + config.latency_duration_s:.0f} s"
            )
            latency = measure_latency(p, server, node, customers, rate, config)
            log(f"  p50 {latency.p50_ms:,.0f} ms, p99 {latency.p99_ms:,.0f} ms")
        finally:
            if server is not None:
                server.stop()
            node.stop()
            p.close()
    return PaymentsFigures(
        config=config,
        database="sqlite" if url.startswith("sqlite") else url.split(":", 1)[0],
        throughput=throughput,
        latency=latency,
        db_commits_per_s=db_commits,
        sign_per_s=sign,
        setup_s=setup_s,
        load_avg_1m=load_avg_1m,
        profile=summary,
        elapsed_s=time.perf_counter() - started,
    )


# --- output ---------------------------------------------------------------------------------


def table_rows(f: PaymentsFigures) -> list[Row]:
    t, lat = f.throughput, f.latency
    return [
        Row(
            name="payments_per_s",
            value=t.payments_per_s,
            unit="/s",
            target=TARGET_PAYMENTS_PER_S,
            note=f"credited in a {t.window_s:.0f} s window after {f.config.warmup_s:.0f} s "
            f"warm-up, {t.clients} clients, <= {f.config.in_flight_max} in flight, "
            f"{f.config.customers} customers",
        ),
        Row(
            name="created_per_s",
            value=t.created_per_s,
            unit="/s",
            note=f"API 201s in the window; backlog {t.backlog_at_close:,} at close, "
            f"drained in {t.drain_s:.1f} s",
        ),
        Row(
            name="credited_latency_ms.p50",
            value=lat.p50_ms,
            unit="ms",
            target=TARGET_LATENCY_P50_MS,
            note=f"request sent -> credited, paced at {lat.rate_per_s:,.1f}/s",
        ),
        Row(
            name="credited_latency_ms.p99",
            value=lat.p99_ms,
            unit="ms",
            target=TARGET_LATENCY_P99_MS,
            note=f"{lat.samples:,} payments; max {lat.max_ms:,.0f} ms, "
            f"worst send lateness {lat.late_s_max * 1000:,.0f} ms",
        ),
        Row(
            name="server_latency_ms.p50",
            value=lat.server_p50_ms,
            unit="ms",
            note="platform's created -> credited timestamps",
        ),
        Row(
            name="db_commits_per_s",
            value=f.db_commits_per_s,
            unit="/s",
            note="machine limit: one-row SQLite write txs, platform engine settings",
        ),
        Row(
            name="sign_per_s",
            value=f.sign_per_s,
            unit="/s",
            note="machine limit: Schnorr (secp256k1) signatures, one core",
        ),
        Row(
            name="payments_per_db_commit",
            value=t.payments_per_s / f.db_commits_per_s,
            note="payments_per_s / db_commits_per_s",
        ),
        Row(
            name="cpu_platform_pct",
            value=t.cpu.platform_pct,
            unit="%",
            note=f"throughput window, 100 = one core; node {t.cpu.node_pct:.0f} %, "
            f"load generator {t.cpu.bench_pct:.0f} %, machine "
            f"{t.cpu.machine_busy_pct:.0f} % of {os.cpu_count()} cores",
        ),
        Row(
            name="platform_cpu_ms_per_payment",
            value=_cpu_ms_per_payment(t),
            unit="ms",
            note="platform CPU (API and chain workers) in the window / payments credited in it",
        ),
        Row(
            name="load_avg_1m",
            value=f.load_avg_1m,
            note="at start; other work on the machine skews every figure",
        ),
    ]


def _cpu_ms_per_payment(t: ThroughputFigures) -> float | None:
    if not t.credited_in_window:
        return None
    return t.cpu.platform_pct / 100 * t.cpu.wall_s * 1000 / t.credited_in_window


def json_document(f: PaymentsFigures, rows: Sequence[Row]) -> dict[str, Any]:
    t, lat = f.throughput, f.latency
    return {
        "quick": f.config.quick,
        "payments_per_s": t.payments_per_s,
        "credited_latency_ms": {"p50": lat.p50_ms, "p99": lat.p99_ms},
        "created_per_s": t.created_per_s,
        "db_commits_per_s": f.db_commits_per_s,
        "sign_per_s": f.sign_per_s,
        "payments_per_db_commit": t.payments_per_s / f.db_commits_per_s,
        "load_avg_1m": f.load_avg_1m,
        "database": f.database,
        "customers": f.config.customers,
        "throughput": {
            "window_s": t.window_s,
            "warmup_s": f.config.warmup_s,
            "clients": t.clients,
            "in_flight_max": f.config.in_flight_max,
            "credited_in_window": t.credited_in_window,
            "created": t.created,
            "failed": t.failed,
            "refused": t.refused,
            "backlog_at_close": t.backlog_at_close,
            "drain_s": t.drain_s,
            "cpu": dataclasses.asdict(t.cpu),
            "platform_cpu_ms_per_payment": _cpu_ms_per_payment(t),
            "errors": t.errors,
        },
        "latency": {
            "rate_per_s": lat.rate_per_s,
            "samples": lat.samples,
            "max_ms": lat.max_ms,
            "server_ms": {"p50": lat.server_p50_ms, "p99": lat.server_p99_ms},
            "failed": lat.failed,
            "refused": lat.refused,
            "late_s_max": lat.late_s_max,
            "cpu": dataclasses.asdict(lat.cpu),
            "errors": lat.errors,
        },
        "profile": f.profile,
        "block_interval_ms": BLOCK_INTERVAL_MS,
        "setup_s": f.setup_s,
        "elapsed_s": f.elapsed_s,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform_mod.python_version(),
            "implementation": platform_mod.python_implementation(),
            "platform": platform_mod.platform(),
        },
        "targets": targets_json(rows),
    }


def profile_lines(f: PaymentsFigures) -> list[str]:
    """The profile as text lines for the terminal (empty without --profile)."""
    if not f.profile:
        return []
    out = ["where the platform's time goes (py-spy, throughput window, busy samples):"]
    for item in f.profile:
        if "kind" in item:
            out.append(
                f"  {item['kind']:8} self {item['self_pct']:5.1f} %  incl "
                f"{item['incl_pct']:5.1f} %  {item['function']}"
            )
        elif "error" in item:
            out.append(f"  py-spy failed: {item['error']}")
    return out
