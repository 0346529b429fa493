"""Identity verification (KYC) as its customer sees it: the state, the level granted, and
each field the requested level needs with its own state and what is missing. Read through
the same service as GET /v1/kyc/customer; documents and answers are submitted through the
API for now (the forms are the next step of issue 15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from corridor.platform.domain import kyc as kyc_domain
from corridor.platform.services import kyc
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]


@router.get("/verification", response_class=HTMLResponse)
def verification(page: PageDep) -> Response:
    who = page.customer()
    view = kyc.get_customer(page.deps, who)
    fields = view.fields  # values are shown only as "provided": never echoed on a page
    missing = [name for name, f in fields.items()
               if f["required"] and f["status"] in (kyc_domain.FieldStatus.NOT_PROVIDED,
                                                    kyc_domain.FieldStatus.REJECTED)]
    return render.html(page, "verification.html", record=view.record, fields=fields,
                       missing=missing)
