"""Deposits ("recharge"): the customer chooses a currency and an amount and is given the
bank instructions with the reference to quote; the list shows each deposit's state. The
same services as POST and GET /v1/deposits; the form carries an idempotency key made when
it was shown, so a double click or a resent form starts one deposit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import money
from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import deposits
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Text = Annotated[str, Form(max_length=100)]
DepositId = Annotated[str, Path(max_length=64)]
PAGE_SIZE = 20


def _page(page: Page, values: dict[str, str], offset: int,
          exc: PlatformError | None = None) -> Response:
    """The form (with a fresh idempotency key unless it is shown again after a refusal,
    which keeps the key it was sent with) and the customer's deposits."""
    who = page.customer()
    items, total = deposits.list_deposits(page.deps, who, limit=PAGE_SIZE, offset=offset)
    key = page.form_key(values)
    return render.form(page, "deposits.html", exc, values={**values, "key": key},
                       currencies=money.CURRENCIES, deposits=items, total=total,
                       offset=offset, page_size=PAGE_SIZE)


@router.get("/deposits", response_class=HTMLResponse)
def deposit_list(page: PageDep,
                 offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> Response:
    return _page(page, {"currency": "USD", "amount": ""}, offset)


@router.post("/deposits")
def start(page: PageDep, currency: Text = "USD", amount: Text = "", key: Text = "") -> Response:
    who = page.customer()
    values = {"currency": currency, "amount": amount.strip(), "key": key}
    try:
        d = deposits.create(page.deps, who, currency=currency, amount=values["amount"],
                            idempotency_key=key or None)
    except PlatformError as exc:
        return _page(page, values, 0, exc)
    return RedirectResponse(f"/deposits/{d.id}", status_code=303)


@router.get("/deposits/{deposit_id}", response_class=HTMLResponse)
def deposit_detail(page: PageDep, deposit_id: DepositId) -> Response:
    who = page.customer()
    d = deposits.get(page.deps, who, deposit_id)
    return render.html(page, "deposit.html", deposit=d,
                       steps=render.steps(d.history))
