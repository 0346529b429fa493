"""Deposits ("recharge", F1): instructions to pay the platform's collection account, then
the money minted to the customer's wallet once the rail reports it. Org deposits need
the pay.initiate permission in the organisation; any member may read them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import money
from corridor.platform.domain import rails as dom
from corridor.platform.domain.rails import Deposit
from corridor.platform.domain.steps import steps_json
from corridor.platform.services import deposits

router = APIRouter(route_class=JsonRoute, tags=["deposits"])

OrgId = Annotated[str, Path(max_length=64)]
ItemId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=dom.PAGE_OFFSET_MAX)]
AMOUNT_TEXT_LEN_MAX = 40


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DepositIn(Strict):
    currency: str = Field(min_length=1, max_length=12, examples=["USD"])
    amount: str = Field(min_length=1, max_length=AMOUNT_TEXT_LEN_MAX, examples=["250.00"],
                        description="In major units, as text (never a float).")


class InstructionsOut(BaseModel):
    """Pay this amount into this account, quoting this reference exactly."""

    bank_name: str
    account_name: str
    account: str
    bank_code: str
    country: str
    currency: str
    amount: str
    reference: str


class DepositOut(BaseModel):
    id: str
    uetr: str
    owner_type: str
    owner_id: str
    wallet_id: str
    status: str
    currency: str
    amount: str
    amount_minor: int
    received: str | None
    reference: str
    instructions: InstructionsOut
    history: list[dict[str, Any]]
    tx_id: str | None
    height: int | None
    reason_code: str | None
    reason_message: str | None
    note: str | None
    expires_ms: int
    created_ms: int
    updated_ms: int

    @classmethod
    def of(cls, d: Deposit) -> DepositOut:
        amount = money.format_minor(d.amount_minor, d.currency)
        return cls(
            id=d.id, uetr=d.uetr, owner_type=d.owner_type, owner_id=d.owner_id,
            wallet_id=d.wallet_id, status=d.status, currency=d.currency, amount=amount,
            amount_minor=d.amount_minor,
            received=None if d.received_minor is None
            else money.format_minor(d.received_minor, d.currency),
            reference=d.reference,
            instructions=InstructionsOut(**{**d.instructions, "amount": amount,
                                            "reference": d.reference}),
            history=steps_json(d.history), tx_id=d.tx_id, height=d.height,
            reason_code=d.reason_code,
            reason_message=d.reason_message, note=d.note, expires_ms=d.expires_ms,
            created_ms=d.created_ms, updated_ms=d.updated_ms)


class DepositPage(BaseModel):
    items: list[DepositOut]
    total: int
    limit: int
    offset: int


@router.post("/deposits", response_model=DepositOut, status_code=status.HTTP_201_CREATED)
def create_deposit(body: DepositIn, deps: DepsDep, who: PrincipalDep,
                   idempotency_key: IdempotencyKey = None) -> DepositOut:
    """Instructions for a bank transfer to your wallet. Send an `Idempotency-Key`: a retry
    with the same key and body returns the same deposit."""
    return DepositOut.of(deposits.create(deps, who, currency=body.currency, amount=body.amount,
                                         idempotency_key=idempotency_key))


@router.get("/deposits", response_model=DepositPage)
def my_deposits(deps: DepsDep, who: PrincipalDep, limit: Limit = 50,
                offset: Offset = 0) -> DepositPage:
    items, total = deposits.list_deposits(deps, who, limit=limit, offset=offset)
    return DepositPage(items=[DepositOut.of(d) for d in items], total=total, limit=limit,
                       offset=offset)


@router.get("/deposits/{deposit_id}", response_model=DepositOut)
def get_deposit(deposit_id: ItemId, deps: DepsDep, who: PrincipalDep) -> DepositOut:
    return DepositOut.of(deposits.get(deps, who, deposit_id))


@router.post("/orgs/{org_id}/deposits", response_model=DepositOut,
             status_code=status.HTTP_201_CREATED)
def create_org_deposit(org_id: OrgId, body: DepositIn, deps: DepsDep, who: PrincipalDep,
                       idempotency_key: IdempotencyKey = None) -> DepositOut:
    """A deposit to the organisation's wallet (pay.initiate)."""
    return DepositOut.of(deposits.create(deps, who, currency=body.currency, amount=body.amount,
                                         idempotency_key=idempotency_key, org_id=org_id))


@router.get("/orgs/{org_id}/deposits", response_model=DepositPage)
def org_deposits(org_id: OrgId, deps: DepsDep, who: PrincipalDep, limit: Limit = 50,
                 offset: Offset = 0) -> DepositPage:
    items, total = deposits.list_deposits(deps, who, org_id=org_id, limit=limit,
                                          offset=offset)
    return DepositPage(items=[DepositOut.of(d) for d in items], total=total, limit=limit,
                       offset=offset)
