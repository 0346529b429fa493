"""`corridor bench payments`: its table and its JSON document."""

from __future__ import annotations

import os
import platform as platform_mod
from collections.abc import Sequence
from typing import Any

from corridor.bench.payments_bench import (
    BLOCK_INTERVAL_MS,
    TARGET_LATENCY_P50_MS,
    TARGET_LATENCY_P99_MS,
    TARGET_PAYMENTS_PER_S,
    PaymentsFigures,
    ThroughputFigures,
)
from corridor.bench.report import Row, targets_json

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
            name="cpu_platform_cores",
            value=t.cpu.named["platform"],
            note=f"throughput window, 1.00 = one core; {t.cpu.note()}; machine "
            f"{t.cpu.machine_busy_cores:.2f} of {os.cpu_count()} cores",
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
    return t.cpu.named["platform"] * t.cpu.wall_s * 1000 / t.credited_in_window


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
            "cpu": t.cpu.as_json(),
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
            "cpu": lat.cpu.as_json(),
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
