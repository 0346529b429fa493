"""The benchmarks' shared harness: child servers and the one CPU meter (unit: cores)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corridor.bench.harness import ChildProcess, CpuMeter, free_port

BURN_S = 0.3  # CPU seconds a burner spends, measured by the process's own CPU clock
BURNER = (f"import time\nend = time.process_time() + {BURN_S}\n"
          "while time.process_time() < end: pass\nprint('done', flush=True)\n"
          "import sys; sys.stdin.readline()\n")


def test_the_meter_counts_a_named_child_and_all_children_in_cores() -> None:
    with subprocess.Popen([sys.executable, "-c", BURNER], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:
        meter = CpuMeter({"burner": child.pid})
        assert child.stdout is not None
        assert child.stdout.readline() == "done\n"
        figures = meter.stop()
        child.communicate("\n", timeout=30)
    # cores x seconds = CPU seconds: the burner's, less what it spent before the meter began
    burner_s = figures.named["burner"] * figures.wall_s
    assert 0 < burner_s <= BURN_S + 0.05
    assert figures.children_cores * figures.wall_s >= burner_s - 0.02
    assert figures.machine_busy_cores >= figures.named["burner"] - 0.05
    assert figures.foreign_cores >= 0 and figures.bench_cores >= 0
    document = figures.as_json()
    assert document["burner_cores"] == figures.named["burner"]
    assert "burner" in figures.note()


def test_a_child_server_is_ready_when_it_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "status.json").write_text('{"ok": true}')
    port = free_port()
    server = ChildProcess(
        "file server", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                        "--directory", str(tmp_path)],
        port=port, log_path=tmp_path / "server.log", ready_path="/status.json",
        start_timeout_s=60)
    try:
        assert server.alive()
        assert server.get("/status.json") == (200, {"ok": True})
    finally:
        server.stop()
    assert not server.alive()


def test_a_child_that_exits_at_start_raises_with_its_log(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('no such thing'); sys.exit(3)"]
    with pytest.raises(RuntimeError, match="exited with 3") as raised:
        ChildProcess("broken server", cmd, port=free_port(), log_path=tmp_path / "b.log",
                     ready_path="/", start_timeout_s=60)
    assert "no such thing" in str(raised.value)
