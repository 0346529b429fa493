"""Collections (issue 17): payment requests — a customer or an organisation asks a payer
for money (a platform customer named by e-mail or phone, or anyone holding a link), with
an amount, a currency, a due date and a reference; the payer pays from the request in one
step, declines it, or the requester cancels it.

Pure rules only (no clock, no I/O): the shape of a new request, which reminder is due,
and how an incoming payment compares with the request its reference names. The use cases
are in services/collections.py.

A request is paid exactly once. Paying first *claims* the open request for one payer
(`paying_*`, under the row's lock), then makes the payment with an Idempotency-Key derived
from the request, then records it paid: a second payer finds the claim and is refused
(REQUEST_BEING_PAID); the same payer again replays the same payment. A claim left by a
crashed process expires after `CLAIM_MS`; whoever finds it expired first looks for the
claimant's payment under that key, so a payment made before the crash is never made twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re

from corridor.platform.domain import money
from corridor.platform.domain.errors import PlatformError, Problems

REFERENCE_LEN_MAX = 35  # ISO 20022 EndToEndId: what a bank statement carries
DESCRIPTION_LEN_MAX = 140
DUE_DAYS_MAX = 366
DAY_MS = 86_400_000
REMIND_BEFORE_MS = 2 * DAY_MS  # "due in two days"
REMIND_AFTER_MS = DAY_MS  # from the end of the due day (due_ms is its 00:00 UTC)
CLAIM_MS = 10 * 60_000  # a payer's claim outlives any payment creation by far
PAGE_MAX = 100
ROUND_MAX = 500  # requests one worker round looks at per kind of work
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/\-?:().,'+ ]*$")  # ISO 20022 Max35Text, safe


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Channel(enum.StrEnum):
    USER = "user"  # a platform customer, named by e-mail or phone
    LINK = "link"  # anyone who holds the link (a merchant's checkout too)


class Reminder(enum.StrEnum):
    BEFORE = "before"
    AFTER = "after"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CollectionRequest:
    """A request for money. `requester_*` is whose wallet receives; `payer_user_id` the
    customer asked (None for a link). `paying_*` is the claim of the payer paying it now;
    `payment_id` the payment that paid it; `mismatch_*` an incoming payment that named the
    reference with another amount (reported, never accepted silently). A merchant's
    checkout is a link request with `merchant_id` set (its reference is the order's)."""

    id: str
    requester_type: str  # user | org
    requester_id: str
    created_by: str
    channel: Channel
    payer_user_id: str | None
    payer_contact: str  # the e-mail or phone as the requester typed it ("" for a link)
    link_token: str  # the secret part of the request's link (a link or a checkout)
    merchant_id: str | None
    reference: str
    description: str
    currency: str
    amount_minor: int
    due_ms: int
    status: RequestStatus
    paying_owner_type: str | None
    paying_owner_id: str | None
    paying_user_id: str | None
    claimed_ms: int | None
    payment_id: str | None
    paid_ms: int | None
    settled_ms: int | None  # its payment credited to the requester (then the webhook)
    matched: bool  # paid by a payment matched by reference (not from the request's page)
    mismatch_payment_id: str | None
    mismatch_note: str | None
    reminded_before_ms: int | None
    reminded_after_ms: int | None
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewRequest:
    """A request as typed (before checks)."""

    currency: str
    amount: str
    due_date: str  # YYYY-MM-DD (UTC)
    reference: str
    description: str = ""
    payer_email: str | None = None
    payer_phone: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    currency: str
    amount_minor: int
    due_ms: int
    reference: str
    description: str


def check_reference(text: str, problems: Problems, field: str = "reference") -> str:
    ref = text.strip()
    if not ref or len(ref) > REFERENCE_LEN_MAX or not _REFERENCE.match(ref):
        problems.add(field, f"1 to {REFERENCE_LEN_MAX} letters, digits or / - ? : ( ) . , ' +")
    return ref


def check(new: NewRequest, now_ms: int, problems: Problems, *, link: bool) -> Checked:
    """Every problem of a new request at once (`link`: no payer is named)."""
    if not money.is_currency(new.currency):
        problems.add("currency", f"one of {', '.join(money.CURRENCIES)}")
    amount = 0
    if money.is_currency(new.currency):
        try:
            amount = money.parse_major(new.amount, new.currency)
        except PlatformError as exc:
            problems.add("amount", exc.message)
        else:
            if amount <= 0:
                problems.add("amount", "more than zero")
    due_ms = day_ms(new.due_date)
    today = now_ms // DAY_MS * DAY_MS
    if due_ms is None or not today <= due_ms <= today + DUE_DAYS_MAX * DAY_MS:
        problems.add("due_date", f"a date (YYYY-MM-DD) from today to {DUE_DAYS_MAX} days on")
    ref = check_reference(new.reference, problems)
    if len(new.description) > DESCRIPTION_LEN_MAX or not new.description.isprintable():
        problems.add("description", f"at most {DESCRIPTION_LEN_MAX} printable characters")
    if not link and bool(new.payer_email) == bool(new.payer_phone):
        problems.add("payer_email", "give exactly one of the payer's e-mail and phone")
    return Checked(currency=new.currency, amount_minor=amount, due_ms=due_ms or 0,
                   reference=ref, description=new.description.strip())


def day_ms(text: str) -> int | None:
    """00:00 UTC of a YYYY-MM-DD date, None if it is not one."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        return None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000


def day_text(at_ms: int) -> str:
    """YYYY-MM-DD (UTC) of an instant."""
    return dt.datetime.fromtimestamp(at_ms // 1000, dt.UTC).date().isoformat()


def end_of_due_day(r: CollectionRequest) -> int:
    return r.due_ms + DAY_MS


def reminder_due(r: CollectionRequest, now_ms: int) -> Reminder | None:
    """The reminder an open request to a named payer owes now (each is sent once)."""
    if r.status != RequestStatus.OPEN or r.payer_user_id is None:
        return None
    if now_ms >= r.due_ms + REMIND_AFTER_MS:  # the due day is over
        return Reminder.AFTER if r.reminded_after_ms is None else None
    if r.reminded_before_ms is None and r.due_ms - REMIND_BEFORE_MS <= now_ms < end_of_due_day(r):
        return Reminder.BEFORE
    return None


def claim_open(r: CollectionRequest, now_ms: int) -> bool:
    """No live claim by any payer (none, or one older than CLAIM_MS)."""
    return r.claimed_ms is None or now_ms - r.claimed_ms > CLAIM_MS


class Match(enum.StrEnum):
    EXACT = "exact"
    MISMATCH = "mismatch"


def compare(r: CollectionRequest, code: str, amount_minor: int) -> Match:
    """An incoming payment naming the request's reference: the same currency and amount
    pays it; anything else is a mismatch to report."""
    if code == r.currency and amount_minor == r.amount_minor:
        return Match.EXACT
    return Match.MISMATCH


def mismatch_note(r: CollectionRequest, code: str, amount_minor: int) -> str:
    return (f"received {money.format_minor(amount_minor, code)} {code}, "
            f"expected {money.format_minor(r.amount_minor, r.currency)} {r.currency}")
