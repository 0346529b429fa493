"""Know-your-customer records and rules (requirement A5), modelled on Stellar SEP-12 with
SEP-9 field names.

A subject (an individual user, or an organisation) has at most one `KycCustomer`. The
customer submits fields; once every field its requested tier needs is present the record
enters the review queue (PROCESSING); a compliance officer accepts it with a tier and a
risk rating, rejects it, or asks for more (NEEDS_INFO, marking fields to resubmit).

Everything here is pure: values in, values out. Field values are personal data, so the
services keep them sealed by the vault (`KycCustomer.data_enc`) and hand the opened
mapping to these functions beside the record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from corridor.platform.domain.errors import Err, Problems
from corridor.platform.domain.kyc_fields import (
    ORG_FIELDS,
    OWNERS_FIELD,
    PERSON_FIELDS,
    PHOTO_FIELDS,
    Checker,
)

REASON_LEN_MAX = 1000
FILES_PER_OWNER_MAX = 50  # uploads kept per subject: bounds storage per customer
QUEUE_PAGE_MAX = 100
REFERENCE_CURRENCY = "USD"  # limits are minor units of this currency
DEMO_ASSETS = ("USD", "EUR", "CNY", "HKD", "SGD")
DAY_MS = 86_400_000

class KycStatus(enum.StrEnum):
    NEEDS_INFO = "NEEDS_INFO"
    PROCESSING = "PROCESSING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    # Accepted once, and its re-review date has come (services/reviews.py reopened it):
    # the customer confirms or updates their details to go back to review.
    REVIEW_DUE = "REVIEW_DUE"


class FieldStatus(enum.StrEnum):
    NOT_PROVIDED = "NOT_PROVIDED"
    PROCESSING = "PROCESSING"  # provided, awaiting review
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    VERIFICATION_REQUIRED = "VERIFICATION_REQUIRED"


class SubjectType(enum.StrEnum):
    USER = "user"
    ORG = "org"


class Risk(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Outcome(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    NEEDS_INFO = "needs_info"


# Years until an accepted customer must be reviewed again: riskier customers sooner.
RE_REVIEW_YEARS = {Risk.HIGH: 1, Risk.MEDIUM: 2, Risk.LOW: 3}

# Fields the customer must resubmit before the record can go back to review.
_BLOCKING = frozenset({FieldStatus.REJECTED, FieldStatus.VERIFICATION_REQUIRED})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FieldState:
    """Where one field of a KYC record stands, and the reason staff gave (the customer
    sees it)."""

    status: FieldStatus
    reason: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KycCustomer:
    """The KYC record of one subject. `field_status` maps a provided (or staff-marked)
    field to its state; `tier` is the granted tier and changes only by a
    staff decision, so a customer under re-review keeps it meanwhile. `review_opened_ms`
    is when a due re-review was opened: until the next acceptance the customer is limited
    (`review_limited`)."""

    id: str
    subject_type: SubjectType
    subject_id: str  # user id or organisation id
    status: KycStatus
    requested_tier: int
    tier: int
    risk: Risk | None  # set on acceptance
    data_enc: str  # the field values as JSON, sealed by the vault
    field_status: dict[str, FieldState]
    submitted_ms: int | None  # when it last entered the review queue
    decided_ms: int | None
    decided_by: str | None
    decision_reason: str | None
    review_due_ms: int | None
    created_ms: int
    updated_ms: int
    review_opened_ms: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KycFile:
    """An uploaded document, stored encrypted; fields refer to it by `id`."""

    id: str
    owner_type: SubjectType
    owner_id: str
    kind: str  # "jpeg" | "png" | "pdf", from the magic bytes
    content_type: str
    size: int
    sha256: str
    ref: str  # the file store's opaque reference
    uploaded_by: str
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What a tier may do, in minor units of `REFERENCE_CURRENCY`."""

    tier: int
    per_tx_minor: int
    per_day_minor: int
    balance_cap_minor: int
    asset_codes: tuple[str, ...]
    currency: str = REFERENCE_CURRENCY


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    level: int
    name: str
    subject_type: str | None  # who may hold it; None for tier 0
    required_fields: tuple[str, ...]
    limits: Limits


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """A compliance officer's decision, as asked for (validated by `check_decision`)."""

    outcome: str
    reason: str
    tier: int | None = None
    risk: str | None = None
    marks: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)


