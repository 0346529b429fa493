"""A node as a child process for the benchmarks, and a follower of its commits (SSE)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from corridor.bench.harness import ChildProcess, free_port
from corridor.node.home import Home

START_TIMEOUT_S = 600.0  # a 10^6-account first start parses, hashes and writes everything


class NodeProcess(ChildProcess):
    """`corridor node start` on a home, as a child process; stopped with SIGTERM."""

    def __init__(self, home: Home, *, block_interval_ms: int) -> None:
        self.home = home
        port = free_port()
        cmd = [
            sys.executable, "-m", "corridor.cli.main", "node", "start",
            "--home", str(home.path),
            "--rpc-port", str(port),
            "--block-interval-ms", str(block_interval_ms),
            # A throw-away network on loopback, measured raw: its clients send no token.
            "--rpc-access", "open",
        ]
        super().__init__("node", cmd, port=port, log_path=home.path / "node.log",
                         ready_path="/v1/status", start_timeout_s=START_TIMEOUT_S)


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
