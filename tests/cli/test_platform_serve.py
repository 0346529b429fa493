"""`corridor platform serve` runs the chain workers, and any API processes past the first, as
child processes: restarted when they die, never outliving the API process (even when that
one is killed with -9); the API processes share one port and one rate limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.node.conftest import free_port


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() \
        else "X"
    return state != "Z"


def _wait(what: str, check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_chain_workers_restart_and_die_with_the_api(tmp_path: Path) -> None:
    serve = subprocess.Popen(
        [sys.executable, "-m", "corridor.cli.main", "platform", "serve", "--port",
         str(free_port()), "--data-dir", str(tmp_path / "p"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait("the chain workers' process", lambda: len(_children(serve.pid)) == 1)
        [first] = _children(serve.pid)
        os.kill(first, signal.SIGKILL)
        # one listing per check: the killed child is listed until it is reaped
        _wait("a restarted chain workers' process",
              lambda: [c for c in _children(serve.pid) if c != first] != [])
        [second] = _children(serve.pid)
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait(timeout=10)
        _wait("the orphaned chain workers to stop", lambda: not _alive(second))
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_api_workers_share_the_port_and_the_rate_limit(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(
        [sys.executable, "-m", "corridor.cli.main", "platform", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "p"), "--workers", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait("the chain workers and two more API processes",
              lambda: len(_children(serve.pid)) == 3)
        api = [c for c in _children(serve.pid) if " api-worker " in _cmdline(c)]
        assert len(api) == 2
        _wait("the API", lambda: _up(url))
        # 30 requests a minute per client address to the auth endpoints, whichever process
        # takes the connection (each request on a new one); a fresh identifier each time
        # so only the address limit counts.
        codes = [httpx.post(f"{url}/v1/auth/verify/resend", timeout=10,
                            json={"identifier": f"u{i}@example.com"}).status_code
                 for i in range(36)]
        assert codes.count(429) == 6 and set(codes) == {202, 429}, codes
        os.kill(api[0], signal.SIGKILL)
        _wait("a restarted API process", lambda: len(_children(serve.pid)) == 3
              and api[0] not in _children(serve.pid))
        assert all(_up(url) for _ in range(10))
        survivors = _children(serve.pid)
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait(timeout=10)
        _wait(f"the orphaned children {survivors} to stop",
              lambda: not any(_alive(c) for c in survivors))
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "corridor.cli.main", "platform", "serve", "--port",
             str(port), "--data-dir", str(tmp_path / "p")],
            capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_settle_stops_cleanly_on_sigterm_and_sigint(tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        settle = subprocess.Popen(
            [sys.executable, "-m", "corridor.cli.main", "platform", "settle", "--data-dir",
             str(tmp_path / "p")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            assert settle.stderr is not None
            assert b"chain work stays queued" in settle.stderr.readline()  # it is running
            settle.send_signal(sig)
            assert settle.wait(timeout=30) == 0
        finally:
            if settle.poll() is None:
                settle.kill()
                settle.wait()
            if settle.stderr is not None:
                settle.stderr.close()
