"""The back office's operations pages: the dashboard (operate: admins, operators), the
audit log with its chain verification (audit.read: auditors, regulators) and the customer
lookup for support (customers.read; every customer shown is written to the audit log by
the service), with the freeze of a customer's holdings on chain (account.freeze:
compliance officers; issue 16). The same services as the API's /v1/staff/dashboard,
/v1/staff/audit, /v1/staff/customers and its freezes; each page checks its permission
before reading anything."""

from __future__ import annotations

import datetime
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_timedelta
from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import freezes as freeze_dom
from corridor.platform.domain.errors import PlatformError, Problems
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services import audit, backoffice, freezes, risk
from corridor.web import charts, render, risk_text
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Filter = Annotated[str, Query(max_length=64)]
AUDIT_PAGE = 50
DATE_LEN = 10  # YYYY-MM-DD
PERIODS = (7, 14, 30, 90)  # days the dashboard's period select offers


def N_(message: str) -> str:
    return message


DATE_WANTED = N_("a date such as 2026-03-10")


def _day_label(page: Page, day: str) -> str:
    return format_skeleton("MMMd", datetime.date.fromisoformat(day), locale=page.fmt.locale)


def _duration(page: Page, ms: int | None) -> str:
    if ms is None:
        return "—"
    return format_timedelta(datetime.timedelta(milliseconds=ms), threshold=1.0,
                            granularity="second", format="short", locale=page.fmt.locale)


@router.get("/staff/dashboard", response_class=HTMLResponse)
def dashboard(page: PageDep, days: Annotated[int, Query(ge=1, le=backoffice.DAYS_MAX)]
              = backoffice.DAYS_DEFAULT) -> Response:
    who = page.staff(Perm.OPERATE)
    d = backoffice.dashboard(page.deps, who, days)
    labels = {day: _day_label(page, day) for day in d.days}
    per_day = {day: 0 for day in d.days}
    for v in d.volumes:
        per_day[v.day] += v.count
    counts = charts.bars([(labels[day], n, str(n)) for day, n in per_day.items()])
    amounts = {code: charts.bars([(labels[v.day], v.amount_minor,
                                   page.fmt.amount(v.amount_minor, code))
                                  for v in d.volumes if v.code == code])
               for code in d.codes}
    q = d.queues
    queue_rows = [(page.gettext("KYC waiting"), q.kyc_waiting, "/staff/kyc", Perm.KYC_READ),
                  (page.gettext("Refunds waiting"), q.refunds_waiting, "/staff/refunds",
                   Perm.REFUND_REVIEW),
                  (page.gettext("Held deposits"), q.held_deposits, "", None),
                  (page.gettext("Overdue compliance cases"), q.overdue_cases,
                   "/staff/compliance", Perm.COMPLIANCE_REVIEW),
                  (page.gettext("Outbox backlog"), q.outbox_backlog, "", None)]
    queues = [(name, n, href if perm is not None and who.staff_can(perm) else "")
              for name, n, href, perm in queue_rows]
    queue_chart = charts.bars([(name, n, str(n)) for name, n, _ in queues])
    return render.html(page, "staff_dashboard.html", d=d, labels=labels, per_day=per_day,
                       counts=counts, amounts=amounts, queues=queues, queue_chart=queue_chart,
                       periods=PERIODS, median=_duration(page, d.credit_ms_median),
                       p95=_duration(page, d.credit_ms_p95))


def _day_start_ms(text: str, zone: str, field: str, problems: Problems) -> int | None:
    """The start of a day (YYYY-MM-DD) in the reader's time zone, in ms; "" is none."""
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        problems.add(field, DATE_WANTED)
        return None
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=ZoneInfo(zone))
    return int(start.timestamp()) * 1000


