"""The regulator's pages (issue 16), read-only: an overview, payments (filters, and one
payment with its timeline, transfer and proof reference), alerts, cases (the officer's
view of a case without any decision form), filed suspicious-transaction reports, the
audit trail with its chain verification,
and the live feed of alerts and holds (the API's SSE stream, opened by
`static/regulator-feed.js` with the session cookie; without JavaScript the page lists
the newest events and reloads by hand). The same services as /v1/regulator; each page
checks `supervise` first, and every read is audited by the service. Nothing here posts."""

from __future__ import annotations

import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from corridor.api import sse
from corridor.platform.domain.compliance import AlertState, CaseState
from corridor.platform.domain.errors import PlatformError, Problems
from corridor.platform.domain.payments import PaymentStatus
from corridor.platform.domain.reports import ReportKind
from corridor.platform.domain.roles import Perm
from corridor.platform.services import report_export, supervision
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
Filter = Annotated[str, Query(max_length=supervision.FILTER_LEN_MAX)]
Day = Annotated[str, Query(max_length=10)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
PAGE_SIZE = 25
FEED_RECENT = 20
DAY_MS = 86_400_000


def _day_ms(text: str, zone: str, field: str, problems: Problems) -> int | None:
    """The start of a day (YYYY-MM-DD) in the reader's time zone, in ms; "" is none."""
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        problems.add(field, "a date as YYYY-MM-DD")
        return None
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=ZoneInfo(zone))
    return int(start.timestamp()) * 1000


def _listed(page: Page, resource: str, template: str, values: dict[str, str],
            offset: int, **extra: object) -> Response:
    """A resource's list page: the filters as the reader typed them, the period in days
    of the reader's time zone (`until` the last day included), a page of rows."""
    who = page.staff(Perm.SUPERVISE)
    problems = Problems()
    since_ms = _day_ms(values.get("since", ""), page.fmt.zone, "since", problems)
    until_start = _day_ms(values.get("until", ""), page.fmt.zone, "until", problems)
    filters = {k: (v.strip() or None) for k, v in values.items() if k not in ("since", "until")}
    query = urlencode({k: v for k, v in values.items() if v})
    shown: dict[str, Any] = {"values": values, "offset": offset, "page_size": PAGE_SIZE,
                             "query": query, **extra}
    try:
        problems.raise_if_any()
        found = supervision.records(page.deps, who, resource, supervision.Query(
            filters=filters, since_ms=since_ms,
            until_ms=until_start + DAY_MS if until_start is not None else None,
            limit=PAGE_SIZE, offset=offset))
    except PlatformError as exc:
        if exc.kind.http_status != 422:
            raise
        return render.form(page, template, exc, items=[], more=False, **shown)
    return render.form(page, template, items=found.items, more=found.more, **shown)


@router.get("/regulator")
def home(page: PageDep) -> Response:
    page.staff(Perm.SUPERVISE)
    return RedirectResponse("/regulator/overview", status_code=303)


@router.get("/regulator/overview", response_class=HTMLResponse)
def overview(page: PageDep) -> Response:
    who = page.staff(Perm.SUPERVISE)
    return render.html(page, "regulator_overview.html",
                       overview=supervision.overview(page.deps, who))


@router.get("/regulator/payments", response_class=HTMLResponse)
def payments(page: PageDep, status: Filter = "", currency: Filter = "", customer: Filter = "",
             since: Day = "", until: Day = "", offset: Offset = 0) -> Response:
    values = {"status": status, "currency": currency.strip().upper(), "customer": customer,
              "since": since, "until": until}
    return _listed(page, "payments", "regulator_payments.html", values, offset,
                   statuses=tuple(PaymentStatus))


@router.get("/regulator/payments/{payment_id}", response_class=HTMLResponse)
def payment(page: PageDep, payment_id: Id) -> Response:
    who = page.staff(Perm.SUPERVISE)
    p, detail = supervision.payment(page.deps, who, payment_id)
    return render.html(page, "regulator_payment.html", p=p, detail=detail)


@router.get("/regulator/alerts", response_class=HTMLResponse)
def alerts(page: PageDep, state: Filter = "", typology: Filter = "", customer: Filter = "",
           since: Day = "", until: Day = "", offset: Offset = 0) -> Response:
    values = {"state": state, "typology": typology, "customer": customer, "since": since,
              "until": until}
    return _listed(page, "alerts", "regulator_alerts.html", values, offset,
                   states=tuple(AlertState))


