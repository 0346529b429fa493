"""The back office's refund pages: the queue of requests waiting for a decision, a
request with its payment and evidence (listed, downloaded one by one, never inlined) and
the decision form (approve or reject, with a reason). The same services as the API's
/v1/staff/refunds routes; everything needs refund.review (support agents, compliance
officers), checked before the form is read. The form's idempotency key is made when it
is shown, so a resent form decides once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import refunds as dom
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import refunds
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
Text = Annotated[str, Form(max_length=dom.REASON_LEN_MAX)]
Short = Annotated[str, Form(max_length=100)]
PAGE_SIZE = 20



@router.get("/staff/refunds", response_class=HTMLResponse)
def refund_queue(page: PageDep,
                 offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    who = page.staff(Perm.REFUND_REVIEW)
    items, total = refunds.review_queue(page.deps, who, PAGE_SIZE, offset)
    return render.html(page, "staff_refunds.html", refunds=items, total=total, offset=offset,
                       page_size=PAGE_SIZE)


def _refund(page: Page, who: Principal, refund_id: str, values: dict[str, str],
            exc: PlatformError | None = None) -> Response:
    view = refunds.staff_view(page.deps, who, refund_id)
    key = page.form_key(values)
    return render.form(page, "staff_refund.html", exc, refund=view.refund,
                       payment=view.payment, files=view.files, values={**values, "key": key})


@router.get("/staff/refunds/{refund_id}", response_class=HTMLResponse)
def refund_detail(page: PageDep, refund_id: Id) -> Response:
    who = page.staff(Perm.REFUND_REVIEW)
    return _refund(page, who, refund_id, {"decision": "", "reason": ""})


@router.get("/staff/refunds/{refund_id}/files/{file_id}")
def refund_file(page: PageDep, refund_id: Id, file_id: Id) -> Response:
    """One evidence file, as a download (audited): never shown inside the page."""
    who = page.staff(Perm.REFUND_REVIEW)
    f, data = refunds.staff_file(page.deps, who, refund_id, file_id)
    return Response(data, media_type=f.content_type, headers={
        "Content-Disposition": f'attachment; filename="{f.id}.{f.kind}"'})


@router.post("/staff/refunds/{refund_id}/decision")
def refund_decide(page: PageDep, refund_id: Id, decision: Short = "", reason: Text = "",
                  platform_error: Short = "", key: Short = "") -> Response:
    who = page.staff(Perm.REFUND_REVIEW)
    asked = dom.Decision(outcome=decision, reason=reason, platform_error=platform_error == "yes")
    try:
        refunds.decide(page.deps, who, refund_id, asked, key or None)
    except PlatformError as exc:
        values = {"decision": decision, "reason": reason, "platform_error": platform_error,
                  "key": key}
        return _refund(page, who, refund_id, values, exc)
    return RedirectResponse(f"/staff/refunds/{refund_id}", status_code=303)
