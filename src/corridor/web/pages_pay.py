"""Quote and pay: what to send and to whom, then the full cost (amount debited with the
fee, the fee, the rate, what the recipient receives, the quote's expiry) shown before
anything moves, then the payment. The same services as POST /v1/quotes,
/v1/payments/preview and /v1/payments; the confirmation carries an idempotency key made
when the cost was shown, so a double click or a resent form pays once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import money
from corridor.platform.domain.authenticity import Purpose
from corridor.platform.domain.errors import Err, Kind, PlatformError, Problems
from corridor.platform.domain.principal import Principal
from corridor.platform.services import payments, quotes
from corridor.platform.services.payments import PaymentRequest
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Text = Annotated[str, Form(max_length=400)]

# The API's lookup budget (api/routers/payments.py): previews and payments that look a
# recipient up, per user, counted in the same bucket whichever door is used.
LOOKUP_BUCKET, LOOKUPS_PER_MINUTE_MAX, MINUTE = "recipient-lookup", 20, 60.0


def _lookup(page: Page, who: Principal) -> None:
    page.request.app.state.limiter.hit(LOOKUP_BUCKET, who.user_id, LOOKUPS_PER_MINUTE_MAX,
                                       MINUTE)


def _values(recipient: str, send_currency: str, receive_currency: str, amount: str,
            memo: str, purpose: str = "") -> dict[str, str]:
    return {"recipient": recipient.strip(), "send_currency": send_currency,
            "receive_currency": receive_currency, "amount": amount.strip(),
            "memo": memo.strip(), "purpose": purpose.strip()}


# The services' field names as this form names them (so the error summary links to them).
FORM_FIELDS = {"sell_amount": "amount", "buy_amount": "amount", "sell_asset": "send_currency",
               "asset": "send_currency", "buy_asset": "receive_currency",
               "recipient.email": "recipient", "recipient.phone": "recipient"}


def _form(page: Page, values: dict[str, str], exc: PlatformError | None = None) -> Response:
    if exc is not None and exc.fields:
        fields = {FORM_FIELDS.get(k, k): v for k, v in exc.fields.items()}
        exc = PlatformError(exc.err, exc.message, fields)
    return render.form(page, "pay.html", exc, values=values, currencies=money.CURRENCIES,
                       purposes=tuple(Purpose))


@router.get("/pay", response_class=HTMLResponse)
def pay_form(page: PageDep) -> Response:
    page.customer()
    return _form(page, _values("", "USD", "CNY", "", ""))


def _request(page: Page, who: Principal, v: dict[str, str], quote_id: str) -> PaymentRequest:
    """The payment request the form describes; a cross-currency one gets a firm quote
    first (unless the confirmation names the one already shown)."""
    p = Problems()
    if not v["recipient"]:
        p.add("recipient", "required")
    if not v["amount"]:
        p.add("amount", "required")
    p.raise_if_any()
    recipient = {"type": "user",
                 ("email" if "@" in v["recipient"] else "phone"): v["recipient"]}
    purpose = v["purpose"] or None  # not stated: no purpose (the API's default)
    if v["send_currency"] == v["receive_currency"]:
        return PaymentRequest(recipient=recipient, asset=v["send_currency"],
                              amount=v["amount"], memo=v["memo"], purpose=purpose)
    if not quote_id:
        # Each review asks for a new firm quote: a key of its own (a reload is a new quote).
        quote_id = quotes.create(page.deps, who, sell_asset=v["send_currency"],
                                 buy_asset=v["receive_currency"], sell_amount=v["amount"],
                                 idempotency_key=page.deps.rand.token()).id
    return PaymentRequest(recipient=recipient, quote_id=quote_id, memo=v["memo"],
                          purpose=purpose)


@router.post("/pay/review")
def review(page: PageDep, recipient: Text = "", send_currency: Text = "USD",
           receive_currency: Text = "CNY", amount: Text = "", memo: Text = "",
           purpose: Text = "") -> Response:
    who = page.customer()
    values = _values(recipient, send_currency, receive_currency, amount, memo, purpose)
    try:
        req = _request(page, who, values, "")
        try:
            shown = payments.preview(page.deps, who, req)
        except PlatformError as exc:
            if exc.kind is not Kind.INVALID:
                _lookup(page, who)
            raise
        _lookup(page, who)
    except PlatformError as exc:
        return _form(page, values, exc)
    left_s = quote_seconds_left(shown.quote_expires_ms, page.deps.clock.now_ms())
    return render.html(page, "pay_review.html", values=values, preview=shown,
                       quote_id=req.quote_id or "", key=page.deps.rand.token(),
                       seconds_left=left_s)


def quote_seconds_left(expires_ms: int | None, now_ms: int) -> int | None:
    """Whole seconds the price still holds (the countdown's start, from the server's clock,
    so a wrong clock in the browser cannot stretch it); None: no quote (same currency)."""
    if expires_ms is None:
        return None
    return max(0, (expires_ms - now_ms) // 1000)


@router.post("/pay/confirm")
def confirm(page: PageDep, recipient: Text = "", send_currency: Text = "USD",
            receive_currency: Text = "CNY", amount: Text = "", memo: Text = "",
            quote_id: Text = "", key: Text = "", purpose: Text = "") -> Response:
    who = page.customer()
    values = _values(recipient, send_currency, receive_currency, amount, memo, purpose)
    try:
        if send_currency != receive_currency and not quote_id:
            raise Err.INVALID_REQUEST.error("the quote is missing")
        req = _request(page, who, values, quote_id)
        try:
            payment, _new = payments.create(page.deps, who, req, key)
        except PlatformError as exc:
            if exc.code in ("RECIPIENT_NOT_FOUND", "RECIPIENT_CANNOT_RECEIVE"):
                _lookup(page, who)
            raise
    except PlatformError as exc:
        return _form(page, values, exc)
    return RedirectResponse(f"/payments/{payment.id}", status_code=303)
