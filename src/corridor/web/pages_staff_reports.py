"""The back office's suspicious-transaction report pages (issue 16): the list by state;
a report drafted from a case (the case page's "Draft a report" form), its evidence (the
subject from KYC, the payments, the indicators, the case's decisions) with the form of
its state (the narrative while a draft; file or send back while in review, for an
officer who did not write it); a filed report's number, hash and downloads (JSON, XML);
and a printable view. The same services as /v1/staff/compliance/reports; everything
needs compliance.review, checked before a form is read. Each form's idempotency key is
made when the page is shown, so a resent form acts once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import reports as dom
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.reports import ReportState
from corridor.platform.domain.roles import Perm
from corridor.platform.services import report_export, reports
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
Short = Annotated[str, Form(max_length=200)]
Reason = Annotated[str, Form(max_length=dom.REASON_LEN_MAX)]
Narrative = Annotated[str, Form(max_length=dom.NARRATIVE_LEN_MAX)]
PAGE_SIZE = 20
STATES = tuple(ReportState)


def _officer(page: Page) -> Principal:
    return page.staff(Perm.COMPLIANCE_REVIEW)


@router.get("/staff/reports", response_class=HTMLResponse)
def report_list(page: PageDep, state: Annotated[str, Query(max_length=16)] = "",
                case_id: Annotated[str, Query(max_length=64)] = "",
                offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    who = _officer(page)
    items, total = reports.reports(page.deps, who, state=state or None,
                                   case_id=case_id or None, limit=PAGE_SIZE, offset=offset)
    return render.html(page, "staff_reports.html", items=items, total=total, state=state,
                       case_id=case_id, states=STATES, offset=offset, page_size=PAGE_SIZE)


@router.post("/staff/compliance/cases/{case_id}/report")
def report_draft(page: PageDep, case_id: Id, kind: Short = "STR",
                 key: Short = "") -> Response:
    """The case page's "Draft a report" form."""
    who = _officer(page)
    r = reports.draft(page.deps, who, case_id, kind, key or None)
    return RedirectResponse(f"/staff/reports/{r.id}", status_code=303)


def _show(page: Page, who: Principal, report_id: str, values: dict[str, str],
          exc: PlatformError | None = None) -> Response:
    r = reports.report(page.deps, who, report_id)
    key = page.form_key(values)
    shown = {"narrative": r.narrative, "kind": r.kind.value, "reason": "", **values,
             "key": key}
    return render.form(page, "staff_report.html", exc, report=r,
                       doc=report_export.json_document(r), values=shown,
                       may_review=dom.may_review(r, who.user_id), me=who.user_id)


@router.get("/staff/reports/{report_id}", response_class=HTMLResponse)
def report_view(page: PageDep, report_id: Id) -> Response:
    who = _officer(page)
    return _show(page, who, report_id, {})


@router.post("/staff/reports/{report_id}/{step}")
def report_step(page: PageDep, report_id: Id,
                step: Annotated[str, Path(pattern="^(edit|submit|send-back|file)$")],
                narrative: Narrative = "", kind: Short = "", reason: Reason = "",
                key: Short = "") -> Response:
    """One step: the narrative saved, submitted for review, sent back, or filed."""
    who = _officer(page)
    deps, k = page.deps, key or None
    try:
        if step == "edit":
            reports.edit(deps, who, report_id, narrative=narrative, kind=kind or None,
                         idempotency_key=k)
        elif step == "submit":
            reports.submit(deps, who, report_id, k)
        elif step == "send-back":
            reports.send_back(deps, who, report_id, reason, k)
        else:
            reports.file(deps, who, report_id, k)
    except PlatformError as exc:
        values = {"narrative": narrative, "kind": kind, "reason": reason, "key": key}
        if step != "edit":
            values.pop("narrative")
            values.pop("kind")
        return _show(page, who, report_id, values, exc)
    return RedirectResponse(f"/staff/reports/{report_id}", status_code=303)


@router.get("/staff/reports/{report_id}/print", response_class=HTMLResponse)
def report_print(page: PageDep, report_id: Id) -> Response:
    who = _officer(page)
    r = reports.report(page.deps, who, report_id)
    return render.html(page, "staff_report_print.html", report=r,
                       doc=report_export.json_document(r),
                       printed_ms=page.deps.clock.now_ms())


@router.get("/staff/reports/{report_id}/report.{fmt}")
def report_file(page: PageDep, report_id: Id,
                fmt: Annotated[str, Path(pattern="^(json|xml)$")]) -> Response:
    """The report's JSON document or goAML-style XML, as the API's export."""
    who = _officer(page)
    r = reports.report(page.deps, who, report_id)
    name = f"report-{r.number or r.id}.{fmt}"
    if fmt == "xml":
        data, media = report_export.xml_bytes(r), "application/xml"
    else:
        data, media = dom.canonical(report_export.json_document(r)), "application/json"
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
