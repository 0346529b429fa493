"""A node as a child process for the benchmarks, and a follower of its commits (SSE)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.node.home import Home

START_TIMEOUT_S = 600.0  # a 10^6-account first start parses, hashes and writes everything
STOP_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 60.0


# --- the node process -----------------------------------------------------------------------


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


class NodeProcess:
    """`corridor node start` on a home, as a child process; stopped with SIGTERM."""

    def __init__(self, home: Home, *, block_interval_ms: int) -> None:
        self.home = home
        self.port = free_port()
        self.log_path = home.path / "node.log"
        cmd = [
            sys.executable,
            "-m",
            "corridor.cli.main",
            "node",
            "start",
            "--home",
            str(home.path),
            "--rpc-port",
            str(self.port),
            "--block-interval-ms",
            str(block_interval_ms),
        ]
        started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._wait_ready()
        self.startup_s = time.perf_counter() - started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the node exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                if self.get("/v1/status")[0] == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the node did not answer within {START_TIMEOUT_S:.0f} s")

    def get(self, path: str) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, json.loads(response.read())
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
        """SIGKILL, no grace: a crash, as the network bench needs one."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


# --- following commits ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockSeen:
    at: float  # perf_counter when its SSE event arrived
    height: int
    txs: int


class CommitFollower:
    """Reads the node's SSE stream on a thread: block arrival times and per-tx commit times."""

    def __init__(self, port: int, from_height: int) -> None:
        self.blocks: list[BlockSeen] = []
        self.committed_at: dict[str, float] = {}
        self.committed = 0
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=None)
        self._conn.request("GET", f"/v1/events?from_height={from_height}")
        self._response = self._conn.getresponse()
        assert self._response.status == 200, self._response.status
        self._stopping = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sse", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        data: list[bytes] = []
        try:
            while True:
                line = self._response.readline()
                if not line:
                    return
                line = line.rstrip(b"\r\n")
                if line.startswith(b"data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    self._block(time.perf_counter(), json.loads(b"\n".join(data)))
                    data = []
        except Exception as exc:  # closing the socket under readline raises almost anything
            if not self._stopping:
                self.error = exc

    def _block(self, at: float, body: dict[str, Any]) -> None:
        txs = body["transactions"]
        for tx in txs:
            self.committed_at[tx["tx_id"]] = at
        self.blocks.append(BlockSeen(at, int(body["header"]["height"]), len(txs)))
        self.committed += len(txs)

    def wait_committed(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.committed < count:
            if time.monotonic() > deadline or self.error is not None:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            if self._conn.sock is not None:
                self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()
        self._thread.join(5)
