"""Organisations, departments, members and the organisation's audit trail (A6)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import orgs as dom
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.orgs import Department, Organisation
from corridor.platform.domain.roles import OrgRole
from corridor.platform.services import orgs

router = APIRouter(route_class=JsonRoute, prefix="/orgs", tags=["organisations"])

OrgId = Annotated[str, Path(max_length=64)]
ItemId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.MEMBERS_PAGE_MAX)]
AuditLimit = Annotated[int, Query(ge=1, le=dom.AUDIT_PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=dom.PAGE_OFFSET_MAX)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgIn(Strict):
    name: str = Field(min_length=1, max_length=dom.ORG_NAME_LEN_MAX)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")


class RenameIn(Strict):
    name: str = Field(min_length=1, max_length=dom.ORG_NAME_LEN_MAX)


class DepartmentIn(Strict):
    name: str = Field(min_length=1, max_length=dom.DEPARTMENT_NAME_LEN_MAX)


class MemberIn(Strict):
    email: EmailStr = Field(max_length=320)
    role: OrgRole
    department_id: str | None = Field(default=None, max_length=64)


class MemberChangeIn(Strict):
    """Fields left out stay as they are; `department_id: null` clears the department."""

    role: OrgRole | None = None
    department_id: str | None = Field(default=None, max_length=64)


class OrgOut(BaseModel):
    id: str
    name: str
    country: str
    status: str
    created_ms: int
    role: OrgRole | None = None  # the caller's role; absent in staff views

    @classmethod
    def of(cls, org: Organisation, role: OrgRole | None = None) -> OrgOut:
        return cls(id=org.id, name=org.name, country=org.country, status=org.status,
                   created_ms=org.created_ms, role=role)


class OrgList(BaseModel):
    items: list[OrgOut]


class DepartmentOut(BaseModel):
    id: str
    name: str
    created_ms: int

    @classmethod
    def of(cls, d: Department) -> DepartmentOut:
        return cls(id=d.id, name=d.name, created_ms=d.created_ms)


class DepartmentList(BaseModel):
    items: list[DepartmentOut]


class MemberOut(BaseModel):
    user_id: str
    name: str
    email: str | None
    role: OrgRole
    department_id: str | None
    created_ms: int

    @classmethod
    def of(cls, member: orgs.Member) -> MemberOut:
        m = member.membership
        return cls(user_id=m.user_id, name=member.name, email=member.email,
                   role=OrgRole(m.role), department_id=m.department_id,
                   created_ms=m.created_ms)


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int


class AuditOut(BaseModel):
    seq: int
    at_ms: int
    actor_id: str | None
    actor_kind: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str

    @classmethod
    def of(cls, e: AuditEntry) -> AuditOut:
        return cls(seq=e.seq, at_ms=e.at_ms, actor_id=e.actor_id, actor_kind=e.actor_kind,
                   action=e.action, before=e.before, after=e.after, ip=e.ip)


class AuditPage(BaseModel):
    items: list[AuditOut]
    limit: int
    offset: int


@router.post("", status_code=201)
def create_org(body: OrgIn, who: PrincipalDep, deps: DepsDep,
               idempotency_key: IdempotencyKey = None) -> OrgOut:
    """Create an organisation; the caller (a customer) becomes its owner.
    `Idempotency-Key` is required: a retry with the same key returns the same
    organisation."""
    org = orgs.create_org(deps, who, name=body.name, country=body.country,
                          idempotency_key=idempotency_key)
    return OrgOut.of(org, OrgRole.OWNER)


@router.get("")
def list_orgs(who: PrincipalDep, deps: DepsDep) -> OrgList:
    """The caller's organisations with the caller's role in each."""
    return OrgList(items=[OrgOut.of(o, r) for o, r in orgs.list_my_orgs(deps, who)])


@router.get("/{org_id}")
def get_org(org_id: OrgId, who: PrincipalDep, deps: DepsDep) -> OrgOut:
    org, role = orgs.get_org(deps, who, org_id)
    return OrgOut.of(org, role)


@router.patch("/{org_id}")
def rename_org(org_id: OrgId, body: RenameIn, who: PrincipalDep, deps: DepsDep) -> OrgOut:
    org = orgs.rename_org(deps, who, org_id, name=body.name)
    _, role = orgs.get_org(deps, who, org_id)
    return OrgOut.of(org, role)


@router.get("/{org_id}/departments")
def list_departments(org_id: OrgId, who: PrincipalDep, deps: DepsDep) -> DepartmentList:
    found = orgs.list_departments(deps, who, org_id)
    return DepartmentList(items=[DepartmentOut.of(d) for d in found])


@router.post("/{org_id}/departments", status_code=201)
def create_department(
    org_id: OrgId, body: DepartmentIn, who: PrincipalDep, deps: DepsDep,
    idempotency_key: IdempotencyKey = None,
) -> DepartmentOut:
    """`Idempotency-Key` is required: a retry with the same key returns the same
    department."""
    return DepartmentOut.of(orgs.create_department(deps, who, org_id, name=body.name,
                                                   idempotency_key=idempotency_key))


@router.delete("/{org_id}/departments/{department_id}", status_code=204)
def delete_department(
    org_id: OrgId, department_id: ItemId, who: PrincipalDep, deps: DepsDep
) -> Response:
    orgs.delete_department(deps, who, org_id, department_id)
    return Response(status_code=204)


@router.get("/{org_id}/members")
def list_members(
    org_id: OrgId, who: PrincipalDep, deps: DepsDep, limit: Limit = 50, offset: Offset = 0
) -> MemberPage:
    found, total = orgs.list_members(deps, who, org_id, limit=limit, offset=offset)
    return MemberPage(items=[MemberOut.of(m) for m in found], total=total, limit=limit,
                      offset=offset)


@router.post("/{org_id}/members", status_code=201)
def add_member(org_id: OrgId, body: MemberIn, who: PrincipalDep, deps: DepsDep,
               idempotency_key: IdempotencyKey = None) -> MemberOut:
    """Add an existing customer by e-mail. 404 USER_NOT_FOUND (shown only to callers who
    may manage members) when no active customer has the address. `Idempotency-Key` is
    required: a retry with the same key returns the same member."""
    m = orgs.add_member(deps, who, org_id, email=str(body.email), role=body.role.value,
                        department_id=body.department_id, idempotency_key=idempotency_key)
    return MemberOut.of(m)


@router.patch("/{org_id}/members/{user_id}")
def change_member(
    org_id: OrgId, user_id: ItemId, body: MemberChangeIn, who: PrincipalDep, deps: DepsDep
) -> MemberOut:
    dept: str | orgs.Keep | None = (
        body.department_id if "department_id" in body.model_fields_set else orgs.KEEP
    )
    m = orgs.change_member(deps, who, org_id, user_id,
                           role=body.role.value if body.role else None, department_id=dept)
    return MemberOut.of(m)


@router.delete("/{org_id}/members/{user_id}", status_code=204)
def remove_member(org_id: OrgId, user_id: ItemId, who: PrincipalDep, deps: DepsDep) -> Response:
    """Remove a member, or leave (your own user id). The last owner cannot be removed."""
    orgs.remove_member(deps, who, org_id, user_id)
    return Response(status_code=204)


@router.get("/{org_id}/audit")
def org_audit(
    org_id: OrgId, who: PrincipalDep, deps: DepsDep, limit: AuditLimit = 50, offset: Offset = 0
) -> AuditPage:
    """The organisation's audit trail, newest first."""
    found = orgs.org_audit(deps, who, org_id, limit=limit, offset=offset)
    return AuditPage(items=[AuditOut.of(e) for e in found], limit=limit, offset=offset)
