"""`corridor up` (README's start command) brings up the node and the platform API, prints
where to open them, and Ctrl-C stops both."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.node.conftest import free_port


def _ok(url: str, timeout_s: float = 1.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def test_up_starts_node_and_platform_and_stops_both(tmp_path: Path) -> None:
    rpc, api = free_port(), free_port()
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "corridor.cli.main", "up", "--home", str(tmp_path / "net"),
             "--rpc-port", str(rpc), "--platform-port", str(api)],
            stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while not (_ok(f"http://127.0.0.1:{api}/v1/health")
                       and "API docs     http" in log.read_text()):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            assert _ok(f"http://127.0.0.1:{rpc}/v1/status")
            text = log.read_text()
            assert f"Platform API   http://127.0.0.1:{api}/v1" in text
            assert f"http://127.0.0.1:{api}/docs" in text
            assert f"Portal         http://127.0.0.1:{api}/" in text  # the pages, same origin
            assert _ok(f"http://127.0.0.1:{api}/", timeout_s=30)  # first page compiles templates
            # The first request builds the whole OpenAPI document: seconds on a busy machine.
            assert _ok(f"http://127.0.0.1:{api}/openapi.json", timeout_s=30)
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0, log.read_text()
    time.sleep(0.5)
    assert not _ok(f"http://127.0.0.1:{api}/v1/health"), "the platform outlived `corridor up`"
