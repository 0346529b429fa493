"""Webhook endpoints of organisations and the delivery outbox (domain/webhooks.py).

Events are enqueued inside the unit of work that changes the state they report (so an
event exists if and only if the change committed); the delivery worker
(adapters/webhook_worker.py) sends them and records each attempt here."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Sequence
from typing import Any

from corridor.platform.domain import idempotency
from corridor.platform.domain import webhooks as dom
from corridor.platform.domain.errors import Err, Problems, not_found
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.webhooks import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from corridor.platform.services import idempotency as replay
from corridor.platform.services.access import require_org
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

DUE_BATCH_MAX = 100


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """A delivery to attempt now, with what the worker needs to send it."""

    delivery: WebhookDelivery
    url: str
    secret: bytes
    previous: bytes | None = None  # the rotated-out secret, during its overlap


def _check_url(deps: Deps, url: str) -> str:
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    schemes = ("https",) if deps.settings.production else ("https", "http")
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # not a number, or above 65535
        port_ok = False
    if (len(url) > dom.URL_LEN_MAX or parts.scheme not in schemes or not parts.hostname
            or parts.username or parts.password or not url.isprintable() or not port_ok):
        message = f"an absolute {' or '.join(schemes)} URL without credentials"
        raise Err.INVALID_URL.error(message, {"url": message})
    refusal = dom.host_refusal(parts.hostname, allowed_networks(deps))
    if refusal is not None:
        raise Err.URL_NOT_PUBLIC.error(f"webhooks go to public addresses only: {refusal}",
                                       {"url": "a public host name or address"})
    return url


def allowed_networks(deps: Deps) -> tuple[dom.IPNetwork, ...]:
    """Internal networks webhooks may reach anyway (setting `webhook_allow_networks`,
    development only: production refuses to start with it)."""
    return dom.networks(deps.settings.webhook_allow_networks)


def _check_events(events: Sequence[str]) -> tuple[str, ...]:
    filtered, bad = dom.check_events(events)
    if len(filtered) > dom.EVENTS_PER_ENDPOINT_MAX:
        bad.append(f"at most {dom.EVENTS_PER_ENDPOINT_MAX} entries")
    if bad:
        message = f"unknown event types: {', '.join(bad[:5])}"
        raise Err.INVALID_FIELDS.error(message, {"events": message})
    return filtered


def register(deps: Deps, who: Principal, org_id: str, url: str, *,
             idempotency_key: str | None,
             events: Sequence[str] = ()) -> tuple[WebhookEndpoint, str]:
    """A new endpoint (Perm.ORG_MANAGE) and its signing secret, shown in this answer only.
    A retry under the same Idempotency-Key (same caller, same request) is this answer
    again, secret included: the first may have been lost on the way, and without the
    secret the endpoint is of no use."""
    key = idempotency.check_key(idempotency_key)
    filtered = _check_events(events)
    asked: dict[str, Any] = {"org_id": org_id, "url": url.strip()}
    if filtered:  # (a request without a filter hashes as it did before filters existed)
        asked["events"] = list(filtered)
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        first = replay.prior(uow, who.user_id, key, "webhook.register", asked)
        if first is not None:
            before = uow.repo(WebhookEndpoint).get(first)
            assert before is not None, "a remembered endpoint is never deleted"
            opened = deps.sealer.open(before.secret_sealed, dom.secret_context(before.id))
            return before, opened.decode()
        url = _check_url(deps, url)
        if uow.repo(WebhookEndpoint).count(org_id=org_id) >= dom.WEBHOOKS_PER_ORG_MAX:
            raise Err.TOO_MANY_WEBHOOKS.error(f"at most {dom.WEBHOOKS_PER_ORG_MAX} webhooks")
        now = deps.clock.now_ms()
        endpoint_id = deps.rand.new_id()
        secret = "whsec_" + deps.rand.token()
        e = WebhookEndpoint(
            id=endpoint_id, org_id=org_id, url=url,
            secret_sealed=deps.sealer.seal(secret.encode(), dom.secret_context(endpoint_id)),
            status=EndpointStatus.ACTIVE, created_by=who.user_id, created_ms=now, updated_ms=now,
            events=filtered)
        uow.repo(WebhookEndpoint).add(e)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="webhook.register",
                  object_type="org", object_id=org_id,
                  after={"endpoint_id": e.id, "url": url, "events": list(filtered)})
        replay.remember(deps, uow, who.user_id, key, "webhook.register", asked, e.id)
        uow.commit()
    return e, secret


def rotate_secret(deps: Deps, who: Principal, org_id: str, endpoint_id: str, *,
                  overlap_hours: int = dom.SECRET_OVERLAP_HOURS_DEFAULT,
                  idempotency_key: str | None) -> tuple[WebhookEndpoint, str]:
    """A new signing secret, shown in this answer (and a retry's, under the same
    Idempotency-Key); for `overlap_hours` each delivery is signed with the new and the
    previous secret (two `v1=` in the header), so the receiver may switch at its pace."""
    problems = Problems()
    key = idempotency.check_key(idempotency_key, problems)
    if not 0 <= overlap_hours <= dom.SECRET_OVERLAP_HOURS_MAX:
        problems.add("overlap_hours", f"0 to {dom.SECRET_OVERLAP_HOURS_MAX} hours")
    idempotency.raise_if_any(problems)
    asked = {"org_id": org_id, "endpoint_id": endpoint_id, "overlap_hours": overlap_hours}
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        e = _endpoint(uow, org_id, endpoint_id)
        if replay.prior(uow, who.user_id, key, "webhook.rotate_secret", asked) is not None:
            return e, deps.sealer.open(e.secret_sealed, dom.secret_context(e.id)).decode()
        now = deps.clock.now_ms()
        secret = "whsec_" + deps.rand.token()
        e = dataclasses.replace(
            e, secret_sealed=deps.sealer.seal(secret.encode(), dom.secret_context(e.id)),
            previous_secret_sealed=e.secret_sealed,
            previous_until_ms=now + overlap_hours * 3_600_000, updated_ms=now)
        uow.repo(WebhookEndpoint).update(e)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="webhook.rotate_secret", object_type="org", object_id=org_id,
                  after={"endpoint_id": e.id, "previous_until_ms": e.previous_until_ms})
        replay.remember(deps, uow, who.user_id, key, "webhook.rotate_secret", asked, e.id)
        uow.commit()
    return e, secret


def endpoints(deps: Deps, who: Principal, org_id: str) -> list[WebhookEndpoint]:
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        return uow.repo(WebhookEndpoint).many(org_id=org_id, order_by="created_ms")


def enqueue(deps: Deps, uow: UnitOfWork, org_id: str, event: str,
            payload: dict[str, Any]) -> int:
    """One delivery per active endpoint of the organisation subscribed to `event` (its
    filter, domain.webhooks.subscribed), in the caller's unit of work."""
    assert dom.known_event(event), f"{event}: not a registered event family (EVENT_TYPES)"
    now = deps.clock.now_ms()
    n = 0
    for e in uow.repo(WebhookEndpoint).many(org_id=org_id, status=EndpointStatus.ACTIVE):
        if not dom.subscribed(e.events, event):
            continue
        uow.repo(WebhookDelivery).add(WebhookDelivery(
            id=_ordered_id(deps, uow, e.id, now), endpoint_id=e.id, org_id=org_id, event=event,
            payload=payload, status=DeliveryStatus.PENDING, attempts=0, next_attempt_ms=now,
            last_status_code=None, last_error=None, created_ms=now, updated_ms=now))
        n += 1
    return n


