"""A 4-validator network on this machine, real processes and TCP: `corridor bench network`.

The validators are `corridor node start` processes on 127.0.0.1, set up like `corridor localnet`
(`network_homes.create`: keys, mutual-TLS identities, peers.json) in a temporary directory,
on a genesis that funds the load generator's senders. One run measures, in this order:

- `committed_tps_single_node`: one validator alone (`node_bench`'s batched closed loop, a short
  phase): the baseline of `network_ratio`.
- `committed_tps`: the network's committed payments per second, batches of NET_BATCH_TXS
  spread over every validator's RPC (client k posts to validator k; each sender's payments
  always go to the same validator, which gossips them), commits followed on validator 0.
- `finality_ms` {p50, p99}: submission to the commit's SSE event on validator 0, paced at
  FINALITY_LOAD of `committed_tps` and spread over the validators' RPCs.
- then one validator (the last) is SIGKILLed and `committed_tps_one_down` and
  `finality_ms_one_down` are measured the same way on the three that are left: the killed one
  is still in the proposer rotation, so its turns cost a propose timeout.
- `network_ratio` = `committed_tps` / `committed_tps_single_node`.

Machine context measured in the same run: `verify_per_s` (one core, `keys.verify`), the load
average at the start and, per phase, how many cores the nodes, this load generator and other
processes on the machine used. Every phase is bounded in time (its window, then at most
node_bench.DRAIN_TIMEOUT_S of drain); every node process is reaped on the way out.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.bench import node_bench, node_setup, rounds, signatures
from corridor.bench.harness import CpuFigures, CpuMeter
from corridor.bench.node_bench import LatencyFigures, NodeBenchConfig, ThroughputFigures
from corridor.bench.node_process import NodeProcess
from corridor.bench.report import Row, Target, machine_json, targets_json, timestamped
from corridor.ledger.keys import KeyPair
from corridor.node.home import Home
from corridor.node.network_homes import create

VALIDATORS = 4
# Senders per network phase, and payments per request: 12 requests make a round (one payment
# per sender), so with 4 clients (or 3, one validator down) each sender's payments stay on one
# client, hence one validator, in sequence order.
NET_SENDERS = 2_400
NET_BATCH_TXS = 200
assert NET_SENDERS % (NET_BATCH_TXS * VALIDATORS * (VALIDATORS - 1)) == 0
FINALITY_LOAD = 0.5  # of committed_tps
BLOCK_INTERVAL_MS = node_bench.BLOCK_INTERVAL_MS
READY_HEIGHT = 2
READY_TIMEOUT_S = 60.0

TARGET_COMMITTED_TPS = Target(op=">=", value=1_000)
TARGET_FINALITY_P50_MS = Target(op="<=", value=1_000)
TARGET_FINALITY_P99_MS = Target(op="<=", value=2_000)

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkBenchConfig:
    """How long each phase runs. `QUICK` is a smoke run of well under a minute."""

    quick: bool
    single_duration_s: float  # the one-node baseline's window
    duration_s: float  # each network throughput window
    warmup_s: float  # submitted before a window opens
    latency_duration_s: float
    plan_tps_single: float  # payments signed per second of window: more than can commit
    plan_tps: float
    verify_keys: int
    verify_rounds: int
    # Closed loop: at most this many submitted and not yet committed (a few blocks' worth),
    # for the single node too, so that network_ratio compares like with like. Each phase signs
    # this many payments beyond its window's worth, so it never runs out.
    in_flight_max: int

    def phase(self, duration_s: float, latency_duration_s: float) -> NodeBenchConfig:
        """The node bench's view of one phase (it reads only the durations)."""
        return dataclasses.replace(
            node_bench.QUICK if self.quick else node_bench.FULL,
            duration_s=duration_s,
            warmup_s=self.warmup_s,
            latency_duration_s=latency_duration_s,
        )


FULL = NetworkBenchConfig(
    quick=False,
    single_duration_s=8.0,
    duration_s=15.0,
    warmup_s=3.0,
    latency_duration_s=12.0,
    plan_tps_single=5_000,
    plan_tps=2_500,
    verify_keys=2_000,
    verify_rounds=3,
    in_flight_max=6_000,
)
QUICK = NetworkBenchConfig(
    quick=True,
    single_duration_s=2.0,
    duration_s=4.0,
    warmup_s=1.0,
    latency_duration_s=3.0,
    plan_tps_single=2_000,
    plan_tps=1_000,
    verify_keys=200,
    verify_rounds=2,
    in_flight_max=1_000,  # smaller blocks: a short window still spans several
)


# --- CPU over a phase -----------------------------------------------------------------------


