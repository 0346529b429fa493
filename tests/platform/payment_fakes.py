"""Fakes and helpers for quote, payment and webhook tests: a controllable clock, an
in-memory chain that reports balances and inclusion proofs (the `LedgerNode` port), and
customers made KYC'd with open wallets by inserting their records directly."""

from __future__ import annotations

import dataclasses
import hashlib
import threading

from corridor.ledger import keys, merkle
from corridor.ledger.assets import Asset
from corridor.ledger.block import BlockHeader, tx_leaf
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import Payment as PaymentOp
from corridor.ledger.tx import SignedTransaction, Transaction
from corridor.platform.bootstrap import Platform
from corridor.platform.domain.kyc import DEMO_ASSETS, KycCustomer
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.transfers import Transfer
from corridor.platform.domain.wallets import (
    Authorisation,
    AuthStatus,
    JobKind,
    JobStatus,
    LedgerJob,
    Signer,
    Wallet,
    WalletStatus,
)
from corridor.platform.services import settlement
from corridor.platform.services.ledger_port import (
    ChainAccount,
    ChainHolding,
    ChainStatus,
    Refusal,
    TxInclusion,
    TxState,
    TxStatus,
)

ISSUER_ADDRESS = keys.encode_address(b"\x07" * 20)
T0_MS = 1_790_000_000_000  # a fixed "now" (2026-09-21), mid-day UTC


class FakeClock:
    def __init__(self, now_ms: int = T0_MS) -> None:
        self.now = now_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self.now

    def advance(self, ms: int) -> None:
        with self._lock:
            self.now += ms


@dataclasses.dataclass
class FakeChain:
    """Balances by address and code; proofs for transactions the test has 'committed'."""

    balances: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    blocks: dict[str, TxInclusion] = dataclasses.field(default_factory=dict)  # by tx id
    account_reads: int = 0

    def status(self) -> ChainStatus:
        return ChainStatus(chain_id="corridor-test", height=1, latest_time_ms=0)

    def account(self, address: str) -> ChainAccount | None:
        self.account_reads += 1
        held = self.balances.get(address)
        if held is None:
            return None
        return ChainAccount(address=address, sequence=1, holdings=tuple(
            ChainHolding(code=code, issuer=ISSUER_ADDRESS, balance_minor=amount,
                         authorised=True, frozen=False) for code, amount in held.items()))

    def submit(self, tx_hex: str) -> Refusal | None:
        return None

    def tx_state(self, tx_id: str) -> TxState:
        return TxState(status=TxStatus.UNKNOWN)

    def tx_proof(self, tx_id: str) -> TxInclusion | None:
        return self.blocks.get(tx_id)

    def fund(self, address: str, code: str, amount_minor: int) -> None:
        self.balances.setdefault(address, {})[code] = amount_minor

    def include(self, height: int) -> SignedTransaction:
        """A real signed transaction placed in a real block of three at `height`; the
        node would answer its proof like this. Returns the transaction."""
        kp = KeyPair.from_seed(hashlib.sha256(f"tx-{height}".encode()).digest())
        asset = Asset("USD", keys.decode_address(ISSUER_ADDRESS))
        txs = [Transaction(chain_id="corridor-test", source=keys.address_of(kp.public_key),
                           sequence=n + 1, not_before_ms=0, not_after_ms=10**13,
                           operations=(PaymentOp(destination=b"\x01" * 20, asset=asset,
                                                 amount=100 + n),)).sign(kp)
               for n in range(3)]
        leaves = [tx_leaf(stx) for stx in txs]
        header = BlockHeader(chain_id="corridor-test", height=height, time_ms=T0_MS,
                             previous_hash=b"\x00" * 32, last_commit_hash=b"\x00" * 32,
                             tx_count=3, tx_root=merkle.merkle_root(leaves),
                             result_root=b"\x00" * 32, evidence_root=b"\x00" * 32,
                             state_root=b"\x00" * 32,
                             validator_set_hash=b"\x00" * 32, proposer=b"\x02" * 20)
        ours = txs[1]
        self.blocks[ours.tx_id.hex()] = TxInclusion(
            height=height, index=1, tx_hex=ours.encode().hex(),
            path=tuple(p.hex() for p in merkle.inclusion_proof(leaves, 1)),
            header={"hash": header.hash().hex(), "height": height, "tx_count": 3,
                    "tx_root": header.tx_root.hex(), "encoded": header.encode().hex()})
        return ours


