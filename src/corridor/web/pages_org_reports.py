"""The institution console's treasury reports (issue 17): cash position, payments by
department, beneficiary or corridor, fees paid and the fee forecast, each a page with
charts (server-side SVG with the figures as a table), a period form (GET: nothing
changes, so no CSRF token is needed), CSV/XLSX export links and a print style sheet (the
browser's "Save as PDF" makes the PDF).

The same services as /v1/orgs/{id}/reports/... (services/org_reports.py), which check
`org.reports` (owner, admin, approver, auditor): another member gets the refusal page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from corridor.platform.domain.errors import PlatformError, not_found
from corridor.platform.services import org_report_files as files
from corridor.platform.services import org_reports as reports
from corridor.platform.services.org_reports import PERIOD_DAYS_MAX
from corridor.web import charts, render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_
from corridor.web.pages_org import _context, _refused

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
OrgId = Annotated[str, Path(max_length=64)]
Day = Annotated[str, Query(max_length=10)]
Choice = Annotated[str, Query(max_length=20)]
KINDS = ("cash", "payments", "fees", "forecast")
assert PERIOD_DAYS_MAX == 366, "SERVICE_WORDS quotes the limit"

# The services' words for the period fields, so a Chinese reader gets them too.
SERVICE_WORDS = (N_("a date as YYYY-MM-DD"), N_("not after today"),
                 N_("not after the end of the period"),
                 N_("at most 366 days before the end"),
                 N_("a day before today (leave it out for now)"),
                 N_("one of department, beneficiary, corridor"), N_("one of day, month"))


def _bars(pairs: Sequence[tuple[str, int]], fmt: Any, code: str) -> charts.BarChart:
    return charts.bars([(label, value, fmt.amount(value, code)) for label, value in pairs])


def _show(page: Page, org_id: str, kind: str, values: dict[str, str],
          make: Callable[[], Any], draw: Callable[[Any], dict[str, charts.BarChart]]) -> Response:
    """The report page of `kind`, or the page with the form's problems."""
    who = page.customer()
    try:
        ctx = _context(page, who, org_id)
        report = make()  # the service checks org.reports (FORBIDDEN in its own words)
    except PlatformError as exc:
        if exc.code != "INVALID_FILTERS":
            return _refused(page, exc)
        return render.form(page, "org_reports.html", exc, 422, **ctx, kind=kind,
                           values=values, report=None, charts={}, query="")
    query = urlencode({k: v for k, v in values.items() if v})
    return render.html(page, "org_reports.html", **ctx, kind=kind, values=values,
                       report=report, charts=draw(report), query=query, errors={},
                       summary="", printed_ms=page.deps.clock.now_ms())


@router.get("/org/{org_id}/reports", response_class=HTMLResponse)
def cash(page: PageDep, org_id: OrgId, day: Day = "") -> Response:
    def draw(r: reports.CashPosition) -> dict[str, charts.BarChart]:
        g = page.gettext
        return {t.code: _bars([(g("Balance"), t.balance_minor), (g("Reserved"), t.reserved_minor),
                               (g("In flight"), t.in_flight_minor),
                               (g("Available"), t.available_minor)], page.fmt, t.code)
                for t in r.totals}

    return _show(page, org_id, "cash", {"day": day},
                 lambda: reports.cash_position(page.deps, page.customer(), org_id, day or None),
                 draw)


@router.get("/org/{org_id}/reports/payments", response_class=HTMLResponse)
def payments(page: PageDep, org_id: OrgId, by: Choice = "department", since: Annotated[
        str, Query(alias="from", max_length=10)] = "", until: Annotated[
        str, Query(alias="to", max_length=10)] = "") -> Response:
    def draw(r: reports.PaymentsReport) -> dict[str, charts.BarChart]:
        codes = sorted({g.code for g in r.groups})
        return {c: _bars([(_group_label(page, r.by, g), g.amount_minor) for g in r.groups
                          if g.code == c], page.fmt, c) for c in codes}

    return _show(page, org_id, "payments", {"by": by, "from": since, "to": until},
                 lambda: reports.payments_report(page.deps, page.customer(), org_id, by=by,
                                                 since=since or None, until=until or None),
                 draw)


def _group_label(page: Page, by: str, g: reports.Group) -> str:
    if by == "department" and not g.key:
        return page.gettext("No department")
    if by == "corridor":
        route, pair = g.key.split(" ", 1)
        origin, to = route.split(">", 1)
        return f"{origin} → {to or page.gettext('on the platform')} ({pair.replace('>', '→')})"
    return g.label


@router.get("/org/{org_id}/reports/fees", response_class=HTMLResponse)
def fees(page: PageDep, org_id: OrgId, every: Choice = "day", since: Annotated[
        str, Query(alias="from", max_length=10)] = "", until: Annotated[
        str, Query(alias="to", max_length=10)] = "") -> Response:
    def draw(r: reports.FeesReport) -> dict[str, charts.BarChart]:
        return {t.code: _bars([(x.period, x.fee_minor) for x in r.lines if x.code == t.code],
                              page.fmt, t.code) for t in r.totals}

    return _show(page, org_id, "fees", {"every": every, "from": since, "to": until},
                 lambda: reports.fees_report(page.deps, page.customer(), org_id, every=every,
                                             since=since or None, until=until or None),
                 draw)


@router.get("/org/{org_id}/reports/forecast", response_class=HTMLResponse)
def forecast(page: PageDep, org_id: OrgId) -> Response:
    def draw(r: reports.ForecastReport) -> dict[str, charts.BarChart]:
        out = {}
        for f in r.forecasts:
            pairs = [(page.gettext("%(month)s paid") % {"month": m.month}, m.actual_minor)
                     for m in f.backtest]
            if f.point_minor is not None:
                pairs.append((page.gettext("%(month)s forecast") % {"month": f.month},
                              f.point_minor))
            out[f.code] = _bars(pairs, page.fmt, f.code)
        return out

    return _show(page, org_id, "forecast", {},
                 lambda: reports.fee_forecast(page.deps, page.customer(), org_id), draw)


@router.get("/org/{org_id}/reports/{kind}/export")
def export(page: PageDep, org_id: OrgId, kind: Annotated[str, Path(max_length=20)],
           format: Choice = "csv", day: Day = "", by: Choice = "department",
           every: Choice = "day",
           since: Annotated[str, Query(alias="from", max_length=10)] = "",
           until: Annotated[str, Query(alias="to", max_length=10)] = "") -> Response:
    """The report as a file: the same bytes as the API's `format=csv|xlsx`."""
    who = page.customer()
    deps = page.deps
    if kind not in KINDS or format not in files.FORMATS:
        return _refused(page, not_found("report"))
    try:
        report: files.Report
        if kind == "cash":
            report = reports.cash_position(deps, who, org_id, day or None)
        elif kind == "payments":
            report = reports.payments_report(deps, who, org_id, by=by, since=since or None,
                                             until=until or None)
        elif kind == "fees":
            report = reports.fees_report(deps, who, org_id, every=every,
                                         since=since or None, until=until or None)
        else:
            report = reports.fee_forecast(deps, who, org_id)
    except PlatformError as exc:
        return _refused(page, exc)
    return Response(files.content(report, format), media_type=files.MEDIA_TYPES[format],
                    headers=files.headers(report, org_id, deps.clock.now_ms(), format))
