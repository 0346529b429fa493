"""The explorer's first page (public, read-only): the network and its latest block, from
the node the platform reads. Blocks, transactions and accounts get their pages on this
foundation (issue 15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import wallets
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]


@router.get("/explorer", response_class=HTMLResponse)
def explorer(page: PageDep) -> Response:
    node = wallets.ledger_node(page.deps)
    try:
        chain = node.status() if node is not None else None
    except PlatformError:
        chain = None  # the node is away: the page says so
    return render.html(page, "explorer.html", chain=chain)
