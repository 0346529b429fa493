"""A rail's webhook events (F1, F3): verified (HMAC-SHA256 over timestamp and body with the
shared secret, a timestamp tolerance against replay, constant-time comparison), recorded
once per event id (a redelivery is a no-op), and handed to deposits or withdrawals in one
unit of work with the record of the event. The HTTP endpoint and the simulated bank's
in-process delivery both come through `receive_webhook`."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from corridor.platform.domain import json_text, money
from corridor.platform.domain import rails as r
from corridor.platform.domain.errors import (
    Err,
)
from corridor.platform.domain.rails import EventType, RailEvent
from corridor.platform.services import (
    deposits,
    movements,
    withdrawals,
)
from corridor.platform.services.ports import Deps

log = logging.getLogger("corridor.platform.rails")

TIMESTAMP_HEADER = "X-Corridor-Timestamp"
SIGNATURE_HEADER = "X-Corridor-Signature"
RAIL_NAME_LEN_MAX = 32


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookResult:
    event_id: str
    duplicate: bool  # already received: nothing was done again
    outcome: str


def webhook_secret(deps: Deps) -> bytes:
    secret: str = deps.settings.rail_webhook_secret
    assert secret, "the settings give a webhook secret"
    return secret.encode()


def receive_webhook(deps: Deps, rail: str, *, timestamp: str, signature: str,
                    body: bytes) -> WebhookResult:
    """Verifies and handles one delivery. Refusals: 401 WEBHOOK_SIGNATURE_INVALID /
    WEBHOOK_STALE (nothing read), 422 WEBHOOK_EVENT_INVALID (authentic but malformed)."""
    if len(body) > r.WEBHOOK_BODY_BYTES_MAX:
        raise Err.TOO_LARGE.error("the event is too large")
    problem = r.signature_problem(webhook_secret(deps), timestamp, signature, body,
                                  deps.clock.now_ms() // 1000)
    if problem is not None:
        log.warning("webhook of rail %r refused: %s", rail[:RAIL_NAME_LEN_MAX], problem[1])
        raise problem[0].error(problem[1])
    event_id, kind, data = _parse(body)
    with deps.uow() as uow:
        seen = uow.repo(RailEvent).one(rail=rail, event_id=event_id)
        if seen is not None:
            return WebhookResult(event_id=event_id, duplicate=True, outcome=seen.outcome)
        if kind is EventType.TRANSFER_RECEIVED:
            outcome = deposits.funds_received(deps, uow, rail, data)
        elif kind is not None:
            outcome = withdrawals.payout_event(deps, uow, rail, kind, data)
        else:
            outcome = "ignored: unknown event type"
        uow.repo(RailEvent).add(RailEvent(
            id=deps.rand.new_id(), rail=rail, event_id=event_id, type=str(data.get("type")),
            payload=data, outcome=outcome[:200], received_ms=deps.clock.now_ms()))
        uow.commit()
    log.info("rail %s event %s: %s", rail, event_id, outcome)
    return WebhookResult(event_id=event_id, duplicate=False, outcome=outcome)


def _parse(body: bytes) -> tuple[str, EventType | None, dict[str, Any]]:
    """(event id, type or None when unknown, data with `type`) of a well-formed event."""
    try:
        doc = json_text.loads(body)  # strict: a key given twice is refused
    except json_text.DuplicateKey as exc:
        raise Err.DUPLICATE_KEY.error(f"the event is ambiguous: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise Err.WEBHOOK_EVENT_INVALID.error("the event is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise Err.WEBHOOK_EVENT_INVALID.error()
    event_id, type_ = doc.get("id"), doc.get("type")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= r.EVENT_ID_LEN_MAX:
        raise Err.WEBHOOK_EVENT_INVALID.error("id: 1-64 characters", {"id": "invalid"})
    if not isinstance(type_, str) or len(type_) > 64:
        raise Err.WEBHOOK_EVENT_INVALID.error("type: a string", {"type": "invalid"})
    data: dict[str, Any] = {"type": type_}
    try:
        kind: EventType | None = EventType(type_)
    except ValueError:
        return event_id, None, data
    problems: dict[str, str] = {}
    raw = doc["data"]
    names = (("reference", "amount_minor", "currency", "rail_ref")
             if kind is EventType.TRANSFER_RECEIVED else ("payout_id", "rail_ref"))
    for name in names:
        value = raw.get(name)
        if name == "amount_minor":
            ok = isinstance(value, int) and not isinstance(value, bool) \
                and 0 < value <= money.AMOUNT_MINOR_MAX
        else:
            ok = isinstance(value, str) and 1 <= len(value) <= 64
        if not ok:
            problems[name] = "missing or invalid"
        data[name] = value
    if kind is EventType.TRANSFER_RECEIVED and raw.get("remitter_name") is not None:
        # optional: the sender's name as the bank reports it (screened, issue 16)
        data["remitter_name"] = movements.clean_name(raw["remitter_name"])
        if data["remitter_name"] is None:
            problems["remitter_name"] = f"1-{movements.NAME_LEN_MAX} printable characters"
    if kind in (EventType.PAYOUT_FAILED, EventType.PAYOUT_RETURNED):
        data["code"] = str(raw.get("code") or "")[:64]
        data["message"] = str(raw.get("message") or "")[:r.REASON_LEN_MAX]
    if problems:
        raise Err.WEBHOOK_EVENT_INVALID.error("the event's data is incomplete", problems)
    return event_id, kind, data
