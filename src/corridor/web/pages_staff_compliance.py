"""The back office's compliance pages (issue 16): the queue of open cases, oldest first,
and a case with its evidence (the money it concerns: payments, deposits, withdrawals and
refunds, those it holds marked; each hit with its explanation: the names, tokens and
score; the customer's KYC summary) and the decision forms (release, return, clear a hit,
request information, note, assign, close). The same services as the
API's /v1/staff/compliance routes; everything needs compliance.review (compliance
officers), checked before a form is read. The forms' idempotency key is made when the
page is shown, so a resent form decides once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import compliance as dom
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import compliance
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
Text = Annotated[str, Form(max_length=dom.NOTE_LEN_MAX)]
Short = Annotated[str, Form(max_length=200)]
PAGE_SIZE = 20


@router.get("/staff/compliance", response_class=HTMLResponse)
def case_queue(page: PageDep,
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    who = page.staff(Perm.COMPLIANCE_REVIEW)
    items, total = compliance.queue(page.deps, who, limit=PAGE_SIZE, offset=offset)
    return render.html(page, "staff_compliance.html", cases=items, total=total,
                       offset=offset, page_size=PAGE_SIZE)


def _case(page: Page, who: Principal, case_id: str, values: dict[str, str],
          exc: PlatformError | None = None) -> Response:
    view = compliance.case(page.deps, who, case_id)
    key = page.form_key(values)
    return render.form(page, "staff_compliance_case.html", exc, view=view, me=who.user_id,
                       values={**values, "key": key})


@router.get("/staff/compliance/cases/{case_id}", response_class=HTMLResponse)
def case_detail(page: PageDep, case_id: Id) -> Response:
    who = page.staff(Perm.COMPLIANCE_REVIEW)
    return _case(page, who, case_id, {"kind": "", "note": "", "message": ""})


@router.post("/staff/compliance/cases/{case_id}/decision")
def case_decide(page: PageDep, case_id: Id, kind: Short = "", note: Text = "",
                alert_id: Short = "", message: Short = "", key: Short = "") -> Response:
    who = page.staff(Perm.COMPLIANCE_REVIEW)
    req = compliance.DecisionRequest(
        kind=kind, note=note, alert_id=alert_id or None, message=message or None,
        officer_id=who.user_id if kind == dom.DecisionKind.ASSIGN else None)
    try:
        compliance.decide(page.deps, who, case_id, req, key or None)
    except PlatformError as exc:
        values = {"kind": kind, "note": note, "message": message, "alert_id": alert_id,
                  "key": key}
        return _case(page, who, case_id, values, exc)
    return RedirectResponse(f"/staff/compliance/cases/{case_id}", status_code=303)
