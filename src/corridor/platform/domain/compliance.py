"""Alerts and cases (issue 16): what the monitors found (domain/monitoring.py), grouped
per customer into a case an officer works, with notes and every decision kept.

An alert is one finding on one movement (or one KYC submission): the monitor, typology,
score and explanation as the monitor gave them, the movements and parties involved, and
the customer it is about. Alerts of a customer gather in that customer's open case (one at
a time; a new one opens once the last is closed). Decisions act on the case: release the
held payments, return their funds, clear a screening hit as a false positive, ask the
customer for information, close. Four-eyes: an officer who released a hold does not
close the case; a second one does.

A cleared screening hit is remembered as a `Clearance` of the pair (list entry, party):
it holds while the entry (its fingerprint) and the party's name stay as they were cleared.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

NOTE_LEN_MAX = 2000
REASON_LEN_MAX = 1000
MESSAGE_LEN_MAX = 120  # what the customer's inbox shows of a request for information
PAGE_MAX = 100
ID_LEN_MAX = 64


class AlertState(enum.StrEnum):
    OPEN = "open"
    CLEARED = "cleared"  # a false positive, cleared with a reason
    RELEASED = "released"  # the held movement went on after review
    RETURNED = "returned"  # the held movement was refused, its funds returned
    CLOSED = "closed"  # its case closed without another decision on it


class CaseState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class DecisionKind(enum.StrEnum):
    ASSIGN = "assign"
    NOTE = "note"
    RELEASE = "release"  # the held payments go on (ready -> submitted)
    RETURN = "return"  # the held payments are rejected, their reservations released
    CLEAR = "clear"  # a screening hit is a false positive
    REQUEST_INFO = "request_info"  # a message to the customer's inbox
    CLOSE = "close"
    # services/case_actions.py (cases, issue 16)
    FREEZE = "freeze"  # the customer's holdings frozen on chain, linked to the case
    UNFREEZE = "unfreeze"  # that freeze lifted (another officer than the one who froze)
    EXIT = "exit"  # the relationship ended: account disabled, holdings frozen


# Decisions that need something on hold.
ON_HOLDS = frozenset({DecisionKind.RELEASE, DecisionKind.RETURN})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One finding, as stored: the monitor's words, and the record it held (`source_type`
    `payment` with the payment's id, or `kyc` with the KYC record's)."""

    id: str
    case_id: str
    monitor: str
    typology: str
    outcome: str  # the finding's Outcome, by name (review, block, decline)
    score_milli: int  # the finding's score (0..1) in thousandths: exact in every database
    explanation: dict[str, Any]
    movement_ids: tuple[str, ...]
    parties: tuple[str, ...]
    subject_type: str  # the customer it is about: "user" or "org"
    subject_id: str
    source_type: str  # "payment" | "kyc"
    source_id: str
    state: AlertState
    created_ms: int
    updated_ms: int

    @property
    def score(self) -> float:
        return self.score_milli / 1000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """A customer's alerts under review. `released_by`: the last officer who released a
    hold in it (four-eyes: someone else closes it)."""

    id: str
    subject_type: str
    subject_id: str
    state: CaseState
    assigned_to: str | None
    released_by: str | None
    opened_ms: int
    closed_ms: int | None
    closed_by: str | None
    updated_ms: int
    # SLA and decisions taken in steps (domain/cases.py, services/case_actions.py):
    escalated_ms: int | None = None  # first escalated (a due time passed): queued first
    info_due_ms: int | None = None  # the customer's deadline to answer a request
    # a release decided on a frozen customer waits for the unfreeze on chain; this officer
    # made it, and the held payments go on once the chain has lifted the freeze
    pending_release_by: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CaseNote:
    id: str
    case_id: str
    author_id: str
    text: str
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CaseDecision:
    """One decision in a case's history: who, what, on which alert or payment, why."""

    id: str
    case_id: str
    kind: DecisionKind
    officer_id: str
    alert_id: str | None
    payment_ids: tuple[str, ...]
    note: str
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Clearance:
    """A screening hit cleared as a false positive: the list entry as it was (its
    fingerprint) and the party with the name it had. Either changing ends it."""

    id: str
    list_name: str
    source_id: str
    entry_fingerprint: str
    party: str
    party_name: str  # name_key of the name screened
    alert_id: str
    cleared_by: str
    reason: str
    created_ms: int


def name_key(name: str) -> str:
    """A name as clearances compare it: case and spacing do not make another name."""
    return " ".join(name.casefold().split())


def hit_keys(explanation: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(list, source id, fingerprint) of each list hit a screening explanation names."""
    return [(str(h.get("list", "")), str(h.get("source_id", "")), str(h.get("fingerprint", "")))
            for h in explanation.get("hits", ())]


def may_close(case: Case, officer_id: str) -> bool:
    """Four-eyes: the officer who released a hold in the case does not close it."""
    return case.released_by is None or case.released_by != officer_id


def clean_text(text: str, limit: int) -> str | None:
    """One line of printable text within `limit`, or None when it is not."""
    text = " ".join(text.split())
    if not text or len(text) > limit or not text.isprintable():
        return None
    return text
