"""Firm FX quotes (F2, SEP-38 semantics): price and fee held until `expires_ms`, single use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import money
from corridor.platform.domain.payments import Quote
from corridor.platform.services import quotes

router = APIRouter(route_class=JsonRoute, tags=["quotes"])

AMOUNT_TEXT_LEN_MAX = 40


class QuoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sell_asset: str = Field(max_length=12)
    buy_asset: str = Field(max_length=12)
    sell_amount: str | None = Field(default=None, max_length=AMOUNT_TEXT_LEN_MAX,
                                    description="What leaves your wallet, fee included.")
    buy_amount: str | None = Field(default=None, max_length=AMOUNT_TEXT_LEN_MAX,
                                   description="What the recipient receives.")
    org_id: str | None = Field(default=None, max_length=64)


class FeePart(BaseModel):
    name: str
    amount: str


class QuoteOut(BaseModel):
    id: str
    sell_asset: str
    buy_asset: str
    sell_amount: str  # total cost, fee included
    buy_amount: str  # amount received
    price: str  # buy units per sell unit, after the spread
    fee: str  # in the sell asset
    fee_breakdown: list[FeePart]
    rate_source: str
    expires_ms: int
    status: str
    payment_id: str | None
    created_ms: int

    @classmethod
    def of(cls, q: Quote) -> QuoteOut:
        def sell(minor: int) -> str:
            return money.format_minor(minor, q.sell_code)

        return cls(id=q.id, sell_asset=q.sell_code, buy_asset=q.buy_code,
                   sell_amount=sell(q.sell_amount_minor),
                   buy_amount=money.format_minor(q.buy_amount_minor, q.buy_code),
                   price=q.price, fee=sell(q.fee_minor),
                   fee_breakdown=[FeePart(name=f.name, amount=sell(f.amount_minor))
                                  for f in q.fee_breakdown],
                   rate_source=q.rate_source, expires_ms=q.expires_ms, status=q.status,
                   payment_id=q.payment_id, created_ms=q.created_ms)


@router.post("/quotes", response_model=QuoteOut, status_code=status.HTTP_201_CREATED)
def create_quote(body: QuoteIn, deps: DepsDep, who: PrincipalDep,
                 idempotency_key: IdempotencyKey = None) -> QuoteOut:
    """A firm quote: give exactly one of sell_amount and buy_amount (major units, text).
    `Idempotency-Key` is required: a retry with the same key returns the same quote."""
    q = quotes.create(deps, who, sell_asset=body.sell_asset, buy_asset=body.buy_asset,
                      sell_amount=body.sell_amount, buy_amount=body.buy_amount,
                      org_id=body.org_id, idempotency_key=idempotency_key)
    return QuoteOut.of(q)


@router.get("/quotes/{quote_id}", response_model=QuoteOut)
def get_quote(quote_id: Annotated[str, Path(max_length=64)], deps: DepsDep,
              who: PrincipalDep) -> QuoteOut:
    return QuoteOut.of(quotes.get(deps, who, quote_id))
