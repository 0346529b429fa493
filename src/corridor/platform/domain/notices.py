"""Messages to people (codes, alerts), written to an outbox in the same transaction as
the change that caused them, so a rolled-back change never sends a code."""

from __future__ import annotations

import dataclasses

from corridor.platform.domain.identity import Channel


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    id: str
    user_id: str | None
    channel: Channel
    destination: str
    subject: str
    body: str
    created_ms: int
    sent_ms: int | None  # set by a delivery adapter; the development outbox leaves it None
    # A message carrying a code (development only): deleted when the code dies. None: kept.
    expires_ms: int | None
