"""The in-app notifications inbox (issue 15): what happened to a person's money and
account, written by the use case that made it happen, in the same transaction.

A notification stores what happened, never how to say it: a `Topic` (the message key)
and its parameters (ids, amounts in minor units, currency codes, a reason code). Each
reader's page writes it in the reader's language when it is shown, so a person who
switches language sees their whole inbox in the new one.

Every notification has an `event_key` naming the event it reports (e.g. "payment
credited: <payment id>"): one per user and key, so an event applied twice (a replayed
chain outcome) makes one notification. The inbox is bounded: `PER_USER_MAX` per person,
the oldest read ones pruned first when a new one arrives.
"""

from __future__ import annotations

import dataclasses
import enum

PER_USER_MAX = 200  # kept per person; older ones are pruned, read ones first
PAGE_MAX = 100  # notifications per page (API and pages)
PARAM_LEN_MAX = 120  # characters of one parameter's value
EVENT_KEY_LEN_MAX = 160


class Topic(enum.StrEnum):
    """What happened: the message key a reader's language writes."""

    PAYMENT_RECEIVED = "payment.received"  # to the recipient
    PAYMENT_SETTLED = "payment.settled"  # to the sender: credited to the recipient
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REFUNDED = "payment.refunded"
    DEPOSIT_CREDITED = "deposit.credited"
    WITHDRAWAL_PAID = "withdrawal.paid"
    WITHDRAWAL_FAILED = "withdrawal.failed"
    KYC_DECIDED = "kyc.decided"
    KYC_REVIEW_DUE = "kyc.review_due"  # a periodic re-review opened (services/reviews.py)
    INFO_REQUESTED = "compliance.info_requested"  # an officer asks; `message` says what
    # a payment held for supporting documents (outcome "inconsistent": they did not agree)
    DOCUMENTS_REQUESTED = "payment.documents_requested"
    REFUND_DECIDED = "refund.decided"
    SIGNED_IN = "security.signed_in"
    PASSWORD_CHANGED = "security.password_changed"
    SECOND_FACTOR_CHANGED = "security.second_factor_changed"
    # compliance cases (services/case_sla.py, case_actions.py)
    CASE_ESCALATED = "compliance.case_escalated"  # to officers; `outcome`: the breach
    RELATIONSHIP_ENDED = "compliance.relationship_ended"  # to the customer (exit)
    # collections (issue 17): to the payer; `outcome`: "" asked, "before"/"after" reminders
    PAYMENT_REQUESTED = "collection.requested"
    REQUEST_PAID = "collection.paid"  # to the requester; `outcome` "mismatch": wrong amount
    # approvals (issue 17, services/approvals.py): to each approver of the level deciding;
    # to the initiator, `outcome` approved | rejected | expired | consent (re-quote)
    APPROVAL_REQUIRED = "approval.required"
    APPROVAL_DECIDED = "approval.decided"


class SubjectType(enum.StrEnum):
    """The record a notification links to."""

    PAYMENT = "payment"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    KYC = "kyc"
    REFUND = "refund"
    SECURITY = "security"
    CASE = "case"  # a compliance case (staff)
    REQUEST = "request"  # a payment request (collections)
    APPROVAL = "approval"  # an organisation's approval (issue 17)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One entry of a person's inbox: a message key and its parameters, the record it
    is about, and when it was read (None: unread)."""

    id: str
    user_id: str
    event_key: str  # unique per user: the same event never notifies twice
    topic: Topic
    subject_type: SubjectType
    subject_id: str
    params: dict[str, str]
    created_ms: int
    read_ms: int | None


def clean_params(params: dict[str, object]) -> dict[str, str]:
    """Parameters as short text (the values are ids, codes and integers)."""
    return {k: str(v)[:PARAM_LEN_MAX] for k, v in params.items() if v is not None}


def overflow(total: int) -> int:
    """How many of a person's notifications go when there are `total` of them."""
    return max(0, total - PER_USER_MAX)
