"""The back office's compliance pages (issue 16): the queue of open cases, oldest first,
and a case with its evidence (the money it concerns: payments, deposits, withdrawals and
refunds, those it holds marked; each hit with its explanation: the names, tokens and
score; the customer's KYC summary) and the decision forms (release, return, clear a hit,
request information by a deadline, freeze or unfreeze the customer's holdings on chain,
exit the relationship, note, assign, close), with the case's SLA timers, its freeze's
state on chain and the graph of flows around the customer (inline SVG with the same
figures as a table). The queue lists escalated cases first. The same services as the
API's /v1/staff/compliance routes; everything needs compliance.review (compliance
officers), checked before a form is read; freezes and exit need account.freeze too. The
forms' idempotency key is made when the page is shown, so a resent form decides once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import compliance as dom
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import case_actions, case_graph, case_sla, compliance
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
    items, total = case_sla.queue(page.deps, who, limit=PAGE_SIZE, offset=offset)
    return render.html(page, "staff_compliance.html", cases=items, total=total,
                       offset=offset, page_size=PAGE_SIZE)


def _case(page: Page, who: Principal, case_id: str, values: dict[str, str],
          exc: PlatformError | None = None) -> Response:
    view = compliance.case(page.deps, who, case_id)
    key = page.form_key(values)
    graph = case_graph.graph(page.deps, who, view.case.id)
    return render.form(page, "staff_compliance_case.html", exc, view=view, me=who.user_id,
                       values={**values, "key": key}, sla=case_sla.sla_of_view(page.deps, view),
                       freeze=case_actions.freeze_of(page.deps, view.case),
                       may_freeze=who.staff_can(Perm.ACCOUNT_FREEZE), graph=graph,
                       at={n.key: n for n in graph.nodes},
                       escalations=case_sla.escalations(page.deps, view.case.id))


@router.get("/staff/compliance/cases/{case_id}", response_class=HTMLResponse)
def case_detail(page: PageDep, case_id: Id) -> Response:
    who = page.staff(Perm.COMPLIANCE_REVIEW)
    return _case(page, who, case_id, {"kind": "", "note": "", "message": "",
                                        "respond_days": ""})


@router.post("/staff/compliance/cases/{case_id}/decision")
def case_decide(page: PageDep, case_id: Id, kind: Short = "", note: Text = "",
                alert_id: Short = "", message: Short = "", key: Short = "",
                respond_days: Short = "") -> Response:
    who = page.staff(Perm.COMPLIANCE_REVIEW)
    days = respond_days.strip()
    req = compliance.DecisionRequest(
        kind=kind, note=note, alert_id=alert_id or None, message=message or None,
        officer_id=who.user_id if kind == dom.DecisionKind.ASSIGN else None,
        # not a whole number: 0, which the service refuses with the field's message
        respond_days=(int(days) if days.isdigit() and len(days) <= 3 else 0) if days else None)
    try:
        compliance.decide(page.deps, who, case_id, req, key or None)
    except PlatformError as exc:
        values = {"kind": kind, "note": note, "message": message, "alert_id": alert_id,
                  "key": key, "respond_days": respond_days}
        return _case(page, who, case_id, values, exc)
    return RedirectResponse(f"/staff/compliance/cases/{case_id}", status_code=303)
