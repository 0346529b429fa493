"""The platform API's rules for what statuses an operation can answer, derived from what it
takes and depends on (corridor/openapi_statuses.py walks the routes with them). Statuses a
dependency can answer are declared on the dependency (`@declares`, api/deps.py)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI

from corridor.api.errors import ErrorOut
from corridor.openapi_statuses import Operation, Rule, document

DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8 JSON, or a malformed upload).",
    401: "No valid session (sign in first), or wrong credentials. `WWW-Authenticate: Bearer`.",
    403: "Signed in, but this role or account may not do this.",
    404: "No such thing, or not visible to the caller.",
    409: "The current state does not allow it (now), or a concurrent request changed the "
         "same thing and nothing was written.",
    413: "The request body is larger than allowed.",
    422: "The request is not valid; `error.fields` names each problem.",
    429: "Too many attempts; retry later.",
    503: "A service the platform depends on (the chain node, a bank rail, the rate source) "
         "is unavailable; retry later.",
}


def _input(op: Operation) -> Iterable[int]:
    return (422,) if op.takes_input else ()


def _names_a_record(op: Operation) -> Iterable[int]:
    """A path parameter, or a query or body field naming a record (`*_id`), may name
    something absent or invisible to the caller."""
    named = [n for n in op.query_params + op.body_fields if n.endswith("_id")]
    return (404,) if op.path_params or named else ()


def _body(op: Operation) -> Iterable[int]:
    """A body that is not readable (not UTF-8, a broken upload) is 400; too large 413."""
    return (400, 413, 422) if op.body else ()


def _write(op: Operation) -> Iterable[int]:
    """A write may meet a state that refuses it, or race another request (the database's
    uniqueness check answers 409, api/errors.py)."""
    return (409,) if op.mutates else ()


def _idempotent(op: Operation) -> Iterable[int]:
    """An Idempotency-Key reused with another body is 409; a missing one 422."""
    return (409, 422) if "idempotency-key" in op.header_params else ()


RULES: tuple[Rule, ...] = (_input, _names_a_record, _body, _write, _idempotent)
SCHEMES = {"bearer": {"type": "http", "scheme": "bearer",
                      "description": "The session token from POST /v1/auth/login/verify."}}


def install(app: FastAPI) -> None:
    document(app, rules=RULES, error_model=ErrorOut, descriptions=DESCRIPTIONS, schemes=SCHEMES)
