"""docs/regulator-observer.md, run (issue 16): the steps a regulator follows, through the
same commands' code. A one-validator network on real node processes; the regulator's
node made with `corridor node identity`, listed in the network's peers.json, started
without a validator key (a full node that follows and re-executes every block); a
payment made through the platform; its reference read by the regulator from
/v1/regulator; its inclusion verified with `corridor light verify-tx` against the
observer's own node and the genesis alone. SQLite: the databases' part is tested
elsewhere (test_supervision.py runs on both)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from corridor.cli.main import app as cli_app
from tests.node.conftest import NodeProcess, free_port, init_home
from tests.platform.conftest import keyed
from tests.platform.live import OFFICER_PASSWORD, Platform, sign_in, wait_until
from tests.platform.test_e2e_payments import onboard, settled, wallet

REGULATOR_PASSWORD = "supervisor passphrase 2026"


def run(*args: str) -> str:
    out = CliRunner().invoke(cli_app, list(args))
    assert out.exit_code == 0, out.output
    return out.output


def peer_entry(home: Path, port: int) -> dict[str, Any]:
    """Step 1 of the document: `corridor node identity` prints the node's peers.json entry."""
    entry: dict[str, Any] = json.loads(run("node", "identity", "--home", str(home),
                                           "--p2p-address", f"127.0.0.1:{port}"))
    return entry


@pytest.fixture
def network(tmp_path: Path) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    validator_home = init_home(tmp_path / "validator")  # the demo issuer and treasury
    observer_home = tmp_path / "observer"
    validator = peer_entry(validator_home, free_port())
    observer = peer_entry(observer_home, free_port())
    assert validator["validator_public_key"] and observer["validator_public_key"] is None
    peers = json.dumps([validator, observer], indent=2)
    for home in (validator_home, observer_home):  # steps 2 and 3
        (home / "peers.json").write_text(peers)
    shutil.copyfile(validator_home / "genesis.json", observer_home / "genesis.json")
    nodes = NodeProcess(validator_home), NodeProcess(observer_home)
    for n in nodes:
        n.start()  # step 4 for the observer: `corridor node start --home observer`
    try:
        yield nodes
    finally:
        for n in nodes:
            n.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_observer_follows_the_network_and_verifies_a_platform_payment(
        tmp_path: Path, db_url: str, network: tuple[NodeProcess, NodeProcess]) -> None:
    validator, observer = network
    service = Platform(tmp_path / "platform", db_url, validator)
    service.cli("staff-add", "--email", "officer@corridor.example", "--name", "Olive Officer",
                "--role", "compliance_officer", "--password-stdin",
                stdin=OFFICER_PASSWORD + "\n")
    service.cli("staff-add", "--email", "reg@supervisor.example", "--name", "Rita Regulator",
                "--role", "regulator", "--password-stdin", stdin=REGULATOR_PASSWORD + "\n")
    service.start()
    try:
        with httpx.Client(base_url=service.url, timeout=30) as api:
            tx_id, height = _a_credited_payment(api, service)
    finally:
        service.stop()

    def followed() -> bool:
        status = httpx.get(f"{observer.url}/v1/status", headers=observer.headers,
                           timeout=5).json()
        return int(status["height"]) >= height

    wait_until("the observer to reach the payment's block", followed)
    genesis = str(observer.home / "genesis.json")
    out = run("light", "verify-tx", tx_id, "--genesis", genesis, "--rpc", observer.url,
              "--home", str(observer.home))
    assert out.startswith(f"verified transaction {tx_id}")
    assert "1 of 1 validators" in out and f"height {height}," in out
    wrong = CliRunner().invoke(cli_app, ["light", "verify-tx", "ab" * 32, "--genesis", genesis,
                                         "--rpc", observer.url, "--home",
                                         str(observer.home)])
    assert wrong.exit_code == 1 and "verified" not in wrong.output


def _a_credited_payment(api: httpx.Client, service: Platform) -> tuple[str, int]:
    """A payment made through the platform, and its reference as the regulator reads it."""
    officer = sign_in(api, service, "officer@corridor.example", OFFICER_PASSWORD)
    ann = onboard(api, service, officer, "ann@example.com", "US")
    onboard(api, service, officer, "li@example.cn", "CN")
    r = api.post("/v1/deposits", headers=keyed(ann), json={"currency": "USD",
                                                            "amount": "100.00"})
    assert r.status_code == 201, r.text
    deposit = r.json()
    r = api.post("/v1/dev/sim-bank/transfers", headers=ann,
                 json={"reference": deposit["instructions"]["reference"], "amount": "100.00",
                       "currency": "USD"})
    assert r.status_code == 202, r.text

    def credited() -> bool:
        api.post("/v1/dev/sim-bank/flush", headers=ann)
        return api.get(f"/v1/deposits/{deposit['id']}", headers=ann).json()["status"] == (
            "credited")

    wait_until("the deposit to be credited", credited)
    assert wallet(api, ann)["address"]
    r = api.post("/v1/payments", headers=keyed(ann),
                 json={"recipient": {"type": "user", "email": "li@example.cn"},
                       "asset": "USD", "amount": "25.00"})
    assert r.status_code == 201, r.text
    paid = settled(api, ann, r.json()["id"])

    regulator = sign_in(api, service, "reg@supervisor.example", REGULATOR_PASSWORD)
    seen = api.get(f"/v1/regulator/payments/{paid['id']}", headers=regulator)
    assert seen.status_code == 200, seen.text
    proof = seen.json()["proof"]
    assert proof["tx_id"] == paid["tx_id"] and proof["height"] == paid["height"]
    assert proof["verify"].startswith(f"corridor light verify-tx {paid['tx_id']} ")
    return str(proof["tx_id"]), int(proof["height"])


def test_an_identity_needs_a_host_and_port_and_is_kept(tmp_path: Path) -> None:
    for bad in ("observer", "host:", ":26656", "host:0", "host:70000", "host:p2p"):
        out = CliRunner().invoke(cli_app, ["node", "identity", "--home", str(tmp_path / "o"),
                                           "--p2p-address", bad])
        assert out.exit_code == 1 and "HOST:PORT" in out.output, (bad, out.output)
    first = peer_entry(tmp_path / "o", 26656)
    again = peer_entry(tmp_path / "o", 26657)
    assert first["fingerprint"] == again["fingerprint"]  # the identity is made once
    assert again["address"] == "127.0.0.1:26657"
