"""Organisations' webhook endpoints: signed POSTs for each state change of their payments
(header `Corridor-Signature: t=<ms>,v1=HMAC-SHA256(secret, "<t>." + body)`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import webhooks as dom
from corridor.platform.domain.webhooks import (
    URL_LEN_MAX,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from corridor.platform.services import webhooks

router = APIRouter(route_class=JsonRoute, tags=["webhooks"])

OrgId = Annotated[str, Path(max_length=64)]
ItemId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.DELIVERIES_PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=10_000)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=URL_LEN_MAX)
    events: list[str] = Field(
        default_factory=list, max_length=dom.EVENTS_PER_ENDPOINT_MAX,
        description="event types (e.g. payment.credited) or families (batch.*); "
                    "empty: every event")


class WebhookOut(BaseModel):
    id: str
    org_id: str
    url: str
    status: str
    created_ms: int
    events: list[str]
    secret: str | None = None  # only in the answer to the registration

    @classmethod
    def of(cls, e: WebhookEndpoint, secret: str | None = None) -> WebhookOut:
        return cls(id=e.id, org_id=e.org_id, url=e.url, status=e.status,
                   created_ms=e.created_ms, events=list(e.events), secret=secret)


class WebhookList(BaseModel):
    items: list[WebhookOut]


@router.post("/orgs/{org_id}/webhooks", response_model=WebhookOut,
             status_code=status.HTTP_201_CREATED)
def register_webhook(org_id: OrgId, body: WebhookIn, deps: DepsDep, who: PrincipalDep,
                     idempotency_key: IdempotencyKey = None) -> WebhookOut:
    """Registers an endpoint; the signing secret is shown in this answer only (and in a
    retry's: `Idempotency-Key` is required, and a retry with the same key returns this
    answer again)."""
    endpoint, secret = webhooks.register(deps, who, org_id, body.url,
                                         idempotency_key=idempotency_key, events=body.events)
    return WebhookOut.of(endpoint, secret)


@router.get("/orgs/{org_id}/webhooks", response_model=WebhookList)
def list_webhooks(org_id: OrgId, deps: DepsDep, who: PrincipalDep) -> WebhookList:
    return WebhookList(items=[WebhookOut.of(e) for e in webhooks.endpoints(deps, who, org_id)])


class EventTypes(BaseModel):
    families: dict[str, list[str]]


@router.get("/webhooks/event-types", response_model=EventTypes)
def event_types(_who: PrincipalDep) -> EventTypes:
    """Every event type an endpoint may subscribe to, by family ("<family>.*" subscribes
    to a whole family). Signed-in callers only, as every operation but sign-up's."""
    return EventTypes(families={k: list(v) for k, v in dom.EVENT_TYPES.items()})


class AttemptOut(BaseModel):
    at_ms: int
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str | None

    @classmethod
    def of(cls, a: WebhookAttempt) -> AttemptOut:
        return cls(at_ms=a.at_ms, status_code=a.status_code, latency_ms=a.latency_ms,
                   excerpt=a.excerpt, error=a.error)


class DeliveryOut(BaseModel):
    id: str  # the event id receivers de-duplicate by (header Corridor-Delivery)
    endpoint_id: str
    event: str
    status: str
    attempts: int
    next_attempt_ms: int
    last_status_code: int | None
    last_error: str | None
    created_ms: int
    updated_ms: int
    log: list[AttemptOut] | None = None  # in a single delivery's answer

    @classmethod
    def of(cls, d: WebhookDelivery, log: list[WebhookAttempt] | None = None) -> DeliveryOut:
        return cls(id=d.id, endpoint_id=d.endpoint_id, event=d.event, status=d.status,
                   attempts=d.attempts, next_attempt_ms=d.next_attempt_ms,
                   last_status_code=d.last_status_code, last_error=d.last_error,
                   created_ms=d.created_ms, updated_ms=d.updated_ms,
                   log=None if log is None else [AttemptOut.of(a) for a in log])


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    limit: int
    offset: int


@router.get("/orgs/{org_id}/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(org_id: OrgId, webhook_id: ItemId, deps: DepsDep, who: PrincipalDep,
                    limit: Limit = 50, offset: Offset = 0) -> DeliveryPage:
    """The endpoint's deliveries, newest first."""
    found = webhooks.deliveries(deps, who, org_id, webhook_id, limit=limit, offset=offset)
    return DeliveryPage(items=[DeliveryOut.of(d) for d in found], limit=limit, offset=offset)


@router.get("/orgs/{org_id}/webhooks/{webhook_id}/deliveries/{delivery_id}",
            response_model=DeliveryOut)
def get_delivery(org_id: OrgId, webhook_id: ItemId, delivery_id: ItemId, deps: DepsDep,
                 who: PrincipalDep) -> DeliveryOut:
    """A delivery with its log: each attempt's time, HTTP status, latency and the start
    of the receiver's answer."""
    d, log = webhooks.delivery_log(deps, who, org_id, webhook_id, delivery_id)
    return DeliveryOut.of(d, log)


@router.post("/orgs/{org_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
             response_model=DeliveryOut)
def redeliver(org_id: OrgId, webhook_id: ItemId, delivery_id: ItemId, deps: DepsDep,
              who: PrincipalDep) -> DeliveryOut:
    """Sends the delivery again: same id and body (receivers de-duplicate by the id), due
    now. A delivery still waiting to be sent is left as it is."""
    return DeliveryOut.of(webhooks.redeliver(deps, who, org_id, webhook_id, delivery_id))


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: int = Field(default=dom.SECRET_OVERLAP_HOURS_DEFAULT, ge=0,
                               le=dom.SECRET_OVERLAP_HOURS_MAX,
                               description="how long the previous secret also signs")


@router.post("/orgs/{org_id}/webhooks/{webhook_id}/rotate-secret", response_model=WebhookOut)
def rotate_secret(org_id: OrgId, webhook_id: ItemId, body: RotateIn, deps: DepsDep,
                  who: PrincipalDep, idempotency_key: IdempotencyKey = None) -> WebhookOut:
    """A new signing secret (in this answer only, and a retry's with the same
    `Idempotency-Key`); for `overlap_hours` deliveries carry a signature by each secret
    (`Corridor-Signature: t=…,v1=<new>,v1=<previous>`)."""
    endpoint, secret = webhooks.rotate_secret(deps, who, org_id, webhook_id,
                                              overlap_hours=body.overlap_hours,
                                              idempotency_key=idempotency_key)
    return WebhookOut.of(endpoint, secret)
