"""`corridor platform serve` runs the chain workers in a child process: restarted when it
dies, and never outliving the API process, even when that one is killed with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

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
         str(free_port()), "--data-dir", str(tmp_path / "p")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait("the chain workers' process", lambda: len(_children(serve.pid)) == 1)
        [first] = _children(serve.pid)
        os.kill(first, signal.SIGKILL)
        _wait("a restarted chain workers' process",
              lambda: bool(_children(serve.pid)) and _children(serve.pid)[0] != first)
        [second] = _children(serve.pid)
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait(timeout=10)
        _wait("the orphaned chain workers to stop", lambda: not _alive(second))
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
