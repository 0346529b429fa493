"""KYC, customer side (A5): the caller's own record, an organisation's record, document
uploads and the tiers on offer. SEP-12-like: `status`, per-field `fields`, `tier`, `limits`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import kyc as dom
from corridor.platform.domain.kyc import KycFile, Limits
from corridor.platform.services import kyc
from corridor.platform.services.kyc import KycView

router = APIRouter(route_class=JsonRoute, tags=["kyc"])

OrgId = Annotated[str, Path(max_length=64)]
FIELDS_PER_PUT_MAX = 64  # more than any subject has; the service names unknown ones


class KycIn(BaseModel):
    """Fields to set (SEP-9 names; `null` clears one) and, for individuals, the tier
    asked for (1 basic, 2 full; organisations always 3)."""

    model_config = ConfigDict(extra="forbid")
    tier: int | None = Field(default=None, ge=0, le=9)
    fields: dict[str, Any] = Field(default_factory=dict, max_length=FIELDS_PER_PUT_MAX)


class LimitsOut(BaseModel):
    tier: int
    currency: str
    per_tx_minor: int
    per_day_minor: int
    balance_cap_minor: int
    asset_codes: list[str]

    @classmethod
    def of(cls, lim: Limits) -> LimitsOut:
        return cls(tier=lim.tier, currency=lim.currency, per_tx_minor=lim.per_tx_minor,
                   per_day_minor=lim.per_day_minor, balance_cap_minor=lim.balance_cap_minor,
                   asset_codes=list(lim.asset_codes))


class FieldOut(BaseModel):
    status: str
    reason: str
    required: bool
    value: Any = None


class KycOut(BaseModel):
    id: str | None  # None before the first submission
    subject_type: str
    subject_id: str
    status: str
    requested_tier: int
    tier: int
    limits: LimitsOut
    fields: dict[str, FieldOut]
    updated_ms: int | None
    review_due_ms: int | None  # when the next periodic re-review comes due
    review_limited: bool  # a due re-review is open: outbound money is refused until accepted

    @staticmethod
    def common(v: KycView) -> dict[str, Any]:
        rec = v.record
        tier = rec.tier if rec else 0
        return dict(
            id=rec.id if rec else None, subject_type=v.subject_type, subject_id=v.subject_id,
            status=rec.status if rec else dom.KycStatus.NEEDS_INFO,
            requested_tier=rec.requested_tier if rec else dom.default_tier(v.subject_type),
            tier=tier, limits=LimitsOut.of(dom.limits_for(tier)),
            fields={k: FieldOut.model_validate(f) for k, f in v.fields.items()},
            updated_ms=rec.updated_ms if rec else None,
            review_due_ms=rec.review_due_ms if rec else None,
            review_limited=dom.review_limited(rec),
        )

    @classmethod
    def of(cls, v: KycView) -> KycOut:
        return cls(**cls.common(v))


class FileOut(BaseModel):
    id: str
    kind: str
    content_type: str
    size: int
    sha256: str
    created_ms: int

    @classmethod
    def of(cls, f: KycFile) -> FileOut:
        return cls(id=f.id, kind=f.kind, content_type=f.content_type, size=f.size,
                   sha256=f.sha256, created_ms=f.created_ms)


class TierOut(BaseModel):
    level: int
    name: str
    subject_type: str | None
    required_fields: list[str]
    limits: LimitsOut


@router.get("/kyc/customer")
def get_customer(who: PrincipalDep, deps: DepsDep) -> KycOut:
    """The caller's own KYC state and what is still needed."""
    return KycOut.of(kyc.get_customer(deps, who))


@router.put("/kyc/customer")
def put_customer(body: KycIn, who: PrincipalDep, deps: DepsDep) -> KycOut:
    """Adds or changes fields of the caller's own record (a partial update)."""
    return KycOut.of(kyc.put_customer(deps, who, body.fields, body.tier))


@router.get("/orgs/{org_id}/kyc")
def get_org(org_id: OrgId, who: PrincipalDep, deps: DepsDep) -> KycOut:
    """An organisation's KYC state (members whose role grants org.kyc)."""
    return KycOut.of(kyc.get_customer(deps, who, org_id=org_id))


@router.put("/orgs/{org_id}/kyc")
def put_org(org_id: OrgId, body: KycIn, who: PrincipalDep, deps: DepsDep) -> KycOut:
    """Adds or changes fields of an organisation's record (`organization.*` names)."""
    return KycOut.of(kyc.put_customer(deps, who, body.fields, body.tier, org_id=org_id))


@router.post("/kyc/files", status_code=201)
def upload(
    who: PrincipalDep,
    deps: DepsDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG or PDF")],
    org_id: Annotated[str | None, Form(max_length=64)] = None,
) -> FileOut:
    """Uploads a document for the caller (or for `org_id`); refer to it in a photo field
    by the returned id."""
    # One byte past the limit is enough to know the file is too large.
    data = file.file.read(deps.settings.upload_bytes_max + 1)
    content_type = file.content_type or ""
    return FileOut.of(kyc.upload_file(deps, who, data, content_type, org_id=org_id))


@router.get("/kyc/tiers")
def tiers(who: PrincipalDep) -> list[TierOut]:
    """The tiers, what each needs and what each allows."""
    del who  # signed-in callers only
    return [TierOut(level=t.level, name=t.name, subject_type=t.subject_type,
                    required_fields=list(t.required_fields), limits=LimitsOut.of(t.limits))
            for t in dom.TIERS.values()]
