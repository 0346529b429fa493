"""A real node's throughput, latency and memory on this machine: `corridor bench node`.

The node runs as its own process (`corridor node start`, SQLite store, one validator) in a
temporary home; a load generator in this process submits pre-signed payments over the RPC and
counts commits from the node's SSE stream (`/v1/events`):

- `committed_tps`: committed payments per second over the steady window, submitted in
  batches of BATCH_TXS (`{"txs": [...]}`) by SUBMIT_CLIENTS concurrent connections, closed
  loop (at most IN_FLIGHT_MAX submitted but not yet committed, well inside the mempool).
- `committed_tps_single`: the same with one transaction per request (`{"tx": ...}`).
- `commit_latency_ms`: {p50, p99} from sending a transaction to the arrival of the SSE block
  event that holds it, with submission paced at LATENCY_LOAD of `committed_tps`, in small
  batches every LATENCY_TICK_S, and the node making blocks every 250 ms.
- `apply_ratio_node`, `apply_ratio_node_single`: `committed_tps` and `committed_tps_single`
  over the ledger bench's `apply_signed_per_s`, measured in this run (before the node starts,
  so the two never share the machine).
- `rss_mb_1m_accounts`, `startup_s_1m_accounts`: the node's resident memory (VmRSS) once it
  answers RPC, and the time until it does, started on a genesis of 10^6 accounts (first start:
  it parses the genesis, builds the state tree and writes the state store).

Each phase pays with its own senders (distinct accounts: per-account sequences would
otherwise serialise), funded in the genesis. Signing, building homes and starting the
throughput node are never timed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from corridor.bench import ledger_bench
from corridor.bench.node_load import request_bodies, submit_closed_loop, submit_paced
from corridor.bench.node_process import BlockSeen, CommitFollower, NodeProcess
from corridor.bench.node_setup import RECEIVERS, SENDERS, sign_payments, write_home
from corridor.bench.report import Target, percentile, timestamped

BATCH_TXS = 500  # per batched request (the RPC takes up to 1,000)
SUBMIT_CLIENTS = 4  # concurrent connections for batches
SINGLE_CLIENTS = 16  # concurrent connections for one-transaction requests
IN_FLIGHT_MAX = 15_000  # submitted, not committed: three blocks, far below the mempool's cap
BLOCK_INTERVAL_MS = 250
LATENCY_LOAD = 0.5  # of committed_tps
LATENCY_TICK_S = 0.02  # paced submission: one small batch this often
LATENCY_CLIENTS = 4
DRAIN_TIMEOUT_S = 60.0
# A throughput window closes after its duration once it holds this many blocks, or at the
# latest this long after its duration: a slow round (a view change, a loaded machine) must
# not leave a window with less than a block interval in it, which would measure nothing.
WINDOW_BLOCKS_MIN = 3
WINDOW_EXTENSION_S_MAX = 60.0

TARGET_COMMITTED_TPS = Target(op=">=", value=3_000)
TARGET_COMMITTED_TPS_SINGLE = Target(op=">=", value=1_000)
TARGET_LATENCY_P99_MS = Target(op="<=", value=1_000)
TARGET_RSS_MB = Target(op="<=", value=1_500)
TARGET_APPLY_RATIO_NODE = Target(op=">=", value=0.5)
TARGET_APPLY_RATIO_NODE_SINGLE = Target(op=">=", value=0.12)
TARGET_STARTUP_S = Target(op="<=", value=20)  # at 10^6 accounts (not in --quick)

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeBenchConfig:
    """How long each phase runs and how big the states are. `QUICK` stays under 90 s."""

    quick: bool
    duration_s: float  # measured window of each throughput phase
    warmup_s: float  # submitted before the window opens (mempool fills, blocks get full)
    latency_duration_s: float
    # Payments signed per second of a phase: more than the node can commit, or the phase
    # runs out early and measures a window of one or two blocks (6,600 tx/s batched was
    # measured on a quiet machine with 4,000 planned).
    plan_tps: float
    plan_tps_single: float
    rss_accounts: int
    apply: ledger_bench.BenchConfig


_APPLY_FULL = ledger_bench.BenchConfig(
    quick=False,
    verify_keys=0,
    verify_rounds=0,
    apply_accounts=ledger_bench.APPLY_ACCOUNTS,
    apply_blocks=2,
    apply_rounds=2,
    state_root_accounts=(0, 0),
    state_root_blocks=0,
)
FULL = NodeBenchConfig(
    quick=False,
    duration_s=20.0,
    warmup_s=3.0,
    latency_duration_s=12.0,
    plan_tps=12_000,
    plan_tps_single=4_000,
    rss_accounts=1_000_000,
    apply=_APPLY_FULL,
)
QUICK = NodeBenchConfig(
    quick=True,
    duration_s=5.0,
    warmup_s=2.0,
    latency_duration_s=5.0,
    plan_tps=10_000,
    plan_tps_single=3_000,
    rss_accounts=20_000,
    apply=ledger_bench.BenchConfig(
        quick=True,
        verify_keys=0,
        verify_rounds=0,
        apply_accounts=20_000,
        apply_blocks=1,
        apply_rounds=1,
        state_root_accounts=(0, 0),
        state_root_blocks=0,
    ),
)


# --- phases ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ThroughputFigures:
    committed_tps: float
    window_s: float  # between the first and last block arrivals counted
    window_txs: int
    submitted: int
    rejected: int
    blocks: int
    mean_block_txs: float


def _steady_rate(
    blocks: Sequence[BlockSeen], opens: float, closes: float
) -> tuple[float, float, int, int]:
    """(tx/s, seconds, txs, blocks) between the last block at or before `opens` and the last
    block at or before `closes`: whole block intervals, so a window edge cuts no block."""
    before = [b for b in blocks if b.at <= opens]
    inside = [b for b in blocks if opens < b.at <= closes]
    if not inside:
        return 0.0, 0.0, 0, 0
    first = before[-1].at if before else inside[0].at
    if not before:
        inside = inside[1:]
    txs = sum(b.txs for b in inside)
    seconds = inside[-1].at - first if inside else 0.0
    return (txs / seconds if seconds > 0 else 0.0), seconds, txs, len(inside)


def _window_over(blocks: Sequence[BlockSeen], opens: float, until: float) -> bool:
    """The window (opens, now] has lasted until `until` and holds WINDOW_BLOCKS_MIN blocks,
    or has been extended as far as it may."""
    now = time.perf_counter()
    if now < until:
        return False
    if now >= until + WINDOW_EXTENSION_S_MAX:
        return True
    inside = 0
    for block in reversed(blocks):  # appended by the follower's thread: read from the end
        if block.at <= opens:
            break
        inside += 1
    return inside >= WINDOW_BLOCKS_MIN


def measure_throughput(
    node: NodeProcess,
    txs: Sequence[tuple[str, str]],
    *,
    per_request: int,
    clients: int,
    config: NodeBenchConfig,
    log: Log,
    ports: Sequence[int] = (),
    in_flight_max: int = IN_FLIGHT_MAX,
) -> ThroughputFigures:
    """Closed-loop load on `ports` (default: the node's), commits followed on `node`."""
    bodies = request_bodies(txs, per_request)
    height = node.get("/v1/status")[1]["height"]
    follower = CommitFollower(node.port, height + 1)
    try:
        started = time.perf_counter()
        opens = started + config.warmup_s
        until = opens + config.duration_s
        tally = submit_closed_loop(
            ports or (node.port,),
            bodies,
            follower,
            clients=clients,
            committed_before=0,
            over=functools.partial(_window_over, follower.blocks, opens, until),
            in_flight_max=in_flight_max,
        )
        closes = time.perf_counter()
        if not _window_over(follower.blocks, opens, until):
            log(f"  warning: the {len(txs):,} signed payments ran out before the window closed")
        elif closes > until + 0.5:
            log(f"  window extended by {closes - until:.1f} s to hold {WINDOW_BLOCKS_MIN} blocks")
        drained = follower.wait_committed(tally.accepted, DRAIN_TIMEOUT_S)
        if not drained:
            log(f"  warning: {tally.accepted - follower.committed:,} accepted txs not committed")
        rate, seconds, window_txs, n_blocks = _steady_rate(follower.blocks, opens, closes)
    finally:
        follower.close()
    if tally.errors:
        log(f"  {tally.rejected:,} rejected, e.g. {tally.errors[0]}")
    return ThroughputFigures(
        committed_tps=rate,
        window_s=seconds,
        window_txs=window_txs,
        submitted=tally.submitted,
        rejected=tally.rejected,
        blocks=n_blocks,
        mean_block_txs=window_txs / n_blocks if n_blocks else 0.0,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyFigures:
    rate_tps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    samples: int
    rejected: int


def measure_latency(
    node: NodeProcess,
    txs: Sequence[tuple[str, str]],
    rate_tps: float,
    *,
    config: NodeBenchConfig,
    log: Log,
    ports: Sequence[int] = (),
) -> LatencyFigures:
    """Paced load on `ports` (default: the node's), commits followed on `node`."""
    per_request = max(1, round(rate_tps * LATENCY_TICK_S))
    bodies = request_bodies(txs, per_request)
    height = node.get("/v1/status")[1]["height"]
    follower = CommitFollower(node.port, height + 1)
    try:
        started = time.perf_counter()
        opens = started + config.warmup_s
        until = opens + config.latency_duration_s
        tally = submit_paced(
            ports or (node.port,), bodies, rate_tps, clients=LATENCY_CLIENTS, until=until
        )
        if not follower.wait_committed(tally.accepted, DRAIN_TIMEOUT_S):
            log(f"  warning: {tally.accepted - follower.committed:,} accepted txs not committed")
    finally:
        follower.close()
    latencies = []
    for i, sent in tally.sent_at.items():
        if sent < opens:
            continue
        for tx_id, _ in txs[i * per_request : (i + 1) * per_request]:
            committed = follower.committed_at.get(tx_id)
            if committed is not None:
                latencies.append((committed - sent) * 1e3)
    latencies.sort()
    if not latencies:
        raise RuntimeError("no transaction committed in the latency window")
    return LatencyFigures(
        rate_tps=rate_tps,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1],
        samples=len(latencies),
        rejected=tally.rejected,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryFigures:
    accounts: int
    rss_mb: float
    rss_peak_mb: float
    startup_s: float
    genesis_bytes: int
    genesis_write_s: float


def measure_memory(root: Path, accounts: int, log: Log) -> MemoryFigures:
    """Starts a node on a genesis of `accounts` accounts (the issuer and placeholders)."""
    log(f"writing a genesis of {accounts:,} accounts")
    started = time.perf_counter()
    home = write_home(
        root / "big",
        senders=0,
        receivers=0,
        placeholders=accounts - 1,
        genesis_time_ms=int(time.time() * 1000),
    )
    written = time.perf_counter() - started
    log(f"starting a node on {accounts:,} accounts")
    node = NodeProcess(home, block_interval_ms=BLOCK_INTERVAL_MS)
    try:
        time.sleep(0.5)  # let start-up garbage settle before reading RSS
        rss, peak = node.rss_mb()
    finally:
        node.stop()
    return MemoryFigures(
        accounts=accounts,
        rss_mb=rss,
        rss_peak_mb=peak,
        startup_s=node.startup_s,
        genesis_bytes=home.genesis_path.stat().st_size,
        genesis_write_s=written,
    )


# --- the whole run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFigures:
    """Everything one run measured."""

    config: NodeBenchConfig
    batched: ThroughputFigures
    single: ThroughputFigures
    latency: LatencyFigures
    apply_signed_per_s: float
    memory: MemoryFigures
    node_rss_mb_after_load: float
    load_avg_1m: float  # at the start: other work on the machine skews every figure
    elapsed_s: float


def _rounds(tps: float, config: NodeBenchConfig, seconds: float) -> int:
    return max(2, math.ceil(tps * (config.warmup_s + seconds) / SENDERS))


def run(
    config: NodeBenchConfig,
    log: Log = lambda _: None,
    duration_s: float | None = None,
    seed: int = 1,
) -> NodeFigures:
    """Runs every measurement (about a minute when quick, a few minutes otherwise)."""
    if duration_s is not None:
        config = dataclasses.replace(config, duration_s=duration_s)
    started = time.perf_counter()
    load_avg_1m = os.getloadavg()[0]
    log = timestamped(log, started)
    log("measuring the ledger's apply_signed_per_s (ledger bench, reduced)")
    apply = ledger_bench.measure_apply(config.apply, random.Random(seed), log)
    with tempfile.TemporaryDirectory(prefix="corridor-bench-node-") as tmp:
        root = Path(tmp)
        senders = 3 * SENDERS  # batched, single, latency: each phase its own accounts
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            rounds = _rounds(config.plan_tps, config, config.duration_s)
            log(f"signing {rounds * SENDERS:,} payments for the batched phase")
            batched_txs = sign_payments(pool, 0, SENDERS, rounds)
            rounds = _rounds(config.plan_tps_single, config, config.duration_s)
            log(f"signing {rounds * SENDERS:,} payments for the single phase")
            single_txs = sign_payments(pool, SENDERS, SENDERS, rounds)
            home = write_home(
                root / "load",
                senders=senders,
                receivers=RECEIVERS,
                placeholders=0,
                genesis_time_ms=int(time.time() * 1000),
            )
            node = NodeProcess(home, block_interval_ms=BLOCK_INTERVAL_MS)
            try:
                log(f"batched load: {BATCH_TXS} txs a request, {SUBMIT_CLIENTS} clients")
                batched = measure_throughput(
                    node,
                    batched_txs,
                    per_request=BATCH_TXS,
                    clients=SUBMIT_CLIENTS,
                    config=config,
                    log=log,
                )
                log(f"  committed {batched.committed_tps:,.0f} tx/s")
                log(f"one tx a request, {SINGLE_CLIENTS} clients")
                single = measure_throughput(
                    node, single_txs, per_request=1, clients=SINGLE_CLIENTS, config=config, log=log
                )
                log(f"  committed {single.committed_tps:,.0f} tx/s")
                rate = max(1.0, LATENCY_LOAD * batched.committed_tps)
                rounds = _rounds(rate, config, config.latency_duration_s) + 1
                log(f"signing {rounds * SENDERS:,} payments for the latency phase")
                latency_txs = sign_payments(pool, 2 * SENDERS, SENDERS, rounds)
                log(f"paced load at {rate:,.0f} tx/s")
                latency = measure_latency(node, latency_txs, rate, config=config, log=log)
                rss_after_load, _ = node.rss_mb()
            finally:
                node.stop()
        memory = measure_memory(root, config.rss_accounts, log)
    return NodeFigures(
        config=config,
        batched=batched,
        single=single,
        latency=latency,
        apply_signed_per_s=apply.signed_per_s,
        memory=memory,
        node_rss_mb_after_load=rss_after_load,
        load_avg_1m=load_avg_1m,
        elapsed_s=time.perf_counter() - started,
    )
