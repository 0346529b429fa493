"""The light client against a real node process: `corridor light verify-tx / verify-account`
verify a committed payment and an account from the genesis file; a node (or a proxy in front
of it) that lies about chain, commits, headers or proofs is caught with one error line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from corridor.cli.common import format_amount
from corridor.cli.main import app
from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.node.light_client import LightClient, LightClientError, load_trust

from .conftest import NodeClient, NodeProcess, free_port, init_home

runner = CliRunner()


def _light(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["light", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _one_error_line(code: int, output: str, expected: str) -> None:
    assert code == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], output


def test_cli_verifies_a_committed_payment_and_accounts(node: NodeClient) -> None:
    genesis = str(node.home / "genesis.json")
    tx_id = node.pay("alice", "bob", 4_321)
    status = node.wait_committed(tx_id)

    code, out = _light("verify-tx", tx_id, "--rpc", str(node.http.base_url),
                       "--genesis", genesis)
    assert code == 0, out
    assert f"verified transaction {tx_id}" in out
    assert f"height {status['height']}," in out
    assert f"at index {status['index']} of" in out
    assert "1 of 1 validators" in out
    assert f"{node.address('alice')}, sequence 1" in out
    assert "payment: " in out and f"destination {node.address('bob')}" in out
    assert "amount 43.21 USD" in out  # major units, as everywhere (issue 15)

    code, out = _light("verify-account", node.address("bob"), "--rpc", str(node.http.base_url),
                       "--genesis", genesis, "--home", str(node.home))
    assert code == 0, out
    assert f"verified account {node.address('bob')}" in out
    assert f"balance     {format_amount(node.balance('bob'), 2)} USD" in out
    # A wallet name resolves in --home, as with `corridor account show`.
    code, by_name = _light("verify-account", "bob", "--home", str(node.home),
                           "--rpc", str(node.http.base_url), "--genesis", genesis)
    assert code == 0, by_name
    assert by_name.splitlines()[0] == out.splitlines()[0]  # the same address
    assert [ln for ln in by_name.splitlines() if "balance" in ln] == [
        ln for ln in out.splitlines() if "balance" in ln]

    # An address with no account is proven absent, not just reported missing.
    nobody = keys.encode_address(KeyPair.from_seed(b"\x07" * keys.SEED_LEN).address)
    code, out = _light("verify-account", nobody, "--rpc", str(node.http.base_url),
                       "--genesis", genesis, "--home", str(node.home))
    assert code == 0, out
    assert "does not exist (proven absent)" in out


def test_cli_refuses_wrong_chain_unknown_tx_and_bad_input(node: NodeClient, tmp_path: Path) -> None:
    rpc = str(node.http.base_url)
    genesis_path = node.home / "genesis.json"
    tx_id = node.pay("alice", "bob", 7)
    node.wait_committed(tx_id)

    # A genesis of another chain id: the node's headers are of the wrong chain.
    doc = json.loads(genesis_path.read_text())
    doc["chain_id"] = "corridor-elsewhere"
    other_chain = tmp_path / "other-chain.json"
    other_chain.write_text(json.dumps(doc))
    _one_error_line(*_light("verify-tx", tx_id, "--rpc", rpc, "--genesis", str(other_chain)),
                    "wrong_chain")
    # Same chain id, other validators (a second demo network): the commit is not theirs.
    other_net = init_home(tmp_path / "other-net") / "genesis.json"
    _one_error_line(*_light("verify-tx", tx_id, "--rpc", rpc, "--genesis", str(other_net)),
                    "bad_block")
    _one_error_line(*_light("verify-account", node.address("bob"), "--rpc", rpc,
                            "--genesis", str(other_net), "--home", str(node.home)), "bad_block")
    # Unknown tx, bad arguments, missing genesis, no node.
    _one_error_line(*_light("verify-tx", "ab" * 32, "--rpc", rpc, "--genesis", str(genesis_path)),
                    "rpc_error")
    _one_error_line(*_light("verify-tx", "xyz", "--rpc", rpc, "--genesis", str(genesis_path)),
                    "bad_argument")
    _one_error_line(*_light("verify-account", "not-an-address", "--rpc", rpc,
                            "--genesis", str(genesis_path)), "bad_argument")
    _one_error_line(*_light("verify-tx", tx_id, "--rpc", rpc,
                            "--genesis", str(tmp_path / "missing.json")), "genesis")
    dead = f"http://127.0.0.1:{free_port()}"
    _one_error_line(*_light("verify-tx", tx_id, "--rpc", dead, "--genesis", str(genesis_path)),
                    "unreachable")


Tamper = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeClient]:
    """One node for the lying-proxy tests (each pays and waits for its own commit, then
    reads; none depends on what the others left): starting a node costs seconds."""
    proc = NodeProcess(init_home(tmp_path_factory.mktemp("light") / "home"))
    proc.start()
    client = NodeClient(proc.home, proc.url)
    try:
        yield client
    finally:
        client.close()
        code = proc.stop()
        assert code == 0, f"node exited with {code} on SIGTERM:\n{proc.log_tail()}"


def _lying_client(node: NodeClient, tamper: Tamper) -> LightClient:
    """A light client whose answers pass through `tamper(path, body)` on the way back from
    the real node: a man in the middle, or a lying node."""
    real = node.http

    def handle(request: httpx.Request) -> httpx.Response:
        r = real.get(request.url.path)
        body = tamper(request.url.path, r.json()) if r.status_code == 200 else r.json()
        return httpx.Response(r.status_code, json=body)

    http = httpx.Client(base_url=str(real.base_url), transport=httpx.MockTransport(handle))
    return LightClient(str(real.base_url), load_trust(node.home / "genesis.json"), http=http)


def _flip_hex(text: str, at: int = -1) -> str:
    raw = bytearray(bytes.fromhex(text))
    raw[at] ^= 1
    return raw.hex()


def _forge_commit_sig(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.startswith("/v1/headers/"):
        body["commit"]["encoded"] = _flip_hex(body["commit"]["encoded"])  # last signature byte
    return body


def _forge_header(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.startswith("/v1/headers/"):
        body["header"]["encoded"] = _flip_hex(body["header"]["encoded"])  # the proposer
    return body


def _drop_commit(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.startswith("/v1/headers/"):
        body["commit"] = None
    return body


def _garble_commit(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.startswith("/v1/headers/"):
        body["commit"]["encoded"] = body["commit"]["encoded"][:20]
    return body


def _tamper_tx_proof(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.endswith("/proof") and "tx" in body:
        body["tx"] = _flip_hex(body["tx"], 40)
    return body


def _tamper_account(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.endswith("/proof") and "account" in body:
        body["account"] = _flip_hex(body["account"])
    return body


def _not_json_object(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.endswith("/proof"):
        return {"height": "three"}
    return body


@pytest.mark.parametrize(("tamper", "code"), [
    (_forge_commit_sig, "bad_signature"),
    (_forge_header, "bad_block"),
    (_drop_commit, "bad_block"),
    (_garble_commit, "malformed"),
    (_tamper_tx_proof, "bad_block"),
    (_not_json_object, "malformed"),
])
def test_lies_about_a_tx_are_caught(shared_node: NodeClient, tamper: Tamper, code: str) -> None:
    node = shared_node
    tx_id = node.pay("alice", "bob", 11)
    node.wait_committed(tx_id)
    with _lying_client(node, lambda p, b: b) as honest:
        assert honest.verify_tx(bytes.fromhex(tx_id)).stx.tx_id.hex() == tx_id
    with _lying_client(node, tamper) as client, pytest.raises(LightClientError) as info:
        client.verify_tx(bytes.fromhex(tx_id))
    assert info.value.code == code, info.value


def test_lies_about_an_account_are_caught(shared_node: NodeClient) -> None:
    node = shared_node
    bob = node.wallet("bob").address
    node.wait_committed(node.pay("alice", "bob", 5))
    for tamper, code in ((_tamper_account, "bad_block"), (_forge_commit_sig, "bad_signature"),
                         (_not_json_object, "malformed")):
        with _lying_client(node, tamper) as client, pytest.raises(LightClientError) as info:
            client.verify_account(bob)
        assert info.value.code == code, (tamper.__name__, info.value)
