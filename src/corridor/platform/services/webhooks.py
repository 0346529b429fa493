"""Webhook endpoints of organisations and the delivery outbox (domain/webhooks.py).

Events are enqueued inside the unit of work that changes the state they report (so an
event exists if and only if the change committed); the delivery worker
(adapters/webhook_worker.py) sends them and records each attempt here."""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any

from corridor.platform.domain import idempotency
from corridor.platform.domain import webhooks as dom
from corridor.platform.domain.errors import Err
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.webhooks import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from corridor.platform.services import idempotency as replay
from corridor.platform.services.access import require_org
from corridor.platform.services.ports import Deps, UnitOfWork

DUE_BATCH_MAX = 100


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """A delivery to attempt now, with what the worker needs to send it."""

    delivery: WebhookDelivery
    url: str
    secret: bytes


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


def register(deps: Deps, who: Principal, org_id: str, url: str, *,
             idempotency_key: str | None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint (Perm.ORG_MANAGE) and its signing secret, shown in this answer only.
    A retry under the same Idempotency-Key (same caller, same request) is this answer
    again, secret included: the first may have been lost on the way, and without the
    secret the endpoint is of no use."""
    key = idempotency.check_key(idempotency_key)
    asked = {"org_id": org_id, "url": url.strip()}
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
            status=EndpointStatus.ACTIVE, created_by=who.user_id, created_ms=now, updated_ms=now)
        uow.repo(WebhookEndpoint).add(e)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="webhook.register",
                  object_type="org", object_id=org_id, after={"endpoint_id": e.id, "url": url})
        replay.remember(deps, uow, who.user_id, key, "webhook.register", asked, e.id)
        uow.commit()
    return e, secret


def endpoints(deps: Deps, who: Principal, org_id: str) -> list[WebhookEndpoint]:
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        return uow.repo(WebhookEndpoint).many(org_id=org_id, order_by="created_ms")


def enqueue(deps: Deps, uow: UnitOfWork, org_id: str, event: str,
            payload: dict[str, Any]) -> int:
    """One delivery per active endpoint of the organisation, in the caller's unit of work."""
    now = deps.clock.now_ms()
    n = 0
    for e in uow.repo(WebhookEndpoint).many(org_id=org_id, status=EndpointStatus.ACTIVE):
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
            out.append(Due(delivery=d, url=e.url, secret=secret))
    return out


def record_attempt(deps: Deps, delivery_id: str, *, ok: bool, status_code: int | None,
                   error: str | None) -> WebhookDelivery:
    with deps.uow() as uow:
        d = uow.repo(WebhookDelivery).get(delivery_id, for_update=True)
        assert d is not None, delivery_id
        if d.status != DeliveryStatus.PENDING:  # another worker got there first
            return d
        d = dom.after_attempt(d, ok=ok, now_ms=deps.clock.now_ms(), status_code=status_code,
                              error=error)
        uow.repo(WebhookDelivery).update(d)
        uow.commit()
    return d
