"""Evidence of double signing through a real node: submitted over RPC (or detected by
consensus, the same `NodeCore.add_evidence`), proposed in a block, listed by /v1/evidence."""

from __future__ import annotations

import time

from corridor.ledger import keys
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.ledger.keys import keypair_from_keyfile_json
from corridor.ledger.votes import PREVOTE, Vote

from .conftest import NodeClient


def _validator_key(node: NodeClient) -> keys.KeyPair:
    return keypair_from_keyfile_json((node.home / "validator_key.json").read_text())


def _double_sign(node: NodeClient, *, height: int, round_: int) -> DuplicateVoteEvidence:
    key = _validator_key(node)
    a, b = (
        Vote.signed(
            node.chain_id, key, vote_type=PREVOTE, height=height, round_=round_, block_hash=h
        )
        for h in (b"\x0a" * 32, b"\x0b" * 32)
    )
    return DuplicateVoteEvidence.of(a, b)


def _wait_recorded(node: NodeClient, count: int = 1, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = node.http.get("/v1/evidence").json()
        if len(body["items"]) >= count:
            return body
        time.sleep(0.05)
    raise AssertionError("the evidence was never recorded")


def test_submitted_evidence_is_recorded_in_a_block_and_listed(node: NodeClient) -> None:
    assert node.http.get("/v1/evidence").json()["items"] == []
    # Height 1 is the height under way: the evidence waits for block 2 (a block at height h
    # records evidence of heights before h only).
    evidence = _double_sign(node, height=1, round_=7)
    r = node.http.post("/v1/evidence", json={"evidence": evidence.encode().hex()})
    assert r.status_code == 200, r.text
    assert r.json()["hash"] == evidence.hash().hex()

    body = _wait_recorded(node)
    [item] = body["items"]
    assert item["evidence_hash"] == evidence.hash().hex()
    assert item["validator"] == keys.encode_public_key(evidence.validator)
    assert (item["height"], item["round"], item["vote_type"]) == (1, 7, "prevote")
    assert item["recorded_height"] >= 2
    block = node.http.get(f"/v1/blocks/{item['recorded_height']}").json()
    assert [e["hash"] for e in block["evidence"]] == [evidence.hash().hex()]
    assert block["header"]["evidence_root"] != "0" * 64

    again = node.http.post("/v1/evidence", json={"evidence": evidence.encode().hex()})
    assert again.status_code == 400 and again.json()["error"]["code"] == "evidence_recorded"


def test_bad_evidence_is_refused_and_changes_nothing(node: NodeClient) -> None:
    good = _double_sign(node, height=1, round_=1).encode()
    swapped = good[len(good) // 2 :] + good[: len(good) // 2]
    for data, code in (
        ("zz", "bad_hex"),
        (good[:-1].hex(), "malformed"),
        (swapped.hex(), "non_canonical"),
        (_double_sign(node, height=10**6, round_=0).encode().hex(), "evidence_expired"),
    ):
        r = node.http.post("/v1/evidence", json={"evidence": data})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == code, r.text
    bad_cursor = node.http.get("/v1/evidence", params={"after": "x"})
    assert bad_cursor.status_code == 422
    too_many = node.http.get("/v1/evidence", params={"limit": 10_000})
    assert too_many.status_code == 422
    assert node.http.get("/v1/evidence").json()["items"] == []


def test_recorded_evidence_is_paged(node: NodeClient) -> None:
    submitted = {_double_sign(node, height=1, round_=r).hash().hex() for r in range(3)}
    for r in range(3):
        data = _double_sign(node, height=1, round_=r).encode().hex()
        assert node.http.post("/v1/evidence", json={"evidence": data}).status_code == 200
    _wait_recorded(node, count=3)
    first = node.http.get("/v1/evidence", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next"] is not None
    rest = node.http.get("/v1/evidence", params={"limit": 2, "after": first["next"]}).json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    assert {i["evidence_hash"] for i in first["items"] + rest["items"]} == submitted
