"""Fakes and helpers for custody tests: an in-memory node (the `LedgerNode` port), a
deterministic key generator, and organisations inserted directly."""

from __future__ import annotations

import dataclasses
import hashlib

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import OpenAccount, decode_transaction
from corridor.platform.adapters.sim_bank import SimBank, in_process
from corridor.platform.bootstrap import Platform
from corridor.platform.domain import kyc
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.orgs import Membership, Organisation
from corridor.platform.services.ledger_port import (
    ChainAccount,
    ChainStatus,
    LedgerNode,
    Refusal,
    TxState,
    TxStatus,
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
    """Accepts every transaction; the test decides each one's fate through `states`.
    `refuse_key` refuses every transaction that opens an account for that public key;
    `opened` holds the accounts committed transactions opened."""

    chain_id: str = "corridor-test"
    sequences: dict[str, int] = dataclasses.field(default_factory=dict)
    submitted: list[str] = dataclasses.field(default_factory=list)  # tx hex, in order
    states: dict[str, TxState] = dataclasses.field(default_factory=dict)  # by tx id
    refuse_next: Refusal | None = None
    refuse_key: dict[str, Refusal] = dataclasses.field(default_factory=dict)  # key text
    opened: set[str] = dataclasses.field(default_factory=set)  # addresses

    def status(self) -> ChainStatus:
        return ChainStatus(chain_id=self.chain_id, height=1, latest_time_ms=0)

    def account(self, address: str) -> ChainAccount | None:
        if address not in self.sequences and address not in self.opened:
            return None
        return ChainAccount(address=address, sequence=self.sequences.get(address, 0),
                            holdings=())

    def submit(self, tx_hex: str) -> Refusal | None:
        self.submitted.append(tx_hex)
        if self.refuse_next is not None:
            refusal, self.refuse_next = self.refuse_next, None
            return refusal
        stx = decode_transaction(bytes.fromhex(tx_hex))
        for op in stx.tx.operations:
            if isinstance(op, OpenAccount):
                bad = self.refuse_key.get(keys.encode_public_key(op.public_key))
                if bad is not None:
                    return bad
        tx_id = stx.tx_id.hex()
        self.states.setdefault(tx_id, TxState(status=TxStatus.PENDING))
        return None

    def tx_state(self, tx_id: str) -> TxState:
        return self.states.get(tx_id, TxState(status=TxStatus.UNKNOWN))

    def commit(self, tx_id: str) -> None:
        stx = decode_transaction(bytes.fromhex(self._hex(tx_id)))
        source = keys.encode_address(stx.tx.source)
        self.sequences[source] = stx.tx.sequence
        self.opened.update(keys.encode_address(keys.address_of(op.public_key))
                           for op in stx.tx.operations if isinstance(op, OpenAccount))
        self.states[tx_id] = TxState(status=TxStatus.COMMITTED, success=True, height=2)

    def _hex(self, tx_id: str) -> str:
        for h in self.submitted:
            if decode_transaction(bytes.fromhex(h)).tx_id.hex() == tx_id:
                return h
        raise AssertionError(f"{tx_id} never submitted")


def system_keys() -> dict[str, KeyPair]:
    return {name: KeyPair.from_seed(hashlib.sha256(name.encode()).digest())
            for name in ("issuer", "operator")}


def make_org(platform: Platform, owner_id: str, members: dict[str, str] | None = None, *,
             kyb: bool = False) -> str:
    """An organisation owned by `owner_id`, with other members {user_id: role}; with `kyb`,
    its business verification accepted (tier 3: it may open wallets)."""
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
        if kyb:
            rec = kyc.new_record(id=deps.rand.new_id(), subject_type="org", subject_id=org.id,
                                 data_enc=deps.sealer.seal(b"{}", f"kyb:{org.id}"),
                                 now_ms=now)
            uow.repo(KycCustomer).add(dataclasses.replace(
                rec, status=kyc.KycStatus.ACCEPTED, tier=3, decided_ms=now))
        uow.commit()
    return org.id


def use_ledger(platform: Platform, node: LedgerNode | None) -> None:
    """From now on the platform reads the chain through `node`. `Deps` is immutable, so the
    platform gets new deps: the API reads `platform.deps` on every request, and the
    simulated bank is re-pointed to deliver its events through them too."""
    platform.deps = dataclasses.replace(platform.deps, ledger=node)
    for rail in platform.deps.rails.values():
        if isinstance(rail, SimBank):
            rail.deliver = in_process(platform.deps)
