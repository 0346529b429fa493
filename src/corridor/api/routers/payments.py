"""Payments (P1, P7): preview, create-and-confirm with an Idempotency-Key, read, list,
cancel before submission, and the receipt with the chain's inclusion proof."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, LimiterDep, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import money
from corridor.platform.domain.errors import Kind, PlatformError
from corridor.platform.domain.payments import Payment, RecipientType
from corridor.platform.domain.rails import Withdrawal, WithdrawalStatus
from corridor.platform.services import payment_reads, payments, withdrawals
from corridor.platform.services.payments import PaymentRequest, Preview

router = APIRouter(route_class=JsonRoute, tags=["payments"])

PaymentId = Annotated[str, Path(max_length=64)]
TEXT_MAX = 200
# Looking a recipient up (a preview naming a customer or a chain address; a creation the
# recipient's details make fail) is counted per user: a sender checks a few recipients a
# minute, an enumeration thousands (issue 14, item 8).
LOOKUP_BUCKET = "recipient-lookup"
LOOKUPS_PER_MINUTE_MAX = 20
MINUTE = 60.0
_LOOKUP_REFUSALS = frozenset({"RECIPIENT_NOT_FOUND", "RECIPIENT_CANNOT_RECEIVE"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecipientIn(Strict):
    type: str = Field(max_length=16, description="user | address | external")
    email: str | None = Field(default=None, max_length=TEXT_MAX)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=80)
    name: str | None = Field(default=None, max_length=TEXT_MAX)
    iban: str | None = Field(default=None, max_length=50)
    account_number: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=8)
    bank_code: str | None = Field(default=None, max_length=30)


class PaymentIn(Strict):
    recipient: RecipientIn
    quote_id: str | None = Field(default=None, max_length=64,
                                 description="A firm quote (cross-currency payments).")
    asset: str | None = Field(default=None, max_length=12,
                              description="Same-currency payments: the currency ...")
    amount: str | None = Field(default=None, max_length=40,
                               description="... and what the recipient receives.")
    memo: str = Field(default="", max_length=payments.MEMO_LEN_MAX)
    org_id: str | None = Field(default=None, max_length=64)
    purpose: str | None = Field(
        default=None, max_length=4,
        description="ISO 20022 purpose code: GDDS goods, SCVE services, SUPP supplier, "
        "SALA salary, FAMI family, EDUC education, GIFT, OTHR. A trade or service purpose "
        "abroad from the configured amount holds the payment for supporting documents.")

    def request(self) -> PaymentRequest:
        return PaymentRequest(
            recipient={k: str(v) for k, v in self.recipient.model_dump().items()
                       if v is not None},
            quote_id=self.quote_id, asset=self.asset, amount=self.amount, memo=self.memo,
            org_id=self.org_id, purpose=self.purpose)


class PreviewOut(BaseModel):
    kind: str
    sell_asset: str
    sell_amount: str  # total cost, fee included
    fee: str
    buy_asset: str
    buy_amount: str  # amount received
    price: str
    quote_id: str | None
    quote_expires_ms: int | None
    recipient_type: str
    recipient_name: str
    recipient_address: str | None
    expected_arrival_ms: int

    @classmethod
    def of(cls, p: Preview) -> PreviewOut:
        return cls(kind=p.kind, sell_asset=p.sell_code,
                   sell_amount=money.format_minor(p.sell_amount_minor, p.sell_code),
                   fee=money.format_minor(p.fee_minor, p.sell_code), buy_asset=p.buy_code,
                   buy_amount=money.format_minor(p.buy_amount_minor, p.buy_code),
                   price=p.price, quote_id=p.quote_id, quote_expires_ms=p.quote_expires_ms,
                   recipient_type=p.recipient.type, recipient_name=p.recipient.name,
                   recipient_address=p.recipient.address,
                   expected_arrival_ms=p.expected_arrival_ms)


class HistoryEntry(BaseModel):
    status: str
    at_ms: int


# A payout record is a withdrawal (no burn of its own): `burned` only means not asked yet.
_PAYOUT_SHOWN: dict[str, str] = {WithdrawalStatus.BURNED: "pending"}


class PayoutOut(BaseModel):
    """The bank payout of a payment to an external recipient: pending -> payout_requested
    -> paid; a failed or returned payout -> reversing (the payment's refund queued) ->
    reversed (the refund committed)."""

    id: str
    status: str
    rail: str
    asset: str
    amount: str
    rail_ref: str | None
    reason_code: str | None
    reason_message: str | None
    history: list[HistoryEntry]
    updated_ms: int

    @classmethod
    def of(cls, w: Withdrawal) -> PayoutOut:
        return cls(id=w.id, status=_PAYOUT_SHOWN.get(w.status, w.status), rail=w.rail,
                   asset=w.currency, amount=money.format_minor(w.amount_minor, w.currency),
                   rail_ref=w.rail_ref, reason_code=w.reason_code,
                   reason_message=w.reason_message,
                   history=[HistoryEntry(status=_PAYOUT_SHOWN.get(h.status, h.status),
                                         at_ms=h.at_ms) for h in w.history],
                   updated_ms=w.updated_ms)


class PaymentOut(BaseModel):
    id: str
    uetr: str
    kind: str
    status: str
    owner_type: str
    owner_id: str
    sell_asset: str
    sell_amount: str
    fee: str
    buy_asset: str
    buy_amount: str
    price: str
    purpose: str | None = None
    recipient_type: str
    recipient_name: str
    recipient_address: str | None
    memo: str
    quote_id: str | None
    history: list[HistoryEntry]
    tx_id: str | None
    height: int | None
    reason_code: str | None
    reason_message: str | None
    expected_arrival_ms: int
    created_ms: int
    updated_ms: int
    payout: PayoutOut | None = Field(
        default=None, description="An external recipient's bank payout, once asked for "
        "(shown when one payment is read).")

    @classmethod
    def of(cls, p: Payment, payout: Withdrawal | None = None) -> PaymentOut:
        out = cls.model_validate(payments.event_view(p))
        out.payout = PayoutOut.of(payout) if payout is not None else None
        return out


class PaymentList(BaseModel):
    items: list[PaymentOut]
    limit: int
    offset: int


def _lookup(limiter: LimiterDep, who: PrincipalDep) -> None:
    limiter.hit(LOOKUP_BUCKET, who.user_id, LOOKUPS_PER_MINUTE_MAX, MINUTE)


@router.post("/payments/preview", response_model=PreviewOut)
def preview_payment(body: PaymentIn, deps: DepsDep, who: PrincipalDep,
                    limiter: LimiterDep) -> PreviewOut:
    """What the payment will cost and deliver, and when, checked but not made. A customer
    recipient is shown as typed, masked (their registered name once the payment is
    made), whether or not the details match anyone; previews that look a recipient up
    are limited per user (429 RATE_LIMITED). A request refused as malformed (an amount, a
    field) looked nobody up and does not count; any other answer, made or refused, does,
    and over the limit it is 429 instead, telling nothing."""
    looks_up = body.recipient.type in (RecipientType.USER, RecipientType.ADDRESS)
    try:
        preview = payments.preview(deps, who, body.request())
    except PlatformError as exc:
        if looks_up and exc.kind is not Kind.INVALID:
            _lookup(limiter, who)
        raise
    if looks_up:
        _lookup(limiter, who)
    return PreviewOut.of(preview)


@router.post("/payments", response_model=PaymentOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "A retry: the payment its key made first."}})
def create_payment(body: PaymentIn, deps: DepsDep, who: PrincipalDep, response: Response,
                   limiter: LimiterDep,
                   idempotency_key: IdempotencyKey = None,
                   ) -> PaymentOut:
    """Creates, confirms and submits a payment. `Idempotency-Key` is required: a retry with
    the same key and body returns the first payment (200); another body, 409. A refusal
    for the recipient's details counts as a lookup (see the preview)."""
    try:
        p, created = payments.create(deps, who, body.request(), idempotency_key)
    except PlatformError as exc:
        if exc.code in _LOOKUP_REFUSALS:
            _lookup(limiter, who)  # over the limit: RATE_LIMITED instead
        raise
    if not created:
        response.status_code = status.HTTP_200_OK
    return PaymentOut.of(p)


@router.get("/payments", response_model=PaymentList)
def list_payments(deps: DepsDep, who: PrincipalDep,
                  limit: Annotated[int, Query(ge=1, le=payments.PAGE_MAX)] = 50,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                  org_id: Annotated[str | None, Query(max_length=64)] = None) -> PaymentList:
    """The caller's (or an organisation's) payments, newest first."""
    items = payment_reads.list_sent(deps, who, org_id=org_id, limit=limit, offset=offset)
    return PaymentList(items=[PaymentOut.of(p) for p in items], limit=limit, offset=offset)


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def get_payment(payment_id: PaymentId, deps: DepsDep, who: PrincipalDep) -> PaymentOut:
    p = payment_reads.get(deps, who, payment_id)  # checks the caller may read it
    payout = (withdrawals.payout_of_payment(deps, p.id)
              if p.recipient_type == RecipientType.EXTERNAL else None)
    return PaymentOut.of(p, payout)


@router.post("/payments/{payment_id}/cancel", response_model=PaymentOut)
def cancel_payment(payment_id: PaymentId, deps: DepsDep, who: PrincipalDep) -> PaymentOut:
    """Cancels a payment that has not been submitted to the chain."""
    return PaymentOut.of(payment_reads.cancel(deps, who, payment_id))


@router.get("/payments/{payment_id}/receipt")
def payment_receipt(payment_id: PaymentId, deps: DepsDep, who: PrincipalDep) -> dict[str, Any]:
    """The receipt: amounts, rate, fee, timestamps, the transaction and its inclusion proof."""
    return payment_reads.receipt(deps, who, payment_id)