def record_context(record_id: str) -> str:
    """What a record's field values are sealed under (services/kyc.py seals them)."""
    return f"kyc-customer:{record_id}"


# --- fields (kyc_fields.py) ------------------------------------------------------------


def fields_of(subject_type: str) -> dict[str, Checker]:
    return PERSON_FIELDS if subject_type == SubjectType.USER else ORG_FIELDS


# --- uploaded documents ---------------------------------------------------------------

# Accepted document formats by their magic bytes: a declared type alone proves nothing.
FILE_KINDS = {
    "jpeg": (b"\xff\xd8\xff", "image/jpeg"),
    "png": (b"\x89PNG\r\n\x1a\n", "image/png"),
    "pdf": (b"%PDF-", "application/pdf"),
}


def file_kind(data: bytes, declared: str) -> str:
    """The format of an upload, which must be one we accept and agree with the content
    type the client declared; raises FILE_TYPE_UNSUPPORTED or FILE_TYPE_MISMATCH."""
    kind = next((k for k, (magic, _) in FILE_KINDS.items() if data.startswith(magic)), None)
    if kind is None:
        raise Err.FILE_TYPE_UNSUPPORTED.error("upload a JPEG, PNG or PDF file",
                                              {"file": "not a JPEG, PNG or PDF file"})
    expected = FILE_KINDS[kind][1]
    if declared.split(";")[0].strip().lower() != expected:
        raise Err.FILE_TYPE_MISMATCH.error(
            f"the file is {expected}, not {declared!r}",
            {"file": f"declared {declared!r} but the content is {expected}"})
    return kind


# --- tiers ----------------------------------------------------------------------------

_BASIC = ("first_name", "last_name", "birth_date", "address_country_code", "email_address")
_FULL = (*_BASIC, "address", "city", "postal_code", "id_type", "id_country_code", "id_number",
         "id_expiration_date", "photo_id_front", "photo_proof_residence")
_BUSINESS = ("organization.name", "organization.registration_number",
             "organization.registration_date", "organization.registered_address",
             "organization.address_country_code", "organization.director_name",
             "organization.email", "organization.photo_incorporation_doc",
             "organization.photo_proof_address", OWNERS_FIELD)

USD = 100  # minor units per US dollar

TIERS: dict[int, Tier] = {
    0: Tier(level=0, name="none", subject_type=None, required_fields=(),
            limits=Limits(tier=0, per_tx_minor=0, per_day_minor=0, balance_cap_minor=0,
                          asset_codes=())),
    1: Tier(level=1, name="basic", subject_type=SubjectType.USER, required_fields=_BASIC,
            limits=Limits(tier=1, per_tx_minor=1_000 * USD, per_day_minor=2_000 * USD,
                          balance_cap_minor=5_000 * USD, asset_codes=("USD", "EUR"))),
    2: Tier(level=2, name="full", subject_type=SubjectType.USER, required_fields=_FULL,
            limits=Limits(tier=2, per_tx_minor=50_000 * USD, per_day_minor=100_000 * USD,
                          balance_cap_minor=250_000 * USD, asset_codes=DEMO_ASSETS)),
    3: Tier(level=3, name="business", subject_type=SubjectType.ORG, required_fields=_BUSINESS,
            limits=Limits(tier=3, per_tx_minor=1_000_000 * USD,
                          per_day_minor=5_000_000 * USD, balance_cap_minor=25_000_000 * USD,
                          asset_codes=DEMO_ASSETS)),
}
for _t in TIERS.values():
    assert set(_t.required_fields) <= set(fields_of(_t.subject_type or SubjectType.USER))
    assert _t.limits.per_tx_minor <= _t.limits.per_day_minor <= _t.limits.balance_cap_minor
    assert set(_t.limits.asset_codes) <= set(DEMO_ASSETS)


