"""The platform API's rules for what statuses an operation can answer, derived from what it
takes and depends on (corridor/openapi_statuses.py walks the routes with them), in kinds of
refusal (`Kind`, platform/domain/errors.py), each carried by one status. The kinds a
dependency can raise are declared on the dependency (`@refuses`, api/deps.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI

from corridor.api.errors import ErrorOut
from corridor.openapi_statuses import Operation, Rule, declares, document
from corridor.platform.domain.errors import Kind

F = TypeVar("F", bound=Callable[..., Any])

DESCRIPTIONS = {
    Kind.BAD_REQUEST: "The body could not be read (not UTF-8 JSON, or a malformed upload).",
    Kind.UNAUTHENTICATED: "No valid session (sign in first), or wrong credentials. "
                          "`WWW-Authenticate: Bearer`.",
    Kind.FORBIDDEN: "Signed in, but this role or account may not do this.",
    Kind.NOT_FOUND: "No such thing, or not visible to the caller.",
    Kind.METHOD_NOT_ALLOWED: "The path does not take this method.",
    Kind.CONFLICT: "The current state does not allow it (now), or a concurrent request "
                   "changed the same thing and nothing was written.",
    Kind.TOO_LARGE: "The request body is larger than allowed.",
    Kind.UNSUPPORTED_MEDIA: "The body is in a media type the operation does not take.",
    Kind.INVALID: "The request is not valid; `error.fields` names each problem.",
    Kind.RATE_LIMITED: "Too many attempts; retry later.",
    Kind.INTERNAL: "A bug on the platform's side; it has been logged.",
    Kind.UNAVAILABLE: "A service the platform depends on (the chain node, a bank rail, the "
                      "rate source) is unavailable; retry later.",
}
assert set(DESCRIPTIONS) == set(Kind)


def statuses(*kinds: Kind) -> tuple[int, ...]:
    return tuple(k.http_status for k in kinds)


def refuses(*kinds: Kind, security: str | None = None) -> Callable[[F], F]:
    """Marks a dependency with the kinds of refusal it can raise (`declares` in statuses,
    corridor/openapi_statuses.py); every operation depending on it documents them."""
    return declares(*statuses(*kinds), security=security)


def _input(op: Operation) -> Iterable[int]:
    return statuses(Kind.INVALID) if op.takes_input else ()


def _names_a_record(op: Operation) -> Iterable[int]:
    """A path parameter, or a query or body field naming a record (`*_id`), may name
    something absent or invisible to the caller."""
    named = [n for n in op.query_params + op.body_fields if n.endswith("_id")]
    return statuses(Kind.NOT_FOUND) if op.path_params or named else ()


def _body(op: Operation) -> Iterable[int]:
    """A body that is not readable (not UTF-8, a broken upload) is 400; too large 413."""
    return statuses(Kind.BAD_REQUEST, Kind.TOO_LARGE, Kind.INVALID) if op.body else ()


def _write(op: Operation) -> Iterable[int]:
    """A write may meet a state that refuses it, or race another request (the database's
    uniqueness check answers 409, api/errors.py)."""
    return statuses(Kind.CONFLICT) if op.mutates else ()


def _idempotent(op: Operation) -> Iterable[int]:
    """An Idempotency-Key reused with another body is 409; a missing one 422."""
    return statuses(Kind.CONFLICT, Kind.INVALID) if "idempotency-key" in op.header_params else ()


RULES: tuple[Rule, ...] = (_input, _names_a_record, _body, _write, _idempotent)
SCHEMES = {"bearer": {"type": "http", "scheme": "bearer",
                      "description": "The session token from POST /v1/auth/login/verify."}}


def install(app: FastAPI) -> None:
    document(app, rules=RULES, error_model=ErrorOut, schemes=SCHEMES,
             descriptions={k.http_status: text for k, text in DESCRIPTIONS.items()})
