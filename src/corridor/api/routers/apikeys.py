"""Organisations' API keys (issue 17): created, listed, rotated and revoked by owners and
admins; the token (`cor_<prefix>_<secret>`) is in the creating answer only. A server then
calls the operations keys may reach (api/deps.KEY_ROUTES) with
`Authorization: Bearer cor_…` over TLS; see docs/architecture.md, "API keys"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import apikeys as dom
from corridor.platform.domain.apikeys import ApiKey, Scope
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.services import apikeys

router = APIRouter(route_class=JsonRoute, prefix="/orgs/{org_id}/api-keys", tags=["api keys"])

OrgId = Annotated[str, Path(max_length=64)]
KeyId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.USES_PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=10_000)]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=dom.NAME_LEN_MAX)
    scopes: list[str] = Field(max_length=len(Scope) + 2,
                              description="read, pay-initiate (pay-approve never)")
    allowlist: list[str] = Field(default_factory=list, max_length=dom.ALLOWLIST_MAX + 1,
                                 description="CIDR networks the key may be used from; "
                                             "empty: any address")
    expires_in_days: int = Field(default=dom.EXPIRY_DAYS_DEFAULT, ge=1,
                                 le=dom.EXPIRY_DAYS_MAX)


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: int = Field(default=dom.OVERLAP_HOURS_DEFAULT, ge=0,
                               le=dom.OVERLAP_HOURS_MAX,
                               description="how long the old key stays valid")


class KeyOut(BaseModel):
    id: str
    org_id: str
    name: str
    prefix: str
    scopes: list[str]
    allowlist: list[str]
    state: str  # active, rotating, expired, revoked
    created_by: str
    created_ms: int
    expires_ms: int
    revoked_ms: int | None
    rotated_to: str | None
    last_used_ms: int | None
    last_used_ip: str | None
    token: str | None = None  # only in the answer that made the key

    @classmethod
    def of(cls, k: ApiKey, now_ms: int, token: str | None = None) -> KeyOut:
        return cls(id=k.id, org_id=k.org_id, name=k.name, prefix=k.prefix,
                   scopes=list(k.scopes), allowlist=list(k.allowlist),
                   state=dom.state(k, now_ms), created_by=k.created_by,
                   created_ms=k.created_ms, expires_ms=k.expires_ms, revoked_ms=k.revoked_ms,
                   rotated_to=k.rotated_to, last_used_ms=k.last_used_ms,
                   last_used_ip=k.last_used_ip, token=token)


class KeyList(BaseModel):
    items: list[KeyOut]


class UseOut(BaseModel):
    at_ms: int
    action: str  # apikey.use, or apikey.refused
    route: str
    ip: str
    refused: str | None

    @classmethod
    def of(cls, e: AuditEntry) -> UseOut:
        after = e.after or {}
        return cls(at_ms=e.at_ms, action=e.action, route=str(after.get("route", "")),
                   ip=e.ip, refused=after.get("refused"))


class UsePage(BaseModel):
    items: list[UseOut]
    limit: int
    offset: int


@router.post("", response_model=KeyOut, status_code=status.HTTP_201_CREATED)
def create_key(org_id: OrgId, body: KeyIn, deps: DepsDep, who: PrincipalDep,
               idempotency_key: IdempotencyKey = None) -> KeyOut:
    """Creates a key (owners and admins, within their own role's rights). Its `token` is
    in this answer only and is stored nowhere: a retry with the same `Idempotency-Key`
    answers the same key without it."""
    issued = apikeys.create(deps, who, org_id, name=body.name, scopes=body.scopes,
                            allowlist=body.allowlist, expires_in_days=body.expires_in_days,
                            idempotency_key=idempotency_key)
    return KeyOut.of(issued.key, deps.clock.now_ms(), issued.token)


@router.get("", response_model=KeyList)
def list_keys(org_id: OrgId, deps: DepsDep, who: PrincipalDep) -> KeyList:
    now = deps.clock.now_ms()
    return KeyList(items=[KeyOut.of(k, now) for k in apikeys.list_keys(deps, who, org_id)])


@router.get("/{key_id}", response_model=KeyOut)
def get_key(org_id: OrgId, key_id: KeyId, deps: DepsDep, who: PrincipalDep) -> KeyOut:
    return KeyOut.of(apikeys.get_key(deps, who, org_id, key_id), deps.clock.now_ms())


@router.post("/{key_id}/rotate", response_model=KeyOut, status_code=status.HTTP_201_CREATED)
def rotate_key(org_id: OrgId, key_id: KeyId, body: RotateIn, deps: DepsDep,
               who: PrincipalDep, idempotency_key: IdempotencyKey = None) -> KeyOut:
    """A successor key (its token in this answer only); the old key stays valid for
    `overlap_hours`."""
    issued = apikeys.rotate(deps, who, org_id, key_id, overlap_hours=body.overlap_hours,
                            idempotency_key=idempotency_key)
    return KeyOut.of(issued.key, deps.clock.now_ms(), issued.token)


@router.post("/{key_id}/revoke", response_model=KeyOut)
def revoke_key(org_id: OrgId, key_id: KeyId, deps: DepsDep, who: PrincipalDep) -> KeyOut:
    """Stops the key at once; revoking again changes nothing."""
    return KeyOut.of(apikeys.revoke(deps, who, org_id, key_id), deps.clock.now_ms())


@router.get("/{key_id}/uses", response_model=UsePage)
def key_uses(org_id: OrgId, key_id: KeyId, deps: DepsDep, who: PrincipalDep,
             limit: Limit = 50, offset: Offset = 0) -> UsePage:
    """Every use of the key (and every refusal of it), newest first, from the audit trail."""
    found = apikeys.uses(deps, who, org_id, key_id, limit=limit, offset=offset)
    return UsePage(items=[UseOut.of(e) for e in found], limit=limit, offset=offset)