def _ordered_id(deps: Deps, uow: UnitOfWork, endpoint_id: str, now_ms: int) -> str:
    """An id that sorts in the order events were enqueued for an endpoint (the time, then
    the count already enqueued in that millisecond), so first attempts go out in order."""
    n = uow.repo(WebhookDelivery).count(endpoint_id=endpoint_id, created_ms=now_ms)
    return f"{now_ms:013d}-{n:04d}-{deps.rand.token()[:12]}"


def due(deps: Deps, limit: int = DUE_BATCH_MAX) -> list[Due]:
    """Pending deliveries whose time has come, oldest first."""
    now = deps.clock.now_ms()
    out: list[Due] = []
    with deps.reader() as uow:  # polled every round of every process: no write lock
        pending = uow.repo(WebhookDelivery).many(status=DeliveryStatus.PENDING,
                                                 order_by="next_attempt_ms", limit=limit)
        for d in pending:
            if d.next_attempt_ms > now:
                break
            e = uow.repo(WebhookEndpoint).get(d.endpoint_id)
            assert e is not None, d.endpoint_id
            secret = deps.sealer.open(e.secret_sealed, dom.secret_context(e.id))
            previous = None
            if e.previous_secret_sealed and now < (e.previous_until_ms or 0):
                previous = deps.sealer.open(e.previous_secret_sealed, dom.secret_context(e.id))
            out.append(Due(delivery=d, url=e.url, secret=secret, previous=previous))
    return out


