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
import ipaddress
import json
import re
import socket
from collections.abc import Iterable, Sequence
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

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Names that mean this machine without asking DNS (RFC 6761 ".localhost").
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?")
_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
# Address kinds a webhook must never reach (SSRF): the machine itself, the private
# networks behind the platform, cloud metadata (169.254.169.254 is link-local), ...
_INTERNAL = (("is_loopback", "loopback"), ("is_private", "private"),
             ("is_link_local", "link-local"), ("is_multicast", "multicast"),
             ("is_reserved", "reserved"), ("is_unspecified", "unspecified"))


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # attempts ran out


class EndpointStatus(enum.StrEnum):
    ACTIVE = "active"  # the only state so far


# --- event types (issue 17) -------------------------------------------------------------
# Every event an organisation may receive, by family. The services that change the state
# enqueue them (payments here; batches, approvals, collections and merchants in their own
# services); an endpoint subscribes to all (no filter), to exact types, or to a family
# with "<family>.*". A family not listed here is a bug (enqueue asserts it).
PAYMENT_STATES = ("draft", "pending_approval", "screening", "on_hold", "ready", "submitted",
                  "included", "final", "credited", "rejected", "failed", "expired",
                  "cancelled", "refund_requested", "refunded")
# what an approval tells about its subject (services/approvals.py: "<kind>.<what>")
APPROVAL_EVENTS = ("approval_required", "approved", "consent_required", "approval_rejected",
                   "approval_expired", "approval_withdrawn")

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    # payment.<state> on each state change, and the approval flow's decisions
    "payment": (*(f"payment.{s}" for s in PAYMENT_STATES),
                *(f"payment.{e}" for e in APPROVAL_EVENTS)),
    "batch": ("batch.created", "batch.validated", "batch.invalid", "batch.rejected",
              "batch.executing", "batch.completed", "batch.failed", "batch.item_failed",
              *(f"batch.{e}" for e in APPROVAL_EVENTS)),
    # a change of a saved beneficiary's bank details, approved by a second member
    "beneficiary_change": tuple(f"beneficiary_change.{e}" for e in APPROVAL_EVENTS),
    "collection": ("collection.created", "collection.reminded", "collection.paid",
                   "collection.matched", "collection.mismatch", "collection.declined",
                   "collection.expired", "collection.cancelled"),
    "checkout": ("checkout.paid", "checkout.refunded"),
}
EVENTS_PER_ENDPOINT_MAX = 40
SECRET_OVERLAP_HOURS_MAX = 7 * 24  # how long a rotated secret keeps signing
SECRET_OVERLAP_HOURS_DEFAULT = 24  # entries of one endpoint's filter
EVENT_LEN_MAX = 64


def family(event: str) -> str:
    return event.split(".", 1)[0]


def known_event(event: str) -> bool:
    """A registered type, or a type of a registered family (a new one of its services)."""
    return family(event) in EVENT_TYPES and "." in event and len(event) <= EVENT_LEN_MAX


