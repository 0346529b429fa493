"""Suspicious-transaction reports, staff side (issue 16): drafted from a case, edited,
submitted for review, sent back or filed by a second officer, and exported as JSON
(schema corridor.str/1) or goAML-style XML (validated against its schema). Everything
here needs compliance.review; every step is audited and idempotent (Idempotency-Key)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import reports as dom
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.reports import Report
from corridor.platform.domain.roles import Perm
from corridor.platform.services import report_export, reports

router = APIRouter(route_class=JsonRoute, prefix="/staff/compliance", tags=["staff"])

Id = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Officer = Annotated[Principal, Depends(staff_only(Perm.COMPLIANCE_REVIEW))]


class ReportOut(BaseModel):
    id: str
    case_id: str
    kind: str
    state: str
    number: str | None
    subject_type: str
    subject_id: str
    subject_name: str
    narrative: str
    returned_reason: str | None
    drafted_by: str
    submitted_by: str | None
    filed_by: str | None
    content_hash: str | None
    created_ms: int
    submitted_ms: int | None
    filed_ms: int | None
    updated_ms: int
    document: dict[str, Any] = Field(description="The report's JSON document "
                                                 "(schema corridor.str/1).")

    @classmethod
    def of(cls, r: Report) -> ReportOut:
        return cls(id=r.id, case_id=r.case_id, kind=r.kind, state=r.state, number=r.number,
                   subject_type=r.subject_type, subject_id=r.subject_id,
                   subject_name=r.subject_name, narrative=r.narrative,
                   returned_reason=r.returned_reason, drafted_by=r.drafted_by,
                   submitted_by=r.submitted_by, filed_by=r.filed_by,
                   content_hash=r.content_hash, created_ms=r.created_ms,
                   submitted_ms=r.submitted_ms, filed_ms=r.filed_ms, updated_ms=r.updated_ms,
                   document=report_export.json_document(r))


class ReportPage(BaseModel):
    items: list[ReportOut]
    total: int
    limit: int
    offset: int


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field("STR", max_length=8, description="STR | SAR")


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    narrative: str = Field(max_length=dom.NARRATIVE_LEN_MAX,
                           description="What happened and why it is suspicious.")
    kind: str | None = Field(None, max_length=8, description="STR | SAR")


class SendBackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=dom.REASON_LEN_MAX, description="What to change.")


@router.get("/reports", response_model=ReportPage)
def list_reports(who: Officer, deps: DepsDep,
                 state: Annotated[str | None, Query(max_length=16)] = None,
                 case_id: Annotated[str | None, Query(max_length=64)] = None,
                 limit: Limit = 50, offset: Offset = 0) -> ReportPage:
    """Reports, newest first; filter by state (draft, in_review, filed) and case."""
    items, total = reports.reports(deps, who, state=state, case_id=case_id, limit=limit,
                                   offset=offset)
    return ReportPage(items=[ReportOut.of(r) for r in items], total=total, limit=limit,
                      offset=offset)


@router.post("/cases/{case_id}/reports", response_model=ReportOut, status_code=201)
def draft_report(case_id: Id, body: DraftIn, who: Officer, deps: DepsDep,
                 idempotency_key: IdempotencyKey = None) -> ReportOut:
    """A new draft prefilled from the case: the reporting institution, the subject from
    their KYC record, the case's payments, and the indicators (rules, typologies and list
    hits with their values). 409 REPORT_OPEN when the case has one in draft or review."""
    return ReportOut.of(reports.draft(deps, who, case_id, body.kind, idempotency_key))


@router.get("/reports/{report_id}", response_model=ReportOut)
def view_report(report_id: Id, who: Officer, deps: DepsDep) -> ReportOut:
    return ReportOut.of(reports.report(deps, who, report_id))


@router.put("/reports/{report_id}", response_model=ReportOut)
def edit_report(report_id: Id, body: EditIn, who: Officer, deps: DepsDep,
                idempotency_key: IdempotencyKey = None) -> ReportOut:
    """A draft's narrative (and kind). 409 REPORT_STATE outside draft, REPORT_FILED once
    filed."""
    return ReportOut.of(reports.edit(deps, who, report_id, narrative=body.narrative,
                                     kind=body.kind, idempotency_key=idempotency_key))


@router.post("/reports/{report_id}/submit", response_model=ReportOut)
def submit_report(report_id: Id, who: Officer, deps: DepsDep,
                  idempotency_key: IdempotencyKey = None) -> ReportOut:
    """Draft -> in review (it needs a narrative)."""
    return ReportOut.of(reports.submit(deps, who, report_id, idempotency_key))


@router.post("/reports/{report_id}/send-back", response_model=ReportOut)
def send_back_report(report_id: Id, body: SendBackIn, who: Officer, deps: DepsDep,
                     idempotency_key: IdempotencyKey = None) -> ReportOut:
    """In review -> draft, with the reviewer's reason. 403 FOUR_EYES_REQUIRED for an
    author of the report."""
    return ReportOut.of(reports.send_back(deps, who, report_id, body.reason,
                                          idempotency_key))


@router.post("/reports/{report_id}/file", response_model=ReportOut)
def file_report(report_id: Id, who: Officer, deps: DepsDep,
                idempotency_key: IdempotencyKey = None) -> ReportOut:
    """In review -> filed by a second officer (403 FOUR_EYES_REQUIRED for an author):
    numbered YYYY-NNNNNN, gap-free per year, with its content hash; immutable after."""
    return ReportOut.of(reports.file(deps, who, report_id, idempotency_key))


@router.get("/reports/{report_id}/export", response_class=Response, responses={
    200: {"content": {"application/json": {}, "application/xml": {}}}})
def export_report(report_id: Id, who: Officer, deps: DepsDep,
                  format: Literal["json", "xml"] = "json") -> Response:
    """The report as a file: JSON (schema corridor.str/1) or goAML-style XML validated
    against Corridor's schema for the subset it emits."""
    r = reports.report(deps, who, report_id)
    name = f"report-{r.number or r.id}"
    if format == "xml":
        return Response(report_export.xml_bytes(r), media_type="application/xml", headers={
            "Content-Disposition": f'attachment; filename="{name}.xml"'})
    return Response(dom.canonical(report_export.json_document(r)),
                    media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