@contextmanager
def _cpu_meter(into: list[CpuFigures]) -> Iterator[None]:
    """Appends the phase's CpuFigures to `into` when the block ends (the nodes are this
    process's children, so `children_cores` is theirs; the signing pool is idle meanwhile)."""
    meter = CpuMeter()
    yield
    into.append(meter.stop())


# --- the network ----------------------------------------------------------------------------


def _sender_ranges() -> dict[str, int]:
    """The first sender of each network phase (each its own accounts)."""
    return {
        "throughput": 0,
        "latency": NET_SENDERS,
        "throughput_one_down": 2 * NET_SENDERS,
        "latency_one_down": 3 * NET_SENDERS,
    }


def _network_genesis(validator_keys: list[KeyPair]) -> dict[str, Any]:
    return node_setup.genesis_doc(
        [kp.public_key for kp in validator_keys],
        senders=4 * NET_SENDERS,
        receivers=node_setup.RECEIVERS,
        placeholders=0,
        genesis_time_ms=int(time.time() * 1000),
    )


def start_network(root: Path, log: Log) -> list[NodeProcess]:
    """VALIDATORS validator processes with p2p between them, started side by side (each start
    is mostly Python imports); on any failure or interruption, stops those that did start."""
    listing = create(root, VALIDATORS, 0, genesis_doc=_network_genesis)
    starters = ThreadPoolExecutor(max_workers=VALIDATORS)
    futures = [
        starters.submit(NodeProcess, Home(root / n["home"]), block_interval_ms=BLOCK_INTERVAL_MS)
        for n in listing
    ]
    ok = False
    try:
        starters.shutdown(wait=True)
        failures = [e for f in futures if (e := f.exception()) is not None]
        if failures:
            raise failures[0]
        ok = True
    finally:
        if not ok:  # a start failed, or Ctrl-C: the others may still be coming up
            starters.shutdown(wait=True, cancel_futures=True)
            stop_all(
                [
                    f.result()
                    for f in futures
                    if f.done() and not f.cancelled() and f.exception() is None
                ]
            )
    nodes = [f.result() for f in futures]
    for n, node in zip(listing, nodes, strict=True):
        log(f"  {n['name']}: RPC {node.port}, p2p {n['p2p_port']}, pid {node.pid}")
    try:
        _wait_deciding(nodes)
    except BaseException:
        stop_all(nodes)
        raise
    return nodes


def _wait_deciding(nodes: Sequence[NodeProcess]) -> None:
    """Until every validator has committed READY_HEIGHT (idle, the network makes empty blocks):
    the peers are connected and deciding before any window opens."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = list(nodes)
    while waiting:
        waiting = [n for n in waiting if n.get("/v1/status")[1]["height"] < READY_HEIGHT]
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(
                f"the network did not reach height {READY_HEIGHT} in {READY_TIMEOUT_S:.0f} s:\n"
                + waiting[0].log_tail()
            )
        time.sleep(0.1)


def stop_all(nodes: Sequence[NodeProcess]) -> None:
    for node in nodes:
        node.stop()


# --- phases ---------------------------------------------------------------------------------


def _rounds(tps: float, seconds: float, senders: int = NET_SENDERS, extra: int = 0) -> int:
    """Rounds (one payment per sender) to sign for `seconds` at `tps`, plus `extra` payments."""
    return max(2, math.ceil((tps * seconds + extra) / senders))


def _throughput(
    nodes: Sequence[NodeProcess],
    pool: ProcessPoolExecutor,
    first_sender: int,
    config: NetworkBenchConfig,
    log: Log,
    cpu: list[CpuFigures],
) -> ThroughputFigures:
    rounds = _rounds(
        config.plan_tps, config.warmup_s + config.duration_s, extra=config.in_flight_max
    )
    log(f"signing {rounds * NET_SENDERS:,} payments")
    txs = node_setup.sign_payments(pool, first_sender, NET_SENDERS, rounds)
    log(f"batched load: {NET_BATCH_TXS} txs a request, one client per validator ({len(nodes)})")
    with _cpu_meter(cpu):
        figures = node_bench.measure_throughput(
            nodes[0],
            txs,
            per_request=NET_BATCH_TXS,
            clients=len(nodes),
            config=config.phase(config.duration_s, config.latency_duration_s),
            log=log,
            ports=[n.port for n in nodes],
            in_flight_max=config.in_flight_max,
        )
    log(f"  committed {figures.committed_tps:,.0f} tx/s")
    return figures


def _finality(
    nodes: Sequence[NodeProcess],
    pool: ProcessPoolExecutor,
    first_sender: int,
    rate_tps: float,
    config: NetworkBenchConfig,
    log: Log,
    cpu: list[CpuFigures],
) -> LatencyFigures:
    rounds = _rounds(rate_tps, config.warmup_s + config.latency_duration_s) + 1
    log(f"signing {rounds * NET_SENDERS:,} payments")
    txs = node_setup.sign_payments(pool, first_sender, NET_SENDERS, rounds)
    log(f"paced load at {rate_tps:,.0f} tx/s over {len(nodes)} validators")
    with _cpu_meter(cpu):
        figures = node_bench.measure_latency(
            nodes[0],
            txs,
            rate_tps,
            config=config.phase(config.duration_s, config.latency_duration_s),
            log=log,
            ports=[n.port for n in nodes],
        )
    log(f"  finality p50 {figures.p50_ms:,.0f} ms, p99 {figures.p99_ms:,.0f} ms")
    return figures


def _single_node(
    root: Path,
    pool: ProcessPoolExecutor,
    config: NetworkBenchConfig,
    log: Log,
    cpu: list[CpuFigures],
) -> ThroughputFigures:
    """`node_bench`'s batched phase on one validator alone, stopped before the network starts."""
    phase = config.phase(config.single_duration_s, config.latency_duration_s)
    rounds = _rounds(
        config.plan_tps_single,
        config.warmup_s + config.single_duration_s,
        node_setup.SENDERS,
        config.in_flight_max,
    )
    log(f"signing {rounds * node_setup.SENDERS:,} payments for the single node")
    txs = node_setup.sign_payments(pool, 0, node_setup.SENDERS, rounds)
    home = node_setup.write_home(
        root / "single",
        senders=node_setup.SENDERS,
        receivers=node_setup.RECEIVERS,
        placeholders=0,
        genesis_time_ms=int(time.time() * 1000),
    )
    node = NodeProcess(home, block_interval_ms=BLOCK_INTERVAL_MS)
    try:
        log(f"single node, batches of {node_bench.BATCH_TXS}, {node_bench.SUBMIT_CLIENTS} clients")
        with _cpu_meter(cpu):
            figures = node_bench.measure_throughput(
                node,
                txs,
                per_request=node_bench.BATCH_TXS,
                clients=node_bench.SUBMIT_CLIENTS,
                config=phase,
                log=log,
                in_flight_max=config.in_flight_max,
            )
    finally:
        node.stop()
    log(f"  committed {figures.committed_tps:,.0f} tx/s")
    return figures


