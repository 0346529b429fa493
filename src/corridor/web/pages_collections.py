"""Collections and merchants in the web console (issue 17): the requester's list of
payment requests with a form to ask for money (from a customer, or by link), the payer's
request page (pay in one step, or decline), the public checkout page of a link or a
merchant's order (sign in or sign up, then pay), and an organisation's merchant console
(checkout links with their QR code, orders, refunds, the daily settlement report).

The same services as /v1/collections and /v1/orgs/{id}/merchant, so the same checks, made
by the services themselves. Every creating form carries an idempotency key or a natural
one (a request's reference), so a resent form creates once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import collections as dom
from corridor.platform.domain import money
from corridor.platform.domain.collections import Channel, NewRequest
from corridor.platform.domain.errors import Err, Kind, PlatformError
from corridor.platform.domain.roles import OrgRole, Perm, org_allows
from corridor.platform.services import collections, merchants, orgs
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
Text = Annotated[str, Form(max_length=400)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
PAGE_SIZE = 20

STATUS_NAMES = {"open": N_("Open"), "paid": N_("Paid"), "declined": N_("Declined"),
                "cancelled": N_("Cancelled")}
REFUND_STATES = {"pending": N_("Being sent"), "sent": N_("Sent"), "failed": N_("Failed")}
# The services' own words for these forms' fields, in the catalogue so that a Chinese
# reader gets them too (messages.field_texts looks each field's message up).
SERVICE_WORDS = (
    N_("a date (YYYY-MM-DD) from today to 366 days on"),
    N_("1 to 35 letters, digits or / - ? : ( ) . , ' +"),
    N_("at most 140 printable characters"),
    N_("give exactly one of the payer's e-mail and phone"),
    N_("no customer has these details"), N_("is you"), N_("more than zero"),
    N_("already used"), N_("1 to 80 printable characters"), N_("a date, YYYY-MM-DD"),
)
# Form field names as the service names them -> this page's field.
FIELDS = {"payer_email": "payer", "payer_phone": "payer", "reference": "reference",
          "org_id": "payer"}


def _refused(page: Page, exc: PlatformError) -> Response:
    return render.refusal(page, exc)


def _guarded(page: Page, show: Callable[..., Response], *args: Any) -> Response:
    try:
        return show(page, *args)
    except PlatformError as exc:
        return _refused(page, exc)


def _renamed(exc: PlatformError, names: Mapping[str, str]) -> PlatformError:
    return PlatformError(exc.err, exc.message, {names.get(k, k): v for k, v in exc.fields.items()})


def _form_error(exc: PlatformError) -> bool:
    return exc.kind not in (Kind.FORBIDDEN, Kind.NOT_FOUND)


def _iso_day(at_ms: int) -> str:
    return dt.datetime.fromtimestamp(at_ms // 1000, dt.UTC).date().isoformat()


def _common(page: Page) -> dict[str, Any]:
    return {"statuses": STATUS_NAMES, "refund_states": REFUND_STATES,
            "currencies": money.CURRENCIES, "day_of": _iso_day}


# --- the requester's list and the form ----------------------------------------------------------


def _requests(page: Page, org_id: str | None, offset: int, values: Mapping[str, str],
              exc: PlatformError | None = None) -> Response:
    who = page.customer()
    org = orgs.get_org(page.deps, who, org_id)[0] if org_id else None
    mine, total = collections.sent(page.deps, who, org_id=org_id, limit=PAGE_SIZE,
                                   offset=offset)
    asked, _n = collections.incoming(page.deps, who, limit=PAGE_SIZE) if not org_id else ([], 0)
    shown = {"org": org, "sent": mine, "total": total, "incoming": asked, "offset": offset,
             "page_size": PAGE_SIZE, "values": values, **_common(page)}
    return render.form(page, "requests.html", exc, **shown)


def _day(page: Page, days: int = 0) -> str:
    """Today (UTC) or `days` on, as YYYY-MM-DD."""
    today = page.deps.clock.now_ms() // dom.DAY_MS
    return dt.datetime.fromtimestamp((today + days) * 86_400, dt.UTC).date().isoformat()


def _blank(page: Page) -> dict[str, str]:
    due = _day(page, 14)
    return {"payer": "", "currency": "USD", "amount": "", "due_date": due, "reference": "",
            "description": "", "link": ""}


@router.get("/requests", response_class=HTMLResponse)
def request_list(page: PageDep, org: Annotated[str, Query(max_length=64)] = "",
                 offset: Offset = 0) -> Response:
    return _guarded(page, _requests, org or None, offset, _blank(page))


@router.post("/requests")
def request_create(page: PageDep, payer: Text = "", currency: Text = "", amount: Text = "",
                   due_date: Text = "", reference: Text = "", description: Text = "",
                   link: Text = "", org_id: Text = "") -> Response:
    who = page.customer()
    by_link = link == "1"
    email = payer.strip() if "@" in payer else None
    phone = payer.strip() if payer.strip() and "@" not in payer else None
    new = NewRequest(currency=currency, amount=amount, due_date=due_date, reference=reference,
                     description=description, payer_email=email, payer_phone=phone)
    try:
        r, _ = collections.create(page.deps, who, new, org_id=org_id or None, link=by_link)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        values = {"payer": payer, "currency": currency, "amount": amount,
                  "due_date": due_date, "reference": reference, "description": description,
                  "link": link}
        return _guarded(page, _requests, org_id or None, 0, values, _renamed(exc, FIELDS))
    return RedirectResponse(f"/requests/{r.id}", status_code=303)


# --- one request: the payer's and the requester's page ------------------------------------------


def _request(page: Page, request_id: str, exc: PlatformError | None = None) -> Response:
    who = page.customer()
    view = collections.get(page.deps, who, request_id)
    r = view.request
    payer = r.payer_user_id == who.user_id
    link = (str(page.request.base_url).rstrip("/") + f"/checkout/{r.link_token}"
            if not payer and r.channel == Channel.LINK else "")
    return render.form(page, "request.html", exc, r=r, view=view, payer=payer, link=link,
                       qr=merchants.qr_svg(link) if link else "", **_common(page))


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(page: PageDep, request_id: Id) -> Response:
    return _guarded(page, _request, request_id)


@router.post("/requests/{request_id}/pay")
def request_pay(page: PageDep, request_id: Id) -> Response:
    who = page.customer()
    try:
        p = collections.pay(page.deps, who, request_id)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _guarded(page, _request, request_id, exc)
    return RedirectResponse(f"/payments/{p.id}", status_code=303)


@router.post("/requests/{request_id}/decline")
def request_decline(page: PageDep, request_id: Id) -> Response:
    return _close(page, request_id, collections.decline)


@router.post("/requests/{request_id}/cancel")
def request_cancel(page: PageDep, request_id: Id) -> Response:
    return _close(page, request_id, collections.cancel)


def _close(page: Page, request_id: str, action: Callable[..., Any]) -> Response:
    who = page.customer()
    try:
        action(page.deps, who, request_id)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _guarded(page, _request, request_id, exc)
    return RedirectResponse(f"/requests/{request_id}", status_code=303)


# --- the public checkout page (a link request or a merchant's order) ---------------------------


def _checkout(page: Page, token: str, exc: PlatformError | None = None) -> Response:
    view = collections.by_link(page.deps, token)
    return render.form(page, "checkout.html", exc, view=view, r=view.request, token=token,
                       signed_in=page.principal is not None, **_common(page))


@router.get("/checkout/{token}", response_class=HTMLResponse)
def checkout_page(page: PageDep, token: Annotated[str, Path(max_length=64)]) -> Response:
    return _guarded(page, _checkout, token)


@router.post("/checkout/{token}/pay")
def checkout_pay(page: PageDep, token: Annotated[str, Path(max_length=64)]) -> Response:
    who = page.customer()
    try:
        view = collections.by_link(page.deps, token)
        p = collections.pay(page.deps, who, view.request.id, token=token)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _guarded(page, _checkout, token, exc)
    return RedirectResponse(f"/payments/{p.id}", status_code=303)


# --- the merchant console ------------------------------------------------------------------------


def _console(page: Page, org_id: str, offset: int, values: Mapping[str, str],
             exc: PlatformError | None = None) -> Response:
    who = page.customer()
    org, role = orgs.get_org(page.deps, who, org_id)
    try:
        m = merchants.account(page.deps, who, org_id)
    except PlatformError as missing:
        if missing.err is not Err.NO_MERCHANT:
            raise
        return render.form(page, "merchant.html", exc, org=org, role=role, merchant=None,
                           values=values, may=_may(role), **_common(page))
    items, total = merchants.orders(page.deps, who, org_id, limit=PAGE_SIZE, offset=offset)
    day = _day(page)
    return render.form(page, "merchant.html", exc, org=org, role=role, merchant=m,
                       orders=items, total=total, offset=offset, page_size=PAGE_SIZE,
                       values=values, day=day, may=_may(role), **_common(page))


def _may(role: OrgRole) -> dict[str, bool]:
    """Which of the console's forms the reader's role may use (the services check again)."""
    return {"manage": org_allows(role, Perm.ORG_MANAGE),
            "pay": org_allows(role, Perm.PAY_INITIATE)}


def _checkout_blank() -> dict[str, str]:
    return {"name": "", "order_ref": "", "currency": "USD", "amount": "", "description": ""}


@router.get("/org/{org_id}/merchant", response_class=HTMLResponse)
def merchant_console(page: PageDep, org_id: Id, offset: Offset = 0) -> Response:
    return _guarded(page, _console, org_id, offset, _checkout_blank())


@router.post("/org/{org_id}/merchant")
def merchant_open(page: PageDep, org_id: Id, name: Text = "") -> Response:
    who = page.customer()
    try:
        merchants.open_account(page.deps, who, org_id, name)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _guarded(page, _console, org_id, 0, {**_checkout_blank(), "name": name}, exc)
    return RedirectResponse(f"/org/{org_id}/merchant", status_code=303)


@router.post("/org/{org_id}/merchant/checkouts")
def merchant_checkout(page: PageDep, org_id: Id, order_ref: Text = "", currency: Text = "",
                      amount: Text = "", description: Text = "") -> Response:
    who = page.customer()
    try:
        r, _ = merchants.create_checkout(page.deps, who, org_id, order_ref=order_ref,
                                         currency=currency, amount=amount,
                                         description=description)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        values = {"name": "", "order_ref": order_ref, "currency": currency, "amount": amount,
                  "description": description}
        return _guarded(page, _console, org_id, 0, values,
                        _renamed(exc, {"reference": "order_ref"}))
    return RedirectResponse(f"/org/{org_id}/merchant/orders/{r.id}", status_code=303)


def _order(page: Page, org_id: str, order_id: str, values: Mapping[str, str],
           exc: PlatformError | None = None) -> Response:
    who = page.customer()
    org, role = orgs.get_org(page.deps, who, org_id)
    r, refunds = merchants.order(page.deps, who, org_id, order_id)
    link = str(page.request.base_url).rstrip("/") + merchants.checkout_path(r)
    refunded = sum(x.amount_minor for x in refunds if x.state != "failed")
    return render.form(page, "merchant_order.html", exc, org=org, role=role, r=r,
                       refunds=refunds, link=link, qr=merchants.qr_svg(link),
                       left_minor=r.amount_minor - refunded if r.status == "paid" else 0,
                       values={**values, "key": page.form_key(values)}, may=_may(role),
                       **_common(page))


@router.get("/org/{org_id}/merchant/orders/{order_id}", response_class=HTMLResponse)
def merchant_order(page: PageDep, org_id: Id, order_id: Id) -> Response:
    return _guarded(page, _order, org_id, order_id, {"amount": "", "reason": ""})


@router.post("/org/{org_id}/merchant/orders/{order_id}/refunds")
def merchant_refund(page: PageDep, org_id: Id, order_id: Id, amount: Text = "",
                    reason: Text = "", key: Text = "") -> Response:
    who = page.customer()
    try:
        merchants.refund(page.deps, who, org_id, order_id, amount=amount, reason=reason,
                         idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _guarded(page, _order, org_id, order_id,
                        {"amount": amount, "reason": reason, "key": key}, exc)
    return RedirectResponse(f"/org/{org_id}/merchant/orders/{order_id}", status_code=303)


def _settlement(page: Page, org_id: str, day: str) -> Response:
    who = page.customer()
    org, role = orgs.get_org(page.deps, who, org_id)
    s = merchants.settlement(page.deps, who, org_id, day)
    return render.html(page, "merchant_settlement.html", org=org, role=role, s=s, day=s.day)


@router.get("/org/{org_id}/merchant/settlement", response_class=HTMLResponse)
def merchant_settlement(page: PageDep, org_id: Id,
                        day: Annotated[str, Query(max_length=10)] = "") -> Response:
    return _guarded(page, _settlement, org_id, day)


@router.get("/org/{org_id}/merchant/settlement.csv")
def merchant_settlement_csv(page: PageDep, org_id: Id,
                            day: Annotated[str, Query(max_length=10)] = "") -> Response:
    who = page.customer()
    try:
        s = merchants.settlement(page.deps, who, org_id, day)
    except PlatformError as exc:
        return _refused(page, exc)
    return Response(merchants.settlement_csv(s), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="settlement-{s.day}.csv"'})
