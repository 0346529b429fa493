"""The explorer against a real node process (its RPC read with the platform's client
token, as `corridor up` runs it): a payment committed on chain is on the
front page, on its block's page with the block's real commit certificate, on its own page
with a proof the platform checks too, and in both accounts' histories; search finds it;
the validators page names the node's validator; a stopped node gives the 503 page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.ledger_client import LedgerClient
from corridor.platform.config import Settings
from corridor.platform.services import payment_reads
from corridor.web.site import create_site
from tests.node.conftest import NodeClient, NodeProcess, init_home


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    proc = NodeProcess(init_home(tmp_path_factory.mktemp("explorer-node") / "home"))
    proc.start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.poll() is None:  # the last test stops it
            assert proc.stop() == 0, proc.log_tail()


@pytest.fixture(scope="module")
def paid(node: NodeProcess) -> Iterator[tuple[NodeClient, str, int]]:
    client = NodeClient(node.home, node.url)
    tx_id = client.pay("alice", "bob", 12_345)
    committed = client.wait_committed(tx_id, timeout=30)
    try:
        yield client, tx_id, int(committed["height"])
    finally:
        client.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory,
         node: NodeProcess) -> Iterator[tuple[TestClient, bootstrap.Platform]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("explorer-platform") / "platform",
                        fast_password_hashing=True, node_rpc=node.url,
                        node_rpc_token=node.token)
    platform = bootstrap.build(settings)
    assert isinstance(platform.deps.chain, LedgerClient)  # the settings' node, for reads
    try:
        with TestClient(create_site(platform), base_url="http://127.0.0.1") as c:
            yield c, platform
    finally:
        platform.close()


def test_a_committed_payment_is_on_every_explorer_page(
        site: tuple[TestClient, bootstrap.Platform], paid: tuple[NodeClient, str, int]) -> None:
    http, _ = site
    client, tx_id, height = paid
    front = http.get("/explorer")
    assert front.status_code == 200, front.text[:500]
    assert f'/explorer/tx/{tx_id}' in front.text and f"/explorer/block/{height}" in front.text

    block = http.get(f"/explorer/block/{height}").text
    assert tx_id in block
    assert "data-quorum" in block and block.count("data-signer") == 1  # one validator
    assert 'class="ok" data-quorum' in block and "data-absent" not in block

    tx = http.get(f"/explorer/tx/{tx_id}").text
    assert client.address("alice") in tx and client.address("bob") in tx
    assert "Applied" in tx and "data-proof" in tx
    path = re.search(r'data-path="([0-9a-f ]*)"', tx)
    header = re.search(r'data-header="([0-9a-f]+)"', tx)
    raw = re.search(r'data-tx="([0-9a-f]+)"', tx)
    index = re.search(r'data-index="(\d+)"', tx)
    header_hash = re.search(r'data-header-hash="([0-9a-f]{64})"', tx)
    assert path and header and raw and index and header_hash
    # what the page hands the browser is a proof the ledger's own check accepts
    assert payment_reads.proof_ok(
        tx_id, height, int(index.group(1)), raw.group(1),
        tuple(p for p in path.group(1).split(" ") if p),
        {"encoded": header.group(1), "hash": header_hash.group(1)})

    alice = http.get(f"/explorer/account/{client.address('alice')}").text
    assert tx_id in alice and 'data-balance="USD"' in alice
    assert http.get(f"/explorer/account/{client.address('bob')}").text.count(tx_id) >= 1

    r = http.get("/explorer/search", params={"q": tx_id}, follow_redirects=False)
    assert r.headers["location"] == f"/explorer/tx/{tx_id}"
    block_hash = client.http.get(f"/v1/headers/{height}").json()["header"]["hash"]
    r = http.get("/explorer/search", params={"q": block_hash}, follow_redirects=False)
    assert r.headers["location"] == f"/explorer/block/{height}"
    validators = http.get("/explorer/validators").text
    assert client.status()["validator"] in validators and "the node we read" in validators


def test_a_stopped_node_gives_the_unavailable_page(
        site: tuple[TestClient, bootstrap.Platform], node: NodeProcess,
        paid: tuple[NodeClient, str, int]) -> None:
    http, _ = site
    assert node.stop() == 0, node.log_tail()
    r = http.get("/explorer")
    assert r.status_code == 503 and 'data-code="NODE_UNAVAILABLE"' in r.text