@router.get("/staff/audit", response_class=HTMLResponse)
def audit_log(page: PageDep, actor: Filter = "", action: Filter = "",
              since: Annotated[str, Query(max_length=DATE_LEN)] = "",
              until: Annotated[str, Query(max_length=DATE_LEN)] = "",
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    """Entries newest first, filtered; `until` is the last day included."""
    who = page.staff(Perm.AUDIT_READ)
    problems = Problems()
    since_ms = _day_start_ms(since, page.fmt.zone, "since", problems)
    until_start = _day_start_ms(until, page.fmt.zone, "until", problems)
    values = {"actor": actor, "action": action, "since": since, "until": until}
    try:
        problems.raise_if_any()
    except PlatformError as exc:
        return render.form(page, "staff_audit.html", exc, entries=[], values=values,
                           offset=0, more=False, query="", report=None)
    until_ms = until_start + 86_400_000 if until_start is not None else None
    rows = audit.entries(page.deps, who, limit=AUDIT_PAGE + 1, offset=offset,
                         since_ms=since_ms, until_ms=until_ms, actor_id=actor.strip() or None,
                         action=action.strip() or None)
    query = urlencode({k: v for k, v in values.items() if v})
    return render.form(page, "staff_audit.html", entries=rows[:AUDIT_PAGE], values=values,
                       offset=offset, more=len(rows) > AUDIT_PAGE, page_size=AUDIT_PAGE,
                       query=query, report=None)


@router.post("/staff/audit/verify", response_class=HTMLResponse)
def audit_verify(page: PageDep) -> Response:
    """Runs the chain verification (as GET /v1/staff/audit/verify) and shows its report
    above the newest entries."""
    who = page.staff(Perm.AUDIT_READ)
    report = audit.verify(page.deps)
    rows = audit.entries(page.deps, who, limit=AUDIT_PAGE + 1, offset=0)
    return render.form(page, "staff_audit.html", entries=rows[:AUDIT_PAGE],
                       values={"actor": "", "action": "", "since": "", "until": ""},
                       offset=0, more=len(rows) > AUDIT_PAGE, page_size=AUDIT_PAGE, query="",
                       report=report)


@router.get("/staff/customers", response_class=HTMLResponse)
def customers(page: PageDep,
              q: Annotated[str | None, Query(max_length=backoffice.QUERY_LEN_MAX)] = None
              ) -> Response:
    who = page.staff(Perm.CUSTOMERS_READ)
    if q is None:
        return render.form(page, "staff_customers.html", q="", matches=None)
    try:
        matches = backoffice.find_customers(page.deps, who, q)
    except PlatformError as exc:
        return render.form(page, "staff_customers.html", exc, q=q, matches=None)
    return render.form(page, "staff_customers.html", q=q, matches=matches)


UserId = Annotated[str, Path(max_length=64)]
FreezeText = Annotated[str, Form(max_length=freeze_dom.REASON_LEN_MAX)]
FreezeRef = Annotated[str, Form(max_length=freeze_dom.REFERENCE_LEN_MAX)]
FormKey = Annotated[str, Form(max_length=100)]


def _customer(page: Page, who: Principal, user_id: str, values: dict[str, str] | None = None,
              exc: PlatformError | None = None) -> Response:
    """The customer's page, with the freeze form (compliance officers) and the freeze
    history. The form's idempotency key is made when it is shown: a resent form acts once."""
    v = backoffice.customer_view(page.deps, who, user_id)
    history, _ = freezes.history(page.deps, who, OwnerType.USER, user_id,
                                 limit=freeze_dom.HISTORY_PAGE_MAX)
    values = {"reason": "", "reference": "", **(values or {})}
    values["key"] = page.form_key(values)
    rated = (risk_text.context(page, risk.view(page.deps, who, OwnerType.USER, user_id))
             if who.staff_can(Perm.KYC_READ) else {})  # the rating is KYC data
    return render.form(page, "staff_customer.html", exc, v=v, u=v.user, **rated,
                       may_review_kyc=who.staff_can(Perm.KYC_READ),
                       may_freeze=who.staff_can(Perm.ACCOUNT_FREEZE), freezes=history,
                       active=next((f for f in history if f.active), None), values=values)


@router.get("/staff/customers/{user_id}", response_class=HTMLResponse)
def customer(page: PageDep, user_id: UserId) -> Response:
    who = page.staff(Perm.CUSTOMERS_READ)
    return _customer(page, who, user_id)


@router.post("/staff/customers/{user_id}/freeze")
def customer_freeze(page: PageDep, user_id: UserId, reason: FreezeText = "",
                    reference: FreezeRef = "", key: FormKey = "") -> Response:
    """Freezes the customer's holdings on chain (as POST /v1/staff/customers/{id}/freeze)."""
    who = page.staff(Perm.ACCOUNT_FREEZE)
    try:
        freezes.freeze(page.deps, who, OwnerType.USER, user_id, reason=reason,
                       reference=reference or None, idempotency_key=key or None)
    except PlatformError as exc:
        return _customer(page, who, user_id, {"reason": reason, "reference": reference,
                                              "key": key}, exc)
    return RedirectResponse(f"/staff/customers/{user_id}#freeze-h", status_code=303)


@router.post("/staff/customers/{user_id}/unfreeze")
def customer_unfreeze(page: PageDep, user_id: UserId, reason: FreezeText = "",
                      key: FormKey = "") -> Response:
    """Lifts the customer's freeze (as POST /v1/staff/customers/{id}/unfreeze)."""
    who = page.staff(Perm.ACCOUNT_FREEZE)
    try:
        freezes.unfreeze(page.deps, who, OwnerType.USER, user_id, reason=reason,
                         idempotency_key=key or None)
    except PlatformError as exc:
        return _customer(page, who, user_id, {"reason": reason, "key": key}, exc)
    return RedirectResponse(f"/staff/customers/{user_id}#freeze-h", status_code=303)