# --- the whole run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkFigures:
    """Everything one run measured."""

    config: NetworkBenchConfig
    single: ThroughputFigures
    throughput: ThroughputFigures
    finality: LatencyFigures
    throughput_one_down: ThroughputFigures
    finality_one_down: LatencyFigures
    cpu: dict[str, CpuFigures]  # per phase
    verify_per_s: float
    load_avg_1m: float  # at the start
    elapsed_s: float

    @property
    def network_ratio(self) -> float:
        single = self.single.committed_tps
        return self.throughput.committed_tps / single if single > 0 else 0.0


def run(config: NetworkBenchConfig, log: Log = lambda _: None) -> NetworkFigures:
    """Runs every measurement (about half a minute when quick, a few minutes otherwise)."""
    started = time.perf_counter()
    load_avg_1m = os.getloadavg()[0]
    log = timestamped(log, started)
    log("measuring verify_per_s (one core)")
    verify_per_s = rounds.time_rounds(
        signatures.corridor_bip340(config.verify_keys), config.verify_rounds
    ).median_rate(config.verify_keys)
    first = _sender_ranges()
    cpu: dict[str, list[CpuFigures]] = {name: [] for name in ("single", *first)}
    with (
        tempfile.TemporaryDirectory(prefix="corridor-bench-network-") as tmp,
        ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
    ):
        root = Path(tmp)
        single = _single_node(root, pool, config, log, cpu["single"])
        log(f"starting {VALIDATORS} validators")
        nodes = start_network(root / "network", log)
        try:
            throughput = _throughput(
                nodes, pool, first["throughput"], config, log, cpu["throughput"]
            )
            rate = max(1.0, FINALITY_LOAD * throughput.committed_tps)
            finality = _finality(nodes, pool, first["latency"], rate, config, log, cpu["latency"])
            log(f"SIGKILL validator {len(nodes) - 1} (pid {nodes[-1].pid})")
            nodes[-1].kill()
            live = nodes[:-1]
            one_down = _throughput(
                live, pool, first["throughput_one_down"], config, log, cpu["throughput_one_down"]
            )
            rate = max(1.0, FINALITY_LOAD * one_down.committed_tps)
            finality_one_down = _finality(
                live, pool, first["latency_one_down"], rate, config, log, cpu["latency_one_down"]
            )
        finally:
            stop_all(nodes)
    return NetworkFigures(
        config=config,
        single=single,
        throughput=throughput,
        finality=finality,
        throughput_one_down=one_down,
        finality_one_down=finality_one_down,
        cpu={name: figures[0] for name, figures in cpu.items()},
        verify_per_s=verify_per_s,
        load_avg_1m=load_avg_1m,
        elapsed_s=time.perf_counter() - started,
    )


