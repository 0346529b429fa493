"""Collections and merchants (issue 17): payment requests (to a customer or by link), the
payer's inbox and one-step payment, decline and cancel; an organisation's merchant
account, checkout links with QR codes, orders, refunds and the daily settlement report.
The public checkout page is the web console's (/checkout/{token}); its API twin needs a
session (paying needs one)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.api.routers.payments import PaymentOut
from corridor.platform.domain import collections as dom
from corridor.platform.domain import merchants as mdom
from corridor.platform.domain.collections import CollectionRequest, NewRequest
from corridor.platform.domain.merchants import Merchant, MerchantRefund
from corridor.platform.domain.money import format_minor
from corridor.platform.services import collections, merchants

router = APIRouter(route_class=JsonRoute, tags=["collections"])

Id = Annotated[str, Path(max_length=64)]
Token = Annotated[str, Path(max_length=64)]


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: str = Field(max_length=8)
    amount: str = Field(max_length=32, description="major units, exact decimal text")
    due_date: str = Field(max_length=10, description="YYYY-MM-DD (UTC)")
    reference: str = Field(max_length=dom.REFERENCE_LEN_MAX * 2)
    description: str = Field(default="", max_length=dom.DESCRIPTION_LEN_MAX * 2)
    payer_email: str | None = Field(default=None, max_length=254)
    payer_phone: str | None = Field(default=None, max_length=32)
    link: bool = Field(default=False, description="anyone with the link may pay (no payer)")
    org_id: str | None = Field(default=None, max_length=64)


class RequestOut(BaseModel):
    id: str
    requester_type: str
    requester_id: str
    requester_name: str | None = None
    channel: str
    payer_contact: str
    merchant_id: str | None
    reference: str
    description: str
    currency: str
    amount: str
    amount_minor: int
    due_ms: int
    status: str
    payment_id: str | None
    paid_ms: int | None
    settled_ms: int | None
    matched: bool
    mismatch_payment_id: str | None
    mismatch_note: str | None
    link_path: str | None  # for the requester: the page anyone with the link may pay on
    created_ms: int
    updated_ms: int

    @classmethod
    def of(cls, r: CollectionRequest, *, name: str | None = None,
           requester: bool = False) -> RequestOut:
        path = None
        if requester and r.channel == dom.Channel.LINK:
            path = f"/checkout/{r.link_token}"
        v = collections.event_view(r)
        keep = {k: v[k] for k in cls.model_fields if k in v}
        return cls(**keep, requester_name=name, link_path=path)


class RequestList(BaseModel):
    items: list[RequestOut]
    total: int


class PayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: str | None = Field(default=None, max_length=64, description="pay from this "
                               "organisation's wallet (else your own)")
    token: str | None = Field(default=None, max_length=64, description="a link request's")


@router.post("/collections/requests", response_model=RequestOut,
             status_code=status.HTTP_201_CREATED)
def create_request(body: RequestIn, deps: DepsDep, who: PrincipalDep) -> RequestOut:
    """Asks a customer (by e-mail or phone) or anyone with the link for money. Idempotent
    on the reference (unique per requester): the same request again returns the first."""
    new = NewRequest(currency=body.currency, amount=body.amount, due_date=body.due_date,
                     reference=body.reference, description=body.description,
                     payer_email=body.payer_email, payer_phone=body.payer_phone)
    r, _ = collections.create(deps, who, new, org_id=body.org_id, link=body.link)
    return RequestOut.of(r, requester=True)


@router.get("/collections/requests", response_model=RequestList)
def sent_requests(deps: DepsDep, who: PrincipalDep,
                  org_id: Annotated[str | None, Query(max_length=64)] = None,
                  limit: Annotated[int, Query(ge=1, le=dom.PAGE_MAX)] = 50,
                  offset: Annotated[int, Query(ge=0)] = 0) -> RequestList:
    """The requests you (or the organisation) made, newest first."""
    items, total = collections.sent(deps, who, org_id=org_id, limit=limit, offset=offset)
    return RequestList(items=[RequestOut.of(r, requester=True) for r in items], total=total)


@router.get("/collections/incoming", response_model=RequestList)
def incoming_requests(deps: DepsDep, who: PrincipalDep,
                      limit: Annotated[int, Query(ge=1, le=dom.PAGE_MAX)] = 50,
                      offset: Annotated[int, Query(ge=0)] = 0) -> RequestList:
    """Requests addressed to you, newest first."""
    items, total = collections.incoming(deps, who, limit=limit, offset=offset)
    return RequestList(items=[RequestOut.of(v.request, name=v.requester_name)
                              for v in items], total=total)


@router.get("/collections/requests/{request_id}", response_model=RequestOut)
def get_request(request_id: Id, deps: DepsDep, who: PrincipalDep) -> RequestOut:
    v = collections.get(deps, who, request_id)
    mine = v.request.payer_user_id != who.user_id
    return RequestOut.of(v.request, name=v.requester_name, requester=mine)


@router.get("/collections/links/{token}", response_model=RequestOut)
def get_by_link(token: Token, deps: DepsDep, who: PrincipalDep) -> RequestOut:
    """A link request (or a merchant's checkout) as its link shows it."""
    v = collections.by_link(deps, token)
    return RequestOut.of(v.request, name=v.requester_name)


@router.post("/collections/requests/{request_id}/pay", response_model=PaymentOut,
             status_code=status.HTTP_201_CREATED)
def pay_request(request_id: Id, body: PayIn, deps: DepsDep, who: PrincipalDep) -> PaymentOut:
    """Pays the request in one step (its amount and currency, the fee on top, its
    reference as the memo). Exactly once: a second payer is refused."""
    p = collections.pay(deps, who, request_id, org_id=body.org_id, token=body.token)
    return PaymentOut.of(p)


@router.post("/collections/requests/{request_id}/decline", response_model=RequestOut)
def decline_request(request_id: Id, deps: DepsDep, who: PrincipalDep) -> RequestOut:
    return RequestOut.of(collections.decline(deps, who, request_id))


@router.post("/collections/requests/{request_id}/cancel", response_model=RequestOut)
def cancel_request(request_id: Id, deps: DepsDep, who: PrincipalDep) -> RequestOut:
    return RequestOut.of(collections.cancel(deps, who, request_id), requester=True)


# --- merchants ----------------------------------------------------------------------------------


class MerchantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=mdom.NAME_LEN_MAX * 2)


