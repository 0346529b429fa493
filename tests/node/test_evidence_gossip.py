"""Evidence travels between nodes: a double signing submitted to a full node, which never
proposes, is gossiped to the validators and recorded in a block that all nodes hold."""

from __future__ import annotations

import time
from typing import Any

from corridor.ledger import keys
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.ledger.keys import keypair_from_keyfile_json
from corridor.ledger.votes import PREVOTE, Vote

from .conftest import Net, localnet_cli

VALIDATORS = 4


def _double_sign(net: Net, validator: str, *, height: int) -> DuplicateVoteEvidence:
    key = keypair_from_keyfile_json((net.dir / validator / "validator_key.json").read_text())
    chain_id = net.client("node0").chain_id
    a, b = (
        Vote.signed(chain_id, key, vote_type=PREVOTE, height=height, round_=3, block_hash=h)
        for h in (b"\x0a" * 32, b"\x0b" * 32)
    )
    return DuplicateVoteEvidence.of(a, b)


def _recorded(net: Net, name: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        items = net.client(name).http.get("/v1/evidence").json()["items"]
        if items:
            return dict(items[0])
        time.sleep(0.1)
    raise AssertionError(f"{name} never recorded the evidence:\n{net.log(name)[-3000:]}")


def test_evidence_given_to_a_full_node_is_recorded_by_a_validator(net: Net) -> None:
    validators = [f"node{i}" for i in range(VALIDATORS)]
    localnet_cli("up", "--dir", str(net.dir), "--validators", str(VALIDATORS), "--full-nodes", "1")
    net.wait_same_height([*validators, "node4"], 2)
    evidence = _double_sign(net, "node3", height=1)

    full = net.client("node4")
    r = full.http.post("/v1/evidence", json={"evidence": evidence.encode().hex()})
    assert r.status_code == 200, r.text

    item = _recorded(net, "node0")
    assert item["evidence_hash"] == evidence.hash().hex()
    assert item["validator"] == keys.encode_public_key(evidence.validator)
    height = item["recorded_height"]
    net.wait_same_height([*validators, "node4"], height)
    block = full.http.get(f"/v1/blocks/{height}").json()
    assert [e["hash"] for e in block["evidence"]] == [evidence.hash().hex()]
    for name in [*validators, "node4"]:  # recorded once, everywhere
        assert [
            i["evidence_hash"] for i in net.client(name).http.get("/v1/evidence").json()["items"]
        ] == [evidence.hash().hex()]
        assert "Traceback" not in net.log(name), net.log(name)[-3000:]
