"""The platform API application: versioned routes under /v1, OpenAPI at /docs."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corridor.api import errors, statuses
from corridor.api.deps import SharedRateLimiter
from corridor.api.json_body import JsonRoute
from corridor.platform.adapters.rate_limits import SqlRateLimits
from corridor.platform.bootstrap import Platform
from corridor.platform.domain.errors import Err

API_VERSION = "1"
BODY_BYTES_MAX = 1024 * 1024  # JSON bodies; uploads have their own, larger limit
UPLOAD_PATH_PREFIXES = ("/v1/kyc/files", "/v1/refunds/files", "/v1/payment-documents/",
                        "/v1/batches")

# Each area's router module (corridor.api.routers.<name>), mounted under /v1.
ROUTERS = ("health", "auth", "me", "staff_audit", "orgs", "staff_admin", "wallets",
           "kyc", "staff_kyc", "refunds", "staff_refunds", "staff_holds", "staff_office",
           "staff_freezes",
           "staff_compliance", "staff_reports",
           "regulator",
           "history", "deposits", "withdrawals", "rails", "quotes", "payments", "webhooks",
           "apikeys",
           "notifications", "payment_documents", "staff_authenticity",
           "org_reports", "collections", "approvals", "batches")


class BodyLimit:
    """Refuses bodies beyond a limit before they are read into memory (plain ASGI)."""

    def __init__(self, app: ASGIApp, json_max: int, upload_max: int,
                 form_uploads: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.json_max = json_max
        self.upload_max = upload_max
        # Paths whose one form carries several documents: (their number × upload_max).
        self.form_uploads = dict(form_uploads or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.upload_max if path.startswith(UPLOAD_PATH_PREFIXES) else self.json_max
        if path in self.form_uploads:
            limit = self.upload_max * self.form_uploads[path]
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await _too_large(send, limit)
                return
        seen = 0

        async def limited() -> Message:
            # A body without a Content-Length (chunked) is counted as it arrives. The
            # refusal is an HTTP exception: FastAPI turns anything else raised while it
            # reads a body into a 400.
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise errors.RequestRefused(Err.TOO_LARGE, _too_large_message(limit))
            return msg

        await self.app(scope, limited, send)


def _too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


async def _too_large(send: Send, limit: int) -> None:
    import json

    payload = json.dumps(errors.body(Err.TOO_LARGE, _too_large_message(limit))).encode()
    await send({"type": "http.response.start", "status": Err.TOO_LARGE.kind.http_status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


def create_app(platform: Platform, form_uploads: Mapping[str, int] | None = None) -> FastAPI:
    """The API; `form_uploads` names the pages (mounted later by web/site.py) whose forms
    carry several documents, each with how many, so their bodies may be that much larger."""
    app = FastAPI(
        title="Corridor platform API",
        version=API_VERSION,
        description="Customers, institutions and staff of a Corridor payment institution.",
    )
    app.state.platform = platform
    # In the database: every API worker process counts against the same limits.
    app.state.limiter = SharedRateLimiter(SqlRateLimits(platform.engine, platform.deps.clock))
    errors.install(app)
    for name in ROUTERS:
        module = importlib.import_module(f"corridor.api.routers.{name}")
        # Every JSON body goes through the one decoder (json_body.py: duplicate keys are
        # refused), so every router of the module is built with `route_class=JsonRoute`.
        for value in vars(module).values():
            if isinstance(value, APIRouter):
                assert issubclass(value.route_class, JsonRoute), f"{name}: route_class"
        app.include_router(module.router, prefix="/v1")
    statuses.install(app)  # every status each operation can answer, in its OpenAPI
    app.add_middleware(
        BodyLimit, json_max=BODY_BYTES_MAX, upload_max=platform.settings.upload_bytes_max + 65536,
        form_uploads=form_uploads,
    )
    return app
