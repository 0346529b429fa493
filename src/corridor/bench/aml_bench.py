"""AML monitoring speed and detection: `corridor bench aml`.

A history of `history` payments among `customers` customers (and as many external
beneficiaries) over 90 days is loaded into the engine's window (timed: `aml_load_s`, each
payment learnt without the rules), then `evals` further payments are evaluated one after
the other on one core, each against every rule and typology. Reported: `aml_evals_per_s`,
the latency of one evaluation `aml_eval_p50_ms` / `aml_eval_p99_ms` (targets: p99 <= 10 ms
with 1,000,000 payments across 100,000 customers, >= 1,000 evaluations/s on 2 cores), the
same p99 in this thread's CPU time, and the machine's own limit measured the same way: the
engine's state update alone (`aml_learn_per_s`), which no evaluation can beat.

Activity is long-tailed (a few customers make many payments); receivers are other customers
or external beneficiaries in the corridor countries. Then the detection on seeded synthetic
traffic (corridor.sim.aml_traffic): the settings the defaults were tuned on and the first
hold-out settings, never tuned on."""

from __future__ import annotations

import dataclasses
import gc
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from corridor.bench.report import Row, Target, machine_json, percentile, targets_json
from corridor.platform.adapters import schema
from corridor.platform.adapters.db import SqlUnitOfWork, make_engine, table_of
from corridor.platform.adapters.record_codec import codec
from corridor.platform.domain.aml import stream
from corridor.platform.domain.aml.config import RuleSet
from corridor.platform.domain.aml.engine import AmlEngine
from corridor.platform.domain.monitoring import LearnedMovement, Movement, MovementKind
from corridor.platform.services.aml_window import AmlWindow, UowMovementLog
from corridor.sim import aml_traffic

Log = Callable[[str], None]
TARGET_P99_MS = Target(op="<=", value=10.0)
TARGET_PER_S = Target(op=">=", value=1_000.0)
TARGET_DETECTION = Target(op=">=", value=0.90)
TARGET_BACKGROUND = Target(op="<=", value=0.01)
COUNTRIES = (("US", "USD"), ("SG", "SGD"), ("HK", "HKD"), ("GB", "GBP"), ("DE", "EUR"),
             ("CN", "CNY"), ("PH", "PHP"), ("IN", "INR"), ("MX", "MXN"), ("VN", "VND"))
SPAN_MS = 90 * 86_400_000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AmlBenchConfig:
    quick: bool
    customers: int
    history: int
    evals: int
    detection: tuple[tuple[str, aml_traffic.TrafficSettings], ...]  # (tune|hold-out, ...)
    seed: int = 16


FULL = AmlBenchConfig(quick=False, customers=100_000, history=1_000_000, evals=20_000,
                      detection=(("tune", aml_traffic.TUNE),
                                 ("hold-out", aml_traffic.HOLDOUT[0])))
QUICK = AmlBenchConfig(quick=True, customers=5_000, history=50_000, evals=2_000,
                       detection=(("tune", dataclasses.replace(
                           aml_traffic.TUNE, customers=200, days=300, instances=4)),))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AmlFigures:
    config: AmlBenchConfig
    load_s: float
    learn_per_s: float
    evals_per_s: float
    p50_ms: float
    p99_ms: float
    p99_cpu_ms: float
    findings_per_eval: float
    parties: int
    edges: int
    rss_mb: float
    rebuild: RebuildFigures
    detection: tuple[dict[str, Any], ...]
    elapsed_s: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RebuildFigures:
    """The window rebuilt from the store at start (services/aml_window.py): the history's
    records in a SQLite database, read back in time order and learnt."""

    movements: int  # records read
    learned_in_full: int  # of them, inside the window's history (the rest: activity only)
    seconds: float
    per_s: float
    store_s: float  # writing the records (not a platform cost: they are written one by one)


class _Traffic:
    """Payments with long-tailed activity, in time order."""

    def __init__(self, config: AmlBenchConfig, total: int) -> None:
        self.rng = random.Random(config.seed)
        self.customers = config.customers
        self.home = [self.rng.randrange(len(COUNTRIES)) for _ in range(config.customers)]
        self.step_ms = SPAN_MS // total
        self.n = 0

    def next(self) -> Movement:
        rng = self.rng
        self.n += 1
        sender = min(int(rng.paretovariate(1.1)) - 1, self.customers - 1) \
            if rng.random() < 0.2 else rng.randrange(self.customers)
        sc, cur = COUNTRIES[self.home[sender]]
        if rng.random() < 0.7:
            r = rng.randrange(self.customers)
            receiver, rc = f"c{r}", COUNTRIES[self.home[r]][0]
        else:
            receiver, rc = f"ext:{rng.randrange(self.customers)}", rng.choice(COUNTRIES)[0]
        return Movement(id=f"p{self.n}", kind=MovementKind.PAYMENT,
                        at_ms=self.n * self.step_ms, sender=f"c{sender}", sender_country=sc,
                        receiver=receiver, receiver_country=rc, receiver_name=receiver,
                        amount_minor=int(rng.lognormvariate(10.0, 1.0)), currency=cur)


