"""Payments through the platform, end to end, on this machine, on SQLite and on PostgreSQL
in the same run: `corridor bench payments`.

Each database gets a pass of its own, one after the other: a one-validator node (`corridor
node start`, the demo home) and the platform API (`corridor platform serve` as it ships: its
API processes, one per core by default, and its chain workers' process) run as their own
processes; SQLite in a temporary data directory, PostgreSQL on a throw-away server this
process starts (bench/payments_pg.py; `--database-url` names an empty PostgreSQL database
instead). Customers are seeded directly in the platform's database by this process
(users with sessions, an accepted KYC record at tier 3 so no limit binds, a custodial
wallet the platform's ledger worker opens and has authorised on chain, funded by an issuer
mint through the settlement worker): none of that is timed. Then, over real HTTP:

- `payments_per_s` (SQLite), `payments_per_s_pg`: `clients` concurrent clients, closed
  loop, POST /v1/payments
  (1.00 USD from one customer to the next by e-mail: a same-currency transfer, no quote),
  senders taken round-robin over every customer so per-account sequencing (16 in flight a
  source) never caps the rate, and at most `in_flight_max` payments created but not yet
  credited (the clients wait above it: an ever-growing backlog is not sustained). After
  `warmup_s`, payments whose `credited` timestamp (the payment's history, recorded by the
  platform) falls in the `duration_s` window, per second of the window. Load stops when
  the window closes; every created payment must then drain to `credited` or the run fails.
  `pg_ratio` = payments_per_s_pg / payments_per_s.
- `credited_latency_ms`: {p50, p99} with creations paced open-loop at LATENCY_LOAD of the
  measured `payments_per_s`, from the moment the client sent the request to the
  payment's `credited` timestamp (both this machine's wall clock): API queueing included.
- Machine limits, measured in the same run before the processes start (the machine is
  shared): `db_commits_per_s` (one-row write transactions on a scratch SQLite file through
  the platform's own engine settings) and `sign_per_s` (Schnorr (secp256k1) signatures, one core).
- CPU accounting: CPU of the platform, the node, the PostgreSQL server and this load
  generator over each phase in cores (bench/harness.py: 1.00 = one core), and the
  platform's CPU per credited payment.
- On PostgreSQL, the statements the server ran in the throughput window (pg_stat_statements):
  per credited payment, that is the platform's round trips per payment.
- `--profile`: py-spy samples the platform process during the throughput window and the
  hottest functions are listed (where the time goes when a target is missed)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from corridor.bench.harness import ChildProcess, CpuFigures, CpuMeter, free_port
from corridor.bench.node_process import NodeProcess
from corridor.bench.payments_load import now_ms, run_closed_loop, run_paced
from corridor.bench.payments_pg import StatementCounter, StatementFigures, throwaway_database
from corridor.bench.payments_setup import (
    Customer,
    drain,
    fund,
    mints_done,
    outcomes,
    seed_customers,
    wait_for,
    wallets_ready,
)
from corridor.bench.profiler import Profiler, py_spy
from corridor.bench.report import Target, percentile, timestamped
from corridor.ledger.keys import KeyPair
from corridor.node.home import init_demo_home
from corridor.platform import bootstrap
from corridor.platform.adapters.db import make_engine
from corridor.platform.config import Settings

BLOCK_INTERVAL_MS = 250  # the node's default
LATENCY_LOAD = 0.5  # of payments_per_s
# Created but not yet credited, at most: the clients wait above it. Without a bound a closed
# loop measures an overload (the API accepts faster than the chain side credits, the backlog
# grows without end); with it, what is credited is what the platform sustains.
IN_FLIGHT_MAX = 300
SERVER_START_TIMEOUT_S = 60.0
SETUP_TIMEOUT_S = 300.0

TARGET_PAYMENTS_PER_S = Target(op=">=", value=200)
TARGET_LATENCY_P50_MS = Target(op="<=", value=1_500)
TARGET_LATENCY_P99_MS = Target(op="<=", value=1_500)  # on each database
# PostgreSQL is the production path: it should not cost much more than SQLite (issue 13).
TARGET_PG_RATIO = Target(op=">=", value=0.8)
# Compliance (screening, AML monitoring) on keeps most of the throughput off (issue 16).
TARGET_COMPLIANCE_RATIO = Target(op=">=", value=0.8)

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


# --- processes ------------------------------------------------------------------------------


class PlatformProcess(ChildProcess):
    """`corridor platform serve` with its workers, as a child process; stopped with SIGTERM."""

    def __init__(self, data_dir: Path, database_url: str, node: NodeProcess,
                 db_pid: int | None = None, *, compliance_off: bool = False) -> None:
        self.database_url = database_url
        self.db_pid = db_pid  # the database server's process (PostgreSQL), if ours
        port = free_port()
        wallets_dir = node.home.path / "wallets"
        cmd = [
            sys.executable, "-m", "corridor.cli.main", "platform", "serve",
            "--port", str(port),
            "--data-dir", str(data_dir),
            "--database-url", database_url,
            "--node-rpc", f"http://127.0.0.1:{node.port}",
            "--issuer-key", str(wallets_dir / "issuer.json"),
            "--operator-key", str(wallets_dir / "treasury.json"),
        ]
        # the "off" leg: no monitor at all (config.Settings.compliance_off, benchmarks only)
        env = {"CORRIDOR_COMPLIANCE_OFF": "1" if compliance_off else "0"}
        super().__init__("platform", cmd, port=port, log_path=data_dir.parent / "platform.log",
                         ready_path="/v1/health", start_timeout_s=SERVER_START_TIMEOUT_S,
                         env=env)


def _meter(server: PlatformProcess, node: NodeProcess) -> CpuMeter:
    named = {"platform": server.pid, "node": node.pid}
    if server.db_pid is not None:
        named["postgres"] = server.db_pid
    return CpuMeter(named)


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
    counter: StatementCounter | None = None,
) -> tuple[ThroughputFigures, StatementFigures | None]:
    start = time.perf_counter()
    open_perf = start + config.warmup_s
    close_perf = open_perf + config.duration_s
    wall_offset = now_ms() - start * 1000  # perf_counter -> wall clock (ms)
    open_ms, close_ms = open_perf * 1000 + wall_offset, close_perf * 1000 + wall_offset
    meter: list[CpuMeter] = []

    def start_meter() -> None:
        time.sleep(max(0.0, open_perf - time.perf_counter()))
        meter.append(_meter(server, node))
        if counter is not None:
            counter.start()

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
    statements = counter.stop() if counter is not None else None
    ids = [s.payment_id for s in load.sent]
    if not ids:
        raise RuntimeError(f"the API created no payment: {dict(load.statuses)} {load.errors[:3]}")
    at_close = outcomes(p, ids)
    backlog = sum(1 for o in at_close.values() if o.credited_ms is None)
    log(f"  load stopped: {len(ids):,} payments created, {backlog:,} not yet credited")
    done, drain_s = drain(p, ids, config.drain_timeout_s, lambda: server.alive())
    credited_in_window = sum(
        1
        for o in done.values()
        if o.credited_ms is not None and open_ms <= o.credited_ms < close_ms
    )
    created_in_window = sum(1 for o in done.values() if open_ms <= o.created_ms < close_ms)
    window_s = (close_ms - open_ms) / 1000
    figures = ThroughputFigures(
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
    return figures, statements


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
    measure_from_ms = now_ms() + config.latency_warmup_s * 1000
    meter = _meter(server, node)
    load = run_paced(server.port, customers, rate, seconds, "lat")
    cpu = meter.stop()
    ids = [s.payment_id for s in load.sent]
    done, _ = drain(p, ids, config.drain_timeout_s, lambda: server.alive())
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
        p50_ms=percentile(client, 50),
        p99_ms=percentile(client, 99),
        max_ms=client[-1],
        server_p50_ms=percentile(own, 50),
        server_p99_ms=percentile(own, 99),
        samples=len(client),
        failed=sum(1 for o in done.values() if o.status == "failed"),
        refused={str(k): v for k, v in load.statuses.items() if k != 201},
        late_s_max=load.late_s_max,
        cpu=cpu,
        errors=load.errors[:5],
    )


# --- the whole run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseFigures:
    """One database's pass: its own node, platform and customers, the same load."""

    database: str  # "sqlite" or "postgresql"
    throughput: ThroughputFigures
    latency: LatencyFigures | None  # None: the compliance-off leg (throughput only)
    setup_s: float
    load_avg_1m: float  # when the pass began
    statements: StatementFigures | None  # PostgreSQL's count over the throughput window
    profile: list[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentsFigures:
    config: PaymentsBenchConfig
    sqlite: DatabaseFigures
    pg: DatabaseFigures
    compliance_off: DatabaseFigures  # SQLite again, with no monitor (throughput only)
    pg_server: str  # "throw-away PostgreSQL 15.x" or the URL's host (password left out)
    db_commits_per_s: float
    sign_per_s: float
    load_avg_1m: float
    elapsed_s: float

    @property
    def pg_ratio(self) -> float:
        sqlite = self.sqlite.throughput.payments_per_s
        return self.pg.throughput.payments_per_s / sqlite if sqlite else 0.0

    @property
    def compliance_ratio(self) -> float:
        """Throughput with compliance on (the SQLite pass) / with it off (the same pass
        with no monitor)."""
        off = self.compliance_off.throughput.payments_per_s
        return self.sqlite.throughput.payments_per_s / off if off else 0.0

    @property
    def compliance_cpu_ratio(self) -> float | None:
        """The platform's CPU per credited payment off / on: what compliance costs the
        platform itself, less swayed than throughput by other work on a shared machine
        between the two legs."""
        on, off = (_platform_cpu_ms(d.throughput) for d in (self.sqlite, self.compliance_off))
        return off / on if on and off else None


def _platform_cpu_ms(t: ThroughputFigures) -> float | None:
    if not t.credited_in_window or "platform" not in t.cpu.named:
        return None
    return t.cpu.named["platform"] * t.cpu.wall_s * 1000 / t.credited_in_window


def run(
    config: PaymentsBenchConfig,
    log: Log = lambda _: None,
    *,
    database_url: str | None = None,
    duration_s: float | None = None,
    profile: bool = False,
) -> PaymentsFigures:
    """Every measurement, on SQLite then on PostgreSQL (a throw-away server unless
    `database_url` names an empty PostgreSQL database): seconds when quick, minutes
    otherwise."""
    if duration_s is not None:
        config = dataclasses.replace(config, duration_s=duration_s)
    if profile and py_spy() is None:
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    if database_url is not None and not database_url.startswith("postgresql"):
        raise RuntimeError("--database-url names the PostgreSQL database to use (an empty "
                           "one); the bench's SQLite database is its own")
    started = time.perf_counter()
    load_avg_1m = os.getloadavg()[0]
    log = timestamped(log, started)
    with tempfile.TemporaryDirectory(prefix="corridor-bench-payments-") as tmp:
        root = Path(tmp)
        log("machine limits: SQLite write transactions, signatures")
        db_commits = measure_db_commits(root / "probe.db", config.probe_s)
        sign = measure_sign(config.probe_s)
        log(f"  {db_commits:,.0f} commits/s, {sign:,.0f} signatures/s")
        log("SQLite")
        sqlite_url = f"sqlite:///{root / 'sqlite' / 'platform' / 'platform.db'}"
        on_sqlite = measure_database(config, root / "sqlite", sqlite_url, None, log, profile)
        log("SQLite, compliance off (no screening, no AML monitoring)")
        off_url = f"sqlite:///{root / 'sqlite-off' / 'platform' / 'platform.db'}"
        off = measure_database(config, root / "sqlite-off", off_url, None, log, False,
                               compliance_off=True)
        with contextlib.ExitStack() as stack:
            if database_url is None:
                url, server = stack.enter_context(throwaway_database())
                where, db_pid = f"throw-away {server.version}", server.postmaster_pid()
            else:
                url, db_pid = database_url, None
                where = sa.engine.make_url(url).render_as_string(hide_password=True)
            log(f"PostgreSQL ({where})")
            on_pg = measure_database(config, root / "pg", url, db_pid, log, profile)
    return PaymentsFigures(
        config=config,
        sqlite=on_sqlite,
        pg=on_pg,
        compliance_off=off,
        pg_server=where,
        db_commits_per_s=db_commits,
        sign_per_s=sign,
        load_avg_1m=load_avg_1m,
        elapsed_s=time.perf_counter() - started,
    )


def measure_database(
    config: PaymentsBenchConfig,
    root: Path,
    url: str,
    db_pid: int | None,
    log: Log,
    profile: bool,
    *,
    compliance_off: bool = False,
) -> DatabaseFigures:
    """One pass: a fresh node and platform on `url`, customers seeded, then the throughput
    and latency phases (`db_pid`: the database server's process, whose CPU is counted).
    `compliance_off`: the platform runs with no monitor, and only throughput is measured."""
    started = time.perf_counter()
    load_avg_1m = os.getloadavg()[0]
    home = init_demo_home(root / "home", genesis_time_ms=int(time.time() * 1000))
    node = NodeProcess(home, block_interval_ms=BLOCK_INTERVAL_MS)
    data_dir = root / "platform"
    settings = Settings(data_dir=data_dir, database_url=url, fast_password_hashing=True)
    p = bootstrap.build(settings)  # migrates; this process only reads and seeds
    counter = StatementCounter(url) if url.startswith("postgresql") else None
    server: PlatformProcess | None = None
    try:
        log(f"  seeding {config.customers} customers")
        customers = seed_customers(p, config.customers)
        server = PlatformProcess(data_dir, url, node, db_pid, compliance_off=compliance_off)
        alive = server.alive
        ids = [c.wallet_id for c in customers]
        wait_for("the wallets to open on chain", lambda: wallets_ready(p, ids),
                 SETUP_TIMEOUT_S, alive)
        log("  funding every wallet (issuer mints)")
        mints = fund(p, customers)
        wait_for("the mints", lambda: mints_done(p, mints), SETUP_TIMEOUT_S, alive)
        setup_s = time.perf_counter() - started
        log(f"  throughput: {config.clients} clients, {config.warmup_s:.0f} s warm-up, "
            f"{config.duration_s:.0f} s window")
        profilers: list[Profiler] = []
        timer = None
        if profile:  # py-spy samples the window only, not the warm-up
            pid, out = server.pid, root / "profile.txt"
            timer = threading.Timer(
                config.warmup_s, lambda: profilers.append(Profiler(pid, config.duration_s, out)))
            timer.start()
        throughput, statements = measure_throughput(p, server, node, customers, config, log,
                                                    counter)
        log(f"    {throughput.payments_per_s:,.1f} credited/s "
            f"({throughput.created_per_s:,.1f} created/s), drained in "
            f"{throughput.drain_s:.1f} s")
        if timer is not None:
            timer.join()
        summary = profilers[0].summary() if profilers else []
        latency = None
        if compliance_off:
            return DatabaseFigures(database="sqlite" if url.startswith("sqlite") else
                                   "postgresql", throughput=throughput, latency=None,
                                   setup_s=setup_s, load_avg_1m=load_avg_1m,
                                   statements=statements, profile=summary)
        rate = max(1.0, LATENCY_LOAD * throughput.payments_per_s)
        log(f"  latency: paced at {rate:,.1f} payments/s for "
            f"{config.latency_warmup_s + config.latency_duration_s:.0f} s")
        latency = measure_latency(p, server, node, customers, rate, config)
        log(f"    p50 {latency.p50_ms:,.0f} ms, p99 {latency.p99_ms:,.0f} ms")
    finally:
        if server is not None:
            server.stop()
        node.stop()
        p.close()
        if counter is not None:
            counter.close()
    return DatabaseFigures(
        database="sqlite" if url.startswith("sqlite") else "postgresql",
        throughput=throughput,
        latency=latency,
        setup_s=setup_s,
        load_avg_1m=load_avg_1m,
        statements=statements,
        profile=summary,
    )
