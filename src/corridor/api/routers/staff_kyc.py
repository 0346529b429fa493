"""KYC, staff side (A5): the review queue, records due for re-review, a record with its
documents, and decisions. Reading needs kyc.read; deciding needs kyc.review."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.api.routers.kyc import FileOut, KycOut
from corridor.platform.domain import kyc as dom
from corridor.platform.domain.kyc import Decision, KycCustomer
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.risk import RiskRating
from corridor.platform.domain.roles import Perm
from corridor.platform.services import kyc, reviews, risk
from corridor.platform.services.kyc import KycView

router = APIRouter(route_class=JsonRoute, prefix="/staff/kyc", tags=["staff"])

RecordId = Annotated[str, Path(max_length=64)]
FileId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.QUEUE_PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
MARKS_MAX = 64
# Checked before the body is validated, so a caller without the permission learns nothing
# about the request shape (the service checks again).
Reviewer = Annotated[Principal, Depends(staff_only(Perm.KYC_REVIEW))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MarkIn(Strict):
    status: str = Field(max_length=32, description="VERIFICATION_REQUIRED or REJECTED")
    reason: str = Field(max_length=dom.REASON_LEN_MAX)


class DecisionIn(Strict):
    decision: str = Field(max_length=16, description="accept | reject | needs_info")
    reason: str = Field(max_length=dom.REASON_LEN_MAX)
    tier: int | None = Field(default=None, ge=0, le=9, description="accept: the tier granted")
    risk: str | None = Field(default=None, max_length=8, description="accept: low|medium|high")
    fields: dict[str, MarkIn] = Field(default_factory=dict, max_length=MARKS_MAX,
                                      description="needs_info: fields to resubmit")


class QueueItem(BaseModel):
    id: str
    subject_type: str
    subject_id: str
    status: str
    requested_tier: int
    tier: int
    risk: str | None
    submitted_ms: int | None
    review_due_ms: int | None

    @classmethod
    def of(cls, r: KycCustomer) -> QueueItem:
        return cls(id=r.id, subject_type=r.subject_type, subject_id=r.subject_id,
                   status=r.status, requested_tier=r.requested_tier, tier=r.tier, risk=r.risk,
                   submitted_ms=r.submitted_ms, review_due_ms=r.review_due_ms)


class QueuePage(BaseModel):
    items: list[QueueItem]
    total: int | None = None


class StaffKycOut(KycOut):
    risk: str | None
    submitted_ms: int | None
    decided_ms: int | None
    decided_by: str | None
    decision_reason: str | None
    review_opened_ms: int | None
    files: list[FileOut]

    @classmethod
    def of(cls, v: KycView) -> StaffKycOut:
        rec = v.record
        assert rec is not None  # staff only see existing records
        extra: dict[str, Any] = dict(
            risk=rec.risk, submitted_ms=rec.submitted_ms, decided_ms=rec.decided_ms,
            decided_by=rec.decided_by, decision_reason=rec.decision_reason,
            review_opened_ms=rec.review_opened_ms, files=[FileOut.of(f) for f in v.files],
        )
        return cls(**cls.common(v), **extra)


@router.get("/queue")
def queue(who: PrincipalDep, deps: DepsDep, limit: Limit = 50, offset: Offset = 0) -> QueuePage:
    """Records waiting for review, oldest first."""
    items, total = kyc.queue(deps, who, limit, offset)
    return QueuePage(items=[QueueItem.of(r) for r in items], total=total)


@router.get("/due")
def due(who: PrincipalDep, deps: DepsDep, limit: Limit = 50, offset: Offset = 0) -> QueuePage:
    """Accepted records due for periodic re-review, most overdue first."""
    return QueuePage(items=[QueueItem.of(r) for r in kyc.due(deps, who, limit, offset)])


class FactorOut(BaseModel):
    name: str
    points: int
    evidence: dict[str, Any]


class RatingOut(BaseModel):
    level: str
    points: int
    policy: str
    trigger: str
    computed_ms: int
    factors: list[FactorOut]

    @classmethod
    def of(cls, r: RiskRating) -> RatingOut:
        return cls(level=r.level, points=r.points, policy=r.policy, trigger=r.trigger,
                   computed_ms=r.computed_ms,
                   factors=[FactorOut(name=f.name, points=f.points, evidence=f.evidence)
                            for f in r.factors])


class RiskOut(BaseModel):
    """A customer's risk: the record's effective level (the riskier of the officer's and
    the rating's) and re-review dates, the current rating with its factors, earlier ones."""

    subject_type: str
    subject_id: str
    risk: str | None
    review_due_ms: int | None
    review_opened_ms: int | None
    current: RatingOut | None
    history: list[RatingOut]


class ReviewsRun(BaseModel):
    opened: list[str]


@router.post("/reviews/run")
def run_reviews(who: Reviewer, deps: DepsDep) -> ReviewsRun:
    """Opens every due re-review now (the platform's worker does it every minute): the
    customer is told and limited until accepted again. Opens nothing twice."""
    return ReviewsRun(opened=list(reviews.run(deps, who).record_ids))


@router.get("/{record_id}/risk")
def risk_of(record_id: RecordId, who: PrincipalDep, deps: DepsDep) -> RiskOut:
    """The risk rating of the record's customer with its factors (audited)."""
    v = risk.record_view(deps, who, record_id)
    rec = v.record
    return RiskOut(subject_type=v.subject_type, subject_id=v.subject_id,
                   risk=rec.risk if rec else None,
                   review_due_ms=rec.review_due_ms if rec else None,
                   review_opened_ms=rec.review_opened_ms if rec else None,
                   current=RatingOut.of(v.current) if v.current else None,
                   history=[RatingOut.of(r) for r in v.history])


@router.get("/{record_id}")
def view(record_id: RecordId, who: PrincipalDep, deps: DepsDep) -> StaffKycOut:
    """A record with its field values and the subject's documents (audited)."""
    return StaffKycOut.of(kyc.staff_view(deps, who, record_id))


@router.get("/{record_id}/files/{file_id}")
def download(record_id: RecordId, file_id: FileId, who: PrincipalDep,
             deps: DepsDep) -> Response:
    """One of the subject's documents, decrypted (audited)."""
    f, data = kyc.staff_file(deps, who, record_id, file_id)
    return Response(data, media_type=f.content_type, headers={
        "Content-Disposition": f'attachment; filename="{f.id}.{f.kind}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })


@router.post("/{record_id}/decision")
def decide(record_id: RecordId, body: DecisionIn, who: Reviewer,
           deps: DepsDep, idempotency_key: IdempotencyKey = None) -> StaffKycOut:
    """Accept (with `tier` and `risk`), reject, or ask for more (`fields` to resubmit);
    `reason` is mandatory and recorded in the audit trail. `Idempotency-Key` is
    required: a retry with the same key returns the record as it stands."""
    decision = Decision(outcome=body.decision, reason=body.reason, tier=body.tier,
                        risk=body.risk,
                        marks={k: m.model_dump() for k, m in body.fields.items()})
    return StaffKycOut.of(kyc.decide(deps, who, record_id, decision, idempotency_key))
