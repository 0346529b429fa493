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

from collections.abc import Callable
from typing import Annotated, Any

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


def _shown(page: Page, template: str, name: str, read: Callable[[], Any],
           **extra: Any) -> Response:
    """One public read: counted against the reader's limit, then `read()` shown as `name`
    in `template`, or the refusal as the explorer's own page."""
    try:
        _public(page)
        found = read()
    except PlatformError as exc:
        return _refused(page, exc)
    return render.html(page, template, **{name: found}, **extra)


@router.get("/explorer", response_class=HTMLResponse)
def front(page: PageDep) -> Response:
    return _shown(page, "explorer.html", "latest", lambda: explorer.latest(page.deps),
                  poll_s=POLL_S)


@router.get("/explorer/latest", response_class=HTMLResponse)
def latest(page: PageDep) -> Response:
    """The latest blocks and transactions alone: what htmx swaps in every POLL_S seconds
    (and the whole page for a reader without JavaScript who follows the link). A refusal
    leaves htmx with the list it has (it swaps no error)."""
    template = ("_explorer_latest.html" if page.request.headers.get("hx-request")
                else "explorer.html")
    return _shown(page, template, "latest", lambda: explorer.latest(page.deps),
                  poll_s=POLL_S)


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
    return _shown(page, "explorer_block.html", "block",
                  lambda: explorer.block(page.deps, height))


@router.get("/explorer/tx/{tx_hash}", response_class=HTMLResponse)
def tx(page: PageDep, tx_hash: str) -> Response:
    return _shown(page, "explorer_tx.html", "tx", lambda: explorer.tx(page.deps, tx_hash))


@router.get("/explorer/account/{address}", response_class=HTMLResponse)
def account(page: PageDep, address: str) -> Response:
    return _shown(page, "explorer_account.html", "account",
                  lambda: explorer.account(page.deps, address))


@router.get("/explorer/validators", response_class=HTMLResponse)
def validators(page: PageDep) -> Response:
    return _shown(page, "explorer_validators.html", "vs",
                  lambda: explorer.validators(page.deps))
