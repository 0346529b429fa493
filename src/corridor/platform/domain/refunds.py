"""Refunds (requirement P3): the three cases of the operation guide, as records and pure
rules. A refund never edits the original payment's transfer: money that moved comes back
through a new, linked on-chain transfer (`Purpose.REFUND`, `ref_id` = the refund's id).

1. NOT_INCLUDED - the payment failed (the ledger refused it) or expired: its funds never
   left the sender, so the release is automatic and the record is closed at once. Only if
   the sender's leg did move (a committed payment transfer that still failed later, e.g.
   a payout) is a return queued from the treasury.
2. WRONG_PAYEE - the money reached the wrong or an unknown payee: staff approve a return
   from the recipient's platform wallet to the treasury (buy currency) and from the
   treasury to the sender (sell currency), one atomic transaction.
3. REVOCATION - the sender changed their mind after finality (before submission the
   payment is cancelled instead: the payments area's cancel). Same review and return.

Amount policy (`refund_amounts`): the recipient gives back exactly what they received
(`buy_amount_minor`); the sender receives the original sell amount in the sell currency at
the original rate - the treasury carries any rate movement since, so the customer is never
exposed to it. If the platform erred (staff say so when approving) the fee is returned too;
otherwise the fee paid for a delivered service is kept (sell amount minus fee). A payee
outside the platform cannot be debited: then only a platform error is refunded, from the
treasury alone.

Life cycle: REQUESTED (waiting for staff) -> PROCESSING (return transfer queued) ->
REFUNDED (committed) or FAILED (the chain refused it; the payment is back to credited and
may be asked again); REQUESTED -> REJECTED (staff said no, with a reason). An approved
return the compliance monitors hold waits HELD (its transfer unsigned) until a case
releases it (PROCESSING) or returns it (REJECTED, the payment credited again). One open
refund per payment (the database enforces it through `open_payment_id`).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from corridor.platform.domain.errors import Err, Problems
from corridor.platform.domain.payments import BEFORE_SUBMISSION, Payment, PaymentStatus
from corridor.platform.domain.rails import WithdrawalStatus
from corridor.platform.domain.wallets import OwnerType

REASON_LEN_MAX = 1000
EVIDENCE_FILES_MAX = 10  # per refund request
FILES_PER_OWNER_MAX = 200  # evidence uploads kept per customer: bounds storage
QUEUE_PAGE_MAX = 100


class RefundKind(enum.StrEnum):
    NOT_INCLUDED = "not_included"
    WRONG_PAYEE = "wrong_payee"
    REVOCATION = "revocation"


REQUESTABLE = frozenset({RefundKind.WRONG_PAYEE, RefundKind.REVOCATION})


class RefundStatus(enum.StrEnum):
    REQUESTED = "requested"
    PROCESSING = "processing"
    # approved, then held by compliance (issue 16): the return transfer waits unsigned
    # until an officer releases it (processing) or returns it (rejected)
    HELD = "held"
    REFUNDED = "refunded"
    REJECTED = "rejected"
    FAILED = "failed"


OPEN = frozenset({RefundStatus.REQUESTED, RefundStatus.PROCESSING, RefundStatus.HELD})


class Outcome(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


_IN_FLIGHT = frozenset({PaymentStatus.SUBMITTED, PaymentStatus.INCLUDED, PaymentStatus.FINAL})
NOT_INCLUDED_STATES = frozenset({PaymentStatus.FAILED, PaymentStatus.EXPIRED})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Refund:
    """A refund of one payment. Amounts: `amount_minor` of `code` goes back to the sender;
    `recover_minor` of `recover_code` is taken back from the recipient (0 when nothing is).
    `owner_type`/`owner_id` repeat the payment's owner so history queries need no join."""

    id: str
    payment_id: str
    open_payment_id: str | None  # = payment_id while open, else None (unique: one open)
    kind: RefundKind
    status: RefundStatus
    owner_type: OwnerType
    owner_id: str
    requested_by: str | None  # user id; None when the system opened it
    reason: str
    evidence: list[str]  # RefundFile ids
    code: str
    amount_minor: int
    recover_code: str
    recover_minor: int
    platform_error: bool
    transfer_id: str | None
    tx_id: str | None
    height: int | None
    decided_by: str | None
    decided_ms: int | None
    decision_reason: str | None
    failure_code: str | None
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RefundFile:
    """An evidence upload (JPEG, PNG or PDF), encrypted at rest; `refund_id` is set once
    a request cites it, and a file is cited by one request only."""

    id: str
    owner_type: OwnerType
    owner_id: str
    refund_id: str | None
    kind: str
    content_type: str
    size: int
    sha256: str
    ref: str
    uploaded_by: str
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    outcome: str  # Outcome once check_decision has passed it (input from the API)
    reason: str
    platform_error: bool = False


# A payout the bank has not finished with: approving a refund now could pay twice (the
# payout still lands, and the refund pays the sender back from the treasury).
PAYOUT_IN_FLIGHT = frozenset({WithdrawalStatus.BURNED, WithdrawalStatus.PAYOUT_REQUESTED})


