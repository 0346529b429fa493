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
- `apply_ratio_node`: `committed_tps` over the ledger bench's `apply_signed_per_s`, measured
  in this run (before the node starts, so the two never share the machine).
- `rss_mb_1m_accounts`, `startup_s_1m_accounts`: the node's resident memory (VmRSS) once it
  answers RPC, and the time until it does, started on a genesis of 10^6 accounts (first start:
  it parses the genesis, builds the state tree and writes the state store).

Each phase pays with its own senders (distinct accounts: per-account sequences would
otherwise serialise), funded in the genesis. Signing, building homes and starting the
throughput node are never timed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from corridor.bench import ledger_bench
from corridor.bench.node_load import request_bodies, submit_closed_loop, submit_paced
from corridor.bench.node_process import BlockSeen, CommitFollower, NodeProcess
from corridor.bench.report import Row, Target, machine_json, targets_json
from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import Payment, Transaction
from corridor.node.home import Home, write_key

CHAIN_ID = "corridor-bench-node"
SENDERS = 2_000  # per phase: distinct accounts, so sequences never serialise a block
# Payees that never pay. Were the senders paid too, the mempool would re-validate each sender's
# ready run after every block (a received payment changes the account unpredictably) and a
# block would hold one tx per sender: the shape of many payers paying a few merchants instead.
RECEIVERS = 2_000
BATCH_TXS = 500  # per batched request (the RPC takes up to 1,000)
SUBMIT_CLIENTS = 4  # concurrent connections for batches
SINGLE_CLIENTS = 16  # concurrent connections for one-transaction requests
IN_FLIGHT_MAX = 15_000  # submitted, not committed: three blocks, far below the mempool's cap
BLOCK_INTERVAL_MS = 250
LATENCY_LOAD = 0.5  # of committed_tps
LATENCY_TICK_S = 0.02  # paced submission: one small batch this often
LATENCY_CLIENTS = 4
INITIAL_BALANCE_MINOR = 10**12
TX_LIFETIME_MS = 3_600_000
DRAIN_TIMEOUT_S = 60.0
SIGN_CHUNK_ROUNDS = 2