def record_attempt(deps: Deps, delivery_id: str, *, ok: bool, status_code: int | None,
                   error: str | None, latency_ms: int = 0,
                   excerpt: str = "") -> WebhookDelivery:
    """The outcome of one attempt, on the delivery and in its log (webhook_attempts)."""
    with deps.uow() as uow:
        d = uow.repo(WebhookDelivery).get(delivery_id, for_update=True)
        assert d is not None, delivery_id
        if d.status != DeliveryStatus.PENDING:  # another worker got there first
            return d
        now = deps.clock.now_ms()
        d = dom.after_attempt(d, ok=ok, now_ms=now, status_code=status_code, error=error)
        uow.repo(WebhookDelivery).update(d)
        uow.repo(WebhookAttempt).add(WebhookAttempt(
            id=deps.rand.new_id(), delivery_id=d.id, endpoint_id=d.endpoint_id,
            org_id=d.org_id, at_ms=now, status_code=status_code,
            latency_ms=max(0, min(latency_ms, 2**31 - 1)),
            excerpt=excerpt[:dom.EXCERPT_LEN_MAX],
            error=(error or "")[:dom.ERROR_LEN_MAX] or None))
        uow.commit()
    return d


# --- the delivery log and redelivery (issue 17) -----------------------------------------


def _endpoint(uow: UnitOfWork, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    e = uow.repo(WebhookEndpoint).get(endpoint_id) if len(endpoint_id) <= 64 else None
    if e is None or e.org_id != org_id:
        raise not_found("webhook")
    return e


def _delivery(uow: UnitOfWork, endpoint_id: str, delivery_id: str, *,
              lock: bool = False) -> WebhookDelivery:
    d = (uow.repo(WebhookDelivery).get(delivery_id, for_update=lock)
         if len(delivery_id) <= 64 else None)
    if d is None or d.endpoint_id != endpoint_id:
        raise not_found("delivery")
    return d


def deliveries(deps: Deps, who: Principal, org_id: str, endpoint_id: str, *,
               limit: int = 50, offset: int = 0) -> list[WebhookDelivery]:
    """An endpoint's deliveries, newest first (Perm.ORG_MANAGE, as its registration)."""
    limit, offset = page_bounds(limit, offset, dom.DELIVERIES_PAGE_MAX)
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        _endpoint(uow, org_id, endpoint_id)
        return uow.repo(WebhookDelivery).many(endpoint_id=endpoint_id, order_by="created_ms",
                                              descending=True, limit=limit, offset=offset)


def delivery_log(deps: Deps, who: Principal, org_id: str, endpoint_id: str,
                 delivery_id: str) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    """A delivery and each of its attempts, oldest first."""
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        _endpoint(uow, org_id, endpoint_id)
        d = _delivery(uow, endpoint_id, delivery_id)
        attempts = uow.repo(WebhookAttempt).many(delivery_id=d.id, order_by="at_ms",
                                                 limit=dom.ATTEMPTS_PAGE_MAX)
    return d, attempts


def redeliver(deps: Deps, who: Principal, org_id: str, endpoint_id: str,
              delivery_id: str) -> WebhookDelivery:
    """Sends a delivery again, by hand: the same delivery (its id is the event id the
    receiver de-duplicates by, and the body is the same), due now with a fresh round of
    attempts. A delivery already waiting to be sent is left as it is (so a repeated
    request queues it once)."""
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        _endpoint(uow, org_id, endpoint_id)
        d = _delivery(uow, endpoint_id, delivery_id, lock=True)
        if d.status == DeliveryStatus.PENDING:
            return d
        d = dom.redelivered(d, deps.clock.now_ms())
        uow.repo(WebhookDelivery).update(d)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="webhook.redeliver",
                  object_type="org", object_id=org_id,
                  after={"endpoint_id": endpoint_id, "delivery_id": d.id, "event": d.event})
        uow.commit()
    return d