@router.get("/regulator/cases", response_class=HTMLResponse)
def cases(page: PageDep, state: Filter = "", customer: Filter = "", since: Day = "",
          until: Day = "", offset: Offset = 0) -> Response:
    values = {"state": state, "customer": customer, "since": since, "until": until}
    return _listed(page, "cases", "regulator_cases.html", values, offset,
                   states=tuple(CaseState))


@router.get("/regulator/cases/{case_id}", response_class=HTMLResponse)
def case(page: PageDep, case_id: Id) -> Response:
    who = page.staff(Perm.SUPERVISE)
    return render.html(page, "regulator_case.html",
                       view=supervision.case(page.deps, who, case_id))


@router.get("/regulator/reports", response_class=HTMLResponse)
def reports(page: PageDep, kind: Filter = "", customer: Filter = "", case: Filter = "",
            since: Day = "", until: Day = "", offset: Offset = 0) -> Response:
    values = {"kind": kind, "customer": customer, "case": case, "since": since,
              "until": until}
    return _listed(page, "reports", "regulator_reports.html", values, offset,
                   kinds=tuple(ReportKind))


@router.get("/regulator/reports/{report_id}", response_class=HTMLResponse)
def report(page: PageDep, report_id: Id) -> Response:
    who = page.staff(Perm.SUPERVISE)
    r = supervision.report(page.deps, who, report_id)
    return render.html(page, "regulator_report.html", report=r,
                       doc=report_export.json_document(r))


@router.get("/regulator/audit", response_class=HTMLResponse)
def audit_log(page: PageDep, actor: Filter = "", action: Filter = "", since: Day = "",
              until: Day = "", verify: Annotated[str, Query(max_length=3)] = "",
              offset: Offset = 0) -> Response:
    """Entries newest first, filtered; `verify=yes` also re-computes the whole chain."""
    who = page.staff(Perm.SUPERVISE)
    problems = Problems()
    since_ms = _day_ms(since, page.fmt.zone, "since", problems)
    until_start = _day_ms(until, page.fmt.zone, "until", problems)
    values = {"actor": actor, "action": action, "since": since, "until": until}
    query = urlencode({k: v for k, v in values.items() if v})
    shown: dict[str, Any] = {"values": values, "offset": offset, "page_size": PAGE_SIZE,
                             "query": query}
    report = supervision.audit_verify(page.deps, who) if verify == "yes" else None
    try:
        problems.raise_if_any()
        found = supervision.audit_entries(page.deps, who, supervision.Query(
            filters={"actor_id": actor.strip() or None, "action": action.strip() or None},
            since_ms=since_ms,
            until_ms=until_start + DAY_MS if until_start is not None else None,
            limit=PAGE_SIZE, offset=offset))
    except PlatformError as exc:
        if exc.kind.http_status != 422:
            raise
        return render.form(page, "regulator_audit.html", exc, entries=[], more=False,
                           report=report, **shown)
    return render.form(page, "regulator_audit.html", entries=found.items, more=found.more,
                       report=report, **shown)


@router.get("/regulator/feed", response_class=HTMLResponse)
def feed(page: PageDep) -> Response:
    who = page.staff(Perm.SUPERVISE)
    recent, head = supervision.feed_recent(page.deps, who, FEED_RECENT)
    return render.html(page, "regulator_feed.html", events=recent, head=head)


@router.get("/regulator/feed/events")
async def feed_events(page: PageDep,
                      last_event_id_header: Annotated[str | None, Header(
                          alias="Last-Event-ID",
                          max_length=sse.LAST_EVENT_ID_LEN_MAX)] = None,
                      last_event_id: Annotated[str | None, Query(
                          max_length=sse.LAST_EVENT_ID_LEN_MAX)] = None,
                      max_ms: Annotated[int, Query(ge=0, le=sse.CONNECTION_MS_MAX)] = (
                          sse.CONNECTION_MS_MAX)) -> Response:
    """The API's feed for the page's EventSource (the session cookie signs it in)."""
    who = page.staff(Perm.SUPERVISE)
    frames = await sse.stream(page.deps, who, sse.last_event_id(last_event_id_header,
                                                                last_event_id),
                              sse.Bounds(connection_ms=max_ms))
    return StreamingResponse(frames, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
