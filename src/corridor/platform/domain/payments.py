"""Payments and FX quotes: the records and the payment state machine (requirements P1,
P7, F2; shared/ARCHITECTURE.md "Payment life cycle", modelled on SEP-31 and SWIFT gpi).

Every payment has a UETR-style id and a timestamp for every state it passed through
(`history`). States only move along `TRANSITIONS`; anything else is a bug.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from corridor.platform.domain.fx import FeeLine
from corridor.platform.domain.wallets import OwnerType


class PaymentStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    SCREENING = "screening"
    ON_HOLD = "on_hold"  # compliance
    READY = "ready"
    SUBMITTED = "submitted"
    INCLUDED = "included"
    FINAL = "final"
    CREDITED = "credited"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"


S = PaymentStatus
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.DRAFT: frozenset({S.PENDING_APPROVAL, S.SCREENING, S.READY, S.CANCELLED, S.EXPIRED}),
    S.PENDING_APPROVAL: frozenset({S.SCREENING, S.READY, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.SCREENING: frozenset({S.READY, S.ON_HOLD, S.REJECTED}),
    # a compliance hold is an officer's to decide (release or return), never the sender's to
    # cancel: its held transfer keeps the money reserved until then
    S.ON_HOLD: frozenset({S.READY, S.REJECTED}),
    S.READY: frozenset({S.SUBMITTED, S.CANCELLED, S.EXPIRED}),
    S.SUBMITTED: frozenset({S.INCLUDED, S.FAILED, S.EXPIRED}),
    S.INCLUDED: frozenset({S.FINAL}),
    S.FINAL: frozenset({S.CREDITED}),
    S.CREDITED: frozenset({S.REFUND_REQUESTED}),
    S.REFUND_REQUESTED: frozenset({S.REFUNDED, S.CREDITED}),  # refused: back to credited
    S.REJECTED: frozenset(),
    S.FAILED: frozenset({S.REFUND_REQUESTED}),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def _reaching(target: PaymentStatus) -> frozenset[PaymentStatus]:
    """The states from which `target` can be reached (itself included)."""
    found = {target}
    while True:
        more = {s for s, nxt in TRANSITIONS.items() if nxt & found} - found
        if not more:
            return frozenset(found)
        found |= more


# Derived from the table, never listed again.
CANCELLABLE = frozenset(s for s, nxt in TRANSITIONS.items() if S.CANCELLED in nxt)
# Nothing is on chain yet: the payment can still become ready for submission.
BEFORE_SUBMISSION = _reaching(S.READY)


class PaymentKind(enum.StrEnum):
    REMITTANCE = "remittance"  # cross-currency to another party
    TRANSFER = "transfer"  # same currency to another party
    EXCHANGE = "exchange"  # between the owner's own wallets/currencies


class RecipientType(enum.StrEnum):
    USER = "user"  # a platform customer, found by e-mail or phone
    ADDRESS = "address"  # a ledger address
    EXTERNAL = "external"  # bank details: paid out through a rail


class QuoteStatus(enum.StrEnum):
    OPEN = "open"
    USED = "used"  # a payment executed it
    EXPIRED = "expired"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PaymentStep:
    """One state a payment passed through, and when."""

    status: PaymentStatus
    at_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """A firm quote (SEP-38 semantics): the price and fee hold until `expires_ms`; an
    expired or used quote can never be executed."""

    id: str
    owner_type: OwnerType
    owner_id: str
    sell_code: str
    buy_code: str
    sell_amount_minor: int  # what leaves the customer's wallet, fee included
    buy_amount_minor: int  # what the recipient receives
    fee_minor: int  # in the sell currency, part of sell_amount_minor
    fee_breakdown: tuple[FeeLine, ...]
    price: str  # Decimal text: buy units per sell unit, after the spread
    rate_source: str
    expires_ms: int
    status: QuoteStatus
    payment_id: str | None
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    id: str
    uetr: str  # UUID v4 text, the end-to-end reference shown to every party
    kind: PaymentKind
    owner_type: OwnerType  # whose money
    owner_id: str
    created_by: str  # user id
    idempotency_key: str
    request_hash: str  # a retry with the same key must carry the same request
    sender_wallet_id: str
    recipient_type: RecipientType
    recipient_user_id: str | None
    recipient_wallet_id: str | None
    recipient_address: str | None
    recipient_bank: dict[str, Any] | None  # iban / account_number masked (last four)
    recipient_name: str
    quote_id: str | None
    sell_code: str
    sell_amount_minor: int  # debited from the sender, fee included
    fee_minor: int
    buy_code: str
    buy_amount_minor: int  # credited to the recipient
    price: str  # Decimal text
    memo: str
    status: PaymentStatus
    history: tuple[PaymentStep, ...]  # one per state passed, in order
    transfer_id: str | None
    tx_id: str | None
    height: int | None
    reason_code: str | None
    reason_message: str | None
    expected_arrival_ms: int
    created_ms: int
    updated_ms: int
    # An external recipient's full account number or IBAN, sealed
    # (services/bank_details.py); None for other recipients and on rows written before
    # accounts were sealed, until start-up seals them.
    recipient_account_sealed: str | None = None
    # What the recipient is shown of the sender: the name the sender's verification (KYC,
    # KYB) established when the payment was made; None when unverified (then the display
    # name, chosen freely, is all there is).
    sender_name: str | None = None
    # Why the money moves (ISO 20022 purpose code, domain/authenticity.Purpose); None: not
    # stated (payments made before purposes were asked, or through a client that omits it).
    purpose: str | None = None
    # Travel-rule data (domain/travel_rule.py) of a payment of 1,000 USD-equivalent or more,
    # sealed (services/travel_rule.py); None below the threshold.
    travel_rule_sealed: str | None = None


def can_move(old: PaymentStatus, new: PaymentStatus) -> bool:
    return new in TRANSITIONS[old]


def moved(p: Payment, new: PaymentStatus, now_ms: int, **changes: Any) -> Payment:
    """The payment in state `new`, its history extended. Asserts the move is allowed."""
    assert can_move(p.status, new), f"payment {p.id}: {p.status} -> {new} is not allowed"
    return dataclasses.replace(
        p, status=new, history=(*p.history, PaymentStep(status=new, at_ms=now_ms)),
        updated_ms=now_ms, **changes,
    )