def kyc(platform: Platform, owner_id: str, tier: int, owner_type: str = "user") -> None:
    """Grants `tier` to a user or organisation, as an accepted KYC decision would."""
    deps = platform.deps
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        rec_id = deps.rand.new_id()
        uow.repo(KycCustomer).add(KycCustomer(
            id=rec_id, subject_type=owner_type, subject_id=owner_id,
            status="ACCEPTED", requested_tier=tier, tier=tier, risk="low",
            data_enc=deps.sealer.seal(b"{}", f"kyc-customer:{rec_id}"), field_status={},
            submitted_ms=now, decided_ms=now, decided_by=None, decision_reason="test",
            review_due_ms=None, created_ms=now, updated_ms=now))
        uow.commit()


def open_wallet(platform: Platform, owner_id: str, owner_type: str = "user",
                seed_label: str | None = None) -> Wallet:
    """An open custodial wallet for the owner, inserted directly (as if on chain)."""
    deps = platform.deps
    now = deps.clock.now_ms()
    kp = KeyPair.from_seed(hashlib.sha256((seed_label or owner_id).encode()).digest())
    wallet_id = deps.rand.new_id()
    wallet = Wallet(
        id=wallet_id, owner_type=owner_type, owner_id=owner_id,
        address=keys.encode_address(keys.address_of(kp.public_key)),
        public_key=keys.encode_public_key(kp.public_key), custodial=True,
        key_sealed=deps.sealer.seal(kp.seed, f"wallet:{wallet_id}"), label="main",
        status=WalletStatus.OPEN, created_ms=now, updated_ms=now)
    with deps.uow() as uow:
        uow.repo(Wallet).add(wallet)
        for code in DEMO_ASSETS:  # as the issuer would have, once the owner is verified
            job = LedgerJob(id=deps.rand.new_id(), kind=JobKind.AUTHORISE, wallet_id=wallet_id,
                            payload={"address": wallet.address, "code": code},
                            status=JobStatus.DONE, signer=Signer.ISSUER, tx_id=None,
                            tx_hex=None, op_index=None, attempts=1, error_code=None,
                            error_message=None, created_ms=now, updated_ms=now)
            uow.repo(LedgerJob).add(job)
            uow.repo(Authorisation).add(Authorisation(
                id=deps.rand.new_id(), wallet_id=wallet_id, asset_code=code,
                status=AuthStatus.AUTHORISED, job_id=job.id, created_ms=now,
                updated_ms=now))
        uow.commit()
    return wallet


def transfer_of(platform: Platform, payment_id: str) -> Transfer:
    with platform.deps.uow() as uow:
        p = uow.repo(Payment).get(payment_id)
        assert p is not None and p.transfer_id is not None
        t = uow.repo(Transfer).get(p.transfer_id)
    assert t is not None
    return t


def commit(platform: Platform, chain: FakeChain, payment_id: str, height: int = 7) -> str:
    """Plays the chain: the payment's transfer is committed in a block; returns its tx id."""
    stx = chain.include(height)
    t = transfer_of(platform, payment_id)
    settlement.record_outcome(platform.deps, t.id, committed=True, tx_id=stx.tx_id.hex(),
                              height=height)
    return stx.tx_id.hex()


def reject(platform: Platform, payment_id: str, code: str = "UNDERFUNDED") -> None:
    t = transfer_of(platform, payment_id)
    settlement.record_outcome(platform.deps, t.id, committed=False, tx_id="ab" * 32,
                              code=code, message="the source lacks the funds")
