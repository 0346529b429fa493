"""A customer's money: the dashboard (wallets, balances per currency, verification state,
latest payments), the payment list and a payment's timeline with its on-chain proof.
Reads only, through the same services as the API's GET /v1/wallets, /v1/payments and
/v1/payments/{id}/receipt."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from corridor.platform.domain.payments import TERMINAL, Payment, PaymentStatus
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services import freezes, kyc, payment_reads, wallets
from corridor.web import pages_authenticity, pages_refunds, payment_approval, render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
PaymentId = Annotated[str, Path(max_length=64)]
PAGE_SIZE = 20
# States after which a payment waits for nobody: the timeline stops following it (credited
# may still lead to a refund, but only when someone asks for one).
AT_REST = TERMINAL | {PaymentStatus.CREDITED}
LATEST = 5  # payments on the dashboard


@dataclasses.dataclass(frozen=True, slots=True)
class Balance:
    code: str
    amount_minor: int
    wallet_label: str


def balances(views: list[wallets.WalletView]) -> list[Balance]:
    """Every currency held, per wallet, in currency order."""
    out = [Balance(h.code, h.balance_minor, v.wallet.label)
           for v in views if v.chain is not None for h in v.chain.holdings]
    return sorted(out, key=lambda b: (b.code, b.wallet_label))


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(page: PageDep) -> Response:
    who = page.customer()
    views, reached = wallets.list_wallets(page.deps, who)
    verification = kyc.get_customer(page.deps, who).record
    latest = payment_reads.list_sent(page.deps, who, limit=LATEST)
    frozen = freezes.state_of(page.deps, OwnerType.USER, who.user_id)
    return render.html(page, "dashboard.html", wallets=views, balances=balances(views),
                       node_reachable=reached, verification=verification, payments=latest,
                       frozen=frozen)


@router.get("/payments", response_class=HTMLResponse)
def payment_list(page: PageDep, offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> Response:
    who = page.customer()
    rows = payment_reads.list_sent(page.deps, who, limit=PAGE_SIZE + 1, offset=offset)
    return render.html(page, "payments.html", payments=rows[:PAGE_SIZE], offset=offset,
                       more=len(rows) > PAGE_SIZE, page_size=PAGE_SIZE)


def _timeline(page: Page, p: Payment) -> dict[str, Any]:
    return {"payment": p, "live": p.status not in AT_REST,
            "steps": render.steps(p.history)}


@router.get("/payments/{payment_id}", response_class=HTMLResponse)
def payment_detail(page: PageDep, payment_id: PaymentId) -> Response:
    who = page.customer()
    receipt = payment_reads.receipt(page.deps, who, payment_id)
    p = payment_reads.get(page.deps, who, payment_id)
    return render.html(page, "payment.html", receipt=receipt, proof=receipt.get("proof"),
                       **_timeline(page, p), **pages_refunds.payment_refunds(page, who, p),
                       **pages_authenticity.payment_documents(page, who, p),
                       **payment_approval.payment_approval(page, who, p))


@router.get("/payments/{payment_id}/timeline", response_class=HTMLResponse)
def payment_timeline(page: PageDep, payment_id: PaymentId) -> Response:
    """The timeline alone: what htmx swaps in while the payment is still moving (and a
    page of its own without JavaScript)."""
    who = page.customer()
    p = payment_reads.get(page.deps, who, payment_id)
    template = "timeline.html" if page.request.headers.get("hx-request") else "payment.html"
    extra: dict[str, Any] = {} if template == "timeline.html" else {"receipt": None,
                                                                     "proof": None}
    return render.html(page, template, **extra, **_timeline(page, p))

