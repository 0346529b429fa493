"""Authenticity review, staff side (issue 16): payments held for supporting documents (by
state), one payment's review with its documents, checks and travel-rule record, a
document's download (an attachment, never inline), and the officer's check. Everything
needs compliance.review; reads of personal data and downloads are audited; the check is
idempotent under its Idempotency-Key. Releasing or returning the payment is a decision on
its case (/v1/staff/compliance/cases/{id}/decisions), refused until the check agrees."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.api.routers.payment_documents import ReviewOut, TravelRuleOut
from corridor.platform.domain import authenticity as dom
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import authenticity
from corridor.platform.services.authenticity import CheckRequest, View

router = APIRouter(route_class=JsonRoute, prefix="/staff/authenticity", tags=["staff"])

Id = Annotated[str, Path(max_length=64)]
# Checked before the body is validated (the service checks again).
Officer = Annotated[Principal, Depends(staff_only(Perm.COMPLIANCE_REVIEW))]


class StaffReviewOut(ReviewOut):
    travel_rule: TravelRuleOut | None

    @classmethod
    def of_view(cls, v: View) -> StaffReviewOut:
        base = ReviewOut.of(v)
        return cls(**base.model_dump(), travel_rule=(
            TravelRuleOut.of(v.travel_rule) if v.travel_rule is not None else None))


class QueueItem(BaseModel):
    payment_id: str
    owner_type: str
    owner_id: str
    purpose: str
    usd_minor: int
    state: str
    created_ms: int
    updated_ms: int


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_agrees: bool = Field(description="the documents' amount agrees with the payment's")
    parties_agree: bool = Field(description="payer and payee agree with the documents'")
    purpose_agrees: bool = Field(description="the goods or services agree with the purpose")
    reason: str = Field(max_length=dom.REASON_LEN_MAX)


@router.get("", response_model=list[QueueItem])
def review_queue(who: Officer, deps: DepsDep,
                 state: Annotated[str | None, Query(max_length=24)] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 50) -> list[QueueItem]:
    """Payments held for documents in one state (default documents_received), oldest first."""
    return [QueueItem(payment_id=r.id, owner_type=r.owner_type, owner_id=r.owner_id,
                      purpose=r.purpose, usd_minor=r.usd_minor, state=r.state,
                      created_ms=r.created_ms, updated_ms=r.updated_ms)
            for r in authenticity.queue(deps, who, state=state, limit=limit)]


@router.get("/{payment_id}", response_model=StaffReviewOut)
def review(payment_id: Id, who: Officer, deps: DepsDep) -> StaffReviewOut:
    """A payment's review: documents, checks and the travel-rule record (audited)."""
    return StaffReviewOut.of_view(authenticity.staff_view(deps, who, payment_id))


@router.get("/{payment_id}/documents/{document_id}")
def download(payment_id: Id, document_id: Id, who: Officer, deps: DepsDep) -> Response:
    """One supporting document, decrypted, as an attachment (audited)."""
    doc, data = authenticity.staff_document(deps, who, payment_id, document_id)
    return Response(data, media_type=doc.content_type, headers={
        "Content-Disposition": f'attachment; filename="{doc.id}.{doc.file_kind}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })


@router.post("/{payment_id}/checks", response_model=StaffReviewOut)
def check(payment_id: Id, body: CheckIn, who: Officer, deps: DepsDep,
          idempotency_key: IdempotencyKey = None) -> StaffReviewOut:
    """Records whether amount, parties and purpose agree with the documents. Agreement
    lets the case release the payment; an inconsistency keeps it held and asks the payer
    for documents that agree. `Idempotency-Key` is required."""
    req = CheckRequest(amount_agrees=body.amount_agrees, parties_agree=body.parties_agree,
                       purpose_agrees=body.purpose_agrees, reason=body.reason)
    return StaffReviewOut.of_view(authenticity.record_check(deps, who, payment_id, req,
                                                            idempotency_key))
