"""Webhooks to institutions: an organisation registers an endpoint and receives a signed
POST for each state change of its payments. Deliveries wait in an outbox table and are
retried with exponential backoff, a bounded number of times.

Signature (like Stripe's): header `Corridor-Signature: t=<unix ms>,v1=<hex>` where hex is
HMAC-SHA256(secret, "<t>." + body). The receiver recomputes it over the raw body and
refuses stale timestamps (replays).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import json
from typing import Any

WEBHOOKS_PER_ORG_MAX = 5
URL_LEN_MAX = 500
ATTEMPTS_MAX = 8  # then the delivery is given up (status failed)
BACKOFF_BASE_MS = 1_000  # 1 s, 2 s, 4 s, ... after each failed attempt
BACKOFF_MAX_MS = 15 * 60_000
SIGNATURE_HEADER = "Corridor-Signature"
EVENT_HEADER = "Corridor-Event"
DELIVERY_HEADER = "Corridor-Delivery"  # the delivery id: receivers de-duplicate by it
SIGNATURE_TOLERANCE_MS = 5 * 60_000  # what receivers should accept as fresh
ERROR_LEN_MAX = 300


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # attempts ran out


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndpoint:
    """Where an organisation wants its events; the secret is sealed (context webhook:<id>)."""

    id: str
    org_id: str
    url: str
    secret_sealed: str
    status: str  # "active"
    created_by: str
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDelivery:
    """One event for one endpoint, in the outbox until delivered or given up."""

    id: str
    endpoint_id: str
    org_id: str
    event: str  # e.g. "payment.credited"
    payload: dict[str, Any]
    status: str  # DeliveryStatus
    attempts: int
    next_attempt_ms: int
    last_status_code: int | None
    last_error: str | None
    created_ms: int
    updated_ms: int


def secret_context(endpoint_id: str) -> str:
    return f"webhook:{endpoint_id}"


def event_body(d: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed) for a delivery."""
    doc = {"id": d.id, "event": d.event, "created_ms": d.created_ms, "data": d.payload}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: bytes, timestamp_ms: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp_ms}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp_ms: int, body: bytes) -> str:
    return f"t={timestamp_ms},v1={sign(secret, timestamp_ms, body)}"


def verify(secret: bytes, header: str, body: bytes, now_ms: int,
           tolerance_ms: int = SIGNATURE_TOLERANCE_MS) -> bool:
    """What a receiver does: the signature matches and the timestamp is fresh."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now_ms - ts) > tolerance_ms:
        return False
    return hmac.compare_digest(parts.get("v1", ""), sign(secret, ts, body))


def backoff_ms(attempts: int) -> int:
    """The wait after the `attempts`-th failed attempt."""
    assert attempts >= 1
    return int(min(BACKOFF_BASE_MS * 2 ** (attempts - 1), BACKOFF_MAX_MS))


def after_attempt(d: WebhookDelivery, *, ok: bool, now_ms: int, status_code: int | None,
                  error: str | None) -> WebhookDelivery:
    attempts = d.attempts + 1
    if ok:
        status, next_ms = DeliveryStatus.DELIVERED, d.next_attempt_ms
    elif attempts >= ATTEMPTS_MAX:
        status, next_ms = DeliveryStatus.FAILED, d.next_attempt_ms
    else:
        status, next_ms = DeliveryStatus.PENDING, now_ms + backoff_ms(attempts)
    return dataclasses.replace(
        d, status=status, attempts=attempts, next_attempt_ms=next_ms,
        last_status_code=status_code, last_error=(error or "")[:ERROR_LEN_MAX] or None,
        updated_ms=now_ms)
