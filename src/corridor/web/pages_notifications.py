"""The notifications inbox page: newest first, unread marked, each linking to what it is
about; "mark read" and "mark all read" are CSRF-protected forms over the same service as
the API's /v1/me/notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from corridor.platform.domain import notifications as dom
from corridor.platform.services import notifications
from corridor.web import notices, render
from corridor.web.context import Page, PageRoute, Redirect, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
PAGE_SIZE = 20
assert PAGE_SIZE <= dom.PAGE_MAX


@router.get("/notifications", response_class=HTMLResponse)
def inbox(page: PageDep, offset: Annotated[int, Query(ge=0, le=dom.PER_USER_MAX)] = 0
          ) -> Response:
    who = page.signed_in()
    found = notifications.page(page.deps, who, limit=PAGE_SIZE, offset=offset)
    rows = [{"id": n.id, "text": notices.text(page.fmt, n), "link": notices.link(n),
             "created_ms": n.created_ms, "read": n.read_ms is not None} for n in found.items]
    return render.html(page, "notifications.html", rows=rows, total=found.total,
                       unread=found.unread, offset=offset, page_size=PAGE_SIZE)


@router.post("/notifications/read-all")
def read_all(page: PageDep) -> Response:
    notifications.mark_all_read(page.deps, page.signed_in())
    raise Redirect("/notifications")


@router.post("/notifications/{notification_id}/read")
def read_one(page: PageDep, notification_id: str) -> Response:
    """Marks one read (someone else's: the not-found page, as for an absent one)."""
    notifications.mark_read(page.deps, page.signed_in(), notification_id)
    raise Redirect("/notifications")
