"""The back office for our own staff, by role: the landing page (links to what the
signed-in role may use), the KYC review queue, a record with its subject's documents
(listed, downloaded one by one, never inlined) and the decision form. The same services
as the API's /v1/staff/kyc routes, and the same permission checks: reading needs
kyc.read, deciding kyc.review, checked before the form is read (the service checks
again). The decision form carries an idempotency key made when it was shown, so a double
click or a resent form decides once. The refund pages are pages_staff_refunds.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import kyc as dom
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import kyc, risk
from corridor.web import (
    pages_staff_admin,
    pages_staff_office,
    pages_staff_refunds,
    render,
    risk_text,
)
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
RecordId = Annotated[str, Path(max_length=64)]
FileId = Annotated[str, Path(max_length=64)]
Text = Annotated[str, Form(max_length=dom.REASON_LEN_MAX)]
Short = Annotated[str, Form(max_length=100)]
PAGE_SIZE = 20
MARKS_MAX = 64  # as the API's DecisionIn


@router.get("/staff", response_class=HTMLResponse)
def landing(page: PageDep) -> Response:
    who = page.staff()
    return render.html(page, "staff.html", role=who.staff_role)


@router.get("/staff/kyc", response_class=HTMLResponse)
def kyc_queue(page: PageDep, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    who = page.staff(Perm.KYC_READ)
    items, total = kyc.queue(page.deps, who, PAGE_SIZE, offset)
    due = kyc.due(page.deps, who, PAGE_SIZE, 0)  # most overdue first (re-reviews, issue 16)
    return render.html(page, "staff_kyc_queue.html", records=items, total=total,
                       offset=offset, page_size=PAGE_SIZE, due=due,
                       risk_level=lambda level: risk_text.level_text(page.fmt, level))


def _record(page: Page, who: Principal, record_id: str, values: Mapping[str, object],
            exc: PlatformError | None = None) -> Response:
    """A record, its documents and (for kyc.review) the decision form: a fresh
    idempotency key, unless shown again after a refusal (then the key it was sent with)."""
    view = kyc.staff_view(page.deps, who, record_id)
    key = page.form_key(values)
    return render.form(page, "staff_kyc.html", exc, view=view, record=view.record,
                       **risk_text.context(page, risk.record_view(page.deps, who, record_id)),
                       fields=view.fields, files=view.files,
                       may_decide=who.staff_can(Perm.KYC_REVIEW),
                       values={**values, "key": key}, tiers=sorted(dom.TIERS)[1:],
                       risks=[r.value for r in dom.Risk])


@router.get("/staff/kyc/{record_id}", response_class=HTMLResponse)
def kyc_record(page: PageDep, record_id: RecordId) -> Response:
    who = page.staff(Perm.KYC_READ)
    return _record(page, who, record_id, {"decision": "", "reason": "", "tier": "",
                                          "risk": "", "fields": []})


@router.get("/staff/kyc/{record_id}/files/{file_id}")
def kyc_file(page: PageDep, record_id: RecordId, file_id: FileId) -> Response:
    """One document, as a download (audited): never shown inside the page."""
    who = page.staff(Perm.KYC_READ)
    f, data = kyc.staff_file(page.deps, who, record_id, file_id)
    return Response(data, media_type=f.content_type, headers={
        "Content-Disposition": f'attachment; filename="{f.id}.{f.kind}"'})


def _tier(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 2 else None


@router.post("/staff/kyc/{record_id}/decision")
def kyc_decide(page: PageDep, record_id: RecordId, decision: Short = "", reason: Text = "",
               tier: Short = "", risk: Short = "",
               fields: Annotated[list[str] | None, Form()] = None,
               key: Short = "") -> Response:
    who = page.staff(Perm.KYC_REVIEW)
    fields = [name[:64] for name in (fields or [])[:MARKS_MAX]]
    marks = {name: {"status": dom.FieldStatus.REJECTED.value, "reason": reason}
             for name in fields} if decision == dom.Outcome.NEEDS_INFO else {}
    asked = dom.Decision(outcome=decision, reason=reason, tier=_tier(tier),
                         risk=risk or None, marks=marks)
    try:
        kyc.decide(page.deps, who, record_id, asked, key or None)
    except PlatformError as exc:
        values = {"decision": decision, "reason": reason, "tier": tier, "risk": risk,
                  "fields": fields, "key": key}
        return _record(page, who, record_id, values, exc)
    return RedirectResponse(f"/staff/kyc/{record_id}", status_code=303)


router.include_router(pages_staff_refunds.router)
router.include_router(pages_staff_office.router)
router.include_router(pages_staff_admin.router)
