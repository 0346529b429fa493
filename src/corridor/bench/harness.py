"""What every benchmark shares: child processes (started from a command line, ready when a
health URL answers, stopped with SIGTERM) and one CPU meter whose unit is the core (1.0 = one
core busy all the time; 2.0 = both cores of a 2-core machine). All CPU figures come from
/proc: the benchmarks run on Linux."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STOP_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 60.0
_TICK = os.sysconf("SC_CLK_TCK")


# --- child processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_child(proc: subprocess.Popen[Any], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout_s`; reaped either way."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ChildProcess:
    """A server as a child process: its output goes to `log_path`; the constructor returns
    once GET `ready_path` on `port` answers 200 (or raises with the log's tail)."""

    def __init__(self, name: str, cmd: Sequence[str], *, port: int, log_path: Path,
                 ready_path: str, start_timeout_s: float,
                 env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        started = time.perf_counter()
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )
        self._wait_ready(ready_path, start_timeout_s)
        self.startup_s = time.perf_counter() - started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _wait_ready(self, path: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                if self.get(path, timeout_s=2)[0] == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the {self.name} did not answer within {timeout_s:.0f} s")

    def get(self, path: str, *, timeout_s: float = HTTP_TIMEOUT_S) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            return response.status, json.loads(body) if body else None
        finally:
            conn.close()

    def rss_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) in MiB, from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024  # kB
        return fields["VmRSS"], fields["VmHWM"]

    def stop(self) -> None:
        stop_child(self.proc)

    def kill(self) -> None:
        """SIGKILL, no grace: a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


# --- CPU ------------------------------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), of its children that ended
    and were reaped, and of its live descendants (a server's worker processes), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = sum(int(f) for f in fields[11:15]) / _TICK  # utime, stime, cutime, cstime
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # a thread or child that just ended
            for child in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    own += process_cpu_s(int(child))
    return own


def self_cpu_s() -> float:
    """CPU seconds of this process alone (all its threads)."""
    t = os.times()
    return t.user + t.system


def machine_busy_cpu_s() -> float:
    """CPU seconds all cores spent busy since boot, steal included (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
            int, stat.readline().split()[1:9]
        )
    return (user + nice + system + irq + softirq + steal) / _TICK


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuFigures:
    """CPU over a phase, in cores (1.0 = one core busy for the whole phase)."""

    wall_s: float
    named: Mapping[str, float]  # each named child process, with its own descendants
    children_cores: float  # all of this process's descendants (the servers it started)
    bench_cores: float  # this process: the load generator
    foreign_cores: float  # everything else on the machine: other people's work
    machine_busy_cores: float  # every process (the machine's core count when saturated)

    def as_json(self) -> dict[str, Any]:
        return {
            "wall_s": self.wall_s,
            **{f"{name}_cores": value for name, value in self.named.items()},
            "children_cores": self.children_cores,
            "bench_cores": self.bench_cores,
            "foreign_cores": self.foreign_cores,
            "machine_busy_cores": self.machine_busy_cores,
        }

    def note(self) -> str:
        parts = [f"{name} {value:.2f}" for name, value in self.named.items()]
        if not self.named:
            parts.append(f"servers {self.children_cores:.2f}")
        return (f"cores: {', '.join(parts)}, load generator {self.bench_cores:.2f}, "
                f"others {self.foreign_cores:.2f}")


class CpuMeter:
    """Samples at construction; `stop()` gives the CpuFigures since then. Named processes
    must be alive at both ends; descendants that died in between still count (reaped)."""

    def __init__(self, named: Mapping[str, int] | None = None) -> None:
        self.named = dict(named or {})
        self._start = self._sample()

    def _sample(self) -> tuple[float, dict[str, float], float, float, float]:
        return (
            time.perf_counter(),
            {name: process_cpu_s(pid) for name, pid in self.named.items()},
            process_cpu_s(os.getpid()),
            self_cpu_s(),
            machine_busy_cpu_s(),
        )

    def stop(self) -> CpuFigures:
        end = self._sample()
        wall = end[0] - self._start[0]
        tree = end[2] - self._start[2]
        mine = end[3] - self._start[3]
        busy = end[4] - self._start[4]
        return CpuFigures(
            wall_s=wall,
            named={name: (end[1][name] - self._start[1][name]) / wall for name in self.named},
            children_cores=max(0.0, tree - mine) / wall,
            bench_cores=mine / wall,
            foreign_cores=max(0.0, busy - tree) / wall,
            machine_busy_cores=busy / wall,
        )
