"""Withdrawals: money from the customer's wallet to their bank account. The form asks for
the amount, the currency and the account (holder's name, account number or IBAN, country,
bank code); the list shows each withdrawal's state with the account masked. The same
services as POST and GET /v1/withdrawals; the form carries an idempotency key made when it
was shown, so a double click or a resent form withdraws once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import money
from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import withdrawals
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Text = Annotated[str, Form(max_length=100)]
WithdrawalId = Annotated[str, Path(max_length=64)]
PAGE_SIZE = 20
# The service's field names as this form names them (so the error summary links to them).
FORM_FIELDS = {"bank.name": "bank_name", "bank.account": "bank_account",
               "bank.country": "bank_country", "bank.bank_code": "bank_code"}
BLANK = {"currency": "USD", "amount": "", "bank_name": "", "bank_account": "",
         "bank_country": "", "bank_code": ""}


def _page(page: Page, values: dict[str, str], offset: int,
          exc: PlatformError | None = None) -> Response:
    """The form (a fresh idempotency key, unless shown again after a refusal: then the key
    it was sent with) and the customer's withdrawals."""
    who = page.customer()
    items, total = withdrawals.list_withdrawals(page.deps, who, limit=PAGE_SIZE,
                                                offset=offset)
    if exc is not None and exc.fields:
        exc = PlatformError(exc.err, exc.message,
                            {FORM_FIELDS.get(k, k): v for k, v in exc.fields.items()})
    key = page.form_key(values)
    return render.form(page, "withdrawals.html", exc, values={**values, "key": key},
                       currencies=money.CURRENCIES, withdrawals=items, total=total,
                       offset=offset, page_size=PAGE_SIZE)


@router.get("/withdrawals", response_class=HTMLResponse)
def withdrawal_list(page: PageDep,
                    offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> Response:
    return _page(page, dict(BLANK), offset)


@router.post("/withdrawals")
def withdraw(page: PageDep, currency: Text = "USD", amount: Text = "", bank_name: Text = "",
             bank_account: Text = "", bank_country: Text = "", bank_code: Text = "",
             key: Text = "") -> Response:
    who = page.customer()
    values = {"currency": currency, "amount": amount.strip(), "bank_name": bank_name,
              "bank_account": bank_account, "bank_country": bank_country,
              "bank_code": bank_code, "key": key}
    bank = {"name": bank_name, "account": bank_account, "country": bank_country,
            "bank_code": bank_code}
    try:
        w = withdrawals.create(page.deps, who, currency=currency, amount=values["amount"],
                               bank=bank, idempotency_key=key or None)
    except PlatformError as exc:
        return _page(page, values, 0, exc)
    return RedirectResponse(f"/withdrawals/{w.id}", status_code=303)


@router.get("/withdrawals/{withdrawal_id}", response_class=HTMLResponse)
def withdrawal_detail(page: PageDep, withdrawal_id: WithdrawalId) -> Response:
    who = page.customer()
    w = withdrawals.get(page.deps, who, withdrawal_id)
    return render.html(page, "withdrawal.html", withdrawal=w,
                       steps=render.steps(w.history))
