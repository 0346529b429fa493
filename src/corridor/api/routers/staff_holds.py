"""Held inbound money, staff side (issue 14, item 1): the queue of deposits that arrived
over their owner's limits, and the decision on each (release: credit it, only if it now
fits the limits; return: send it back through the rail). Everything here needs
funds.review (compliance officers); each decision is audited with its note."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import holds as dom
from corridor.platform.domain.holds import Hold, HoldStatus
from corridor.platform.domain.money import format_minor
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import holds

router = APIRouter(route_class=JsonRoute, prefix="/staff/holds", tags=["staff"])

Id = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.QUEUE_PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Status = Annotated[str, Query(max_length=16, description="open | released | returned")]
# Checked before the body is validated (the service checks again).
Reviewer = Annotated[Principal, Depends(staff_only(Perm.FUNDS_REVIEW))]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(max_length=16, description="release | return")
    note: str = Field(max_length=dom.NOTE_LEN_MAX, description="Why (audited).")


class HoldOut(BaseModel):
    id: str
    subject_type: str
    subject_id: str
    owner_type: str
    owner_id: str
    currency: str
    amount: str
    amount_minor: int
    reason_code: str
    reason_message: str
    status: str
    decided_by: str | None
    decided_ms: int | None
    decision_note: str | None
    return_ref: str | None
    created_ms: int
    updated_ms: int

    @classmethod
    def of(cls, h: Hold) -> HoldOut:
        return cls(id=h.id, subject_type=h.subject_type, subject_id=h.subject_id,
                   owner_type=h.owner_type, owner_id=h.owner_id, currency=h.currency,
                   amount=format_minor(h.amount_minor, h.currency), amount_minor=h.amount_minor,
                   reason_code=h.reason_code, reason_message=h.reason_message, status=h.status,
                   decided_by=h.decided_by, decided_ms=h.decided_ms,
                   decision_note=h.decision_note, return_ref=h.return_ref,
                   created_ms=h.created_ms, updated_ms=h.updated_ms)


class HoldPage(BaseModel):
    items: list[HoldOut]
    total: int
    limit: int
    offset: int


@router.get("", response_model=HoldPage)
def queue(who: Reviewer, deps: DepsDep, status: Status = HoldStatus.OPEN.value,
          limit: Limit = 50, offset: Offset = 0) -> HoldPage:
    """Held money in one state (default: waiting for a decision), oldest first."""
    items, total = holds.queue(deps, who, status=status, limit=limit, offset=offset)
    return HoldPage(items=[HoldOut.of(h) for h in items], total=total, limit=limit,
                    offset=offset)


@router.get("/{hold_id}", response_model=HoldOut)
def view(hold_id: Id, who: Reviewer, deps: DepsDep) -> HoldOut:
    return HoldOut.of(holds.get(deps, who, hold_id))


@router.post("/{hold_id}/decision", response_model=HoldOut)
def decide(hold_id: Id, body: DecisionIn, who: Reviewer, deps: DepsDep,
           idempotency_key: IdempotencyKey = None) -> HoldOut:
    """Release (credited now, only if it fits the owner's limits: else 409
    STILL_ABOVE_LIMITS) or return (sent back through the rail). Once: 409 HOLD_DECIDED.
    `Idempotency-Key` is required: a retry with the same key returns the hold."""
    return HoldOut.of(holds.decide(deps, who, hold_id, body.decision, body.note,
                                   idempotency_key))