def check_approvable(payout_status: str | None) -> None:
    """Refuses to approve a refund while the payment's bank payout (if any) is in flight.
    Once paid it may be approved; if it fails, the payment is refunded automatically and
    the request is closed as superseded."""
    if payout_status in PAYOUT_IN_FLIGHT:
        raise Err.PAYOUT_IN_FLIGHT.error(
            "the bank payout of this payment is still in "
            "progress: decide once it is paid (should it fail, the sender is "
            "refunded automatically)")


def check_requestable(p: Payment) -> None:
    """Refuses a refund request the payment's state does not allow, with a code that says
    what to do instead."""
    status = PaymentStatus(p.status)
    if status in BEFORE_SUBMISSION:  # nothing on chain yet: the payment is cancelled
        raise Err.USE_CANCEL.error("the payment is not submitted yet: cancel it instead "
                                   f"(POST /v1/payments/{p.id}/cancel)")
    if status in _IN_FLIGHT:
        raise Err.PAYMENT_NOT_FINAL.error()
    if status is PaymentStatus.REFUND_REQUESTED:
        raise Err.REFUND_OPEN.error()
    if status is PaymentStatus.REFUNDED:
        raise Err.ALREADY_REFUNDED.error()
    if status is not PaymentStatus.CREDITED:
        raise Err.NOTHING_TO_REFUND.error(f"a {status.value} payment moved no money")


def check_request(kind: str, reason: str, evidence: list[str]) -> None:
    problems = Problems()
    if kind not in REQUESTABLE:
        problems.add("kind", f"one of {', '.join(sorted(REQUESTABLE))}")
    if not reason.strip():
        problems.add("reason", "say why the refund is asked for")
    elif len(reason) > REASON_LEN_MAX:
        problems.add("reason", f"at most {REASON_LEN_MAX} characters")
    if len(evidence) > EVIDENCE_FILES_MAX:
        problems.add("evidence", f"at most {EVIDENCE_FILES_MAX} files")
    elif len(set(evidence)) != len(evidence):
        problems.add("evidence", "a file is cited twice")
    problems.raise_if_any()


def check_decision(r: Refund, d: Decision) -> None:
    problems = Problems()
    if d.outcome not in set(Outcome):
        problems.add("decision", "approve or reject")
    if not d.reason.strip():
        problems.add("reason", "a decision needs a reason")
    elif len(d.reason) > REASON_LEN_MAX:
        problems.add("reason", f"at most {REASON_LEN_MAX} characters")
    problems.raise_if_any()
    if r.status != RefundStatus.REQUESTED:
        raise Err.REFUND_DECIDED.error(f"the refund is {r.status}, not waiting for review")


def refund_amounts(p: Payment, *, platform_error: bool, recoverable: bool) -> tuple[int, int]:
    """(to the sender in the sell currency, from the recipient in the buy currency) under
    the policy in this module's docstring. Raises when nothing can be refunded."""
    if not recoverable:
        if not platform_error:
            raise Err.RECIPIENT_NOT_RECOVERABLE.error()
        return p.sell_amount_minor, 0
    back = p.sell_amount_minor if platform_error else p.sell_amount_minor - p.fee_minor
    assert back > 0, f"payment {p.id}: fee {p.fee_minor} >= sell {p.sell_amount_minor}"
    return back, p.buy_amount_minor


def new_refund(*, id: str, payment: Payment, kind: RefundKind, status: RefundStatus,
               requested_by: str | None, reason: str, evidence: list[str], now_ms: int,
               amount_minor: int = 0, recover_minor: int = 0) -> Refund:
    return Refund(
        id=id, payment_id=payment.id,
        open_payment_id=payment.id if status in OPEN else None,
        kind=kind, status=status, owner_type=payment.owner_type, owner_id=payment.owner_id,
        requested_by=requested_by, reason=reason, evidence=list(evidence),
        code=payment.sell_code, amount_minor=amount_minor, recover_code=payment.buy_code,
        recover_minor=recover_minor, platform_error=False, transfer_id=None, tx_id=None,
        height=None, decided_by=None, decided_ms=None, decision_reason=None,
        failure_code=None, created_ms=now_ms, updated_ms=now_ms,
    )


def with_status(r: Refund, status: RefundStatus, now_ms: int, **changes: Any) -> Refund:
    """The refund in `status`; the open marker follows (closed refunds free the payment)."""
    return dataclasses.replace(r, status=status,
                               open_payment_id=r.payment_id if status in OPEN else None,
                               updated_ms=now_ms, **changes)


def summary(r: Refund) -> dict[str, Any]:
    """What the audit trail keeps of a refund (no evidence contents)."""
    return {"status": r.status, "kind": r.kind, "payment_id": r.payment_id,
            "code": r.code, "amount_minor": r.amount_minor,
            "recover_code": r.recover_code, "recover_minor": r.recover_minor,
            "platform_error": r.platform_error, "transfer_id": r.transfer_id}
