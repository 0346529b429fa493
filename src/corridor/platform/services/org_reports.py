"""An institution's treasury reports (issue 17, "Reports"): cash position, payments by
department, beneficiary and corridor, fees paid, and the fee forecast of next month.

The API (/v1/orgs/{id}/reports/...), the console's pages and `corridor org report` all
call these, so every door shows the same figures. Everything is read from the platform's
own records (no chain call), so a past day is answered the same way as today:

* **Cash position** at a moment T, per wallet and currency. *Balance*: the committed
  transfers recorded by T that credit or debit the wallet (deposits, payments sent and
  received, refunds, withdrawals and their reversals). *Reserved*: payments waiting for a
  decision at T (pending approval, screening, compliance hold), by their own timeline.
  *In flight*: other debits the platform had queued or sent to the chain by T that the
  chain had not decided yet. *Available* = balance - reserved - in flight. Money sent
  to the wallet's address from outside the platform is on chain only, not in these
  records (the wallet pages show the chain's own balance).
* **Payments** of a period: those whose money left (their timeline reached `included`)
  in the period, grouped by the initiator's department (their department now; former
  members and members without one under "none"), by beneficiary, and by corridor: the
  organisation's country to the bank's country for a bank payout ("" for a recipient on
  the platform, whose country the sender's records do not hold), with the currency pair.
* **Fees paid**: the fee of each such payment, by day or month and currency.

Permission: treasury data is not every member's: `Perm.ORG_REPORTS` (owner, admin,
approver, auditor). Initiators and viewers are refused (FORBIDDEN); non-members learn
nothing (NOT_FOUND). Staff are refused too: the back office has its own reports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from corridor.platform.domain import forecast as fc
from corridor.platform.domain.errors import Err, Problems, not_found
from corridor.platform.domain.orgs import Department, Membership, Organisation
from corridor.platform.domain.payments import Payment, PaymentStatus, RecipientType
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import Deposit, Withdrawal
from corridor.platform.domain.refunds import Refund
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.transfers import Transfer, TransferStatus, wallet_ref
from corridor.platform.domain.wallets import WALLETS_PER_OWNER_MAX, OwnerType, Wallet
from corridor.platform.services.access import require_org
from corridor.platform.services.ports import Deps, UnitOfWork

DAY_MS = 86_400_000
PERIOD_DAYS_MAX = 366
PAYMENTS_MAX = 50_000  # payments read for one report; `truncated` says when more exist
TRANSFERS_MAX = 100_000
IDS_PER_QUERY = 500  # ref ids in one IN (...) list
HISTORY_DAYS_FORECAST = 31 * (fc.BACKTEST_MONTHS + 1) + fc.WINDOW_DAYS
GROUPINGS = ("department", "beneficiary", "corridor")
FEE_PERIODS = ("day", "month")
NO_DEPARTMENT = ""

assert PAYMENTS_MAX <= TRANSFERS_MAX
assert HISTORY_DAYS_FORECAST <= PERIOD_DAYS_MAX + fc.WINDOW_DAYS + 31

# A payment in one of these at T has its money promised but not yet handed to the chain.
WAITING = frozenset({PaymentStatus.PENDING_APPROVAL, PaymentStatus.SCREENING,
                     PaymentStatus.ON_HOLD})
UNDECIDED = frozenset({TransferStatus.QUEUED, TransferStatus.HELD, TransferStatus.SUBMITTED})


# --- records ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CashRow:
    """One wallet's position in one currency at `CashPosition.as_of_ms`."""

    wallet_id: str
    wallet_label: str
    code: str
    balance_minor: int
    reserved_minor: int
    in_flight_minor: int

    @property
    def available_minor(self) -> int:
        return self.balance_minor - self.reserved_minor - self.in_flight_minor


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CashPosition:
    """The organisation's cash per wallet and currency, and per currency in total."""

    org_id: str
    as_of_ms: int  # the moment described (exclusive: records up to as_of_ms - 1)
    day: str | None  # the UTC day whose end it is, or None for "now"
    rows: tuple[CashRow, ...]
    totals: tuple[CashRow, ...]  # wallet_id "" : one per currency
    truncated: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """Payments of one group in one (sell) currency."""

    key: str  # department id, beneficiary key, or "GB>CN USD>CNY"
    label: str  # what the reader sees (a department's or beneficiary's name)
    code: str
    count: int
    amount_minor: int  # what left the wallets, fees included
    fee_minor: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """UTC days [first, last], both included, as milliseconds [since_ms, until_ms)."""

    first: dt.date
    last: dt.date

    @property
    def since_ms(self) -> int:
        return _day_ms(self.first)

    @property
    def until_ms(self) -> int:
        return _day_ms(self.last) + DAY_MS


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PaymentsReport:
    org_id: str
    period: Period
    by: str  # one of GROUPINGS
    groups: tuple[Group, ...]  # largest amount first within each currency
    truncated: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FeeLine:
    period: str  # YYYY-MM-DD or YYYY-MM
    code: str
    count: int
    fee_minor: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FeesReport:
    """Fees paid per period and currency; every period of the range is listed for every
    currency seen (zeros included), so a chart has no gaps."""

    org_id: str
    period: Period
    every: str  # "day" | "month"
    lines: tuple[FeeLine, ...]  # period-major, then currency
    totals: tuple[FeeLine, ...]  # per currency over the whole range (period "")
    truncated: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ForecastReport:
    org_id: str
    made_on: str  # the UTC day the forecast is made (history up to the day before)
    forecasts: tuple[fc.Forecast, ...]  # one per currency fees were paid in
    truncated: bool


