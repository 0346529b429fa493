"""`corridor bench payments --quick` runs end to end (a node, the platform API, real HTTP),
on SQLite, on SQLite with compliance off and on a throw-away PostgreSQL server in the same
run, and writes every figure.

Timings depend on the machine and its load: no test here asserts a timing or a target.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.bench.harness import process_cpu_s
from corridor.bench.profiler import summarise_stacks
from corridor.cli.main import app


def _positive(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


@pytest.mark.slow
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out" / "bench-payments.json"
    result = CliRunner().invoke(app, ["bench", "payments", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["quick"] is True
    for key in ("db_commits_per_s", "sign_per_s"):
        assert _positive(document[key]), key
    sqlite = {k: document[k] for k in ("payments_per_s", "created_per_s", "credited_latency_ms",
                                       "throughput", "latency")}
    pg = document["pg"]
    assert document["database"] == "sqlite" and pg["database"] == "postgresql"
    assert document["payments_per_s_pg"] == pg["payments_per_s"]
    assert document["credited_latency_ms_pg"] == pg["credited_latency_ms"]
    assert document["pg_ratio"] == pytest.approx(
        pg["payments_per_s"] / document["payments_per_s"])
    # the same SQLite pass with no monitor, and the share of its throughput compliance keeps
    assert _positive(document["payments_per_s_compliance_off"])
    assert document["compliance_ratio"] == pytest.approx(
        document["payments_per_s"] / document["payments_per_s_compliance_off"])
    assert document["compliance_off"]["cpu"]["platform_cores"] > 0
    assert document["compliance_cpu_ratio"] == pytest.approx(
        document["compliance_off"]["platform_cpu_ms_per_payment"]
        / document["throughput"]["platform_cpu_ms_per_payment"])
    for run in (sqlite, pg):
        assert _positive(run["payments_per_s"]) and _positive(run["created_per_s"])
        latency = run["credited_latency_ms"]
        assert set(latency) == {"p50", "p99"}
        assert all(_positive(v) for v in latency.values())
        assert latency["p50"] <= latency["p99"]
        # Every payment the API accepted reached the chain and was credited.
        assert run["throughput"]["failed"] == 0 and run["latency"]["failed"] == 0
        assert run["throughput"]["refused"] == {} and run["latency"]["refused"] == {}
        assert run["throughput"]["cpu"]["platform_cores"] > 0
    # PostgreSQL's own CPU and its count of the statements the platform sent.
    assert pg["throughput"]["cpu"]["postgres_cores"] > 0
    assert _positive(document["pg_statements_per_payment"])
    assert pg["statements"]["statements"] > 0 and pg["statements"]["top"]
    for name in ("payments_per_s", "payments_per_s_pg", "pg_ratio", "compliance_ratio",
                 "payments_per_s_compliance_off", "credited_latency_ms.p99",
                 "credited_latency_ms_pg.p99", "pg_statements_per_payment", "db_commits_per_s",
                 "cpu_platform_cores", "cpu_postgres_cores"):
        assert name in result.stdout  # the table names every headline figure
    assert set(document["targets"]) == {
        "payments_per_s", "pg_ratio", "compliance_ratio", "credited_latency_ms.p50",
        "credited_latency_ms.p99", "credited_latency_ms_pg.p50", "credited_latency_ms_pg.p99"}
    for target in document["targets"].values():
        assert isinstance(target["met"], bool)
    assert list(tmp_path.joinpath("out").iterdir()) == [out]


def test_profile_summary_ranks_busy_frames_and_skips_idle_ones() -> None:
    lines = [
        "thread (1);run (corridor/x.py:1);hash (corridor/h.py:2) 30",
        "thread (1);run (corridor/x.py:1);execute (sqlalchemy/engine.py:3) 10",
        "thread (2);loop (a.py:1);wait (threading.py:320) 500",
    ]
    summary = summarise_stacks(lines, top=5)
    assert summary[0] == {"busy_samples": 40}
    first = summary[1]
    assert first["kind"] == "self" and first["function"].startswith("hash")
    assert first["self_pct"] == 75.0
    corridor = [s for s in summary if s.get("kind") == "corridor"]
    assert corridor[0]["function"].startswith("run") and corridor[0]["incl_pct"] == 100.0


def test_cpu_counts_child_processes_live_and_reaped() -> None:
    burn = [sys.executable, "-c",
            "import time\nend = time.process_time() + 0.3\n"
            "while time.process_time() < end: pass\nprint('done', flush=True)\n"
            "import sys; sys.stdin.readline()\n"]
    before = process_cpu_s(os.getpid())
    with subprocess.Popen(burn, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "done\n"
        live = process_cpu_s(os.getpid()) - before  # the child is still running: counted live
        assert live >= 0.25
        child.communicate("\n", timeout=30)  # reaped: now in our cutime/cstime
    assert process_cpu_s(os.getpid()) - before >= live - 0.02