TARGET_COMMITTED_TPS = Target(op=">=", value=3_000)
TARGET_COMMITTED_TPS_SINGLE = Target(op=">=", value=1_000)
TARGET_LATENCY_P99_MS = Target(op="<=", value=1_000)
TARGET_RSS_MB = Target(op="<=", value=1_500)

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeBenchConfig:
    """How long each phase runs and how big the states are. `QUICK` stays under 90 s."""

    quick: bool
    duration_s: float  # measured window of each throughput phase
    warmup_s: float  # submitted before the window opens (mempool fills, blocks get full)
    latency_duration_s: float
    plan_tps: float  # payments signed per second of a batched phase: more than it can commit
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
    plan_tps=5_000,
    plan_tps_single=2_500,
    rss_accounts=1_000_000,
    apply=_APPLY_FULL,
)
QUICK = NodeBenchConfig(
    quick=True,
    duration_s=5.0,
    warmup_s=2.0,
    latency_duration_s=5.0,
    plan_tps=4_000,
    plan_tps_single=2_000,
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


def _digest(*parts: bytes) -> bytes:
    return hashlib.sha256(b"corridor-bench-node:" + b":".join(parts)).digest()


# --- homes and genesis ----------------------------------------------------------------------


@lru_cache(maxsize=4)
def _sender_keys(first: int, count: int) -> tuple[KeyPair, ...]:
    """Senders `first..first+count-1`, derived from their index (cached per process)."""
    return tuple(
        KeyPair.from_seed(_digest(b"sender", i.to_bytes(8, "big")))
        for i in range(first, first + count)
    )


def _issuer() -> KeyPair:
    return KeyPair.from_seed(_digest(b"issuer"))


def _receiver_address(i: int) -> bytes:
    return keys.address_of(ledger_bench.placeholder_key(i))


def genesis_doc(
    validators: Sequence[bytes],
    *,
    senders: int,
    receivers: int,
    placeholders: int,
    genesis_time_ms: int,
) -> dict[str, Any]:
    """A genesis with `validators` (public keys, power 1 each), the issuer of USD, `senders`
    funded and authorised sender accounts (indices 0..senders-1), `receivers` authorised payees
    with nothing (placeholder keys 0..receivers-1) and `placeholders` bare accounts (the
    placeholder keys after them)."""
    issuer = _issuer()
    issuer_text = keys.encode_address(issuer.address)
    sender_keys = [kp.public_key for kp in _sender_keys(0, senders)] if senders else []
    accounts = [issuer.public_key, *sender_keys]
    accounts.extend(ledger_bench.placeholder_key(i) for i in range(receivers + placeholders))
    return {
        "chain_id": CHAIN_ID,
        "genesis_time_ms": genesis_time_ms,
        "validators": [{"public_key": keys.encode_public_key(pk), "power": 1} for pk in validators],
        "accounts": [{"public_key": keys.encode_public_key(pk)} for pk in accounts],
        "assets": [
            {
                "code": "USD",
                "issuer": issuer_text,
                "decimals": 2,
                "auth_required": True,
                "freezable": True,
                "clawback": True,
            }
        ],
        "balances": [
            {
                "holder": keys.encode_address(keys.address_of(pk)),
                "code": "USD",
                "issuer": issuer_text,
                "amount": amount,
            }
            for pk, amount in itertools.chain(
                ((pk, INITIAL_BALANCE_MINOR) for pk in sender_keys),
                ((ledger_bench.placeholder_key(i), 0) for i in range(receivers)),
            )
        ],
    }


def write_home(
    path: Path, *, senders: int, receivers: int, placeholders: int, genesis_time_ms: int
) -> Home:
    """A one-validator home on `genesis_doc` (see there for the accounts)."""
    home = Home(path)
    validator = KeyPair.from_seed(_digest(b"validator"))
    write_key(home.key_path, validator)
    doc = genesis_doc(
        [validator.public_key],
        senders=senders,
        receivers=receivers,
        placeholders=placeholders,
        genesis_time_ms=genesis_time_ms,
    )
    home.genesis_path.write_text(json.dumps(doc, separators=(",", ":")))
    return home


# --- signing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _SignJob:
    first_sender: int
    senders: int
    receivers: int
    rounds: range  # sequence numbers
    not_after_ms: int


def _sign_job(job: _SignJob) -> list[tuple[str, str]]:
    """(tx id hex, encoding hex) of one payment per sender per round, round by round.

    Sender k pays receiver k (modulo their number) in every round.
    """
    kps = _sender_keys(job.first_sender, job.senders)
    receivers = [_receiver_address(i) for i in range(job.receivers)]
    usd = Asset("USD", _issuer().address)
    out = []
    for sequence in job.rounds:
        for k, kp in enumerate(kps):
            tx = Transaction(
                chain_id=CHAIN_ID,
                source=kp.address,
                sequence=sequence,
                not_before_ms=0,
                not_after_ms=job.not_after_ms,
                operations=(
                    Payment(destination=receivers[k % len(receivers)], asset=usd, amount=1),
                ),
            )
            stx = tx.sign(kp)
            out.append((stx.tx_id.hex(), stx.encode().hex()))
    return out


def sign_payments(
    pool: ProcessPoolExecutor, first_sender: int, senders: int, rounds: int
) -> list[tuple[str, str]]:
    """`rounds` payments from each of `senders` senders, in round (= sequence) order."""
    not_after_ms = int(time.time() * 1000) + TX_LIFETIME_MS
    jobs = [
        _SignJob(
            first_sender=first_sender,
            senders=senders,
            receivers=RECEIVERS,
            rounds=range(lo, min(lo + SIGN_CHUNK_ROUNDS, rounds + 1)),
            not_after_ms=not_after_ms,
        )
        for lo in range(1, rounds + 1, SIGN_CHUNK_ROUNDS)
    ]
    return [item for chunk in pool.map(_sign_job, jobs) for item in chunk]


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
            until=until,
            in_flight_max=in_flight_max,
        )
        closes = min(until, time.perf_counter())
        if closes < until:
            log(f"  warning: the {len(txs):,} signed payments ran out {until - closes:.1f} s early")
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


def _percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    assert sorted_values
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


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
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
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


def _timestamped(log: Log, started: float) -> Log:
    return lambda line: log(f"[{time.perf_counter() - started:5.1f} s] {line}")


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
    log = _timestamped(log, started)
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