class MerchantOut(BaseModel):
    id: str
    org_id: str
    name: str
    created_ms: int

    @classmethod
    def of(cls, m: Merchant) -> MerchantOut:
        return cls(id=m.id, org_id=m.org_id, name=m.name, created_ms=m.created_ms)


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_ref: str = Field(max_length=dom.REFERENCE_LEN_MAX * 2)
    currency: str = Field(max_length=8)
    amount: str = Field(max_length=32)
    description: str = Field(default="", max_length=dom.DESCRIPTION_LEN_MAX * 2)
    due_date: str | None = Field(default=None, max_length=10)


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: str = Field(max_length=32, description="major units; at most what is left")
    reason: str = Field(default="", max_length=mdom.REASON_LEN_MAX * 2)


class RefundOut(BaseModel):
    id: str
    order_id: str
    currency: str
    amount: str
    amount_minor: int
    reason: str
    state: str
    payment_id: str | None
    fee: str
    created_ms: int

    @classmethod
    def of(cls, r: MerchantRefund) -> RefundOut:
        return cls(id=r.id, order_id=r.request_id, currency=r.currency,
                   amount=format_minor(r.amount_minor, r.currency),
                   amount_minor=r.amount_minor, reason=r.reason, state=r.state,
                   payment_id=r.payment_id, fee=format_minor(r.fee_minor, r.currency),
                   created_ms=r.created_ms)


class OrderOut(BaseModel):
    order: RequestOut
    refunds: list[RefundOut]


class LineOut(BaseModel):
    currency: str
    orders: int
    gross: str
    refunds: int
    refunded: str
    fees: str
    net: str


class SettlementOut(BaseModel):
    merchant_id: str
    day: str
    lines: list[LineOut]


@router.post("/orgs/{org_id}/merchant", response_model=MerchantOut,
             status_code=status.HTTP_201_CREATED)
