"""Support requests opened by the platform itself, e.g. a manual identity check after an
account recovery that failed every automatic route (requirement A4)."""

from __future__ import annotations

import dataclasses
import enum

SUBJECT_LEN_MAX = 200
BODY_LEN_MAX = 4000


class SupportStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SupportRequest:
    id: str
    user_id: str | None  # None when the requester could not be matched to a user
    kind: str  # "identity_check" | ...
    contact: str  # how to reach the requester (as given; staff verify it)
    subject: str
    body: str
    status: SupportStatus
    created_ms: int
    updated_ms: int