def _cpu_note(c: CpuFigures) -> str:
    return c.note()


def table_rows(f: NetworkFigures) -> list[Row]:
    """The table: every headline figure, with its target where it has one."""
    t, t1 = f.throughput, f.throughput_one_down
    lat, lat1 = f.finality, f.finality_one_down
    return [
        Row(
            name="committed_tps",
            value=t.committed_tps,
            unit="tx/s",
            target=TARGET_COMMITTED_TPS,
            note=f"{VALIDATORS} validators, {t.window_s:.1f} s window, "
            f"{t.mean_block_txs:,.0f} txs/block; {_cpu_note(f.cpu['throughput'])}",
        ),
        Row(
            name="finality_ms.p50",
            value=lat.p50_ms,
            unit="ms",
            target=TARGET_FINALITY_P50_MS,
            note=f"paced at {lat.rate_tps:,.0f} tx/s, {lat.samples:,} txs",
        ),
        Row(
            name="finality_ms.p99",
            value=lat.p99_ms,
            unit="ms",
            target=TARGET_FINALITY_P99_MS,
            note=f"max {lat.max_ms:,.0f} ms; {_cpu_note(f.cpu['latency'])}",
        ),
        Row(
            name="committed_tps_one_down",
            value=t1.committed_tps,
            unit="tx/s",
            note=f"3 of {VALIDATORS} live (one SIGKILLed), {t1.window_s:.1f} s window; "
            f"{_cpu_note(f.cpu['throughput_one_down'])}",
        ),
        Row(
            name="finality_ms_one_down.p50",
            value=lat1.p50_ms,
            unit="ms",
            note=f"paced at {lat1.rate_tps:,.0f} tx/s, {lat1.samples:,} txs",
        ),
        Row(
            name="finality_ms_one_down.p99",
            value=lat1.p99_ms,
            unit="ms",
            note=f"max {lat1.max_ms:,.0f} ms",
        ),
        Row(
            name="committed_tps_single_node",
            value=f.single.committed_tps,
            unit="tx/s",
            note=f"one validator alone, same run; {_cpu_note(f.cpu['single'])}",
        ),
        Row(name="network_ratio", value=f.network_ratio, note="committed_tps / single node"),
        Row(name="verify_per_s", value=f.verify_per_s, unit="/s", note="keys.verify, one core"),
        Row(
            name="load_avg_1m",
            value=f.load_avg_1m,
            note="at start; above ~0.5 other work skews the figures",
        ),
    ]


def json_document(f: NetworkFigures, rows: Sequence[Row]) -> dict[str, Any]:
    """The JSON file: headline figures as top-level numbers (finality as {p50, p99})."""
    return {
        "quick": f.config.quick,
        "committed_tps": f.throughput.committed_tps,
        "finality_ms": {"p50": f.finality.p50_ms, "p99": f.finality.p99_ms},
        "committed_tps_one_down": f.throughput_one_down.committed_tps,
        "finality_ms_one_down": {
            "p50": f.finality_one_down.p50_ms,
            "p99": f.finality_one_down.p99_ms,
        },
        "network_ratio": f.network_ratio,
        "committed_tps_single_node": f.single.committed_tps,
        "verify_per_s": f.verify_per_s,
        "load_avg_1m": f.load_avg_1m,
        "validators": VALIDATORS,
        "finality_rate_tps": f.finality.rate_tps,
        "finality_rate_tps_one_down": f.finality_one_down.rate_tps,
        "phases": {
            "single": _throughput_json(f.single),
            "throughput": _throughput_json(f.throughput),
            "throughput_one_down": _throughput_json(f.throughput_one_down),
            "latency": _latency_json(f.finality),
            "latency_one_down": _latency_json(f.finality_one_down),
        },
        "cpu_cores": {name: c.as_json() for name, c in f.cpu.items()},
        "rejected": sum(
            p.rejected
            for p in (
                f.single,
                f.throughput,
                f.throughput_one_down,
                f.finality,
                f.finality_one_down,
            )
        ),
        "batch_txs": NET_BATCH_TXS,
        "in_flight_max": f.config.in_flight_max,
        "senders_per_phase": NET_SENDERS,
        "block_interval_ms": BLOCK_INTERVAL_MS,
        "duration_s": f.config.duration_s,
        "elapsed_s": f.elapsed_s,
        "machine": machine_json(),
        "targets": targets_json(rows),
    }


def _throughput_json(t: ThroughputFigures) -> dict[str, float | int]:
    return dataclasses.asdict(t)


def _latency_json(lat: LatencyFigures) -> dict[str, float | int]:
    return dataclasses.asdict(lat)
