"""The platform's one web application: the JSON API under /v1 (api/app.py, unchanged)
and the pages at /, served by the same process at the same origin, so the pages are just
another client of the same services and the same sessions."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from corridor.api.app import create_app
from corridor.platform.bootstrap import Platform
from corridor.platform.domain.errors import Err
from corridor.web import (
    context,
    pages_approvals,
    pages_auth,
    pages_authenticity,
    pages_batches,
    pages_collections,
    pages_deposits,
    pages_explorer,
    pages_help,
    pages_history,
    pages_kyc,
    pages_money,
    pages_notifications,
    pages_org,
    pages_org_keys,
    pages_org_reports,
    pages_pay,
    pages_recover,
    pages_refunds,
    pages_regulator,
    pages_security,
    pages_staff,
    pages_staff_compliance,
    pages_staff_reports,
    pages_withdrawals,
    render,
)
from corridor.web.security import NOT_PAGES, PageHeaders

STATIC = Path(__file__).parent / "static"
# Each area's page router, mounted at the root.
PAGE_ROUTERS = (pages_auth.router, pages_recover.router, pages_money.router, pages_pay.router,
                pages_kyc.router, pages_security.router, pages_explorer.router,
                pages_deposits.router, pages_withdrawals.router, pages_history.router,
                pages_staff.router, pages_org.router, pages_notifications.router,
                pages_help.router, pages_refunds.router, pages_staff_compliance.router,
                pages_staff_reports.router, pages_regulator.router,
                pages_authenticity.router, pages_org_reports.router,
                pages_org_keys.router, pages_collections.router, pages_approvals.router,
                pages_batches.router)


def create_site(platform: Platform) -> FastAPI:
    app = create_app(platform, form_uploads={**pages_kyc.FORM_UPLOADS,
                                              **pages_refunds.FORM_UPLOADS,
                                              **pages_authenticity.FORM_UPLOADS,
                                              **pages_batches.FORM_UPLOADS})
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(PageHeaders, production=platform.settings.production)
    _html_misses(app)
    return app


def _html_misses(app: FastAPI) -> None:
    """An address that is neither a page nor the API (a mistyped link) gets a page in the
    reader's language; the API's addresses keep its JSON errors."""
    api_handler = app.exception_handlers[HTTPException]

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith(NOT_PAGES) or exc.status_code not in (404, 405):
            response: Response = await api_handler(request, exc)  # type: ignore[misc]
            return response
        page = await run_in_threadpool(context.build_page, request)
        err = Err.NOT_FOUND if exc.status_code == 404 else Err.INVALID_REQUEST
        response = render.refusal(page, err.error())
        response.status_code = exc.status_code
        return context.finish(page, response)

    app.add_exception_handler(HTTPException, handler)
