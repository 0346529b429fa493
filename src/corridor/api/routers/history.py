"""Transaction history (Q1), its CSV/XLSX export (Q2) and the printable payment receipt.

Filters: `type` (repeatable), `from_ms`/`to_ms`, `currency` with `min_amount`/`max_amount`
(major units of that currency), `status`, `counterparty` (name or address substring),
`ref` (record id, UETR, payment id or transaction hash). Pages follow a cursor in the
stable order (created_ms desc, id). `org_id` reads an organisation's rows (org.read).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from corridor.api.deps import DepsDep, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import history as dom
from corridor.platform.domain.history import Filters, HistoryRow
from corridor.platform.domain.money import format_minor
from corridor.platform.services import history_files, query
from corridor.platform.services.query import Receipt

router = APIRouter(route_class=JsonRoute, tags=["history"])

TYPES_PER_QUERY_MAX = len(dom.RowType)


def filters(
    type: Annotated[list[str], Query(max_length=TYPES_PER_QUERY_MAX)] = [],  # noqa: B006
    from_ms: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    to_ms: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    currency: Annotated[str | None, Query(max_length=12)] = None,
    min_amount: Annotated[str | None, Query(max_length=40)] = None,
    max_amount: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    counterparty: Annotated[str | None, Query(max_length=dom.TEXT_FILTER_LEN_MAX)] = None,
    ref: Annotated[str | None, Query(max_length=dom.REF_LEN_MAX,
                                     description="id, UETR or transaction hash")] = None,
) -> Filters:
    return dom.filters(types=[t[:16] for t in type], from_ms=from_ms, to_ms=to_ms,
                       currency=currency, min_amount=min_amount, max_amount=max_amount,
                       status=status, counterparty=counterparty, ref=ref)


FiltersDep = Annotated[Filters, Depends(filters)]
OrgId = Annotated[str | None, Query(max_length=64)]


class RowOut(BaseModel):
    type: str
    id: str
    created_ms: int
    status: str
    currency: str
    amount: str  # exact decimal text in major units
    amount_minor: int
    fee: str
    counter_currency: str | None
    counter_amount: str | None
    rate: str | None
    counterparty: str | None
    counterparty_address: str | None
    uetr: str | None
    tx_id: str | None
    height: int | None
    payment_id: str | None

    @classmethod
    def of(cls, r: HistoryRow) -> RowOut:
        counter = (format_minor(r.counter_amount_minor, r.counter_currency)
                   if r.counter_currency and r.counter_amount_minor is not None else None)
        return cls(type=r.type, id=r.id, created_ms=r.created_ms, status=r.status,
                   currency=r.currency, amount=format_minor(r.amount_minor, r.currency),
                   amount_minor=r.amount_minor, fee=format_minor(r.fee_minor, r.currency),
                   counter_currency=r.counter_currency, counter_amount=counter, rate=r.rate,
                   counterparty=r.counterparty, counterparty_address=r.counterparty_address,
                   uetr=r.uetr, tx_id=r.tx_id, height=r.height, payment_id=r.payment_id)


class HistoryPage(BaseModel):
    items: list[RowOut]
    next_cursor: str | None


@router.get("/history")
def history(
    who: PrincipalDep, deps: DepsDep, f: FiltersDep, org_id: OrgId = None,
    cursor: Annotated[str | None, Query(max_length=dom.CURSOR_LEN_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=dom.PAGE_MAX)] = dom.PAGE_DEFAULT,
) -> HistoryPage:
    """The caller's transactions (or an organisation's), newest first."""
    rows, nxt = query.page(deps, who, f, org_id=org_id, cursor=cursor, limit=limit)
    return HistoryPage(items=[RowOut.of(r) for r in rows], next_cursor=nxt)


@router.get("/history/export", response_class=Response, responses={
    200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                      "spreadsheetml.sheet": {}}}})
def export(who: PrincipalDep, deps: DepsDep, f: FiltersDep, org_id: OrgId = None,
           format: Literal["csv", "xlsx"] = "csv") -> Response:
    """The same rows as a file, at most 10,000 (narrow the filters beyond that). Amounts
    are exact decimal text; text that a spreadsheet would run as a formula is quoted."""
    rows = query.export(deps, who, f, org_id=org_id)
    headers = history_files.headers(deps.clock.now_ms(), format)
    if format == "csv":
        return StreamingResponse(history_files.csv_chunks(rows),
                                 media_type=history_files.MEDIA_TYPES["csv"], headers=headers)
    return Response(history_files.xlsx_bytes(rows), headers=headers,
                    media_type=history_files.MEDIA_TYPES["xlsx"])


# --- the printable receipt ---------------------------------------------------------------


@router.get("/payments/{payment_id}/receipt.html", response_class=Response,
            responses={200: {"content": {"text/html": {}}}})
def receipt_page(payment_id: Annotated[str, Path(max_length=64)], who: PrincipalDep,
                 deps: DepsDep) -> Response:
    """A self-contained, printable receipt (no scripts, no external assets)."""
    page = render_receipt(query.receipt(deps, who, payment_id))
    return Response(page, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _table(rows: list[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in rows if v not in (None, ""))
    return f"<table>{cells}</table>"


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
          "color:#111}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}"
          "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem;"
          "border-bottom:1px solid #ddd;vertical-align:top}th{width:35%;font-weight:600}"
          "td{word-break:break-all}@media print{body{margin:0}}")


def render_receipt(rc: Receipt) -> str:
    p, t = rc.payment, rc.transfer
    amounts = _table([
        ("Amount debited", f"{format_minor(p.sell_amount_minor, p.sell_code)} {p.sell_code}"),
        ("of which fee", f"{format_minor(p.fee_minor, p.sell_code)} {p.sell_code}"),
        ("Amount credited", f"{format_minor(p.buy_amount_minor, p.buy_code)} {p.buy_code}"),
        ("Rate", f"{p.price} {p.buy_code} per {p.sell_code}"),
    ])
    parties = _table([
        ("Sender", rc.sender_name), ("Sender address", rc.sender_address),
        ("Recipient", p.recipient_name), ("Recipient type", p.recipient_type),
        ("Recipient address", rc.recipient_address), ("Memo", p.memo),
    ])
    states = _table([(h.status, _when(h.at_ms)) for h in p.history])
    proof = _table([
        ("Transaction hash", p.tx_id or (t.tx_id if t else None)),
        ("Block height", p.height if p.height is not None else (t.height if t else None)),
        ("Transfer status", t.status if t else None),
        ("Ledger result", t.result_code if t else None),
        ("Transaction sequence", t.sequence if t else None),
    ])
    head = _table([("UETR", p.uetr), ("Payment id", p.id), ("Kind", p.kind),
                   ("Status", p.status), ("Created", _when(p.created_ms))])
    if not (p.tx_id or (t and t.tx_id)):
        proof = "<p>Not on the ledger yet.</p>"
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Payment receipt {html.escape(p.uetr)}</title><style>{_STYLE}</style>"
        "</head><body>"
        f"<h1>Payment receipt</h1>{head}"
        f"<h2>Parties</h2>{parties}<h2>Amounts</h2>{amounts}"
        f"<h2>Timeline</h2>{states}<h2>Ledger inclusion</h2>{proof}"
        "</body></html>"
    )
