"""The platform's one web application: the JSON API under /v1 (api/app.py, unchanged)
and the pages at /, served by the same process at the same origin, so the pages are just
another client of the same services and the same sessions."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from corridor.api.app import create_app
from corridor.platform.bootstrap import Platform
from corridor.web import (
    pages_auth,
    pages_explorer,
    pages_kyc,
    pages_money,
    pages_pay,
    pages_recover,
    pages_security,
)
from corridor.web.security import PageHeaders

STATIC = Path(__file__).parent / "static"
# Each area's page router, mounted at the root.
PAGE_ROUTERS = (pages_auth.router, pages_recover.router, pages_money.router, pages_pay.router,
                pages_kyc.router, pages_security.router, pages_explorer.router)


def create_site(platform: Platform) -> FastAPI:
    app = create_app(platform)
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(PageHeaders, production=platform.settings.production)
    return app
