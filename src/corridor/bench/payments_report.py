"""`corridor bench payments`: its table and its JSON document."""

from __future__ import annotations

import os
import platform as platform_mod
from collections.abc import Sequence
from typing import Any

from corridor.bench.payments_bench import (
    BLOCK_INTERVAL_MS,
    TARGET_COMPLIANCE_RATIO,
    TARGET_LATENCY_P50_MS,
    TARGET_LATENCY_P99_MS,
    TARGET_PAYMENTS_PER_S,
    TARGET_PG_RATIO,
    DatabaseFigures,
    PaymentsFigures,
    ThroughputFigures,
)
from corridor.bench.report import Row, targets_json

# --- output ---------------------------------------------------------------------------------


def table_rows(f: PaymentsFigures) -> list[Row]:
    pg = f.pg
    off_ms = _cpu_ms_per_payment(f.compliance_off.throughput, "platform")
    on_ms = _cpu_ms_per_payment(f.sqlite.throughput, "platform")
    return [
        *_database_rows(f, f.sqlite, ""),
        Row(
            name="pg_ratio",
            value=f.pg_ratio,
            target=TARGET_PG_RATIO,
            note=f"payments_per_s_pg / payments_per_s; PostgreSQL: {f.pg_server}",
        ),
        Row(
            name="compliance_ratio",
            value=f.compliance_ratio,
            target=TARGET_COMPLIANCE_RATIO,
            note="payments_per_s / payments_per_s_compliance_off: the SQLite pass again "
            "with no monitor (CORRIDOR_COMPLIANCE_OFF), same load",
        ),
        Row(
            name="compliance_cpu_ratio",
            value=f.compliance_cpu_ratio,
            note="the platform's CPU per payment, compliance off / on: the same comparison, "
            "less swayed by other work on the machine between the legs",
        ),
        Row(
            name="payments_per_s_compliance_off",
            value=f.compliance_off.throughput.payments_per_s,
            unit="/s",
            note=f"platform CPU {off_ms or 0:.2f} ms/payment (compliance on: {on_ms or 0:.2f})",
        ),
        *_database_rows(f, pg, "_pg"),
        Row(
            name="cpu_postgres_cores",
            value=pg.throughput.cpu.named.get("postgres"),
            note="the PostgreSQL server's processes in the throughput window",
        ),
        Row(
            name="postgres_cpu_ms_per_payment",
            value=_cpu_ms_per_payment(pg.throughput, "postgres"),
            unit="ms",
            note="PostgreSQL server CPU in the window / payments credited in it",
        ),
        Row(
            name="pg_statements_per_payment",
            value=_statements_per_payment(pg),
            note="statements the server ran in the window (pg_stat_statements, BEGIN and "
            "COMMIT included; one round trip each but for a commit's pipeline) / payments "
            "credited in it",
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
            value=f.sqlite.throughput.payments_per_s / f.db_commits_per_s,
            note="payments_per_s / db_commits_per_s",
        ),
        Row(
            name="load_avg_1m",
            value=f.load_avg_1m,
            note=f"at start (SQLite pass {f.sqlite.load_avg_1m:.2f}, PostgreSQL pass "
            f"{pg.load_avg_1m:.2f}); other work on the machine skews every figure",
        ),
    ]


def _database_rows(f: PaymentsFigures, d: DatabaseFigures, suffix: str) -> list[Row]:
    """The figures of one database's pass, named with `suffix` ("" for SQLite)."""
    t, lat = d.throughput, d.latency
    assert lat is not None, "a pass with its latency phase"
    return [
        Row(
            name=f"payments_per_s{suffix}",
            value=t.payments_per_s,
            unit="/s",
            target=None if suffix else TARGET_PAYMENTS_PER_S,
            note=f"{d.database}: credited in a {t.window_s:.0f} s window after "
            f"{f.config.warmup_s:.0f} s warm-up, {t.clients} clients, <= "
            f"{f.config.in_flight_max} in flight, {f.config.customers} customers",
        ),
        Row(
            name=f"created_per_s{suffix}",
            value=t.created_per_s,
            unit="/s",
            note=f"API 201s in the window; backlog {t.backlog_at_close:,} at close, "
            f"drained in {t.drain_s:.1f} s",
        ),
        Row(
            name=f"credited_latency_ms{suffix}.p50",
            value=lat.p50_ms,
            unit="ms",
            target=TARGET_LATENCY_P50_MS,
            note=f"request sent -> credited, paced at {lat.rate_per_s:,.1f}/s",
        ),
        Row(
            name=f"credited_latency_ms{suffix}.p99",
            value=lat.p99_ms,
            unit="ms",
            target=TARGET_LATENCY_P99_MS,
            note=f"{lat.samples:,} payments; max {lat.max_ms:,.0f} ms, "
            f"worst send lateness {lat.late_s_max * 1000:,.0f} ms",
        ),
        Row(
            name=f"server_latency_ms{suffix}.p50",
            value=lat.server_p50_ms,
            unit="ms",
            note="platform's created -> credited timestamps",
        ),
        Row(
            name=f"cpu_platform_cores{suffix}",
            value=t.cpu.named["platform"],
            note=f"throughput window, 1.00 = one core; {t.cpu.note()}; machine "
            f"{t.cpu.machine_busy_cores:.2f} of {os.cpu_count()} cores",
        ),
        Row(
            name=f"platform_cpu_ms_per_payment{suffix}",
            value=_cpu_ms_per_payment(t, "platform"),
            unit="ms",
            note="platform CPU (API and chain workers) in the window / payments credited in it",
        ),
    ]


