"""One error shape for every failure: ``{"error": {"code", "message", "fields"}}``, the
code an `Err` member (platform/domain/errors.py) and the status its kind's."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from corridor.platform.domain.errors import Err, Kind, PlatformError

log = logging.getLogger("corridor.api")

# The code of an HTTP exception raised by the framework (an unknown path, a wrong method),
# by its status: the general code of the status's kind.
HTTP_CODES = {e.kind.http_status: e for e in (
    Err.BAD_REQUEST, Err.UNAUTHENTICATED, Err.FORBIDDEN, Err.NOT_FOUND, Err.METHOD_NOT_ALLOWED,
    Err.CONFLICT, Err.TOO_LARGE, Err.UNSUPPORTED_MEDIA_TYPE, Err.INVALID_REQUEST,
    Err.RATE_LIMITED)}


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

    def __init__(self, err: Err, message: str | None = None,
                 fields: dict[str, str] | None = None) -> None:
        self.error = PlatformError(err, message, fields)
        super().__init__(err.kind.http_status, self.error.message)


def body(err: Err, message: str | None = None,
         fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": err.code, "message": message or err.message,
                      "fields": fields or {}}}


def response(exc: PlatformError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.kind is Kind.UNAUTHENTICATED else None
    return JSONResponse(body(exc.err, exc.message, exc.fields), exc.kind.http_status,
                        headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(PlatformError)
    async def _platform(_req: Request, exc: PlatformError) -> JSONResponse:
        return response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            fields.setdefault(".".join(loc) or "body", str(err.get("msg", "invalid")))
        return response(Err.INVALID_REQUEST.error(None, fields))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, RequestRefused):
            return response(exc.error)
        err = HTTP_CODES.get(exc.status_code, Err.HTTP_ERROR)
        return JSONResponse(body(err, str(exc.detail)), exc.status_code)

    @app.exception_handler(IntegrityError)
    async def _race(req: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique thing (a first KYC record, a department
        # name...): the database refused the second; nothing of it was written.
        log.info("integrity conflict on %s %s: %s", req.method, req.url.path, exc.orig)
        return response(Err.CONFLICT.error())

    @app.exception_handler(Exception)
    async def _bug(req: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return response(Err.INTERNAL.error())
