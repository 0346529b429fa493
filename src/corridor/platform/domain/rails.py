"""Fiat rails: deposits ("recharge") and withdrawals through a bank rail (requirements F1,
F3), the rail's signed webhook events, and the pure rules they follow.

A deposit is an instruction to the customer (pay this amount to the platform's collection
account quoting this reference); when the rail reports the funds, the issuer mints what
actually arrived to the customer's wallet. A withdrawal burns the customer's tokens first
(wallet -> issuer) and only then asks the rail to pay out; a payout that fails, or is
returned after being paid, is undone by a fresh mint (a REVERSAL transfer), never by
editing the burn. Every record carries a UETR and a timestamp for every state it passed.

The same payout machinery pays out a payment to an external bank recipient: a Withdrawal
linked to the payment (`payment_id`) is recorded `burned` once the payment's money has
reached the treasury, and follows the same path from there; only the way back differs (a
payout that fails or is returned refunds the payment from the treasury, a REFUND transfer).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import re
from typing import Any

from corridor.platform.domain import bank as bank_domain
from corridor.platform.domain.errors import Err, Problems
from corridor.platform.domain.wallets import OwnerType

# --- limits ------------------------------------------------------------------------------

PAGE_MAX = 100
PAGE_OFFSET_MAX = 100_000
IDEMPOTENCY_KEY_LEN_MAX = 64
DEPOSIT_TTL_MS = 7 * 86_400_000  # an unfunded deposit stops reserving room under the cap
WEBHOOK_TOLERANCE_S = 300  # a signed event older (or newer) than this is refused: replay
WEBHOOK_BODY_BYTES_MAX = 64 * 1024
EVENT_ID_LEN_MAX = 64
REASON_LEN_MAX = 500
BANK_NAME_LEN_MAX = bank_domain.NAME_LEN_MAX
ACCOUNT_LEN_MAX = 34  # an IBAN's maximum length; domestic account numbers are shorter
BANK_CODE_LEN_MAX = 20
REFERENCE_DIGITS = 12  # of an RF creditor reference (ISO 11649) made by the platform
assert WEBHOOK_TOLERANCE_S * 1000 < DEPOSIT_TTL_MS


# --- states ------------------------------------------------------------------------------


class DepositStatus(enum.StrEnum):
    AWAITING_FUNDS = "awaiting_funds"  # instructions given; the rail has reported nothing
    RECEIVED = "received"  # the rail reported the funds
    # not credited, waiting for staff: the funds would break the owner's limits (a Hold),
    # or a monitor wants them reviewed (reason_code COMPLIANCE_HOLD: the case decides)
    HELD = "held"
    MINTING = "minting"  # the mint transfer is queued / on its way
    CREDITED = "credited"  # the mint committed: the customer holds the tokens
    FAILED = "failed"  # the mint was refused, or the funds could not be credited
    RETURNED = "returned"  # held funds sent back to the sender through the rail


class WithdrawalStatus(enum.StrEnum):
    REQUESTED = "requested"  # the burn transfer is queued / on its way
    # held by compliance (issue 16): the burn waits unsigned, its debit reserved, until an
    # officer releases it (requested) or returns the funds (rejected)
    HELD = "held"
    REJECTED = "rejected"  # refused by compliance: the burn never left, nothing moved
    # the burn committed (a payment's payout: its money reached the treasury); the payout
    # is about to be asked for
    BURNED = "burned"
    PAYOUT_REQUESTED = "payout_requested"  # the rail accepted the payout (rail_ref)
    PAID = "paid"  # the rail confirmed the payout
    # payout failed or returned: a reversal mint (a payment's payout: a refund) is queued
    REVERSING = "reversing"
    REVERSED = "reversed"  # the reversal committed: the customer has the money back
    FAILED = "failed"  # the burn was refused: no money moved


D, W = DepositStatus, WithdrawalStatus
DEPOSIT_MOVES: dict[DepositStatus, frozenset[DepositStatus]] = {
    D.AWAITING_FUNDS: frozenset({D.RECEIVED}),
    D.RECEIVED: frozenset({D.MINTING, D.FAILED, D.HELD}),
    D.HELD: frozenset({D.MINTING, D.RETURNED}),  # released (credited) or returned
    D.MINTING: frozenset({D.CREDITED, D.FAILED}),
    D.CREDITED: frozenset(),
    D.FAILED: frozenset(),
    D.RETURNED: frozenset(),
}
WITHDRAWAL_MOVES: dict[WithdrawalStatus, frozenset[WithdrawalStatus]] = {
    W.HELD: frozenset({W.REQUESTED, W.REJECTED}),  # a compliance officer decided
    W.REQUESTED: frozenset({W.BURNED, W.FAILED}),
    W.BURNED: frozenset({W.PAYOUT_REQUESTED, W.REVERSING}),  # refused at once by the rail
    W.PAYOUT_REQUESTED: frozenset({W.PAID, W.REVERSING}),
    W.PAID: frozenset({W.REVERSING}),  # returned by the beneficiary's bank
    W.REVERSING: frozenset({W.REVERSED}),
    W.REVERSED: frozenset(),
    W.FAILED: frozenset(),
    W.REJECTED: frozenset(),
}
# Withdrawals whose burn has not been recorded yet: their money is still in the wallet's
# on-chain balance but spoken for.
WITHDRAWALS_IN_FLIGHT = (W.REQUESTED,)
DEPOSITS_OPEN = (D.AWAITING_FUNDS, D.RECEIVED, D.MINTING)


class EventType(enum.StrEnum):
    """What a rail tells the platform (the `type` of a webhook event)."""

    TRANSFER_RECEIVED = "transfer.received"  # data: reference, amount_minor, currency, rail_ref
    PAYOUT_PAID = "payout.paid"  # data: payout_id, rail_ref
    PAYOUT_FAILED = "payout.failed"  # data: payout_id, rail_ref, code, message
    PAYOUT_RETURNED = "payout.returned"  # data: payout_id, rail_ref, code, message


# --- records -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DepositStep:
    """One state a deposit passed through, and when."""

    status: DepositStatus
    at_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawalStep:
    """One state a withdrawal passed through, and when."""

    status: WithdrawalStatus
    at_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Deposit:
    """Money a customer sends from their bank to be minted to their wallet."""

    id: str
    uetr: str  # UUID v4 text, the end-to-end reference
    owner_type: OwnerType
    owner_id: str
    created_by: str  # user id
    idempotency_key: str
    request_hash: str  # a retry with the same key must carry the same request
    wallet_id: str
    rail: str
    currency: str
    amount_minor: int  # what the customer said they would send
    received_minor: int | None  # what the rail reported (credited as received)
    reference: str  # unique; the customer quotes it on their bank transfer
    instructions: dict[str, Any]  # the collection account to pay into
    status: DepositStatus
    history: tuple[DepositStep, ...]  # one per state passed, in order
    rail_ref: str | None  # the rail's id of the incoming transfer
    transfer_id: str | None  # the mint
    tx_id: str | None
    height: int | None
    reason_code: str | None
    reason_message: str | None
    note: str | None  # e.g. an amount that differed from the instructed one
    flagged: bool  # needs a look by operations
    expires_ms: int  # after this an unfunded deposit no longer reserves room under the cap
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Withdrawal:
    """Money a customer takes out: a burn from their wallet, then a payout by the rail.
    With `payment_id`: the payout of that payment to its external bank recipient (no burn
    of its own: `transfer_id` is the payment's transfer, the money sits in the treasury;
    `reversal_transfer_id` is the refund's transfer)."""

    id: str
    uetr: str
    owner_type: OwnerType
    owner_id: str
    created_by: str
    idempotency_key: str
    request_hash: str
    wallet_id: str
    rail: str
    currency: str
    amount_minor: int
    bank: dict[str, Any]  # {name, account (masked: last four), country, bank_code}
    status: WithdrawalStatus
    history: tuple[WithdrawalStep, ...]  # one per state passed, in order
    transfer_id: str  # the burn
    tx_id: str | None
    height: int | None
    rail_ref: str | None  # the rail's id of the payout
    reversal_transfer_id: str | None
    reversal_tx_id: str | None
    reason_code: str | None
    reason_message: str | None
    flagged: bool
    created_ms: int
    updated_ms: int
    payment_id: str | None = None  # a payment's payout (unique: one per payment)
    # The full account number or IBAN, sealed (services/bank_details.py); None only on a
    # row written before accounts were sealed, until start-up seals it.
    account_sealed: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RailEvent:
    """A webhook event a rail delivered, kept so a redelivery is recognised (idempotency)
    and the history of what the rail said can be read back."""

    id: str
    rail: str
    event_id: str
    type: str
    payload: dict[str, Any]
    outcome: str  # what the platform did with it (e.g. "deposit credited", "unmatched")
    received_ms: int


def moved_deposit(d: Deposit, new: DepositStatus, now_ms: int, **changes: Any) -> Deposit:
    assert new in DEPOSIT_MOVES[d.status], f"deposit {d.id}: {d.status}->{new}"
    return dataclasses.replace(
        d, status=new, history=(*d.history, DepositStep(status=new, at_ms=now_ms)),
        updated_ms=now_ms, **changes)


def moved_withdrawal(w: Withdrawal, new: WithdrawalStatus, now_ms: int,
                     **changes: Any) -> Withdrawal:
    assert new in WITHDRAWAL_MOVES[w.status], f"withdrawal {w.id}: {w.status}->{new}"
    return dataclasses.replace(
        w, status=new, history=(*w.history, WithdrawalStep(status=new, at_ms=now_ms)),
        updated_ms=now_ms, **changes)


# --- references (ISO 11649 RF creditor references) ---------------------------------------


def _mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 over letters (A=10 ... Z=35) and digits, as IBAN and RF use."""
    return int("".join(str(int(c, 36)) for c in text)) % 97


def rf_reference(digits: str) -> str:
    """'RF' + two check digits + `digits`: a typo in the reference is caught by the check."""
    assert digits.isdigit() and 1 <= len(digits) <= 21, digits
    check = 98 - _mod97(digits + "RF00")
    return f"RF{check:02d}{digits}"


def reference_ok(text: str) -> bool:
    text = text.replace(" ", "").upper()
    return (re.fullmatch(r"RF\d{2}[0-9A-Z]{1,21}", text) is not None
            and _mod97(text[4:] + text[:4]) == 1)


def normalise_reference(text: str) -> str:
    return text.replace(" ", "").upper()


# --- bank details ------------------------------------------------------------------------


def check_bank(bank: dict[str, str], problems: Problems) -> dict[str, str]:
    """A withdrawal's bank details in canonical form (domain/bank.py, the one check of bank
    details); problems collected per field (`bank.<name>`)."""
    out = bank_domain.check(bank.get("name"), bank.get("country"), bank.get("account"),
                            bank.get("bank_code"), problems,
                            {part: f"bank.{part}" for part in bank_domain.PARTS})
    return {"name": out.name, "account": out.account, "country": out.country,
            "bank_code": out.bank_code}


def masked_account(account: str) -> str:
    return "•" * max(0, len(account) - 4) + account[-4:]


# --- webhook signatures (HMAC-SHA256 over "<timestamp>." + body) -------------------------

SIGNATURE_SCHEME = "v1"


def sign(secret: bytes, timestamp_s: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp_s`."""
    mac = hmac.new(secret, str(timestamp_s).encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_SCHEME}={mac.hexdigest()}"


def signature_problem(secret: bytes, timestamp: str, signature: str, body: bytes,
                      now_s: int) -> tuple[Err, str] | None:
    """Why a delivery must be refused, as (code, message); None when it is authentic and
    fresh. The comparison is constant-time; the timestamp is inside the MAC, so a captured
    delivery cannot be given a fresh one."""
    # ASCII digits only: str.isdigit() admits "¹", which int() refuses (a 500)
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return Err.WEBHOOK_SIGNATURE_INVALID, "missing or malformed timestamp"
    expected = sign(secret, int(timestamp), body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return Err.WEBHOOK_SIGNATURE_INVALID, "the signature does not match"
    if abs(now_s - int(timestamp)) > WEBHOOK_TOLERANCE_S:
        return Err.WEBHOOK_STALE, "the timestamp is outside the tolerance (a replay?)"
    return None


def iban(country: str, bban: str) -> str:
    """An IBAN with its check digits (ISO 13616), e.g. for a simulated bank's accounts."""
    check = 98 - _mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"