def open_merchant(org_id: Id, body: MerchantIn, deps: DepsDep, who: PrincipalDep
                  ) -> MerchantOut:
    """The organisation's merchant account (one; the same again returns it)."""
    m, _ = merchants.open_account(deps, who, org_id, body.name)
    return MerchantOut.of(m)


@router.get("/orgs/{org_id}/merchant", response_model=MerchantOut)
def get_merchant(org_id: Id, deps: DepsDep, who: PrincipalDep) -> MerchantOut:
    return MerchantOut.of(merchants.account(deps, who, org_id))


@router.post("/orgs/{org_id}/merchant/checkouts", response_model=RequestOut,
             status_code=status.HTTP_201_CREATED)
def create_checkout(org_id: Id, body: CheckoutIn, deps: DepsDep, who: PrincipalDep
                    ) -> RequestOut:
    """A checkout link for an order (idempotent on the order reference)."""
    r, _ = merchants.create_checkout(deps, who, org_id, order_ref=body.order_ref,
                                     currency=body.currency, amount=body.amount,
                                     description=body.description, due_date=body.due_date)
    return RequestOut.of(r, requester=True)


@router.get("/orgs/{org_id}/merchant/orders", response_model=RequestList)
def list_orders(org_id: Id, deps: DepsDep, who: PrincipalDep,
                limit: Annotated[int, Query(ge=1, le=dom.PAGE_MAX)] = 50,
                offset: Annotated[int, Query(ge=0)] = 0) -> RequestList:
    items, total = merchants.orders(deps, who, org_id, limit=limit, offset=offset)
    return RequestList(items=[RequestOut.of(r, requester=True) for r in items], total=total)


@router.get("/orgs/{org_id}/merchant/orders/{order_id}", response_model=OrderOut)
def get_order(org_id: Id, order_id: Id, deps: DepsDep, who: PrincipalDep) -> OrderOut:
    r, refunds = merchants.order(deps, who, org_id, order_id)
    return OrderOut(order=RequestOut.of(r, requester=True),
                    refunds=[RefundOut.of(x) for x in refunds])


@router.get("/orgs/{org_id}/merchant/orders/{order_id}/qr.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def order_qr(org_id: Id, order_id: Id, deps: DepsDep, who: PrincipalDep,
             base: Annotated[str, Query(max_length=200)] = "") -> Response:
    """The checkout link as a QR code (SVG); `base`: the site's address to put before it."""
    r, _ = merchants.order(deps, who, org_id, order_id)
    svg = merchants.qr_svg(base.rstrip("/") + merchants.checkout_path(r))
    return Response(svg, media_type="image/svg+xml")


@router.post("/orgs/{org_id}/merchant/orders/{order_id}/refunds", response_model=RefundOut,
             status_code=status.HTTP_201_CREATED)
def refund_order(org_id: Id, order_id: Id, body: RefundIn, deps: DepsDep, who: PrincipalDep,
                 idempotency_key: IdempotencyKey = None) -> RefundOut:
    """Gives back part or all of a paid order to the wallet that paid it."""
    r = merchants.refund(deps, who, org_id, order_id, amount=body.amount, reason=body.reason,
                         idempotency_key=idempotency_key)
    return RefundOut.of(r)


@router.get("/orgs/{org_id}/merchant/settlement", response_model=SettlementOut,
            responses={200: {"content": {"text/csv": {}}}})
def settlement(org_id: Id, deps: DepsDep, who: PrincipalDep,
               day: Annotated[str, Query(max_length=10)],
               format: Annotated[str, Query(pattern="^(json|csv)$")] = "json") -> Any:
    """One UTC day's orders, refunds, fees and net per currency (JSON, or CSV)."""
    s = merchants.settlement(deps, who, org_id, day)
    if format == "csv":
        return Response(merchants.settlement_csv(s), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="settlement-{s.day}.csv"'})
    c = format_minor
    return SettlementOut(merchant_id=s.merchant.id, day=s.day, lines=[
        LineOut(currency=x.currency, orders=x.orders, gross=c(x.gross_minor, x.currency),
                refunds=x.refunds, refunded=c(x.refunds_minor, x.currency),
                fees=c(x.fees_minor, x.currency), net=c(x.net_minor, x.currency))
        for x in s.lines])