# --- input -----------------------------------------------------------------------------


def _day_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000


def day_of(at_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(at_ms // 1000, dt.UTC).date()


def _parse_day(text: str | None, field: str, problems: Problems) -> dt.date | None:
    if not text:
        return None
    try:
        if len(text) > 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        problems.add(field, "a date as YYYY-MM-DD")
        return None


def period(deps: Deps, since: str | None, until: str | None) -> Period:
    """The period [since, until] from ISO dates; by default the current month so far.
    Every problem at once (INVALID_FILTERS): a bad date, an end before the start, a
    period over `PERIOD_DAYS_MAX` days, or one ending after today."""
    problems = Problems()
    today = day_of(deps.clock.now_ms())
    first = _parse_day(since, "from", problems)
    last = _parse_day(until, "to", problems)
    last = last or today
    first = first or fc.month_start(min(last, today))
    if not problems:
        if last > today:
            problems.add("to", "not after today")
        if first > last:
            problems.add("from", "not after the end of the period")
        elif (last - first).days + 1 > PERIOD_DAYS_MAX:
            problems.add("from", f"at most {PERIOD_DAYS_MAX} days before the end")
    problems.raise_if_any(Err.INVALID_FILTERS)
    return Period(first=first, last=last)


def _check_choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        problems = Problems()
        problems.add(field, f"one of {', '.join(allowed)}")
        problems.raise_if_any(Err.INVALID_FILTERS)
    return value


def _allowed(uow: UnitOfWork, who: Principal | None, org_id: str) -> Organisation:
    """The organisation if `who` may read its reports (None: the operator's CLI, which
    has the database already)."""
    if who is not None:
        require_org(uow, who, org_id, Perm.ORG_REPORTS)
    org = uow.repo(Organisation).get(org_id) if len(org_id) <= 64 else None
    if org is None:
        raise not_found("organisation")
    return org


# --- cash position ---------------------------------------------------------------------


def cash_position(deps: Deps, who: Principal | None, org_id: str,
                  day: str | None = None) -> CashPosition:
    """The position now, or at the end of the UTC day `day` (YYYY-MM-DD, before today)."""
    problems = Problems()
    wanted = _parse_day(day, "day", problems)
    today = day_of(deps.clock.now_ms())
    if wanted is not None and wanted >= today:
        problems.add("day", "a day before today (leave it out for now)")
    problems.raise_if_any(Err.INVALID_FILTERS)
    as_of = deps.clock.now_ms() + 1 if wanted is None else _day_ms(wanted) + DAY_MS
    with deps.reader() as uow:
        _allowed(uow, who, org_id)
        found = uow.repo(Wallet).many(owner_type=OwnerType.ORG.value, owner_id=org_id,
                                      order_by="created_ms", limit=WALLETS_PER_OWNER_MAX)
        wallets = [x for x in found if x.created_ms < as_of]
        transfers, truncated = _wallet_transfers(uow, org_id, wallets)
        waiting = _waiting_payments(uow, org_id, as_of)
    rows = position_rows(wallets, transfers, waiting, as_of)
    return CashPosition(org_id=org_id, as_of_ms=as_of,
                        day=wanted.isoformat() if wanted else None, rows=rows,
                        totals=totals_of(rows), truncated=truncated)


def _chunks(ids: Sequence[str]) -> Iterable[tuple[str, ...]]:
    for i in range(0, len(ids), IDS_PER_QUERY):
        yield tuple(ids[i:i + IDS_PER_QUERY])


def _wallet_transfers(uow: UnitOfWork, org_id: str,
                      wallets: Sequence[Wallet]) -> tuple[list[Transfer], bool]:
    """Every transfer that may touch the wallets: those they are the source of, and those
    serving a record that credits them (deposits, payments received, refunds, reversed
    withdrawals). Bounded by `TRANSFERS_MAX`."""
    ids = [x.id for x in wallets]
    if not ids:
        return [], False
    repo = uow.repo(Transfer)
    found: dict[str, Transfer] = {}
    for x in wallets:
        for t in repo.many(source=wallet_ref(x.id), limit=TRANSFERS_MAX + 1):
            found[t.id] = t
    refs: list[str] = []
    for chunk in _chunks(ids):
        refs += [d.id for d in uow.repo(Deposit).many(wallet_id=chunk, limit=TRANSFERS_MAX)]
        refs += [w.id for w in uow.repo(Withdrawal).many(wallet_id=chunk,
                                                         limit=TRANSFERS_MAX)]
        refs += [p.id for p in uow.repo(Payment).many(recipient_wallet_id=chunk,
                                                      limit=TRANSFERS_MAX)]
    refs += [r.id for r in uow.repo(Refund).many(owner_type=OwnerType.ORG.value,
                                                 owner_id=org_id, limit=TRANSFERS_MAX)]
    for chunk in _chunks(refs):
        for t in repo.many(ref_id=chunk, limit=TRANSFERS_MAX + 1):
            found[t.id] = t
    out = sorted(found.values(), key=lambda t: (t.created_ms, t.id))
    return out[:TRANSFERS_MAX], len(out) > TRANSFERS_MAX


def _waiting_payments(uow: UnitOfWork, org_id: str, as_of_ms: int) -> list[Payment]:
    """The organisation's payments created before `as_of_ms` that were not finished then
    (their timeline is read for their state at that moment)."""
    found = uow.repo(Payment).many(owner_type=OwnerType.ORG.value, owner_id=org_id,
                                   below={"created_ms": as_of_ms}, order_by="created_ms",
                                   descending=True, limit=PAYMENTS_MAX)
    return [p for p in found if status_at(p, as_of_ms) in WAITING]


def status_at(p: Payment, at_ms: int) -> PaymentStatus | None:
    """The payment's state just before `at_ms`, from its timeline (None: not yet made)."""
    state = None
    for step in p.history:
        if step.at_ms >= at_ms:
            break
        state = step.status
    return state


def _decided_by(t: Transfer, at_ms: int) -> bool:
    """Whether the chain's decision on `t` was recorded before `at_ms` (a decided
    transfer's `updated_ms` is when its outcome was recorded: it changes no more)."""
    return t.status not in UNDECIDED and t.updated_ms < at_ms


def position_rows(wallets: Sequence[Wallet], transfers: Sequence[Transfer],
                  waiting: Sequence[Payment], as_of_ms: int) -> tuple[CashRow, ...]:
    """The cash rows at `as_of_ms` (pure: see the module's docstring for the terms)."""
    refs = {wallet_ref(x.id): x for x in wallets}
    by_address = {x.address: x for x in wallets}
    cells: dict[tuple[str, str], list[int]] = {}  # (wallet id, code) -> [bal, res, flight]

    def cell(wallet: Wallet, code: str) -> list[int]:
        return cells.setdefault((wallet.id, code), [0, 0, 0])

    reserved_transfers = {p.transfer_id for p in waiting if p.transfer_id}
    for t in transfers:
        if t.created_ms >= as_of_ms:
            continue
        applied = t.status == TransferStatus.COMMITTED and t.updated_ms < as_of_ms
        for leg in t.legs:
            source = refs.get(leg.source)
            target = refs.get(leg.destination) or by_address.get(leg.destination)
            if applied:
                if source is not None:
                    cell(source, leg.code)[0] -= leg.amount_minor
                if target is not None:
                    cell(target, leg.code)[0] += leg.amount_minor
            elif source is not None and not _decided_by(t, as_of_ms) \
                    and t.id not in reserved_transfers:
                cell(source, leg.code)[2] += leg.amount_minor
    for p in waiting:
        wallet = refs.get(wallet_ref(p.sender_wallet_id))
        if wallet is not None:
            cell(wallet, p.sell_code)[1] += p.sell_amount_minor
    order = {x.id: i for i, x in enumerate(wallets)}
    return tuple(CashRow(wallet_id=wid, wallet_label=refs[wallet_ref(wid)].label, code=code,
                         balance_minor=v[0], reserved_minor=v[1], in_flight_minor=v[2])
                 for (wid, code), v in sorted(cells.items(),
                                              key=lambda kv: (order[kv[0][0]], kv[0][1])))


def totals_of(rows: Iterable[CashRow]) -> tuple[CashRow, ...]:
    sums: dict[str, list[int]] = {}
    for r in rows:
        s = sums.setdefault(r.code, [0, 0, 0])
        s[0] += r.balance_minor
        s[1] += r.reserved_minor
        s[2] += r.in_flight_minor
    return tuple(CashRow(wallet_id="", wallet_label="", code=code, balance_minor=s[0],
                         reserved_minor=s[1], in_flight_minor=s[2])
                 for code, s in sorted(sums.items()))


# --- payments and fees -----------------------------------------------------------------


def paid_ms(p: Payment) -> int | None:
    """When the payment's money left: its `included` step (None: it never did)."""
    return next((s.at_ms for s in p.history if s.status == PaymentStatus.INCLUDED), None)


def _paid(uow: UnitOfWork, org_id: str, since_ms: int,
          until_ms: int) -> tuple[list[Payment], bool]:
    """The organisation's payments whose money left in [since_ms, until_ms). A payment
    is created before it is paid, so those created before `until_ms` are read (newest
    first, at most PAYMENTS_MAX) and filtered by their `included` step."""
    found = uow.repo(Payment).many(owner_type=OwnerType.ORG.value, owner_id=org_id,
                                   below={"created_ms": until_ms}, order_by="created_ms",
                                   descending=True, limit=PAYMENTS_MAX + 1)
    truncated = len(found) > PAYMENTS_MAX
    out = []
    for p in found[:PAYMENTS_MAX]:
        at = paid_ms(p)
        if at is not None and since_ms <= at < until_ms:
            out.append(p)
    # read newest first: truncation drops old payments, so it matters only when the
    # oldest read was still inside the period
    truncated = truncated and found[PAYMENTS_MAX - 1].created_ms >= since_ms - 30 * DAY_MS
    return out, truncated


def payments_report(deps: Deps, who: Principal | None, org_id: str, *, by: str,
                    since: str | None = None, until: str | None = None) -> PaymentsReport:
    by = _check_choice(by, GROUPINGS, "by")
    span = period(deps, since, until)
    with deps.reader() as uow:
        org = _allowed(uow, who, org_id)
        paid, truncated = _paid(uow, org_id, span.since_ms, span.until_ms)
        departments = {d.id: d.name for d in uow.repo(Department).many(org_id=org_id)}
        member_dept = {m.user_id: m.department_id
                       for m in uow.repo(Membership).many(org_id=org_id)}
    if by == "department":
        keyed = [(member_dept.get(p.created_by) or NO_DEPARTMENT, p) for p in paid]
        labels = departments
    elif by == "beneficiary":
        keyed = [(beneficiary_key(p), p) for p in paid]
        labels = {key: p.recipient_name for key, p in keyed}
    else:
        keyed = [(corridor_key(org.country, p), p) for p in paid]
        labels = {}
    return PaymentsReport(org_id=org_id, period=span, by=by, groups=group(keyed, labels),
                          truncated=truncated)


def beneficiary_key(p: Payment) -> str:
    """Who was paid: the platform user, the address, or the bank account (masked as
    stored, with its bank code), whatever name the payer typed."""
    if p.recipient_type == RecipientType.USER and p.recipient_user_id:
        return f"user:{p.recipient_user_id}"
    if p.recipient_type == RecipientType.EXTERNAL and p.recipient_bank:
        bank = p.recipient_bank
        account = bank.get("iban") or bank.get("account_number") or bank.get("account") or ""
        return f"bank:{bank.get('country', '')}:{bank.get('bank_code', '')}:{account}"
    return f"address:{p.recipient_address or p.recipient_wallet_id or ''}"


def corridor_key(org_country: str, p: Payment) -> str:
    """"GB>DE EUR>EUR": the organisation's country to the bank's country (empty for a
    recipient on the platform), then the currency pair."""
    to = ""
    if p.recipient_type == RecipientType.EXTERNAL and p.recipient_bank:
        to = str(p.recipient_bank.get("country") or "")
    return f"{org_country}>{to} {p.sell_code}>{p.buy_code}"


def group(keyed: Sequence[tuple[str, Payment]], labels: dict[str, str]) -> tuple[Group, ...]:
    """Count, amount and fee per (key, sell currency); per currency the largest amount
    first, then by key (pure)."""
    sums: dict[tuple[str, str], list[int]] = {}
    for key, p in keyed:
        s = sums.setdefault((key, p.sell_code), [0, 0, 0])
        s[0] += 1
        s[1] += p.sell_amount_minor
        s[2] += p.fee_minor
    out = [Group(key=key, label=labels.get(key, key), code=code, count=s[0],
                 amount_minor=s[1], fee_minor=s[2]) for (key, code), s in sums.items()]
    return tuple(sorted(out, key=lambda g: (g.code, -g.amount_minor, g.key)))


def _period_name(day: dt.date, every: str) -> str:
    return day.isoformat() if every == "day" else day.strftime("%Y-%m")


def fees_report(deps: Deps, who: Principal | None, org_id: str, *, every: str = "day",
                since: str | None = None, until: str | None = None) -> FeesReport:
    every = _check_choice(every, FEE_PERIODS, "every")
    span = period(deps, since, until)
    with deps.reader() as uow:
        _allowed(uow, who, org_id)
        paid, truncated = _paid(uow, org_id, span.since_ms, span.until_ms)
    lines, totals = fee_lines(paid, span, every)
    return FeesReport(org_id=org_id, period=span, every=every, lines=lines, totals=totals,
                      truncated=truncated)


def fee_lines(paid: Sequence[Payment], span: Period,
              every: str) -> tuple[tuple[FeeLine, ...], tuple[FeeLine, ...]]:
    """Fee lines per period and currency, zeros included, and the totals (pure)."""
    names = list(dict.fromkeys(_period_name(span.first + dt.timedelta(days=i), every)
                               for i in range((span.last - span.first).days + 1)))
    codes = sorted({p.sell_code for p in paid})
    sums = {(n, c): [0, 0] for n in names for c in codes}
    for p in paid:
        at = paid_ms(p)
        assert at is not None
        s = sums[(_period_name(day_of(at), every), p.sell_code)]
        s[0] += 1
        s[1] += p.fee_minor
    lines = tuple(FeeLine(period=n, code=c, count=sums[(n, c)][0], fee_minor=sums[(n, c)][1])
                  for n in names for c in codes)
    totals = tuple(FeeLine(period="", code=c,
                           count=sum(x.count for x in lines if x.code == c),
                           fee_minor=sum(x.fee_minor for x in lines if x.code == c))
                   for c in codes)
    return lines, totals


# --- forecast --------------------------------------------------------------------------


def fee_forecast(deps: Deps, who: Principal | None, org_id: str) -> ForecastReport:
    """Next month's fees per currency (domain/forecast.py states the method), from the
    daily fees of the complete days before today."""
    today = day_of(deps.clock.now_ms())
    first = today - dt.timedelta(days=HISTORY_DAYS_FORECAST)
    with deps.reader() as uow:
        org = _allowed(uow, who, org_id)
        paid, truncated = _paid(uow, org_id, _day_ms(first), _day_ms(today))
    start = max(first, day_of(org.created_ms))
    return ForecastReport(org_id=org_id, made_on=today.isoformat(),
                          forecasts=forecasts_of(paid, start, today), truncated=truncated)


def forecasts_of(paid: Sequence[Payment], first: dt.date,
                 today: dt.date) -> tuple[fc.Forecast, ...]:
    """One forecast per currency of `paid`, from the daily series [first, today) (pure)."""
    days = max(0, (today - first).days)
    series: dict[str, list[int]] = {}
    for p in paid:
        at = paid_ms(p)
        assert at is not None
        i = (day_of(at) - first).days
        if 0 <= i < days:
            series.setdefault(p.sell_code, [0] * days)[i] += p.fee_minor
    return tuple(fc.forecast_next_month(code, fc.DailySeries(first=first, values=tuple(v)),
                                        today)
                 for code, v in sorted(series.items()))


def as_dict(value: Any) -> Any:
    """A report as JSON-ready data (money stays integers in minor units)."""
    if isinstance(value, CashRow):
        return {**_fields(value), "available_minor": value.available_minor}
    if isinstance(value, fc.BacktestMonth):
        return {**_fields(value), "error_minor": value.error_minor}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, tuple | list):
        return [as_dict(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _fields(value: Any) -> dict[str, Any]:
    return {f.name: as_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
