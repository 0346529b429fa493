"""A batch submission: its signatures are verified off the event loop, and the mempool trusts
exactly the ones that verified (a forged one among them is still refused)."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from corridor.ledger.assets import Asset
from corridor.ledger.tx import Payment, Signature, SignedTransaction, Transaction
from corridor.node.home import Home, read_key
from corridor.node.limits import RPC_VERIFY_OFF_LOOP_MIN
from corridor.node.rpc import create_app
from tests.node.test_rpc_fuzz import OPEN, demo_node


def _payments(home: Home, count: int) -> list[SignedTransaction]:
    alice = read_key(home.wallet_path("alice"))
    bob = read_key(home.wallet_path("bob"))
    usd = Asset("USD", read_key(home.wallet_path("issuer")).address)
    chain_id = home.genesis().chain_id
    not_after_ms = int(time.time() * 1000) + 600_000
    return [
        Transaction(
            chain_id=chain_id,
            source=alice.address,
            sequence=sequence,
            not_before_ms=0,
            not_after_ms=not_after_ms,
            operations=(Payment(destination=bob.address, asset=usd, amount=1),),
        ).sign(alice)
        for sequence in range(1, count + 1)
    ]


def _forged(stx: SignedTransaction) -> SignedTransaction:
    """The same transaction under a signature of another message (64 valid-looking bytes)."""
    sig = stx.signatures[0]
    bad = Signature(public_key=sig.public_key, signature=bytes(reversed(sig.signature)))
    return SignedTransaction(tx=stx.tx, signatures=(bad,), tx_id=stx.tx_id, body=stx.body)


def test_a_forged_signature_in_a_verified_batch_is_refused_and_the_rest_admitted(
    tmp_path: Path,
) -> None:
    node = demo_node(tmp_path)
    home = Home(tmp_path / "home")
    txs = _payments(home, RPC_VERIFY_OFF_LOOP_MIN + 4)
    forged_at = len(txs) - 1  # the last: nothing waits behind it
    txs[forged_at] = _forged(txs[forged_at])
    with TestClient(create_app(node, OPEN)) as client:
        r = client.post("/v1/txs", json={"txs": [stx.encode().hex() for stx in txs]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == len(txs) - 1
    refused = body["results"][forged_at]
    assert refused["accepted"] is False
    assert refused["error"]["code"] == "bad_signature"
    assert all(item["accepted"] for item in body["results"][:forged_at])
    assert len(node.core.mempool) == len(txs) - 1
    assert txs[forged_at].tx_id not in node.core.mempool
    assert node.core.mempool.check_invariants() == []


def test_a_batch_mixes_bad_hex_undecodable_and_good_transactions_in_order(
    tmp_path: Path,
) -> None:
    node = demo_node(tmp_path)
    good = [stx.encode().hex() for stx in _payments(Home(tmp_path / "home"), 9)]
    texts = ["zz", *good[:4], "00", *good[4:]]
    with TestClient(create_app(node, OPEN)) as client:
        body = client.post("/v1/txs", json={"txs": texts}).json()
    codes = [item.get("error", {}).get("code") for item in body["results"]]
    assert codes[0] == "bad_hex" and codes[5] not in (None, "bad_hex")
    assert [item["index"] for item in body["results"]] == list(range(len(texts)))
    assert body["accepted"] == 9