def _detection(label: str, settings: aml_traffic.TrafficSettings, log: Log
               ) -> dict[str, Any]:
    traffic = aml_traffic.generate(settings)
    log(f"detection: seed {settings.seed}, {len(traffic.rows):,} payments, "
        f"{len(traffic.instances)} planted instances")
    movements = stream.read_stream(traffic.csv_text())
    result = stream.evaluate(movements)
    d = aml_traffic.detection(traffic, set(result.flagged_payment_ids))
    return {"settings": label, "seed": settings.seed,
            "days": settings.days, "customers": settings.customers, **d.to_json()}


def _rss_bytes() -> int:
    """This process's resident memory now (Linux /proc; the peak where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(config: AmlBenchConfig, log: Log) -> AmlFigures:
    started = time.perf_counter()
    traffic = _Traffic(config, config.history + config.evals)
    engine = AmlEngine()
    gc.collect()
    rss0 = _rss_bytes()
    log(f"loading {config.history:,} payments across {config.customers:,} customers")
    load_s = 0.0
    for _ in range(config.history):  # made one at a time: the memory measured is the window
        m = traffic.next()
        t0 = time.perf_counter()
        engine.learn(m)
        load_s += time.perf_counter() - t0
    gc.collect()
    gc.freeze()  # the window is long-lived: keep the collector from walking it each pass
    stats = engine.stats()
    rss_mb = (_rss_bytes() - rss0) / 2**20
    log(f"loaded in {load_s:.1f} s ({stats['parties']:,} parties, {stats['edges']:,} edge "
        f"entries); evaluating {config.evals:,} payments")
    todo = [traffic.next() for _ in range(config.evals)]
    latencies: list[float] = []
    cpu: list[float] = []
    findings = 0
    t1 = time.perf_counter()
    for m in todo:
        a, a_cpu = time.perf_counter(), time.thread_time()
        findings += len(engine.evaluate(m))
        latencies.append((time.perf_counter() - a) * 1000)
        cpu.append((time.thread_time() - a_cpu) * 1000)
    total = time.perf_counter() - t1
    # the machine's limit: the same state update alone, on as many fresh payments
    more = [traffic.next() for _ in range(config.evals)]
    t2 = time.perf_counter()
    for m in more:
        engine.learn(m)
    learn_s = time.perf_counter() - t2
    latencies.sort()
    cpu.sort()
    evals, learnt = len(todo), len(more)
    del engine, todo, more  # the rebuild makes a window of its own
    gc.collect()
    rebuild = measure_rebuild(config, log)
    detection = tuple(_detection(label, s, log) for label, s in config.detection)
    return AmlFigures(
        config=config, load_s=round(load_s, 2),
        learn_per_s=round(learnt / learn_s, 1), evals_per_s=round(evals / total, 1),
        p50_ms=round(statistics.median(latencies), 3),
        p99_ms=round(percentile(latencies, 99), 3), p99_cpu_ms=round(percentile(cpu, 99), 3),
        findings_per_eval=round(findings / evals, 3), parties=stats["parties"],
        edges=stats["edges"], rss_mb=round(rss_mb, 1), rebuild=rebuild, detection=detection,
        elapsed_s=round(time.perf_counter() - started, 1))


def measure_rebuild(config: AmlBenchConfig, log: Log) -> RebuildFigures:
    """The same history as the speed run's, written to a fresh SQLite store's
    `aml_movements` (untimed), then a window rebuilt from it as a platform does at start."""
    with tempfile.TemporaryDirectory(prefix="corridor-bench-aml-") as tmp:
        db = make_engine(f"sqlite:///{Path(tmp) / 'platform.db'}")
        try:
            schema.upgrade(db)
            traffic = _Traffic(config, config.history + config.evals)
            history = [traffic.next() for _ in range(config.history)]
            end_ms = history[-1].at_ms
            full = sum(1 for m in history if m.at_ms > end_ms - RuleSet().history_ms)
            t0 = time.perf_counter()
            with db.begin() as conn:
                conn.execute(sa.insert(table_of(LearnedMovement)),
                             [codec(LearnedMovement).values(LearnedMovement.of(m))
                              for m in history])
            store_s = time.perf_counter() - t0
            del history
            log(f"{config.history:,} payments stored in {store_s:.1f} s; rebuilding a "
                "window from them")
            clock = _Fixed(end_ms + 1)
            window = AmlWindow(UowMovementLog(
                lambda: SqlUnitOfWork(db, clock, read_only=True)), clock)
            t1 = time.perf_counter()
            window.warm(background=False)
            seconds = time.perf_counter() - t1
            status = window.status()
            del window
            gc.collect()
        finally:
            db.dispose()
    log(f"rebuilt in {seconds:.1f} s ({status.learned:,} movements)")
    return RebuildFigures(movements=status.learned, learned_in_full=full,
                          seconds=round(seconds, 2), per_s=round(status.learned / seconds, 1),
                          store_s=round(store_s, 2))


class _Fixed:
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def table_rows(f: AmlFigures) -> list[Row]:
    c = f.config
    rows = [
        Row(name="aml_evals_per_s", value=f.evals_per_s, unit="/s", target=TARGET_PER_S,
            note=f"one core, {c.history:,} payments of history across {c.customers:,} "
                 "customers"),
        Row(name="aml_eval_p50_ms", value=f.p50_ms, unit="ms"),
        Row(name="aml_eval_p99_ms", value=f.p99_ms, unit="ms", target=TARGET_P99_MS,
            note="every rule and typology on one payment"),
        Row(name="aml_eval_p99_cpu_ms", value=f.p99_cpu_ms, unit="ms",
            note="the same, in this thread's CPU time (other load on the machine left out)"),
        Row(name="aml_learn_per_s", value=f.learn_per_s, unit="/s",
            note="the machine's limit: the window's update alone, no rules"),
        Row(name="aml_load_s", value=f.load_s, unit="s", note="the history learnt"),
        Row(name="aml_window_mb", value=f.rss_mb, unit="MB",
            note=f"resident memory of {f.parties:,} parties' windows "
                 f"({f.edges:,} edge entries)"),
        *rebuild_rows(f.rebuild),
    ]
    for d in f.detection:
        tag = d["settings"].replace("-", "")
        rows.append(Row(name=f"aml_detection_{tag}", value=d["detection_rate"],
                        target=TARGET_DETECTION,
                        note=f"seed {d['seed']}: {d['detected']}/{d['instances']} planted "
                             "instances flagged"))
        rows.append(Row(name=f"aml_background_flagged_{tag}",
                        value=d["background_flagged_rate"], target=TARGET_BACKGROUND,
                        note=f"{d['background_flagged']:,} of "
                             f"{d['background_payments']:,} background payments"))
    return rows


def rebuild_rows(r: RebuildFigures) -> list[Row]:
    return [
        Row(name="aml_rebuild_s", value=r.seconds, unit="s",
            note=f"a window rebuilt from {r.movements:,} stored payments (SQLite), "
                 f"{r.learned_in_full:,} of them in the history window"),
        Row(name="aml_rebuild_movements_per_s", value=r.per_s, unit="/s",
            note="read in time order and learnt; in the background at a platform's start"),
    ]


def rebuild_json(r: RebuildFigures) -> dict[str, Any]:
    return {"aml_rebuild_s": r.seconds, "aml_rebuild_movements_per_s": r.per_s,
            "aml_rebuild_movements": r.movements,
            "aml_rebuild_in_window": r.learned_in_full, "aml_rebuild_store_s": r.store_s}


def json_document(f: AmlFigures, rows: list[Row]) -> dict[str, Any]:
    return {
        "bench": "aml",
        "quick": f.config.quick,
        "customers": f.config.customers,
        "history_payments": f.config.history,
        "evals": f.config.evals,
        "aml_evals_per_s": f.evals_per_s,
        "aml_eval_p50_ms": f.p50_ms,
        "aml_eval_p99_ms": f.p99_ms,
        "aml_eval_p99_cpu_ms": f.p99_cpu_ms,
        "aml_learn_per_s": f.learn_per_s,
        "aml_load_s": f.load_s,
        "aml_window_mb": f.rss_mb,
        "aml_findings_per_eval": f.findings_per_eval,
        "aml_parties": f.parties,
        "aml_edges": f.edges,
        **rebuild_json(f.rebuild),
        "aml_detection": list(f.detection),
        "elapsed_s": f.elapsed_s,
        "targets": targets_json(rows),
        "machine": machine_json(),
    }
