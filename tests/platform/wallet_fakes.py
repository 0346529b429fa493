"""Fakes and helpers for custody tests: an in-memory node (the `LedgerNode` port), a
deterministic key generator, and organisations inserted directly."""

from __future__ import annotations

import dataclasses
import hashlib

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import decode_transaction
from corridor.platform.bootstrap import Platform
from corridor.platform.domain.orgs import Membership, Organisation
from corridor.platform.services.ledger_port import (
    ChainAccount,
    ChainStatus,
    Refusal,
    TxState,
)


class CountingKeyGen:
    """Seeds derived from a counter: reproducible wallets."""

    def __init__(self, label: str = "test") -> None:
        self.label = label
        self.n = 0

    def new_seed(self) -> bytes:
        self.n += 1
        return hashlib.sha256(f"{self.label}:{self.n}".encode()).digest()


@dataclasses.dataclass
class FakeNode:
    """Accepts every transaction; the test decides each one's fate through `states`."""

    chain_id: str = "corridor-test"
    sequences: dict[str, int] = dataclasses.field(default_factory=dict)
    submitted: list[str] = dataclasses.field(default_factory=list)  # tx hex, in order
    states: dict[str, TxState] = dataclasses.field(default_factory=dict)  # by tx id
    refuse_next: Refusal | None = None

    def status(self) -> ChainStatus:
        return ChainStatus(chain_id=self.chain_id, height=1, latest_time_ms=0)

    def account(self, address: str) -> ChainAccount | None:
        if address not in self.sequences:
            return None
        return ChainAccount(address=address, sequence=self.sequences[address], holdings=())

    def submit(self, tx_hex: str) -> Refusal | None:
        self.submitted.append(tx_hex)
        if self.refuse_next is not None:
            refusal, self.refuse_next = self.refuse_next, None
            return refusal
        tx_id = decode_transaction(bytes.fromhex(tx_hex)).tx_id.hex()
        self.states.setdefault(tx_id, TxState(status="pending"))
        return None

    def tx_state(self, tx_id: str) -> TxState:
        return self.states.get(tx_id, TxState(status="unknown"))

    def commit(self, tx_id: str) -> None:
        stx = decode_transaction(bytes.fromhex(self._hex(tx_id)))
        source = keys.encode_address(stx.tx.source)
        self.sequences[source] = stx.tx.sequence
        self.states[tx_id] = TxState(status="committed", success=True, height=2)

    def _hex(self, tx_id: str) -> str:
        for h in self.submitted:
            if decode_transaction(bytes.fromhex(h)).tx_id.hex() == tx_id:
                return h
        raise AssertionError(f"{tx_id} never submitted")


def system_keys() -> dict[str, KeyPair]:
    return {name: KeyPair.from_seed(hashlib.sha256(name.encode()).digest())
            for name in ("issuer", "operator")}


def make_org(platform: Platform, owner_id: str, members: dict[str, str] | None = None) -> str:
    """An organisation owned by `owner_id`, with other members {user_id: role}."""
    deps = platform.deps
    now = deps.clock.now_ms()
    org = Organisation(id=deps.rand.new_id(), name="Acme Remit", country="GB",
                       status="active", created_by=owner_id, created_ms=now, updated_ms=now)
    with deps.uow() as uow:
        uow.repo(Organisation).add(org)
        for user_id, role in {owner_id: "owner", **(members or {})}.items():
            uow.repo(Membership).add(Membership(
                id=deps.rand.new_id(), org_id=org.id, user_id=user_id, role=role,
                department_id=None, created_ms=now, updated_ms=now))
        uow.commit()
    return org.id
