"""The history of everything that moved the customer's money, with every filter the API's
GET /v1/history has (kinds, dates, currency and amount range, status, counterparty,
reference), pages that follow the same cursor, and CSV/XLSX exports of the same rows
written by the same service as GET /v1/history/export. Dates are days in the reader's
time zone; the filters travel in the address (a GET form), so a filtered page can be
bookmarked and its export links carry the same filters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from corridor.platform.domain import history as dom
from corridor.platform.domain import money
from corridor.platform.domain.errors import Err, PlatformError, Problems
from corridor.platform.domain.history import Filters
from corridor.platform.services import history_files, query
from corridor.web import labels, render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
PAGE_SIZE = 25
DATE_LEN_MAX = 10
Short = Annotated[str, Query(max_length=40)]
# The service's field names as this form names them (so the error summary links to them).
FORM_FIELDS = {"to_ms": "to", "from_ms": "from"}


class Form:
    """The filter form's values, as typed (shown again as they were)."""

    def __init__(self, type: Annotated[list[str], Query(max_length=len(dom.RowType))] = [],  # noqa: B006
                 date_from: Annotated[str, Query(alias="from", max_length=DATE_LEN_MAX)] = "",
                 date_to: Annotated[str, Query(alias="to", max_length=DATE_LEN_MAX)] = "",
                 currency: Short = "", min_amount: Short = "", max_amount: Short = "",
                 status: Short = "",
                 counterparty: Annotated[str, Query(max_length=dom.TEXT_FILTER_LEN_MAX)] = "",
                 ref: Annotated[str, Query(max_length=dom.REF_LEN_MAX)] = "") -> None:
        self.type = [t[:16] for t in type]
        self.date_from, self.date_to = date_from.strip(), date_to.strip()
        self.currency, self.status = currency, status
        self.min_amount, self.max_amount = min_amount.strip(), max_amount.strip()
        self.counterparty, self.ref = counterparty.strip(), ref.strip()

    def query(self) -> str:
        """The filters as an address's query (what the pager and export links carry)."""
        pairs = [("type", t) for t in self.type] + [
            (k, v) for k, v in (("from", self.date_from), ("to", self.date_to),
                                ("currency", self.currency), ("min_amount", self.min_amount),
                                ("max_amount", self.max_amount), ("status", self.status),
                                ("counterparty", self.counterparty), ("ref", self.ref)) if v]
        return urlencode(pairs)

    def filters(self, zone: str) -> Filters:
        problems = Problems()
        start = _day_ms(self.date_from, zone, "from", problems)
        end = _day_ms(self.date_to, zone, "to", problems)
        problems.raise_if_any(Err.INVALID_FILTERS)
        return dom.filters(types=self.type, from_ms=start,
                           to_ms=None if end is None else end + DAY_MS,
                           currency=self.currency or None,
                           min_amount=self.min_amount or None,
                           max_amount=self.max_amount or None, status=self.status or None,
                           counterparty=self.counterparty or None, ref=self.ref or None)


DAY_MS = 86_400_000
FormDep = Annotated[Form, Depends()]


def _day_ms(text: str, zone: str, field: str, problems: Problems) -> int | None:
    """The start of a day (YYYY-MM-DD) in the reader's time zone."""
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        problems.add(field, "a date such as 2026-01-31")
        return None
    start = dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    return int(start.timestamp() * 1000)


@router.get("/history", response_class=HTMLResponse)
def history(page: PageDep, form: FormDep,
            cursor: Annotated[str, Query(max_length=dom.CURSOR_LEN_MAX)] = "") -> Response:
    who = page.customer()
    values: dict[str, Any] = {
        "form": form, "types": list(dom.RowType), "currencies": money.CURRENCIES,
        "statuses": labels.status_choices(), "filters_query": form.query()}
    try:
        rows, nxt = query.page(page.deps, who, form.filters(page.fmt.zone),
                               cursor=cursor or None, limit=PAGE_SIZE)
    except PlatformError as exc:
        if exc.fields:
            exc = PlatformError(exc.err, exc.message,
                                {FORM_FIELDS.get(k, k): v for k, v in exc.fields.items()})
        return render.form(page, "history.html", exc, rows=[], next_cursor=None,
                           first=True, **values)
    return render.html(page, "history.html", errors={}, summary="", rows=rows,
                       next_cursor=nxt, first=not cursor, **values)


# The print view: one sheet of up to this many rows (the service's largest page); more
# rows continue on the next printed page's link, or go to a CSV/XLSX file.
PRINT_ROWS_MAX = dom.PAGE_MAX


@router.get("/history/print", response_class=HTMLResponse)
def history_print(page: PageDep, form: FormDep,
                  cursor: Annotated[str, Query(max_length=dom.CURSOR_LEN_MAX)] = ""
                  ) -> Response:
    """The same rows and filters as /history, laid out for paper (the stylesheet's
    `@media print` drops the navigation and the forms)."""
    who = page.customer()
    rows, nxt = query.page(page.deps, who, form.filters(page.fmt.zone),
                           cursor=cursor or None, limit=PRINT_ROWS_MAX)
    return render.html(page, "history_print.html", form=form, rows=rows, next_cursor=nxt,
                       filters_query=form.query(), printed_ms=page.deps.clock.now_ms())


@router.get("/history/export.{format}")
def export(page: PageDep, form: FormDep, format: str) -> Response:
    """The filtered rows as a file: the API export's service and file writers."""
    who = page.customer()
    if format not in history_files.FORMATS:
        raise Err.NOT_FOUND.error("no such export format")
    rows = query.export(page.deps, who, form.filters(page.fmt.zone))
    headers = history_files.headers(page.deps.clock.now_ms(), format)
    media = history_files.MEDIA_TYPES[format]
    if format == "csv":
        return StreamingResponse(history_files.csv_chunks(rows), media_type=media,
                                 headers=headers)
    return Response(history_files.xlsx_bytes(rows), media_type=media, headers=headers)
