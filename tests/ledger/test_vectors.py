"""Golden vectors: the canonical encoding, ids, signatures, record hashes and a small block.

Any other implementation of Corridor must reproduce `tests/vectors/ledger.json` byte for byte.
Regenerate (only for a deliberate protocol change, in a new rules version):
    .venv/bin/python -m tests.ledger.test_vectors --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from corridor.ledger import keys
from corridor.ledger.block import Block
from corridor.ledger.chain import make_block, select_txs
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.ledger.tx import (
    Clawback,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    HolderAction,
    IssueAsset,
    OpenAccount,
    Payment,
    SetHolder,
    SetSigners,
    Signer,
    decode_transaction,
)
from corridor.ledger.votes import PRECOMMIT, Vote

from .builders import T0, asset, ctx, key, make_genesis, tx

VECTORS = Path(__file__).parent.parent / "vectors" / "ledger.json"


def _transactions():
    bob, alice = key("bob").address, key("alice").address
    usd = asset("USD")
    lock = hashlib.sha256(b"secret").digest()
    signers = tuple(
        sorted(
            (Signer(public_key=key(n).public_key, weight=w) for n, w in (("alice", 2), ("m1", 1))),
            key=lambda s: s.public_key,
        )
    )
    return {
        "open_account": tx("alice", 1, OpenAccount(public_key=key("carol").public_key)),
        "payment": tx(
            "alice", 1, Payment(destination=bob, asset=usd, amount=12_345), memo=b"invoice 42"
        ),
        "two_leg_payment": tx(
            "alice",
            1,
            Payment(destination=bob, asset=usd, amount=1000),
            Payment(destination=alice, asset=asset("CNY"), amount=7000, source=bob),
            signers=("alice", "bob"),
        ),
        "set_signers": tx("alice", 1, SetSigners(signers=signers, threshold=2)),
        "issue_asset": tx(
            "bank",
            1,
            IssueAsset(code="SGD", decimals=2, auth_required=True, freezable=True, clawback=False),
        ),
        "set_holder": tx("bank", 1, SetHolder(holder=bob, code="USD", action=HolderAction.FREEZE)),
        "clawback": tx("bank", 1, Clawback(holder=alice, code="USD", amount=5)),
        "escrow_create": tx(
            "alice",
            1,
            EscrowCreate(
                destination=bob,
                asset=usd,
                amount=500,
                hashlock=lock,
                finish_after_ms=T0 + 1,
                cancel_after_ms=T0 + 86_400_000,
            ),
        ),
        "escrow_finish": tx("bob", 1, EscrowFinish(escrow_id=b"\x11" * 32, preimage=b"secret")),
        "escrow_cancel": tx("alice", 1, EscrowCancel(escrow_id=b"\x11" * 32)),
    }


def _block() -> Block:
    g = make_genesis()
    tree = g.tree()
    candidates = [
        tx(
            "alice",
            i + 1,
            Payment(destination=key("bob").address, asset=asset("USD"), amount=100 * (i + 1)),
        )
        for i in range(3)
    ]
    sel = select_txs(g.state, tree, candidates, ctx())
    return make_block(
        g.header(tree),
        sel.execution,
        time_ms=T0 + 1000,
        validators=g.validators,
        proposer_key=key("v1").public_key,
        last_commit=None,
    )


def _evidence() -> DuplicateVoteEvidence:
    first, second = (
        Vote.signed(
            "corridor-test", key("v1"), vote_type=PRECOMMIT, height=7, round_=2, block_hash=h
        )
        for h in (b"\x01" * 32, b"\x02" * 32)
    )
    return DuplicateVoteEvidence.of(first, second)


def generate() -> dict[str, Any]:
    g = make_genesis()
    block = _block()
    evidence = _evidence()
    return {
        "keys": {
            name: {
                "public_key": key(name).public_key.hex(),
                "address": keys.encode_address(key(name).address),
            }
            for name in ("alice", "bob", "bank", "v1")
        },
        "transactions": {
            name: {"encoded": stx.encode().hex(), "tx_id": stx.tx_id.hex()}
            for name, stx in _transactions().items()
        },
        "genesis": {
            "state_root": g.tree().root.hex(),
            "header_hash": g.header().hash().hex(),
            "alice_account": g.state.account(key("alice").address).encode().hex(),
        },
        "evidence": {
            "encoded": evidence.encode().hex(),
            "hash": evidence.hash().hex(),
            "offence_id": evidence.offence_id.hex(),
        },
        "block": {
            "encoded": block.encode().hex(),
            "hash": block.hash().hex(),
            "tx_root": block.header.tx_root.hex(),
            "result_root": block.header.result_root.hex(),
            "evidence_root": block.header.evidence_root.hex(),
            "state_root": block.header.state_root.hex(),
        },
    }


def test_vectors_match():
    expected = json.loads(VECTORS.read_text())
    assert generate() == expected


def test_vector_transactions_decode_canonically():
    for name, v in json.loads(VECTORS.read_text())["transactions"].items():
        raw = bytes.fromhex(v["encoded"])
        stx = decode_transaction(raw)
        assert stx.encode() == raw, name
        assert stx.tx_id.hex() == v["tx_id"], name
        for s in stx.signatures:
            assert keys.verify(s.public_key, stx.tx_id, s.signature), name


def test_vector_block_decodes():
    v = json.loads(VECTORS.read_text())["block"]
    block = Block.decode(bytes.fromhex(v["encoded"]))
    assert block.hash().hex() == v["hash"]
    assert block.encode().hex() == v["encoded"]


if __name__ == "__main__" and "--write" in sys.argv:
    VECTORS.write_text(json.dumps(generate(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {VECTORS}")
