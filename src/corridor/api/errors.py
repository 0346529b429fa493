"""One error shape for every failure: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from corridor.platform.domain.errors import Kind, PlatformError

log = logging.getLogger("corridor.api")

STATUS = {
    Kind.INVALID: 422,
    Kind.UNAUTHENTICATED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.RATE_LIMITED: 429,
    Kind.TOO_LARGE: 413,
    Kind.UNAVAILABLE: 503,
}

HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST", 429: "RATE_LIMITED",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str]


class ErrorOut(BaseModel):
    """The body of every error response (documented on every operation, api/statuses.py)."""

    error: ErrorDetail


class RequestRefused(StarletteHTTPException):
    """A request refused while its body is read, with a stable code. FastAPI turns any
    other exception raised while it reads a body into a bare 400, so the body limit and
    the JSON decoder raise this (an HTTP exception, which FastAPI passes through)."""

    def __init__(self, status_code: int, code: str, message: str,
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(status_code, message)
        self.code = code
        self.message = message
        self.fields = fields or {}


def body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def install(app: FastAPI) -> None:
    @app.exception_handler(PlatformError)
    async def _platform(_req: Request, exc: PlatformError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.kind is Kind.UNAUTHENTICATED else None
        return JSONResponse(
            body(exc.code, exc.message, exc.fields), STATUS[exc.kind], headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            fields.setdefault(".".join(loc) or "body", str(err.get("msg", "invalid")))
        return JSONResponse(body("INVALID_REQUEST", "the request is not valid", fields), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, RequestRefused):
            return JSONResponse(body(exc.code, exc.message, exc.fields), exc.status_code)
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(body(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(IntegrityError)
    async def _race(req: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique thing (a first KYC record, a department
        # name...): the database refused the second; nothing of it was written.
        log.info("integrity conflict on %s %s: %s", req.method, req.url.path, exc.orig)
        return JSONResponse(body("CONFLICT", "a concurrent request changed the same thing; "
                                 "nothing was written, retry"), 409)

    @app.exception_handler(Exception)
    async def _bug(req: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return JSONResponse(body("INTERNAL", "internal error; it has been logged"), 500)
