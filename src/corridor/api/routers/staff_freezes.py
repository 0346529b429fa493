"""Freezes of a customer's or organisation's holdings on chain (issue 16), staff side:
compliance officers (account.freeze) freeze and unfreeze, with a reason (and, for a
freeze, an optional reference such as a case id); staff who read customers see the
history. Each decision is audited; the chain's outcome shows in the freeze's status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import freezes as dom
from corridor.platform.domain.freezes import Freeze
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services import freezes

router = APIRouter(route_class=JsonRoute, prefix="/staff", tags=["staff"])

Id = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.HISTORY_PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Officer = Annotated[Principal, Depends(staff_only(Perm.ACCOUNT_FREEZE))]
Reader = Annotated[Principal, Depends(staff_only(Perm.CUSTOMERS_READ))]


class FreezeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=dom.REASON_LEN_MAX, description="Why (audited).")
    reference: str | None = Field(None, max_length=dom.REFERENCE_LEN_MAX,
                                  description="e.g. the compliance case's id")


class UnfreezeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=dom.REASON_LEN_MAX, description="Why (audited).")


class FreezeOut(BaseModel):
    id: str
    owner_type: str
    owner_id: str
    status: str = Field(description="requested | frozen | failed | releasing | released")
    active: bool = Field(description="No payment or withdrawal leaves the owner.")
    reason: str
    reference: str | None
    asset_codes: list[str]
    frozen_by: str
    tx_id: str | None = Field(description="The freeze's transaction on chain.")
    height: int | None = Field(description="Its block.")
    error_code: str | None = Field(description="The chain's reject code, if it refused.")
    release_reason: str | None
    released_by: str | None
    release_tx_id: str | None
    release_height: int | None
    created_ms: int
    frozen_ms: int | None
    release_requested_ms: int | None
    released_ms: int | None

    @classmethod
    def of(cls, f: Freeze) -> FreezeOut:
        return cls(id=f.id, owner_type=f.owner_type, owner_id=f.owner_id, status=f.status,
                   active=f.active, reason=f.reason, reference=f.reference,
                   asset_codes=list(f.codes), frozen_by=f.frozen_by, tx_id=f.tx_id,
                   height=f.height, error_code=f.error_code, release_reason=f.release_reason,
                   released_by=f.released_by, release_tx_id=f.release_tx_id,
                   release_height=f.release_height, created_ms=f.created_ms,
                   frozen_ms=f.frozen_ms, release_requested_ms=f.release_requested_ms,
                   released_ms=f.released_ms)


class FreezePage(BaseModel):
    items: list[FreezeOut]
    total: int
    limit: int
    offset: int


_OWNERS = {"customers": OwnerType.USER, "orgs": OwnerType.ORG}
Owners = Annotated[str, Path(pattern="^(customers|orgs)$",
                             description="customers | orgs")]


@router.post("/{owners}/{owner_id}/freeze", response_model=FreezeOut)
def freeze(owners: Owners, owner_id: Id, body: FreezeIn, who: Officer, deps: DepsDep,
           idempotency_key: IdempotencyKey = None) -> FreezeOut:
    """Freezes the customer's (or organisation's) holdings of every asset the platform
    issues, on chain, and stops its payments and withdrawals now (ACCOUNT_FROZEN).
    `requested` until the chain has carried it out, then `frozen` (with the transaction
    and block), or `failed` (with the chain's code). An active freeze: 409
    ALREADY_FROZEN. `Idempotency-Key` is required: a retry returns the freeze."""
    return FreezeOut.of(freezes.freeze(deps, who, _OWNERS[owners], owner_id,
                                       reason=body.reason, reference=body.reference,
                                       idempotency_key=idempotency_key))


@router.post("/{owners}/{owner_id}/unfreeze", response_model=FreezeOut)
def unfreeze(owners: Owners, owner_id: Id, body: UnfreezeIn, who: Officer, deps: DepsDep,
             idempotency_key: IdempotencyKey = None) -> FreezeOut:
    """Lifts the freeze on chain (`releasing`, then `released`); money moves again once
    the chain has. Another officer than the one who froze (403 FOUR_EYES_REQUIRED); not
    before the chain answered the freeze (409 FREEZE_PENDING); nothing frozen: 409
    NOT_FROZEN. `Idempotency-Key` is required."""
    return FreezeOut.of(freezes.unfreeze(deps, who, _OWNERS[owners], owner_id,
                                         reason=body.reason, idempotency_key=idempotency_key))


@router.get("/{owners}/{owner_id}/freezes", response_model=FreezePage)
def history(owners: Owners, owner_id: Id, who: Reader, deps: DepsDep, limit: Limit = 50,
            offset: Offset = 0) -> FreezePage:
    """The owner's freezes, newest first."""
    items, total = freezes.history(deps, who, _OWNERS[owners], owner_id, limit=limit,
                                   offset=offset)
    return FreezePage(items=[FreezeOut.of(f) for f in items], total=total, limit=limit,
                      offset=offset)
