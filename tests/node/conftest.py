"""A real node process for end-to-end tests: `corridor node init` + `corridor node start`.

`node_home` initialises a demo home in tmp_path; `NodeProcess` starts the node as a subprocess
on a free localhost port (and can SIGTERM or `kill -9` it and start it again on the same home);
`node` yields a `NodeClient` over a running node and, on teardown, asserts a clean SIGTERM exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.keys import KeyPair, keypair_from_keyfile_json
from corridor.ledger.tx import Payment, SignedTransaction, Transaction
from corridor.node.home import init_demo_home
from corridor.node.rpc_access import read_client_token

WALLETS = ("issuer", "treasury", "alice", "bob")
CLI = "from corridor.cli.main import app; app()"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_home(path: Path, **options: Any) -> Path:
    """What `corridor node init --home PATH` does (in-process: one interpreter start less)."""
    init_demo_home(path, genesis_time_ms=int(time.time() * 1000), **options)
    return path


def token_headers(home: Path) -> dict[str, str]:
    """The Authorization header with the client token kept in `home` (none if it has none)."""
    token = read_client_token(home)
    return {} if token is None else {"Authorization": f"Bearer {token}"}


class NodeProcess:
    """One node subprocess over a home; may be started, stopped and killed repeatedly."""

    def __init__(self, home: Path, *, port: int | None = None, block_interval_ms: int = 50,
                 debug_invariants: bool = True, rpc_access: str | None = None) -> None:
        self.home = home
        self.rpc_access = rpc_access
        self.port = port or free_port()
        self.block_interval_ms = block_interval_ms
        self.debug_invariants = debug_invariants
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_path = home / "node-test.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        """The client token the home was made with (HOME/rpc_token)."""
        token = read_client_token(self.home)
        assert token is not None
        return token

    @property
    def headers(self) -> dict[str, str]:
        return token_headers(self.home)

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        cmd = [sys.executable, "-c", CLI, "node", "start", "--home", str(self.home),
               "--rpc-port", str(self.port), "--block-interval-ms", str(self.block_interval_ms)]
        if self.debug_invariants:
            cmd.append("--debug-invariants")
        if self.rpc_access is not None:
            cmd += ["--rpc-access", self.rpc_access]
        log = self.log_path.open("ab")
        log.write(f"\n=== start #{self.starts} ===\n".encode())
        log.flush()
        try:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/v1/status", timeout=1.0,
                             headers=self.headers).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill(check=False)
        raise AssertionError(f"node did not answer within {START_TIMEOUT_S}s:\n{self.log_tail()}")

    def stop(self) -> int:
        """SIGTERM; returns the exit code (kill -9 and fail on timeout)."""
        self.assert_running()
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill(check=False)
            raise AssertionError(
                f"node ignored SIGTERM for {STOP_TIMEOUT_S}s:\n{self.log_tail()}"
            ) from None
        return int(self.proc.returncode)

    def assert_running(self) -> None:
        """A node that stopped on its own (even with status 0) is a failure."""
        assert self.proc is not None, "never started"
        code = self.proc.poll()
        assert code is None, f"the node exited on its own with {code}:\n{self.log_tail()}"

    def kill(self, *, check: bool = True) -> None:
        """kill -9: no clean-up whatsoever. `check`: the node must still have been running."""
        if check:
            self.assert_running()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class NodeClient:
    """httpx client plus helpers: wallets, payments, waiting for commits. Sends the client
    token kept in `home` (HOME/rpc_token)."""

    def __init__(self, home: Path, url: str) -> None:
        self.home = home
        self.http = httpx.Client(base_url=url, timeout=30.0, headers=token_headers(home))
        self._wallets: dict[str, KeyPair] = {}
        self._chain_id: str | None = None

    def close(self) -> None:
        self.http.close()

    # --- wallets and state ---------------------------------------------------------------

    def wallet(self, name: str) -> KeyPair:
        if name not in self._wallets:
            text = (self.home / "wallets" / f"{name}.json").read_text()
            self._wallets[name] = keypair_from_keyfile_json(text)
        return self._wallets[name]

    def address(self, name: str) -> str:
        return keys.encode_address(self.wallet(name).address)

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = self.status()["chain_id"]
        return self._chain_id

    def status(self) -> dict[str, Any]:
        r = self.http.get("/v1/status")
        assert r.status_code == 200, r.text
        return r.json()

    def account(self, name_or_address: str) -> dict[str, Any]:
        addr = self.address(name_or_address) if name_or_address in WALLETS else name_or_address
        r = self.http.get(f"/v1/accounts/{addr}")
        assert r.status_code == 200, r.text
        return r.json()

    def sequence(self, name: str) -> int:
        return int(self.account(name)["sequence"])

    def balance(self, name: str, code: str = "USD") -> int:
        for h in self.account(name)["balances"]:
            if h["code"] == code and h["issuer"] == self.address("issuer"):
                return int(h["balance"])
        return 0

    # --- transactions --------------------------------------------------------------------

    def payment(self, source: str, destination: str, amount: int, sequence: int, *,
                code: str = "USD", chain_id: str | None = None,
                not_after_ms: int | None = None, memo: bytes = b"") -> SignedTransaction:
        kp = self.wallet(source)
        body = Transaction(
            chain_id=chain_id or self.chain_id,
            source=kp.address,
            sequence=sequence,
            not_before_ms=0,
            not_after_ms=not_after_ms if not_after_ms is not None
            else int(time.time() * 1000) + 60_000,
            operations=(Payment(destination=self.wallet(destination).address,
                                asset=Asset(code, self.wallet("issuer").address),
                                amount=amount),),
            memo=memo,
        )
        return body.sign(kp)

    def submit(self, stx: SignedTransaction) -> httpx.Response:
        return self.http.post("/v1/txs", json={"tx": stx.encode().hex()})

    def submit_batch(self, stxs: list[SignedTransaction]) -> httpx.Response:
        return self.http.post("/v1/txs", json={"txs": [s.encode().hex() for s in stxs]})

    def pay(self, source: str, destination: str, amount: int, *, sequence: int | None = None,
            code: str = "USD") -> str:
        """Submits one payment (next sequence by default); returns its tx id (hex)."""
        seq = self.sequence(source) + 1 if sequence is None else sequence
        stx = self.payment(source, destination, amount, seq, code=code)
        r = self.submit(stx)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] is True
        return stx.tx_id.hex()

    def tx(self, tx_id: str) -> httpx.Response:
        return self.http.get(f"/v1/txs/{tx_id}")

    def wait_committed(self, tx_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            r = self.tx(tx_id)
            if r.status_code == 200:
                last = r.json()
                if last["status"] == "committed":
                    return last
                assert last["status"] == "pending", last
            else:
                last = (r.status_code, r.text)
            time.sleep(0.05)
        raise AssertionError(f"{tx_id} not committed within {timeout}s: {last}")

    def wait_height(self, height: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.status()["height"] < height:
            assert time.monotonic() < deadline, f"height {height} not reached"
            time.sleep(0.05)


def genesis_text(home: Path) -> str:
    return (home / "genesis.json").read_text()


@pytest.fixture
def node_home(tmp_path: Path) -> Path:
    return init_home(tmp_path / "home")


@pytest.fixture
def node_process(node_home: Path) -> Iterator[NodeProcess]:
    proc = NodeProcess(node_home)
    proc.start()
    try:
        yield proc
    finally:
        code = proc.stop()  # fails if the node had already stopped on its own
        assert code == 0, f"node exited with {code} on SIGTERM:\n{proc.log_tail()}"


@pytest.fixture
def node(node_process: NodeProcess) -> Iterator[NodeClient]:
    client = NodeClient(node_process.home, node_process.url)
    try:
        yield client
    finally:
        client.close()


# --- a local network (`corridor localnet`) ----------------------------------------------


def localnet_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CLI, "localnet", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Net:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.clients: dict[str, NodeClient] = {}

    @property
    def nodes(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = json.loads((self.dir / "localnet.json").read_text())
        return nodes

    def client(self, name: str) -> NodeClient:
        if name not in self.clients:
            port = next(n["rpc_port"] for n in self.nodes if n["name"] == name)
            self.clients[name] = NodeClient(self.dir, f"http://127.0.0.1:{port}")
        return self.clients[name]

    def pid(self, name: str) -> int:
        return int((self.dir / name / "node.pid").read_text())

    def log(self, name: str) -> str:
        return (self.dir / name / "node.log").read_text(errors="replace")

    def wait_same_height(self, names: list[str], height: int, timeout_s: float = 30.0) -> None:
        """Every node in `names` reaches `height` with the same block hash there."""
        deadline = time.monotonic() + timeout_s
        for name in names:
            c = self.client(name)
            while c.status()["height"] < height:
                assert time.monotonic() < deadline, f"{name} stuck:\n{self.log(name)[-3000:]}"
                time.sleep(0.1)
        hashes = {
            self.client(n).http.get(f"/v1/headers/{height}").json()["header"]["hash"] for n in names
        }
        assert len(hashes) == 1, f"different blocks at height {height}: {hashes}"


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    network = Net(tmp_path / "localnet")
    try:
        yield network
    finally:
        for c in network.clients.values():
            c.close()
        if (network.dir / "localnet.json").exists():
            localnet_cli("down", "--dir", str(network.dir))
