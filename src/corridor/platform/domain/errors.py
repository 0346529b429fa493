"""Platform errors: one type, a kind that decides the HTTP status, and a stable code.

Bad input and refused requests are `PlatformError`s raised by services and turned into a
4xx response by the API; anything else is a bug and becomes a 500 with no details.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Kind(enum.Enum):
    INVALID = "invalid"  # 422: the request is malformed or breaks a rule
    UNAUTHENTICATED = "unauthenticated"  # 401: no valid session or wrong credentials
    FORBIDDEN = "forbidden"  # 403: authenticated, but this role may not do this
    NOT_FOUND = "not_found"  # 404: absent, or not visible to this caller
    CONFLICT = "conflict"  # 409: the state does not allow it (now)
    RATE_LIMITED = "rate_limited"  # 429: too many attempts
    TOO_LARGE = "too_large"  # 413: an upload or body beyond its limit
    UNAVAILABLE = "unavailable"  # 503: a dependency (the node) is not reachable


class PlatformError(Exception):
    """A refusal with a stable `code` (UPPER_SNAKE), a human message, and per-field problems."""

    def __init__(
        self, kind: Kind, code: str, message: str, fields: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.fields = dict(fields or {})

    def __repr__(self) -> str:
        return f"PlatformError({self.kind.name}, {self.code!r}, {self.message!r})"


def invalid(code: str, message: str, fields: Mapping[str, str] | None = None) -> PlatformError:
    return PlatformError(Kind.INVALID, code, message, fields)


def not_found(what: str) -> PlatformError:
    return PlatformError(Kind.NOT_FOUND, "NOT_FOUND", f"no such {what}")


def forbidden(message: str = "your role does not allow this") -> PlatformError:
    return PlatformError(Kind.FORBIDDEN, "FORBIDDEN", message)


def conflict(code: str, message: str) -> PlatformError:
    return PlatformError(Kind.CONFLICT, code, message)


def unauthenticated(code: str = "UNAUTHENTICATED", message: str = "sign in first") -> PlatformError:
    return PlatformError(Kind.UNAUTHENTICATED, code, message)


def rate_limited(message: str) -> PlatformError:
    return PlatformError(Kind.RATE_LIMITED, "RATE_LIMITED", message)


class Problems:
    """Collects every field problem before refusing (report all at once, not the first)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self, code: str = "INVALID_FIELDS", message: str = "") -> None:
        if self.fields:
            names = ", ".join(sorted(self.fields))
            raise invalid(code, message or f"invalid fields: {names}", self.fields)
