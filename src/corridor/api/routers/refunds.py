"""Refunds, customer side (P3): evidence uploads, asking for a refund of a payment, and
following it. Before submission a payment is cancelled instead (POST
/v1/payments/{id}/cancel, the payments area); failed or expired payments are released
automatically."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import refunds as dom
from corridor.platform.domain.money import format_minor
from corridor.platform.domain.refunds import Refund, RefundFile
from corridor.platform.services import refunds

router = APIRouter(route_class=JsonRoute, tags=["refunds"])

Id = Annotated[str, Path(max_length=64)]


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=16, description="wrong_payee | revocation")
    reason: str = Field(max_length=dom.REASON_LEN_MAX)
    evidence: list[str] = Field(default_factory=list, max_length=dom.EVIDENCE_FILES_MAX,
                                description="ids of files uploaded to /v1/refunds/files")


class RefundOut(BaseModel):
    id: str
    payment_id: str
    kind: str
    status: str
    reason: str
    evidence: list[str]
    currency: str
    amount: str  # exact decimal text, major units: back to the sender
    amount_minor: int
    recover_currency: str
    recover_minor: int  # taken back from the recipient
    platform_error: bool
    transfer_id: str | None
    tx_id: str | None
    height: int | None
    decided_ms: int | None
    decision_reason: str | None
    failure_code: str | None
    created_ms: int
    updated_ms: int

    @classmethod
    def of(cls, r: Refund) -> RefundOut:
        return cls(id=r.id, payment_id=r.payment_id, kind=r.kind, status=r.status,
                   reason=r.reason, evidence=list(r.evidence), currency=r.code,
                   amount=format_minor(r.amount_minor, r.code), amount_minor=r.amount_minor,
                   recover_currency=r.recover_code, recover_minor=r.recover_minor,
                   platform_error=r.platform_error, transfer_id=r.transfer_id, tx_id=r.tx_id,
                   height=r.height, decided_ms=r.decided_ms,
                   decision_reason=r.decision_reason, failure_code=r.failure_code,
                   created_ms=r.created_ms, updated_ms=r.updated_ms)


class EvidenceOut(BaseModel):
    id: str
    kind: str
    content_type: str
    size: int
    sha256: str
    created_ms: int

    @classmethod
    def of(cls, f: RefundFile) -> EvidenceOut:
        return cls(id=f.id, kind=f.kind, content_type=f.content_type, size=f.size,
                   sha256=f.sha256, created_ms=f.created_ms)


@router.post("/refunds/files", status_code=201)
def upload(
    who: PrincipalDep,
    deps: DepsDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG or PDF")],
    org_id: Annotated[str | None, Form(max_length=64)] = None,
) -> EvidenceOut:
    """Uploads an evidence file (encrypted at rest) to cite in a refund request."""
    data = file.file.read(deps.settings.upload_bytes_max + 1)
    return EvidenceOut.of(refunds.upload_evidence(deps, who, data, file.content_type or "",
                                                  org_id=org_id))


@router.post("/payments/{payment_id}/refund", status_code=201)
def ask(payment_id: Id, body: RefundIn, who: PrincipalDep, deps: DepsDep,
        idempotency_key: IdempotencyKey = None) -> RefundOut:
    """Asks for a refund of a credited payment (the sender side only); staff review it.
    For a failed or expired payment this returns its automatic release.
    `Idempotency-Key` is required: a retry with the same key returns the same refund."""
    return RefundOut.of(refunds.request(deps, who, payment_id, kind=body.kind,
                                        reason=body.reason, evidence=body.evidence,
                                        idempotency_key=idempotency_key))


@router.get("/payments/{payment_id}/refunds")
def of_payment(payment_id: Id, who: PrincipalDep, deps: DepsDep) -> list[RefundOut]:
    """Every refund of one of the caller's payments, newest first."""
    return [RefundOut.of(r) for r in refunds.of_payment(deps, who, payment_id)]


@router.get("/refunds/{refund_id}")
def get(refund_id: Id, who: PrincipalDep, deps: DepsDep) -> RefundOut:
    return RefundOut.of(refunds.get(deps, who, refund_id).refund)
