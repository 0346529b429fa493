"""Supporting documents of a payment held for them (issue 16, authenticity review), the
payer's side: upload (multipart, JPEG/PNG/PDF checked by their bytes, encrypted at rest),
the review's state with the documents' names, and the payment's travel-rule record. Only
the payment's sender side; anyone else gets 404 as for an absent payment. Documents are
never served back here: officers download them (staff_authenticity.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile, status
from pydantic import BaseModel

from corridor.api.deps import DepsDep, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import authenticity as dom
from corridor.platform.domain.travel_rule import TravelRule, missing
from corridor.platform.services import authenticity
from corridor.platform.services.authenticity import View

router = APIRouter(route_class=JsonRoute, tags=["payments"])

PaymentId = Annotated[str, Path(max_length=64)]


class DocumentOut(BaseModel):
    id: str
    payment_id: str
    kind: str
    file_kind: str
    content_type: str
    size: int
    sha256: str
    created_ms: int

    @classmethod
    def of(cls, d: dom.PaymentDocument) -> DocumentOut:
        return cls(id=d.id, payment_id=d.payment_id, kind=d.kind, file_kind=d.file_kind,
                   content_type=d.content_type, size=d.size, sha256=d.sha256,
                   created_ms=d.created_ms)


class CheckOut(BaseModel):
    id: str
    outcome: str
    amount_agrees: bool
    parties_agree: bool
    purpose_agrees: bool
    reason: str
    created_ms: int

    @classmethod
    def of(cls, c: dom.Check) -> CheckOut:
        return cls(id=c.id, outcome=c.outcome, amount_agrees=c.amount_agrees,
                   parties_agree=c.parties_agree, purpose_agrees=c.purpose_agrees,
                   reason=c.reason, created_ms=c.created_ms)


class ReviewOut(BaseModel):
    """Whether the payment needs supporting documents and where they stand: `state` is
    none (not needed), documents_required, documents_received, agreed or inconsistent."""

    payment_id: str
    payment_status: str
    purpose: str | None
    state: str
    usd_minor: int | None
    threshold_usd_minor: int | None
    sender_country: str | None
    receiver_country: str | None
    uploadable: bool
    documents: list[DocumentOut]
    checks: list[CheckOut]

    @classmethod
    def of(cls, v: View) -> ReviewOut:
        r = v.review
        return cls(payment_id=v.payment.id, payment_status=v.payment.status,
                   purpose=v.payment.purpose, state=r.state if r else "none",
                   usd_minor=r.usd_minor if r else None,
                   threshold_usd_minor=r.threshold_usd_minor if r else None,
                   sender_country=r.sender_country if r else None,
                   receiver_country=r.receiver_country if r else None,
                   uploadable=v.uploadable,
                   documents=[DocumentOut.of(d) for d in v.documents],
                   checks=[CheckOut.of(c) for c in v.checks])


class TravelRuleOut(BaseModel):
    """FATF R.16 data: each side's name, account and the items known (address, national
    id, date and place of birth, bank code, country); `missing` names what is absent."""

    originator: dict[str, str]
    beneficiary: dict[str, str]
    missing: list[str]

    @classmethod
    def of(cls, t: TravelRule) -> TravelRuleOut:
        o, b = t.originator.as_json(), t.beneficiary.as_json()
        return cls(originator=o, beneficiary=b, missing=missing(o, b))


@router.post("/payment-documents/{payment_id}", status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "The same file again: the document stored."}})
def upload_document(
    payment_id: PaymentId,
    who: PrincipalDep,
    deps: DepsDep,
    response: Response,
    file: Annotated[UploadFile, File(description="JPEG, PNG or PDF")],
    kind: Annotated[str, Form(max_length=16, description="invoice | contract | other")],
) -> DocumentOut:
    """Uploads a supporting document (an invoice, a contract) of a payment held for them;
    stored encrypted with its SHA-256. The same file again returns the stored document."""
    data = file.file.read(deps.settings.upload_bytes_max + 1)
    doc, created = authenticity.upload(deps, who, payment_id, kind=kind, data=data,
                                       content_type=file.content_type or "")
    if not created:
        response.status_code = status.HTTP_200_OK
    return DocumentOut.of(doc)


@router.get("/payments/{payment_id}/documents", response_model=ReviewOut)
def payment_documents(payment_id: PaymentId, who: PrincipalDep, deps: DepsDep) -> ReviewOut:
    """The payment's authenticity review: state, documents (names only), checks."""
    return ReviewOut.of(authenticity.mine(deps, who, payment_id))


@router.get("/payments/{payment_id}/travel-rule", response_model=TravelRuleOut | None)
def payment_travel_rule(payment_id: PaymentId, who: PrincipalDep,
                        deps: DepsDep) -> TravelRuleOut | None:
    """The travel-rule record stored with the payment (null below 1,000 USD-equivalent)."""
    record = authenticity.travel_rule_of(deps, who, payment_id)
    return TravelRuleOut.of(record) if record is not None else None
