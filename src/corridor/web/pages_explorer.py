"""The public, read-only explorer (issue 15): the chain as the node the platform reads
states it. Latest blocks and transactions (followed live by htmx polling a fragment; a
plain reload without JavaScript), a block with its commit certificate, a transaction with
its result and inclusion proof (checked again in the reader's browser by static/verify.js),
an account's balances and history, the validators, and a search box.

Anyone may read these pages, so each request counts against a per-address rate limit in
the API's limiter; bad input and an unreachable node get a page in the reader's language
with a stable code (services/explorer.py raises, PageRoute renders).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import explorer
from corridor.web import messages, render
from corridor.web.context import Page, PageRoute, Redirect, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]

BUCKET = "explorer-ip"
# Per address and minute: a reader's clicks plus the front page's polling (every
# POLL_S seconds, 60 / POLL_S a minute) with room to spare; scraping hits the wall.
POLL_S = 5
READS_PER_MINUTE_MAX = 120
assert 60 // POLL_S * 2 <= READS_PER_MINUTE_MAX
MINUTE_S = 60.0


def _public(page: Page) -> None:
    page.request.app.state.limiter.hit(BUCKET, page.origin.ip, READS_PER_MINUTE_MAX, MINUTE_S)


def _refused(page: Page, exc: PlatformError, q: str = "") -> Response:
    """A refusal as the explorer's own page: the reason in the reader's language, its
    stable code, and the search box again (with what was typed) to try something else."""
    return render.html(page, "explorer_error.html", exc.kind.http_status, code=exc.code,
                       message=messages.refusal_text(page.fmt, exc), q=q)


@router.get("/explorer", response_class=HTMLResponse)
def front(page: PageDep) -> Response:
    try:
        _public(page)
        latest_ = explorer.latest(page.deps)
    except PlatformError as exc:
        return _refused(page, exc)
    return render.html(page, "explorer.html", latest=latest_, poll_s=POLL_S)


@router.get("/explorer/latest", response_class=HTMLResponse)
def latest(page: PageDep) -> Response:
    """The latest blocks and transactions alone: what htmx swaps in every POLL_S seconds
    (and the whole page for a reader without JavaScript who follows the link)."""
    try:
        _public(page)
        latest_ = explorer.latest(page.deps)
    except PlatformError as exc:
        return _refused(page, exc)  # htmx keeps the list it has (it swaps no error)
    template = ("_explorer_latest.html" if page.request.headers.get("hx-request")
                else "explorer.html")
    return render.html(page, template, latest=latest_, poll_s=POLL_S)


@router.get("/explorer/search")
def search(page: PageDep, q: str = "") -> Response:
    try:
        _public(page)
        target = explorer.search(page.deps, q)
    except PlatformError as exc:
        return _refused(page, exc, q[: explorer.SEARCH_TEXT_MAX])
    raise Redirect(target)


@router.get("/explorer/block/{height}", response_class=HTMLResponse)
def block(page: PageDep, height: str) -> Response:
    try:
        _public(page)
        found = explorer.block(page.deps, height)
    except PlatformError as exc:
        return _refused(page, exc)
    return render.html(page, "explorer_block.html", block=found)


@router.get("/explorer/tx/{tx_hash}", response_class=HTMLResponse)
def tx(page: PageDep, tx_hash: str) -> Response:
    try:
        _public(page)
        found = explorer.tx(page.deps, tx_hash)
    except PlatformError as exc:
        return _refused(page, exc)
    return render.html(page, "explorer_tx.html", tx=found)


@router.get("/explorer/account/{address}", response_class=HTMLResponse)
def account(page: PageDep, address: str) -> Response:
    try:
        _public(page)
        found = explorer.account(page.deps, address)
    except PlatformError as exc:
        return _refused(page, exc)
    return render.html(page, "explorer_account.html", account=found)


@router.get("/explorer/validators", response_class=HTMLResponse)
def validators(page: PageDep) -> Response:
    try:
        _public(page)
        found = explorer.validators(page.deps)
    except PlatformError as exc:
        return _refused(page, exc)
    return render.html(page, "explorer_validators.html", vs=found)
