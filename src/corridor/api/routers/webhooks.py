"""Organisations' webhook endpoints: signed POSTs for each state change of their payments
(header `Corridor-Signature: t=<ms>,v1=HMAC-SHA256(secret, "<t>." + body)`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain.webhooks import URL_LEN_MAX, WebhookEndpoint
from corridor.platform.services import webhooks

router = APIRouter(route_class=JsonRoute, tags=["webhooks"])

OrgId = Annotated[str, Path(max_length=64)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=URL_LEN_MAX)


class WebhookOut(BaseModel):
    id: str
    org_id: str
    url: str
    status: str
    created_ms: int
    secret: str | None = None  # only in the answer to the registration

    @classmethod
    def of(cls, e: WebhookEndpoint, secret: str | None = None) -> WebhookOut:
        return cls(id=e.id, org_id=e.org_id, url=e.url, status=e.status,
                   created_ms=e.created_ms, secret=secret)


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
                                         idempotency_key=idempotency_key)
    return WebhookOut.of(endpoint, secret)


@router.get("/orgs/{org_id}/webhooks", response_model=WebhookList)
def list_webhooks(org_id: OrgId, deps: DepsDep, who: PrincipalDep) -> WebhookList:
    return WebhookList(items=[WebhookOut.of(e) for e in webhooks.endpoints(deps, who, org_id)])