def check_events(entries: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
    """(the filter, normalised; the entries refused): each a registered type or a family
    wildcard "<family>.*". Empty: every event."""
    out: list[str] = []
    bad: list[str] = []
    for raw in entries:
        e = raw.strip()
        if not e:
            continue
        ok = (e.endswith(".*") and e[:-2] in EVENT_TYPES) or e in EVENT_TYPES.get(family(e), ())
        if not ok:
            bad.append(e[:EVENT_LEN_MAX])
        elif e not in out:
            out.append(e)
    return tuple(out), bad


def subscribed(events: Sequence[str], event: str) -> bool:
    """Whether an endpoint with filter `events` receives `event` (no filter: all)."""
    return not events or event in events or f"{family(event)}.*" in events


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndpoint:
    """Where an organisation wants its events; the secret is sealed (context webhook:<id>)."""

    id: str
    org_id: str
    url: str
    secret_sealed: str
    status: EndpointStatus
    created_by: str
    created_ms: int
    updated_ms: int
    events: tuple[str, ...] = ()  # the subscription filter (check_events); empty: all
    # The secret before the last rotation, still signing (beside the new one) until
    # `previous_until_ms`, so receivers can switch without refusing a delivery.
    previous_secret_sealed: str | None = None
    previous_until_ms: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDelivery:
    """One event for one endpoint, in the outbox until delivered or given up."""

    id: str
    endpoint_id: str
    org_id: str
    event: str  # e.g. "payment.credited"
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_ms: int
    last_status_code: int | None
    last_error: str | None
    created_ms: int
    updated_ms: int


EXCERPT_LEN_MAX = 500  # of a receiver's answer, kept in the delivery log
ATTEMPTS_PAGE_MAX = 100
DELIVERIES_PAGE_MAX = 100


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookAttempt:
    """One attempt of a delivery, as the delivery log shows it: when, the receiver's HTTP
    status (None: no answer), how long it took, and the start of its answer or the error."""

    id: str
    delivery_id: str
    endpoint_id: str
    org_id: str
    at_ms: int
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str | None


def networks(texts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The allow-list setting (`webhook_allow_networks`): CIDR networks or addresses."""
    return tuple(ipaddress.ip_network(t.strip(), strict=False) for t in texts if t.strip())


def address_refusal(ip: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why a webhook must not be sent to `ip` (None: it may): anything but a public
    address, unless an allowed network (development) holds it. An IPv6 address that
    carries an IPv4 one (mapped, 6to4, Teredo) is judged by that one too."""
    if any(ip.version == n.version and ip in n for n in allowed):
        return None
    inner: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner += [a for a in (ip.ipv4_mapped, ip.sixtofour,
                              ip.teredo[1] if ip.teredo else None) if a is not None]
    for a in inner:
        if any(a.version == n.version and a in n for n in allowed):
            continue
        for prop, kind in _INTERNAL:
            if getattr(a, prop):
                return f"{ip} is a {kind} address"
        if not a.is_global:
            return f"{ip} is not a public address"
    return None


def host_refusal(host: str, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why a URL's host is refused when it is saved (None: it may be saved): a host name
    of letters, digits, dots and hyphens that is not a local name, or a public address
    literal in any spelling the system resolver accepts ('2130706433', '0x7f.1' are
    127.0.0.1). What a name resolves to is checked at each delivery (rebinding)."""
    name = host.lower()
    if name.startswith("[") or ":" in name:  # an IPv6 literal
        try:
            return address_refusal(ipaddress.IPv6Address(name.strip("[]")), allowed)
        except ValueError:
            return f"{host[:80]!r} is not an IPv6 address"
    if not _HOST_NAME.fullmatch(name) or len(name) > 253:
        return f"{host[:80]!r} is not a host name (letters, digits, dots and hyphens)"
    if name.rstrip(".") in LOCAL_NAMES or name.rstrip(".").endswith(".localhost"):
        return address_refusal(_LOOPBACK, allowed)
    try:
        # Pure parsing (no I/O): every IPv4 spelling the C resolver accepts, e.g. '127.1'.
        packed = socket.inet_aton(name.rstrip("."))
    except OSError:
        return None  # a name: resolved and checked at delivery
    return address_refusal(ipaddress.IPv4Address(packed), allowed)


def secret_context(endpoint_id: str) -> str:
    return f"webhook:{endpoint_id}"


def event_body(d: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed) for a delivery."""
    doc = {"id": d.id, "event": d.event, "created_ms": d.created_ms, "data": d.payload}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: bytes, timestamp_ms: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp_ms}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp_ms: int, body: bytes, *more: bytes) -> str:
    """`t=<ms>,v1=<hex>`, with one more `v1=` per secret in `more` (during a rotation's
    overlap: the previous secret's signature, after the new one's)."""
    signed = ",".join(f"v1={sign(s, timestamp_ms, body)}" for s in (secret, *more))
    return f"t={timestamp_ms},{signed}"


def verify(secret: bytes, header: str, body: bytes, now_ms: int,
           tolerance_ms: int = SIGNATURE_TOLERANCE_MS) -> bool:
    """What a receiver does: one of the `v1` signatures matches and the timestamp is
    fresh (a receiver still holding the previous secret verifies during the overlap)."""
    pairs = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in pairs if k == "t"]
    try:
        ts = int(stamps[0]) if len(stamps) == 1 else None
    except ValueError:
        return False
    if ts is None or abs(now_ms - ts) > tolerance_ms:
        return False
    expected = sign(secret, ts, body)
    return any(hmac.compare_digest(v, expected) for k, v in pairs if k == "v1")


def backoff_ms(attempts: int) -> int:
    """The wait after the `attempts`-th failed attempt."""
    assert attempts >= 1
    return int(min(BACKOFF_BASE_MS * 2 ** (attempts - 1), BACKOFF_MAX_MS))


def redelivered(d: WebhookDelivery, now_ms: int) -> WebhookDelivery:
    """The same delivery (same id, the event id receivers de-duplicate by) due again now,
    with a fresh round of attempts."""
    return dataclasses.replace(d, status=DeliveryStatus.PENDING, attempts=0,
                               next_attempt_ms=now_ms, updated_ms=now_ms)


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
