"""`corridor up` (README's start command) brings up the node and the platform API, prints
where to open them, and Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import socket
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


def _up(tmp_path: Path, rpc: int, api: int, log: Path, **popen: object) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
            [sys.executable, "-m", "corridor.cli.main", "up", "--home", str(tmp_path / "net"),
             "--rpc-port", str(rpc), "--platform-port", str(api)],
            stdout=out, stderr=subprocess.STDOUT, **popen)


def _wait_ready(proc: subprocess.Popen[bytes], api: int, log: Path) -> None:
    deadline = time.monotonic() + 90
    while not (_ok(f"http://127.0.0.1:{api}/v1/health")
               and "API docs     http" in log.read_text()):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def test_ctrl_c_stops_the_platform_before_the_node(tmp_path: Path) -> None:
    """Issue 15: a Ctrl-C in the terminal signals the whole foreground process group; the
    platform's workers must not outlive the node and complain that it refused them."""
    rpc, api = free_port(), free_port()
    log = tmp_path / "up.log"
    proc = _up(tmp_path, rpc, api, log, start_new_session=True)  # its own group: a terminal
    try:
        _wait_ready(proc, api, log)
        time.sleep(2)  # the chain workers poll the node
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        code = proc.wait(timeout=60)
    text = log.read_text()
    assert code == 0, text
    assert "settlement round failed" not in text and "Connection refused" not in text, text
    assert "Traceback" not in text, text


def test_a_taken_port_stops_everything_and_names_the_flag(tmp_path: Path) -> None:
    """Issue 15: the platform could not bind its port, and `up` ran on with the node alone."""
    for taken_flag in ("--platform-port", "--rpc-port"):
        rpc, api = free_port(), free_port()
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", api if taken_flag == "--platform-port" else rpc))
            blocker.listen(1)
            log = tmp_path / "taken.log"
            proc = _up(tmp_path, rpc, api, log)
            assert proc.wait(timeout=60) == 1, log.read_text()
        text = log.read_text()
        assert f"choose another port with {taken_flag}" in text, text
        assert not _ok(f"http://127.0.0.1:{rpc}/v1/status")


def test_a_platform_that_stops_on_its_own_stops_the_node(tmp_path: Path) -> None:
    """The platform refuses to start (production mode on development secrets): `up` stops
    the node it started and exits 1, instead of leaving half a system running."""
    rpc, api = free_port(), free_port()
    log = tmp_path / "prod.log"
    proc = _up(tmp_path, rpc, api, log, env={**os.environ, "CORRIDOR_MODE": "production"})
    try:
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code == 1, text
    assert "the platform API exited" in text and "--platform-port" in text, text
    assert not _ok(f"http://127.0.0.1:{rpc}/v1/status")


def test_node_start_on_a_taken_port_names_the_flag(tmp_path: Path) -> None:
    home = str(tmp_path / "node")
    assert subprocess.run([sys.executable, "-m", "corridor.cli.main", "node", "init", "--home",
                           home], capture_output=True, timeout=60, check=False).returncode == 0
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "corridor.cli.main", "node", "start",
                               "--home", home, "--rpc-port", str(port)],
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "choose another port with --rpc-port" in done.stderr
