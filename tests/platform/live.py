"""Real processes for end-to-end platform tests: a node, the platform API server
(`corridor platform serve`), the admin CLI, and sign-up/sign-in through HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.node.conftest import NodeProcess, free_port, init_home

WAIT_S = 60.0
OFFICER_PASSWORD = "officer passphrase 2026"
PASSWORD = "customer passphrase 2026"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(300)


def wait_until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Platform:
    def __init__(self, data_dir: Path, db_url: str, node: NodeProcess) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.node = node
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "corridor.cli.main", "platform", *args,
             "--data-dir", str(self.data_dir), "--database-url", self.db_url],
            input=stdin.encode(), capture_output=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start(self) -> None:
        wallets = self.node.home / "wallets"
        self.log = open(self.data_dir.parent / "platform.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "corridor.cli.main", "platform", "serve",
             "--port", str(self.port), "--data-dir", str(self.data_dir),
             "--database-url", self.db_url, "--node-rpc", self.node.url,
             "--issuer-key", str(wallets / "issuer.json"),
             "--operator-key", str(wallets / "treasury.json")],
            stdout=self.log, stderr=subprocess.STDOUT,
            # the customers of the e2e tests play their own bank (README's development flow)
            env={**os.environ, "CORRIDOR_DEV_SIM_BANK": "1",
                 "CORRIDOR_NODE_RPC_TOKEN": self.node.token},
        )

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log_tail()
            try:
                return httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until("the platform API", up)

    def log_tail(self) -> str:
        return (self.data_dir.parent / "platform.log").read_text()[-3000:]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.log.close()

    def code_for(self, address: str) -> str:
        """The newest code in the development outbox, read with the CLI."""
        codes = re.findall(r"code is (\d{6})", self.cli("outbox", "--to", address))
        assert codes, f"no code for {address}"
        return codes[-1]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    proc = NodeProcess(init_home(tmp_path / "home"))
    proc.start()
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.log_tail()


@pytest.fixture
def service(tmp_path: Path, db_url: str, node: NodeProcess) -> Iterator[Platform]:
    p = Platform(tmp_path / "platform", db_url, node)
    p.cli("staff-add", "--email", "officer@corridor.example", "--name", "Olive Officer",
          "--role", "compliance_officer", "--password-stdin", stdin=OFFICER_PASSWORD + "\n")
    p.start()
    try:
        yield p
    finally:
        p.stop()


def sign_in(api: httpx.Client, service: Platform, email: str, password: str,
            second_factor: Callable[[dict[str, str]], dict[str, str]] | None = None
            ) -> dict[str, str]:
    r = api.post("/v1/auth/login", json={"identifier": email, "password": password})
    assert r.status_code == 200, r.text
    ch = r.json()
    body = (second_factor(ch) if second_factor
            else {"challenge": ch["challenge"], "code": service.code_for(email)})
    r = api.post("/v1/auth/login/verify", json=body)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def api(service: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=30) as client:
        yield client
