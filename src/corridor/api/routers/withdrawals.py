"""Withdrawals (F3): a burn of the customer's tokens, then a payout to their bank account
by the rail; a payout that fails or comes back is reversed by a fresh mint. Org
withdrawals need the pay.initiate permission; any member may read them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import money
from corridor.platform.domain import rails as dom
from corridor.platform.domain.rails import Withdrawal
from corridor.platform.domain.steps import steps_json
from corridor.platform.services import withdrawals

router = APIRouter(route_class=JsonRoute, tags=["withdrawals"])

OrgId = Annotated[str, Path(max_length=64)]
ItemId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=dom.PAGE_OFFSET_MAX)]
AMOUNT_TEXT_LEN_MAX = 40


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BankIn(Strict):
    name: str = Field(min_length=1, max_length=dom.BANK_NAME_LEN_MAX,
                      description="The account holder's name.")
    account: str = Field(min_length=1, max_length=dom.ACCOUNT_LEN_MAX + 10,
                         description="Account number or IBAN (spaces allowed).")
    country: str = Field(min_length=1, max_length=2, description="ISO 3166-1 alpha-2")
    bank_code: str = Field(min_length=1, max_length=dom.BANK_CODE_LEN_MAX + 5,
                           description="BIC, sort code or routing number.")


class WithdrawalIn(Strict):
    currency: str = Field(min_length=1, max_length=12, examples=["USD"])
    amount: str = Field(min_length=1, max_length=AMOUNT_TEXT_LEN_MAX, examples=["100.00"],
                        description="In major units, as text (never a float).")
    bank: BankIn


class BankOut(BaseModel):
    name: str
    account: str  # masked: only the last four characters
    country: str
    bank_code: str


class WithdrawalOut(BaseModel):
    id: str
    uetr: str
    owner_type: str
    owner_id: str
    wallet_id: str
    status: str
    currency: str
    amount: str
    amount_minor: int
    bank: BankOut
    history: list[dict[str, Any]]
    tx_id: str | None
    height: int | None
    rail_ref: str | None
    reversal_tx_id: str | None
    reason_code: str | None
    reason_message: str | None
    created_ms: int
    updated_ms: int

    @classmethod
    def of(cls, w: Withdrawal) -> WithdrawalOut:
        return cls(
            id=w.id, uetr=w.uetr, owner_type=w.owner_type, owner_id=w.owner_id,
            wallet_id=w.wallet_id, status=w.status, currency=w.currency,
            amount=money.format_minor(w.amount_minor, w.currency), amount_minor=w.amount_minor,
            bank=BankOut(**{**w.bank, "account": dom.masked_account(w.bank["account"])}),
            history=steps_json(w.history), tx_id=w.tx_id, height=w.height, rail_ref=w.rail_ref,
            reversal_tx_id=w.reversal_tx_id, reason_code=w.reason_code,
            reason_message=w.reason_message, created_ms=w.created_ms, updated_ms=w.updated_ms)


class WithdrawalPage(BaseModel):
    items: list[WithdrawalOut]
    total: int
    limit: int
    offset: int


def _page(items: list[Withdrawal], total: int, limit: int, offset: int) -> WithdrawalPage:
    return WithdrawalPage(items=[WithdrawalOut.of(w) for w in items], total=total,
                          limit=limit, offset=offset)


@router.post("/withdrawals", response_model=WithdrawalOut,
             status_code=status.HTTP_201_CREATED)
def create_withdrawal(body: WithdrawalIn, deps: DepsDep, who: PrincipalDep,
                      idempotency_key: IdempotencyKey = None) -> WithdrawalOut:
    """Withdraws to a bank account. Send an `Idempotency-Key`: a retry with the same key
    and body returns the same withdrawal and never pays twice."""
    return WithdrawalOut.of(withdrawals.create(
        deps, who, currency=body.currency, amount=body.amount, bank=body.bank.model_dump(),
        idempotency_key=idempotency_key))


@router.get("/withdrawals", response_model=WithdrawalPage)
def my_withdrawals(deps: DepsDep, who: PrincipalDep, limit: Limit = 50,
                   offset: Offset = 0) -> WithdrawalPage:
    return _page(*withdrawals.list_withdrawals(deps, who, limit=limit, offset=offset),
                 limit, offset)


@router.get("/withdrawals/{withdrawal_id}", response_model=WithdrawalOut)
def get_withdrawal(withdrawal_id: ItemId, deps: DepsDep, who: PrincipalDep) -> WithdrawalOut:
    return WithdrawalOut.of(withdrawals.get(deps, who, withdrawal_id))


@router.post("/orgs/{org_id}/withdrawals", response_model=WithdrawalOut,
             status_code=status.HTTP_201_CREATED)
def create_org_withdrawal(org_id: OrgId, body: WithdrawalIn, deps: DepsDep, who: PrincipalDep,
                          idempotency_key: IdempotencyKey = None) -> WithdrawalOut:
    """Withdraws from the organisation's wallet (pay.initiate)."""
    return WithdrawalOut.of(withdrawals.create(
        deps, who, currency=body.currency, amount=body.amount, bank=body.bank.model_dump(),
        idempotency_key=idempotency_key, org_id=org_id))


@router.get("/orgs/{org_id}/withdrawals", response_model=WithdrawalPage)
def org_withdrawals(org_id: OrgId, deps: DepsDep, who: PrincipalDep, limit: Limit = 50,
                    offset: Offset = 0) -> WithdrawalPage:
    return _page(*withdrawals.list_withdrawals(deps, who, org_id=org_id, limit=limit,
                                               offset=offset), limit, offset)
