"""The back office's reads (requirement A6): the operations dashboard and the customer
lookup for support. The pages (web/pages_staff_office.py) and the API
(api/routers/staff_office.py) both call these, so the figures and the audit trail are the
same whichever client asks.

The dashboard is computed from one set of repository reads (the same statements on SQLite
and PostgreSQL): the payments created in the window (bounded by `PAYMENTS_MAX`, newest
first; `truncated` says when older ones were left out) and one count per queue. A
customer view is written to the audit log before it is returned, so nobody reads a
customer's data without a trace.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from decimal import Decimal
from typing import Any

from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import PlatformError, Problems, not_found
from corridor.platform.domain.holds import Hold, HoldStatus
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import KycCustomer, KycStatus
from corridor.platform.domain.payments import Payment, PaymentStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import Deposit, Withdrawal
from corridor.platform.domain.refunds import Refund, RefundStatus
from corridor.platform.domain.roles import Perm, UserKind
from corridor.platform.domain.transfers import Transfer, TransferStatus
from corridor.platform.domain.wallets import JobStatus, LedgerJob, OwnerType
from corridor.platform.services import case_sla, wallets
from corridor.platform.services.access import require_staff
from corridor.platform.services.ports import Deps, UnitOfWork

DAY_MS = 86_400_000
DAYS_DEFAULT = 14
DAYS_MAX = 90
PAYMENTS_MAX = 50_000  # payments read for one dashboard; older ones in the window are left out
QUERY_LEN_MAX = 320
MATCHES_MAX = 20
RECENT_MAX = 20  # rows of each kind a customer view lists

SUCCEEDED = PaymentStatus.CREDITED  # a payment reached its recipient once it passed this
FAILED = frozenset({PaymentStatus.FAILED, PaymentStatus.REJECTED, PaymentStatus.EXPIRED})
NOT_SENT = frozenset({PaymentStatus.DRAFT})  # never confirmed: not a payment of the day
BACKLOG = (TransferStatus.QUEUED.value, TransferStatus.SUBMITTED.value)
JOB_BACKLOG = (JobStatus.QUEUED.value, JobStatus.SUBMITTED.value)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DayVolume:
    """Payments created on one UTC day in one (sell) currency; zero rows included, so a
    chart has every day."""

    day: str  # ISO date, UTC
    code: str
    count: int
    amount_minor: int  # what left the senders' wallets, fees included


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Queues:
    kyc_waiting: int  # KYC records waiting for review
    refunds_waiting: int  # refund requests waiting for a decision
    held_deposits: int  # inbound money held over a customer's limits, undecided
    outbox_backlog: int  # on-chain work (transfers and ledger jobs) not yet decided
    overdue_cases: int = 0  # open compliance cases escalated past their SLA (case_sla.py)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Dashboard:
    """The figures of the window [since_ms, until_ms). Success rate: payments that reached
    the recipient over those that finished (reached them, or failed, were rejected or
    expired); cancelled and in-flight payments count in neither. Time to credit: from
    creation to the `credited` step, nearest-rank median and 95th percentile."""

    since_ms: int
    until_ms: int
    days: tuple[str, ...]
    codes: tuple[str, ...]
    volumes: tuple[DayVolume, ...]  # day-major, then currency
    payments: int
    succeeded: int
    failed: int
    success_rate: Decimal | None  # percent, one decimal; None: nothing finished
    credit_ms_median: int | None
    credit_ms_p95: int | None
    queues: Queues
    truncated: bool


def nearest_rank(sorted_values: list[int], percent: int) -> int | None:
    """The nearest-rank percentile (a value that occurred, no interpolation)."""
    assert 0 < percent <= 100
    if not sorted_values:
        return None
    rank = (percent * len(sorted_values) + 99) // 100
    return sorted_values[rank - 1]


def _day(at_ms: int) -> str:
    return datetime.datetime.fromtimestamp(at_ms // 1000, datetime.UTC).date().isoformat()


def _credited_ms(p: Payment) -> int | None:
    return next((s.at_ms for s in p.history if s.status == SUCCEEDED), None)


def dashboard(deps: Deps, who: Principal, days: int = DAYS_DEFAULT) -> Dashboard:
    """The operations dashboard over the last `days` UTC days (today included)."""
    require_staff(who, Perm.OPERATE)
    days = max(1, min(days, DAYS_MAX))
    now = deps.clock.now_ms()
    until = (now // DAY_MS + 1) * DAY_MS
    since = until - days * DAY_MS
    with deps.reader() as uow:
        found = uow.repo(Payment).many(above={"created_ms": since - 1}, order_by="created_ms",
                                       descending=True, limit=PAYMENTS_MAX + 1)
        queues = _queues(uow)
    truncated = len(found) > PAYMENTS_MAX
    sent = [p for p in found[:PAYMENTS_MAX] if p.status not in NOT_SENT]
    day_names = tuple(_day(since + i * DAY_MS) for i in range(days))
    codes = tuple(sorted({p.sell_code for p in sent}))
    tally = {(d, c): [0, 0] for d in day_names for c in codes}
    succeeded = failed = 0
    waits: list[int] = []
    for p in sent:
        cell = tally[(_day(p.created_ms), p.sell_code)]
        cell[0] += 1
        cell[1] += p.sell_amount_minor
        credited = _credited_ms(p)
        if credited is not None:
            succeeded += 1
            waits.append(max(0, credited - p.created_ms))
        elif any(s.status in FAILED for s in p.history) or p.status in FAILED:
            failed += 1
    waits.sort()
    finished = succeeded + failed
    rate = (Decimal(100 * succeeded) / Decimal(finished)).quantize(Decimal("0.1")) \
        if finished else None
    volumes = tuple(DayVolume(day=d, code=c, count=tally[(d, c)][0],
                              amount_minor=tally[(d, c)][1])
                    for d in day_names for c in codes)
    return Dashboard(since_ms=since, until_ms=until, days=day_names, codes=codes,
                     volumes=volumes, payments=len(sent), succeeded=succeeded, failed=failed,
                     success_rate=rate, credit_ms_median=nearest_rank(waits, 50),
                     credit_ms_p95=nearest_rank(waits, 95), queues=queues,
                     truncated=truncated)


def _queues(uow: UnitOfWork) -> Queues:
    return Queues(
        kyc_waiting=uow.repo(KycCustomer).count(status=KycStatus.PROCESSING.value),
        refunds_waiting=uow.repo(Refund).count(status=RefundStatus.REQUESTED.value),
        held_deposits=uow.repo(Hold).count(status=HoldStatus.OPEN.value, subject_type="deposit"),
        outbox_backlog=(uow.repo(Transfer).count(status=BACKLOG)
                        + uow.repo(LedgerJob).count(status=JOB_BACKLOG)),
        overdue_cases=case_sla.overdue_count(uow),
    )


# --- customer lookup ----------------------------------------------------------------------


def find_customers(deps: Deps, who: Principal, query: str) -> list[User]:
    """Customers whose e-mail, phone, exact name or id is `query` (support looks a caller
    up by what they say on the telephone). The search and what it found are audited
    (`customer.search`): the matches show contact details; the rest of a customer's data
    is read through `customer_view`, audited too."""
    require_staff(who, Perm.CUSTOMERS_READ)
    text = query.strip()
    problems = Problems()
    if not text or len(text) > QUERY_LEN_MAX:
        problems.add("q", f"between 1 and {QUERY_LEN_MAX} characters")
    problems.raise_if_any()
    wanted: list[dict[str, Any]] = [{"id": text}, {"name": text}]
    for normalise, column in ((idn.normalise_email, "email"), (idn.normalise_phone, "phone")):
        # not an e-mail address (or a phone number): not searched as one
        with contextlib.suppress(PlatformError):
            wanted.append({column: normalise(text)})

    def audited(uow: UnitOfWork) -> list[User]:
        found: dict[str, User] = {}
        repo = uow.repo(User)
        for eq in wanted:
            for u in repo.many(kind=UserKind.CUSTOMER.value, order_by="created_ms",
                               limit=MATCHES_MAX, **eq):
                found.setdefault(u.id, u)
        matches = list(found.values())[:MATCHES_MAX]
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="customer.search",
                  object_type="user", object_id="", after={
                      "q": text, "matches": [u.id for u in matches]}, ip=who.ip)
        return matches

    return deps.write(audited)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CustomerView:
    """What support sees of one customer: read-only, and audited when read."""

    user: User
    kyc: KycCustomer | None
    wallets: tuple[wallets.WalletView, ...]
    chain_reached: bool
    payments: tuple[Payment, ...]  # sent by the customer, newest first
    received: tuple[Payment, ...]  # paid to the customer, newest first
    deposits: tuple[Deposit, ...]
    withdrawals: tuple[Withdrawal, ...]
    refunds: tuple[Refund, ...]


def customer_view(deps: Deps, who: Principal, user_id: str) -> CustomerView:
    """One customer's profile, KYC, wallets with balances and recent money movements. The
    read is written to the audit log (`customer.view`) first: no trace, no data."""
    require_staff(who, Perm.CUSTOMERS_READ)

    def audited(uow: UnitOfWork) -> User:
        user = uow.repo(User).get(user_id[:64])
        if user is None or user.kind != UserKind.CUSTOMER:
            raise not_found("customer")
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="customer.view",
                  object_type="user", object_id=user.id, ip=who.ip)
        return user

    user = deps.write(audited)
    with deps.reader() as uow:
        record = uow.repo(KycCustomer).one(subject_type="user", subject_id=user.id)
        sent = uow.repo(Payment).many(owner_type=OwnerType.USER.value, owner_id=user.id,
                                      order_by="created_ms", descending=True,
                                      limit=RECENT_MAX)
        received = uow.repo(Payment).many(recipient_user_id=user.id, order_by="created_ms",
                                          descending=True, limit=RECENT_MAX)
        deposits = uow.repo(Deposit).many(owner_type=OwnerType.USER.value, owner_id=user.id,
                                          order_by="created_ms", descending=True,
                                          limit=RECENT_MAX)
        withdrawals = uow.repo(Withdrawal).many(owner_type=OwnerType.USER.value,
                                                owner_id=user.id, order_by="created_ms",
                                                descending=True, limit=RECENT_MAX)
        refunds = uow.repo(Refund).many(owner_type=OwnerType.USER.value, owner_id=user.id,
                                        order_by="created_ms", descending=True,
                                        limit=RECENT_MAX)
    views, reached = wallets.owner_views(deps, OwnerType.USER, user.id)
    return CustomerView(user=user, kyc=record, wallets=tuple(views), chain_reached=reached,
                        payments=tuple(sent), received=tuple(received),
                        deposits=tuple(deposits), withdrawals=tuple(withdrawals),
                        refunds=tuple(refunds))