def limits_for(tier: int) -> Limits:
    """The limits of a granted tier (0: none, the customer cannot hold anything)."""
    return TIERS[tier].limits


def tiers_for(subject_type: str) -> tuple[int, ...]:
    return tuple(t.level for t in TIERS.values() if t.subject_type == subject_type)


def default_tier(subject_type: str) -> int:
    return max(tiers_for(subject_type))


# --- customer submissions -------------------------------------------------------------


def today_of(now_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(now_ms // 1000, dt.UTC).date()


def normalise(
    subject_type: str, changes: Mapping[str, object], *, today: dt.date,
    owned_files: frozenset[str], problems: Problems,
) -> dict[str, object]:
    """Each change checked and put in canonical form (None clears a field). Problems go
    to `problems`, all of them, so the customer can fix everything in one go."""
    checkers = fields_of(subject_type)
    out: dict[str, object] = {}
    for name, value in changes.items():
        check = checkers.get(name)
        if check is None:
            problems.add(name, "unknown field")
            continue
        if value is None:
            out[name] = None
            continue
        try:
            out[name] = check(value, today)
        except ValueError as exc:
            problems.add(name, str(exc))
            continue
        if name in PHOTO_FIELDS and value not in owned_files:
            problems.add(name, "no such uploaded file")
    return out


def merge(values: Mapping[str, object], changes: Mapping[str, object]) -> dict[str, object]:
    """`values` with `changes` applied; a None change clears the field."""
    return {k: v for k, v in {**values, **changes}.items() if v is not None}


def cross_check(values: Mapping[str, object], problems: Problems) -> None:
    """Rules between fields, checked on the merged values."""
    issued, expires = values.get("id_issue_date"), values.get("id_expiration_date")
    if isinstance(issued, str) and isinstance(expires, str) and issued >= expires:
        problems.add("id_expiration_date", "must be after id_issue_date")


def check_requested_tier(subject_type: str, tier: int, problems: Problems) -> None:
    if tier not in tiers_for(subject_type):
        allowed = ", ".join(str(t) for t in tiers_for(subject_type))
        problems.add("tier", f"one of {allowed}")


def new_record(*, id: str, subject_type: str, subject_id: str, data_enc: str,
               now_ms: int) -> KycCustomer:
    return KycCustomer(
        id=id, subject_type=SubjectType(subject_type), subject_id=subject_id,
        status=KycStatus.NEEDS_INFO,
        requested_tier=default_tier(subject_type), tier=0, risk=None, data_enc=data_enc,
        field_status={}, submitted_ms=None, decided_ms=None, decided_by=None,
        decision_reason=None, review_due_ms=None, created_ms=now_ms, updated_ms=now_ms,
    )


def _is_change(rec: KycCustomer, values: Mapping[str, object], name: str,
               value: object) -> bool:
    # Resending a field staff marked counts as a resubmission even if the value is equal.
    return values.get(name) != value or _status(rec, name) in _BLOCKING


def _status(rec: KycCustomer, name: str) -> FieldStatus | None:
    state = rec.field_status.get(name)
    return None if state is None else state.status


def changed_fields(rec: KycCustomer, values: Mapping[str, object],
                   changes: Mapping[str, object]) -> dict[str, object]:
    """The changes that change something (the rest are ignored, not resubmitted)."""
    return {k: v for k, v in changes.items() if _is_change(rec, values, k, v)}


def check_open(rec: KycCustomer) -> None:
    """A rejected record is closed: the customer cannot resubmit it."""
    if rec.status == KycStatus.REJECTED:
        raise Err.KYC_REJECTED.error()


def missing_fields(rec: KycCustomer, values: Mapping[str, object], tier: int) -> list[str]:
    """Fields `tier` needs that are absent or that staff asked to be resubmitted."""
    return [
        f for f in TIERS[tier].required_fields
        if f not in values or _status(rec, f) in _BLOCKING
    ]


def submit(
    rec: KycCustomer, values: Mapping[str, object], changes: Mapping[str, object],
    requested_tier: int, now_ms: int,
) -> tuple[KycCustomer, dict[str, object]]:
    """The record and values after the customer sends (validated) `changes`. A complete
    record enters the review queue; an unchanged one is returned as it was."""
    check_open(rec)
    changed = changed_fields(rec, values, changes)
    # A due re-review is answered by sending the details again, changed or not.
    if not changed and requested_tier == rec.requested_tier \
            and rec.status != KycStatus.REVIEW_DUE:
        return rec, dict(values)
    merged = merge(values, changed)
    field_status = {k: v for k, v in rec.field_status.items() if k not in changed}
    field_status |= {k: FieldState(status=FieldStatus.PROCESSING)
                     for k, v in changed.items() if v is not None}
    rec = dataclasses.replace(rec, field_status=field_status, requested_tier=requested_tier,
                              updated_ms=now_ms)
    if missing_fields(rec, merged, requested_tier):
        return dataclasses.replace(rec, status=KycStatus.NEEDS_INFO), merged
    queued = rec.submitted_ms if rec.status == KycStatus.PROCESSING else now_ms
    return dataclasses.replace(rec, status=KycStatus.PROCESSING, submitted_ms=queued), merged


# --- staff decisions ------------------------------------------------------------------


def check_decision(rec: KycCustomer, values: Mapping[str, object], d: Decision) -> None:
    """Refuses a decision that does not fit the record: wrong state (409) or bad input
    (422 with every problem)."""
    if rec.status != KycStatus.PROCESSING:
        raise Err.KYC_NOT_IN_REVIEW.error(f"the record is {rec.status}, not in review")
    problems = Problems()
    if not 1 <= len(d.reason.strip()) <= REASON_LEN_MAX:
        problems.add("reason", f"a reason of 1 to {REASON_LEN_MAX} characters")
    if d.outcome == Outcome.ACCEPT:
        _check_accept(rec, values, d, problems)
    elif d.outcome == Outcome.NEEDS_INFO:
        _check_marks(rec, d, problems)
    elif d.outcome != Outcome.REJECT:
        problems.add("decision", f"one of {', '.join(Outcome)}")
    problems.raise_if_any(Err.INVALID_DECISION)


def _check_accept(rec: KycCustomer, values: Mapping[str, object], d: Decision,
                  problems: Problems) -> None:
    if d.risk not in set(Risk):
        problems.add("risk", f"one of {', '.join(Risk)}")
    if d.tier is None or d.tier not in tiers_for(rec.subject_type):
        allowed = ", ".join(str(t) for t in tiers_for(rec.subject_type))
        problems.add("tier", f"one of {allowed} for this customer")
    elif missing := missing_fields(rec, values, d.tier):
        problems.add("tier", f"tier {d.tier} needs {', '.join(missing)}")


def _check_marks(rec: KycCustomer, d: Decision, problems: Problems) -> None:
    if not d.marks:
        problems.add("fields", "mark at least one field to resubmit")
    allowed = {FieldStatus.VERIFICATION_REQUIRED, FieldStatus.REJECTED}
    known = fields_of(rec.subject_type)
    for name, mark in d.marks.items():
        if name not in known:
            problems.add(f"fields.{name}", "unknown field")
        elif mark.get("status") not in allowed:
            problems.add(f"fields.{name}", f"status one of {', '.join(sorted(allowed))}")
        elif not 1 <= len(mark.get("reason", "").strip()) <= REASON_LEN_MAX:
            problems.add(f"fields.{name}", "a reason the customer will see")


def review_due_ms(now_ms: int, risk: str) -> int:
    """When an accepted customer is due for re-review: the same instant, N calendar years
    on (29 February becomes 28 February)."""
    years = RE_REVIEW_YEARS[Risk(risk)]
    at = dt.datetime.fromtimestamp(now_ms // 1000, dt.UTC)
    try:
        later = at.replace(year=at.year + years)
    except ValueError:
        later = at.replace(year=at.year + years, day=28)
    return int(later.timestamp()) * 1000 + now_ms % 1000


def decide(rec: KycCustomer, d: Decision, *, staff_id: str, now_ms: int) -> KycCustomer:
    """The record after a decision already passed by `check_decision`."""
    rec = dataclasses.replace(rec, decided_ms=now_ms, decided_by=staff_id,
                              decision_reason=d.reason.strip(), updated_ms=now_ms)
    if d.outcome == Outcome.ACCEPT:
        assert d.tier is not None and d.risk is not None
        # Fields awaiting review are now accepted; fields still marked stay marked.
        statuses = {k: FieldState(status=FieldStatus.ACCEPTED)
                    if v.status is FieldStatus.PROCESSING else v
                    for k, v in rec.field_status.items()}
        return dataclasses.replace(rec, status=KycStatus.ACCEPTED, tier=d.tier, risk=Risk(d.risk),
                                   field_status=statuses,
                                   review_due_ms=review_due_ms(now_ms, d.risk),
                                   review_opened_ms=None)
    if d.outcome == Outcome.REJECT:
        # A rejection withdraws any tier granted before (e.g. failed re-review).
        return dataclasses.replace(rec, status=KycStatus.REJECTED, tier=0, review_due_ms=None,
                                   review_opened_ms=None)
    marks = {k: FieldState(status=FieldStatus(m["status"]), reason=m["reason"].strip())
             for k, m in d.marks.items()}  # statuses checked by _check_marks
    return dataclasses.replace(rec, status=KycStatus.NEEDS_INFO,
                               field_status={**rec.field_status, **marks})


# --- re-review ------------------------------------------------------------------------


def is_review_due(rec: KycCustomer, now_ms: int) -> bool:
    """A granted record whose re-review date has come and whose review is not yet open."""
    return (rec.tier > 0 and rec.status != KycStatus.REJECTED
            and rec.review_due_ms is not None and rec.review_due_ms <= now_ms
            and rec.review_opened_ms is None)


def reopen(rec: KycCustomer, now_ms: int) -> KycCustomer:
    """The record with its due re-review opened: an accepted one waits for the customer
    (REVIEW_DUE); one already back in review or waiting for information stays there. The
    tier stays, limited (`review_limited`), until the next decision."""
    assert is_review_due(rec, now_ms), rec.id
    status = KycStatus.REVIEW_DUE if rec.status == KycStatus.ACCEPTED else rec.status
    return dataclasses.replace(rec, status=status, review_opened_ms=now_ms, updated_ms=now_ms)


def review_limited(rec: KycCustomer | None) -> bool:
    """Whether a due re-review limits the customer: no new outbound payments or
    withdrawals until they are accepted again; receiving money stays allowed."""
    return rec is not None and rec.review_opened_ms is not None and rec.tier > 0


# --- views ----------------------------------------------------------------------------


def field_view(rec: KycCustomer | None, values: Mapping[str, object],
               subject_type: str) -> dict[str, dict[str, Any]]:
    """SEP-12-style per-field state: every field provided, marked, or required by the
    requested tier, with its status, reason and value."""
    tier = rec.requested_tier if rec else default_tier(subject_type)
    statuses = rec.field_status if rec else {}
    required = set(TIERS[tier].required_fields)
    out: dict[str, dict[str, Any]] = {}
    for name in fields_of(subject_type):
        if name not in values and name not in statuses and name not in required:
            continue
        st = statuses.get(name, FieldState(status=FieldStatus.NOT_PROVIDED))
        out[name] = {"status": st.status, "reason": st.reason,
                     "required": name in required, "value": values.get(name)}
    return out


def summary(rec: KycCustomer) -> dict[str, object]:
    """What the audit trail keeps of a record: its state, never the personal data."""
    return {"status": rec.status, "requested_tier": rec.requested_tier, "tier": rec.tier,
            "risk": rec.risk, "review_due_ms": rec.review_due_ms,
            "review_opened_ms": rec.review_opened_ms,
            "field_status": {k: {"status": v.status.value, "reason": v.reason}
                             for k, v in rec.field_status.items()}}
