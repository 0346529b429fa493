"""Transfers: the platform's on-chain money movements (payments, mints for deposits,
burns for withdrawals, refunds), each one atomic ledger transaction of one or more legs.

A use case queues a `Transfer` in the same unit of work as the record it serves (payment,
deposit, ...): a transactional outbox. The outbox worker assigns the source account's
sequence, signs with every key the legs need, stores the signed bytes BEFORE submitting
(so a crash resubmits the same bytes and never builds a second, different transaction),
submits, follows the result, and runs the purpose's handlers in the unit of work that records
the outcome. Nothing committed on chain is ever applied twice: the chain's sequence makes
a transaction single-use, and the platform never re-signs a transfer that may have landed.
"""

from __future__ import annotations

import dataclasses
import enum

LEGS_MAX = 10
# A batch's chunk (issue 17): the payer's debit and one credit per item, as many as the
# ledger takes in one transaction (its OPERATIONS_MAX, ledger/limits.py).
BATCH_LEGS_MAX = 100
MEMO_LEN_MAX = 64  # bytes on chain (the ledger's memo limit is larger; we keep it short)

# A party in a leg: a wallet of the platform, or one of the system accounts whose keys the
# outbox worker holds in memory (never in the database).
TREASURY = "system:treasury"
ISSUER = "system:issuer"


def wallet_ref(wallet_id: str) -> str:
    return f"wallet:{wallet_id}"


class Purpose(enum.StrEnum):
    PAYMENT = "payment"
    DEPOSIT = "deposit"  # the issuer mints to the customer
    WITHDRAWAL = "withdrawal"  # the customer pays the issuer: a burn
    REVERSAL = "reversal"  # a failed payout's burn undone by a fresh mint
    REFUND = "refund"
    # A bare mint with no record of its own and no outcome to follow (the payments
    # benchmark funds its wallets with it).
    MINT = "mint"
    # A batch payment's reservation (held, never signed) or one chunk of its items
    # (services/batches.py): ref_id is the batch.
    BATCH = "batch"


class TransferStatus(enum.StrEnum):
    QUEUED = "queued"  # not signed yet
    # Held by compliance (a payment on hold): never signed; its debit stays reserved until
    # a decision queues it (release) or refuses it (return: rejected, nothing applied).
    HELD = "held"
    SUBMITTED = "submitted"  # signed bytes stored (and sent, or about to be)
    COMMITTED = "committed"  # in a final block, applied successfully
    REJECTED = "rejected"  # refused by the chain (never applied): result_code says why


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    source: str  # TREASURY | ISSUER | wallet_ref(id)
    destination: str  # an address (text, c...), or TREASURY | ISSUER | wallet_ref(id)
    code: str  # asset code (issued by the platform's issuer)
    amount_minor: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    id: str
    purpose: Purpose
    ref_id: str  # the payment / deposit / withdrawal / refund it serves
    source: str  # the transaction's source account (its sequence is used): a party ref
    legs: tuple[Leg, ...]
    memo: str
    status: TransferStatus
    sequence: int | None
    tx_id: str | None  # hex
    tx_hex: str | None
    height: int | None
    result_code: str | None  # the ledger's reject code when rejected
    result_message: str | None
    attempts: int
    created_ms: int
    updated_ms: int

    def leg_list(self) -> list[Leg]:
        return list(self.legs)