def _cpu_ms_per_payment(t: ThroughputFigures, name: str) -> float | None:
    if not t.credited_in_window or name not in t.cpu.named:
        return None
    return t.cpu.named[name] * t.cpu.wall_s * 1000 / t.credited_in_window


def _statements_per_payment(d: DatabaseFigures) -> float | None:
    if d.statements is None or not d.throughput.credited_in_window:
        return None
    return d.statements.statements / d.throughput.credited_in_window


def _database_json(d: DatabaseFigures, f: PaymentsFigures) -> dict[str, Any]:
    t, lat = d.throughput, d.latency
    assert lat is not None, "a pass with its latency phase"
    return {
        "database": d.database,
        "payments_per_s": t.payments_per_s,
        "credited_latency_ms": {"p50": lat.p50_ms, "p99": lat.p99_ms},
        "created_per_s": t.created_per_s,
        "load_avg_1m": d.load_avg_1m,
        "setup_s": d.setup_s,
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
            "cpu": t.cpu.as_json(),
            "platform_cpu_ms_per_payment": _cpu_ms_per_payment(t, "platform"),
            "postgres_cpu_ms_per_payment": _cpu_ms_per_payment(t, "postgres"),
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
            "cpu": lat.cpu.as_json(),
            "errors": lat.errors,
        },
        "statements": None if d.statements is None else {
            **d.statements.as_json(), "per_payment": _statements_per_payment(d)},
        "profile": d.profile,
    }


def json_document(f: PaymentsFigures, rows: Sequence[Row]) -> dict[str, Any]:
    """The SQLite pass's figures at the top level (as before PostgreSQL joined the run),
    PostgreSQL's under "pg", and the two headline comparisons."""
    sqlite = _database_json(f.sqlite, f)
    return {
        "quick": f.config.quick,
        **{k: v for k, v in sqlite.items() if k not in ("database", "load_avg_1m", "setup_s")},
        "payments_per_s_pg": f.pg.throughput.payments_per_s,
        "credited_latency_ms_pg": _latency_json(f.pg),
        "pg_ratio": f.pg_ratio,
        "compliance_ratio": f.compliance_ratio,
        "compliance_cpu_ratio": f.compliance_cpu_ratio,
        "payments_per_s_compliance_off": f.compliance_off.throughput.payments_per_s,
        "compliance_off": {
            "created_per_s": f.compliance_off.throughput.created_per_s,
            "credited_in_window": f.compliance_off.throughput.credited_in_window,
            "load_avg_1m": f.compliance_off.load_avg_1m,
            "cpu": f.compliance_off.throughput.cpu.as_json(),
            "platform_cpu_ms_per_payment": _cpu_ms_per_payment(f.compliance_off.throughput,
                                                               "platform"),
        },
        "pg_statements_per_payment": _statements_per_payment(f.pg),
        "pg": {**_database_json(f.pg, f), "server": f.pg_server},
        "db_commits_per_s": f.db_commits_per_s,
        "sign_per_s": f.sign_per_s,
        "payments_per_db_commit": f.sqlite.throughput.payments_per_s / f.db_commits_per_s,
        "load_avg_1m": f.load_avg_1m,
        "load_avg_1m_sqlite_pass": f.sqlite.load_avg_1m,
        "load_avg_1m_pg_pass": f.pg.load_avg_1m,
        "database": "sqlite",
        "customers": f.config.customers,
        "block_interval_ms": BLOCK_INTERVAL_MS,
        "setup_s": f.sqlite.setup_s + f.pg.setup_s,
        "elapsed_s": f.elapsed_s,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform_mod.python_version(),
            "implementation": platform_mod.python_implementation(),
            "platform": platform_mod.platform(),
        },
        "targets": targets_json(rows),
    }


def _latency_json(d: DatabaseFigures) -> dict[str, float]:
    assert d.latency is not None
    return {"p50": d.latency.p50_ms, "p99": d.latency.p99_ms}


def profile_lines(f: PaymentsFigures) -> list[str]:
    """The profiles and PostgreSQL's busiest statements as text lines for the terminal."""
    out = []
    for d in (f.sqlite, f.pg):
        out += _profile_lines(d)
    if f.pg.statements is not None:
        out.append("PostgreSQL's most frequent statements in the throughput window "
                   "(pg_stat_statements):")
        credited = max(1, f.pg.throughput.credited_in_window)
        for item in f.pg.statements.top[:15]:
            out.append(f"  {item['calls'] / credited:6.2f}/payment {item['exec_ms']:9.1f} ms  "
                       f"{item['query'][:100]}")
    return out


def _profile_lines(d: DatabaseFigures) -> list[str]:
    if not d.profile:
        return []
    out = [f"where the platform's time goes on {d.database} (py-spy, throughput window, "
           "busy samples):"]
    for item in d.profile:
        if "kind" in item:
            out.append(
                f"  {item['kind']:8} self {item['self_pct']:5.1f} %  incl "
                f"{item['incl_pct']:5.1f} %  {item['function']}"
            )
        elif "error" in item:
            out.append(f"  py-spy failed: {item['error']}")
    return out
