"""Help pages (public): how to keep an account safe. The FAQ joins them once the service
desk exists (issue 15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]


@router.get("/help/security", response_class=HTMLResponse)
def security_help(page: PageDep) -> Response:
    """Phishing, recovery codes, codes never shared, and how Corridor contacts people."""
    return render.html(page, "help_security.html")
