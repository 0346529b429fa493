"""Small builders for ledger tests: deterministic keys, a genesis, signed transactions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.context import ApplyContext
from corridor.ledger.genesis import Genesis, parse_genesis
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import Operation, SignedTransaction, Transaction

CHAIN = "corridor-test"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms


def key(name: str) -> KeyPair:
    """A deterministic key per name: tests and vectors are reproducible."""
    return KeyPair.from_seed(hashlib.sha256(b"corridor-test-key:" + name.encode()).digest())


def ctx(height: int = 1, time_ms: int = T0 + 1000) -> ApplyContext:
    return ApplyContext(chain_id=CHAIN, height=height, time_ms=time_ms)


def genesis_doc(
    *,
    holders: tuple[str, ...] = ("alice", "bob"),
    issuers: tuple[str, ...] = ("bank",),
    assets: tuple[tuple[str, str, dict[str, bool]], ...] = (
        ("USD", "bank", {"auth_required": True, "freezable": True, "clawback": True}),
        ("CNY", "bank", {"auth_required": True, "freezable": True, "clawback": True}),
    ),
    balances: tuple[tuple[str, str, int], ...] = (("alice", "USD", 100_000),),
    authorise_all: bool = True,
    validators: tuple[str, ...] = ("v1",),
) -> dict[str, Any]:
    names = dict.fromkeys((*issuers, *holders))
    asset_issuer = {code: issuer for code, issuer, _ in assets}
    balance_map = {(h, c): a for h, c, a in balances}
    if authorise_all:
        for h in holders:
            for code in asset_issuer:
                balance_map.setdefault((h, code), 0)
    return {
        "chain_id": CHAIN,
        "genesis_time_ms": T0,
        "validators": [
            {"public_key": keys.encode_public_key(key(v).public_key), "power": 1}
            for v in validators
        ],
        "accounts": [{"public_key": keys.encode_public_key(key(n).public_key)} for n in names],
        "assets": [
            {
                "code": code,
                "issuer": keys.encode_address(key(issuer).address),
                "decimals": 2,
                **flags,
            }
            for code, issuer, flags in assets
        ],
        "balances": [
            {
                "holder": keys.encode_address(key(h).address),
                "code": code,
                "issuer": keys.encode_address(key(asset_issuer[code]).address),
                "amount": amount,
            }
            for (h, code), amount in balance_map.items()
        ],
    }


def make_genesis(**kwargs: Any) -> Genesis:
    return parse_genesis(json.dumps(genesis_doc(**kwargs)))


def asset(code: str, issuer: str = "bank") -> Asset:
    return Asset(code, key(issuer).address)


def tx(
    source: str,
    sequence: int,
    *ops: Operation,
    signers: tuple[str, ...] | None = None,
    not_before_ms: int = 0,
    not_after_ms: int = T0 + 3_600_000,
    memo: bytes = b"",
    chain_id: str = CHAIN,
) -> SignedTransaction:
    body = Transaction(
        chain_id=chain_id,
        source=key(source).address,
        sequence=sequence,
        not_before_ms=not_before_ms,
        not_after_ms=not_after_ms,
        operations=ops,
        memo=memo,
    )
    return body.sign(*(key(s) for s in (signers or (source,))))