def table_rows(f: NodeFigures) -> list[Row]:
    """The table: every headline figure, with its target where it has one."""
    size = f"{f.memory.accounts:,} accounts" + (" (quick: not 1m)" if f.config.quick else "")
    return [
        Row(
            name="committed_tps",
            value=f.batched.committed_tps,
            unit="tx/s",
            target=TARGET_COMMITTED_TPS,
            note=f"batches of {BATCH_TXS}, {SUBMIT_CLIENTS} clients, "
            f"{f.batched.window_s:.1f} s window, {f.batched.mean_block_txs:,.0f} txs/block",
        ),
        Row(
            name="committed_tps_single",
            value=f.single.committed_tps,
            unit="tx/s",
            target=TARGET_COMMITTED_TPS_SINGLE,
            note=f"one tx a request, {SINGLE_CLIENTS} clients, {f.single.window_s:.1f} s window",
        ),
        Row(
            name="commit_latency_ms.p50",
            value=f.latency.p50_ms,
            unit="ms",
            note=f"paced at {f.latency.rate_tps:,.0f} tx/s, {BLOCK_INTERVAL_MS} ms blocks",
        ),
        Row(
            name="commit_latency_ms.p99",
            value=f.latency.p99_ms,
            unit="ms",
            target=TARGET_LATENCY_P99_MS,
            note=f"{f.latency.samples:,} txs",
        ),
        Row(
            name="apply_signed_per_s",
            value=f.apply_signed_per_s,
            unit="tx/s",
            note="ledger bench, one core, same run",
        ),
        Row(
            name="apply_ratio_node",
            value=f.batched.committed_tps / f.apply_signed_per_s,
            note="committed_tps / apply_signed_per_s",
        ),
        Row(
            name="rss_mb_1m_accounts",
            value=f.memory.rss_mb,
            unit="MiB",
            target=TARGET_RSS_MB,
            note=f"VmRSS after start, {size}",
        ),
        Row(
            name="startup_s_1m_accounts",
            value=f.memory.startup_s,
            unit="s",
            note=f"first start to RPC ready, {size}",
        ),
        Row(
            name="load_avg_1m",
            value=f.load_avg_1m,
            note="at start; above ~0.5 other work skews the figures",
        ),
    ]


def json_document(f: NodeFigures, rows: Sequence[Row]) -> dict[str, Any]:
    """The JSON file: headline figures as top-level numbers (latency as {p50, p99})."""
    return {
        "quick": f.config.quick,
        "committed_tps": f.batched.committed_tps,
        "committed_tps_single": f.single.committed_tps,
        "commit_latency_ms": {"p50": f.latency.p50_ms, "p99": f.latency.p99_ms},
        "apply_ratio_node": f.batched.committed_tps / f.apply_signed_per_s,
        "apply_signed_per_s": f.apply_signed_per_s,
        "rss_mb_1m_accounts": f.memory.rss_mb,
        "startup_s_1m_accounts": f.memory.startup_s,
        "load_avg_1m": f.load_avg_1m,
        "rss_accounts": f.memory.accounts,
        "rss_peak_mb": f.memory.rss_peak_mb,
        "genesis_bytes": f.memory.genesis_bytes,
        "node_rss_mb_after_load": f.node_rss_mb_after_load,
        "commit_latency_max_ms": f.latency.max_ms,
        "latency_rate_tps": f.latency.rate_tps,
        "latency_samples": f.latency.samples,
        "batched": _throughput_json(f.batched),
        "single": _throughput_json(f.single),
        "rejected": f.batched.rejected + f.single.rejected + f.latency.rejected,
        "senders_per_phase": SENDERS,
        "batch_txs": BATCH_TXS,
        "block_interval_ms": BLOCK_INTERVAL_MS,
        "duration_s": f.config.duration_s,
        "elapsed_s": f.elapsed_s,
        "machine": machine_json(),
        "targets": targets_json(rows),
    }


def _throughput_json(t: ThroughputFigures) -> dict[str, float | int]:
    return {
        "window_s": t.window_s,
        "window_txs": t.window_txs,
        "blocks": t.blocks,
        "mean_block_txs": t.mean_block_txs,
        "submitted": t.submitted,
        "rejected": t.rejected,
    }
