"""What watches money move (issue 16): before a movement (payment, deposit, withdrawal,
refund) is submitted to the chain, each monitor looks at it and may return findings. The
compliance service turns findings into alerts and decides the movement's outcome (the
strictest finding wins): approve goes on, review and block hold it, decline rejects it.

Monitors are pure with respect to the platform's storage: the sanctions screener reads its
index, the AML engine its own window of earlier movements (it learns a movement when it
evaluates it). Everything here is plain data so findings can be stored and explained."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class MovementKind(enum.StrEnum):
    PAYMENT = "payment"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    REFUND = "refund"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Movement:
    """One movement about to be submitted, as the monitors see it. Parties are opaque ids
    (a customer's or organisation's id, or `ext:` + a bank beneficiary's reference)."""

    id: str
    kind: MovementKind
    at_ms: int
    sender: str
    sender_country: str | None  # ISO 3166 alpha-2
    receiver: str
    receiver_country: str | None
    receiver_name: str | None  # the name to screen (a user's, or a bank beneficiary's)
    amount_minor: int  # in `currency`'s minor units
    currency: str  # ISO 4217
    usd_minor: int | None = None  # the amount in US cents at the quote's rate, when known
    # the sending side's name to screen, when it is not a customer's own (a deposit's
    # remitter, as the rail reports it); None: nothing to screen on that side
    sender_name: str | None = None
    # A payment's stated purpose (ISO 20022 purpose code, domain/authenticity.Purpose).
    purpose: str | None = None
    # Travel-rule data (domain/travel_rule.py), when the payment carries it: each side's
    # items by name (name, account, address, national_id, birth_date, ...). None: not given.
    originator: Mapping[str, str] | None = None
    beneficiary: Mapping[str, str] | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LearnedMovement:
    """A movement as the AML window keeps it for every process (services/aml_window.py):
    parties, countries and amounts only: no name, no purpose, no travel-rule data (those
    stay sealed with their payment)."""

    id: str
    kind: MovementKind
    at_ms: int
    sender: str
    sender_country: str | None
    receiver: str
    receiver_country: str | None
    receiver_name: str | None  # always None (a column kept from the first schema)
    amount_minor: int
    currency: str
    usd_minor: int | None

    @classmethod
    def of(cls, m: Movement) -> LearnedMovement:
        return cls(id=m.id, kind=m.kind, at_ms=m.at_ms, sender=m.sender,
                   sender_country=m.sender_country, receiver=m.receiver,
                   receiver_country=m.receiver_country, receiver_name=None,
                   amount_minor=m.amount_minor, currency=m.currency, usd_minor=m.usd_minor)

    def movement(self) -> Movement:
        return Movement(id=self.id, kind=MovementKind(self.kind), at_ms=self.at_ms,
                        sender=self.sender, sender_country=self.sender_country,
                        receiver=self.receiver, receiver_country=self.receiver_country,
                        receiver_name=None, amount_minor=self.amount_minor,
                        currency=self.currency, usd_minor=self.usd_minor)


class Outcome(enum.IntEnum):
    """Ordered by strictness: the movement's outcome is the maximum of its findings'."""

    APPROVE = 0
    REVIEW = 1  # hold for an officer
    BLOCK = 2  # hold, and the officer is told the rules would refuse it
    DECLINE = 3  # refuse at once (funds released)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """Why a monitor wants a movement looked at: which typology, how sure, and the
    explanation (JSON-able: the rules that fired with their values, or the list hits with
    the names and tokens that matched)."""

    monitor: str  # "screening", "aml", ...
    outcome: Outcome
    typology: str  # e.g. "sanctions", "structuring", "fan_out"
    score: float  # 0..1
    explanation: Mapping[str, Any]
    movement_ids: tuple[str, ...] = ()  # the movements involved (this one included)
    parties: tuple[str, ...] = ()
    shadow: bool = False  # a rule on trial: recorded, never acted on


class Monitor(Protocol):
    name: str

    def evaluate(self, movement: Movement) -> Sequence[Finding]: ...


def outcome_of(findings: Sequence[Finding]) -> Outcome:
    """The movement's outcome: the strictest finding that is not in shadow mode."""
    acting = [f.outcome for f in findings if not f.shadow]
    return max(acting, default=Outcome.APPROVE)
