"""Refunds, staff side (P3): the review queue, a request with its payment and evidence,
and decisions. Everything here needs refund.review (support agents, compliance officers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.api.routers.refunds import EvidenceOut, RefundOut
from corridor.platform.domain import refunds as dom
from corridor.platform.domain.money import format_minor
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.refunds import Decision
from corridor.platform.domain.roles import Perm
from corridor.platform.services import refunds
from corridor.platform.services.refunds import RefundView

router = APIRouter(route_class=JsonRoute, prefix="/staff/refunds", tags=["staff"])

Id = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.QUEUE_PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
# Checked before the body is validated (the service checks again).
Reviewer = Annotated[Principal, Depends(staff_only(Perm.REFUND_REVIEW))]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(max_length=16, description="approve | reject")
    reason: str = Field(max_length=dom.REASON_LEN_MAX)
    platform_error: bool = Field(default=False, description="approve: the platform erred, "
                                 "so the fee is returned too")


class PaymentBrief(BaseModel):
    id: str
    uetr: str
    kind: str
    status: str
    owner_type: str
    owner_id: str
    recipient_type: str
    recipient_name: str
    sell_currency: str
    sell_amount: str
    fee: str
    buy_currency: str
    buy_amount: str
    tx_id: str | None
    created_ms: int


class StaffRefundOut(RefundOut):
    requested_by: str | None
    decided_by: str | None
    payment: PaymentBrief
    files: list[EvidenceOut]

    @classmethod
    def of_view(cls, v: RefundView) -> StaffRefundOut:
        p, r = v.payment, v.refund
        brief = PaymentBrief(
            id=p.id, uetr=p.uetr, kind=p.kind, status=p.status, owner_type=p.owner_type,
            owner_id=p.owner_id, recipient_type=p.recipient_type,
            recipient_name=p.recipient_name, sell_currency=p.sell_code,
            sell_amount=format_minor(p.sell_amount_minor, p.sell_code),
            fee=format_minor(p.fee_minor, p.sell_code), buy_currency=p.buy_code,
            buy_amount=format_minor(p.buy_amount_minor, p.buy_code), tx_id=p.tx_id,
            created_ms=p.created_ms)
        return cls(**RefundOut.of(r).model_dump(), requested_by=r.requested_by,
                   decided_by=r.decided_by, payment=brief,
                   files=[EvidenceOut.of(f) for f in v.files])


class QueuePage(BaseModel):
    items: list[RefundOut]
    total: int


@router.get("/queue")
def queue(who: PrincipalDep, deps: DepsDep, limit: Limit = 50, offset: Offset = 0) -> QueuePage:
    """Requests waiting for a decision, oldest first."""
    items, total = refunds.review_queue(deps, who, limit, offset)
    return QueuePage(items=[RefundOut.of(r) for r in items], total=total)


@router.get("/{refund_id}")
def view(refund_id: Id, who: PrincipalDep, deps: DepsDep) -> StaffRefundOut:
    """A request with its payment and evidence list (audited)."""
    return StaffRefundOut.of_view(refunds.staff_view(deps, who, refund_id))


@router.get("/{refund_id}/files/{file_id}")
def download(refund_id: Id, file_id: Id, who: PrincipalDep, deps: DepsDep) -> Response:
    """One evidence file, decrypted (audited)."""
    f, data = refunds.staff_file(deps, who, refund_id, file_id)
    return Response(data, media_type=f.content_type, headers={
        "Content-Disposition": f'attachment; filename="{f.id}.{f.kind}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })


@router.post("/{refund_id}/decision")
def decide(refund_id: Id, body: DecisionIn, who: Reviewer, deps: DepsDep,
           idempotency_key: IdempotencyKey = None) -> StaffRefundOut:
    """Approve (a return transfer is queued) or reject (the payment is credited again);
    the reason is mandatory and audited. `Idempotency-Key` is required: a retry with the
    same key returns the refund as it stands."""
    d = Decision(outcome=body.decision, reason=body.reason,
                 platform_error=body.platform_error)
    return StaffRefundOut.of_view(refunds.decide(deps, who, refund_id, d, idempotency_key))
