"""Authenticity of cross-border business (issue 16; shared/seeds/004 §9.2): a payment of a
trade or service purpose, between parties in different countries, at or above a
configurable USD-equivalent amount needs supporting documents (an invoice, a contract)
before it is released. The monitor here holds it (`on_hold`, typology `authenticity`,
"documents required"); the payer uploads the documents; an officer checks that the amount,
the parties and the purpose agree with them and records the check. Agreement lets the case
release the hold; an inconsistency keeps it (the customer is asked for better documents)
or the officer returns the funds.

The purpose is a small list of ISO 20022 `ExternalPurpose1Code` codes. Everything here is
pure: the records, the limits, the rule and the check's outcome."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence

from corridor.platform.domain.monitoring import Finding, Movement, MovementKind, Outcome
from corridor.platform.domain.wallets import OwnerType

MONITOR = "authenticity"
TYPOLOGY = "authenticity"
REASON = "documents required"
# The default threshold: 5,000 USD-equivalent (Settings.authenticity_usd_minor overrides).
THRESHOLD_USD_MINOR_DEFAULT = 500_000
DOCUMENTS_PER_PAYMENT_MAX = 10  # uploads one payment may carry (STYLE 12)
REASON_LEN_MAX = 1000
# What the customer's inbox shows of an inconsistency (the compliance request-for-information
# message has this limit too: domain/compliance.MESSAGE_LEN_MAX).
MESSAGE_LEN_MAX = 120


class Purpose(enum.StrEnum):
    """Why the money moves: ISO 20022 ExternalPurpose1Code."""

    GDDS = "GDDS"  # purchase or sale of goods
    SCVE = "SCVE"  # purchase or sale of services
    SUPP = "SUPP"  # payment to a supplier
    SALA = "SALA"  # salary
    FAMI = "FAMI"  # family maintenance
    EDUC = "EDUC"  # education (tuition, fees)
    GIFT = "GIFT"  # a gift
    OTHR = "OTHR"  # other


# Purposes that are trade or service business: these need supporting documents.
TRADE_PURPOSES = frozenset({Purpose.GDDS, Purpose.SCVE, Purpose.SUPP})


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    CONTRACT = "contract"
    OTHER = "other"  # a bill of lading, a customs declaration, an order


class ReviewState(enum.StrEnum):
    """Where a held payment's documents stand."""

    REQUIRED = "documents_required"  # held, nothing uploaded yet
    RECEIVED = "documents_received"  # uploaded, waiting for an officer's check
    AGREED = "agreed"  # an officer found amount, parties and purpose agree
    INCONSISTENT = "inconsistent"  # an officer found they do not: the hold stays


# States in which the payer may (still) upload documents.
UPLOADABLE = frozenset({ReviewState.REQUIRED, ReviewState.RECEIVED, ReviewState.INCONSISTENT})


class CheckOutcome(enum.StrEnum):
    AGREE = "agree"
    INCONSISTENT = "inconsistent"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """A payment held for supporting documents (`id` is the payment's id): why it was
    held (purpose, USD amount against the threshold, the two countries) and where its
    documents stand."""

    id: str
    owner_type: OwnerType
    owner_id: str
    purpose: Purpose
    usd_minor: int
    threshold_usd_minor: int
    sender_country: str | None
    receiver_country: str | None
    state: ReviewState
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PaymentDocument:
    """A supporting document of a payment (JPEG, PNG or PDF by its bytes), encrypted at rest
    in the file store (`ref`) with its SHA-256; officers download it, nobody sees it inline."""

    id: str
    payment_id: str
    owner_type: OwnerType
    owner_id: str
    kind: DocumentKind
    file_kind: str  # "jpeg" | "png" | "pdf", from the magic bytes
    content_type: str
    size: int
    sha256: str
    ref: str
    uploaded_by: str
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """An officer's check of a payment's documents: does each of amount, parties and
    purpose agree with them; the outcome follows from the three (`outcome_of`)."""

    id: str
    payment_id: str
    officer_id: str
    amount_agrees: bool
    parties_agree: bool
    purpose_agrees: bool
    outcome: CheckOutcome
    reason: str
    created_ms: int


def is_cross_border(sender_country: str | None, receiver_country: str | None) -> bool:
    """Payer and recipient in different countries. A country the platform does not know
    (an unverified party, an address off the platform) counts as another country: the
    conservative answer, since a document check costs less than a missed one."""
    return sender_country is None or receiver_country is None or (
        sender_country != receiver_country)


def needs_documents(purpose: str | None, sender_country: str | None,
                    receiver_country: str | None, usd_minor: int | None,
                    threshold_usd_minor: int) -> bool:
    """The rule: a trade or service purpose, cross-border, at or above the threshold. An
    amount without a USD equivalent counts as above (no rate is no reason to skip it)."""
    return (purpose in TRADE_PURPOSES and is_cross_border(sender_country, receiver_country)
            and (usd_minor is None or usd_minor >= threshold_usd_minor))


def outcome_of(amount_agrees: bool, parties_agree: bool, purpose_agrees: bool) -> CheckOutcome:
    return (CheckOutcome.AGREE if amount_agrees and parties_agree and purpose_agrees
            else CheckOutcome.INCONSISTENT)


def disagreements(check: Check) -> tuple[str, ...]:
    """What did not agree: "amount", "parties", "purpose"."""
    return tuple(name for name, ok in (("amount", check.amount_agrees),
                                       ("parties", check.parties_agree),
                                       ("purpose", check.purpose_agrees)) if not ok)


class AuthenticityMonitor:
    """Holds a payment that needs supporting documents (`needs_documents`) for review; any
    other movement passes. Stateless: safe to share between threads."""

    name = MONITOR

    def __init__(self, threshold_usd_minor: int = THRESHOLD_USD_MINOR_DEFAULT) -> None:
        assert threshold_usd_minor >= 0
        self.threshold_usd_minor = threshold_usd_minor

    def evaluate(self, movement: Movement) -> Sequence[Finding]:
        m = movement
        if m.kind is not MovementKind.PAYMENT or not needs_documents(
                m.purpose, m.sender_country, m.receiver_country, m.usd_minor,
                self.threshold_usd_minor):
            return ()
        return (Finding(monitor=MONITOR, outcome=Outcome.REVIEW, typology=TYPOLOGY, score=1.0,
                        explanation={"reason": REASON, "purpose": m.purpose,
                                     "usd_minor": m.usd_minor,
                                     "threshold_usd_minor": self.threshold_usd_minor,
                                     "sender_country": m.sender_country,
                                     "receiver_country": m.receiver_country},
                        movement_ids=(m.id,), parties=(m.sender, m.receiver)),)


def finding_of(findings: Sequence[Finding]) -> Finding | None:
    """The authenticity finding among a movement's acting findings, if any."""
    return next((f for f in findings if f.typology == TYPOLOGY and not f.shadow), None)
