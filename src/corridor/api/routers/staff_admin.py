"""Staff administration (A6): staff accounts, and staff views and controls over
organisations. Permissions are checked by the services (STAFF_MANAGE, CUSTOMERS_READ,
OPERATE) and again at the edge, so a caller without the permission gets 403 before
their request body is even validated; customers get 403 like staff lacking it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from corridor.api.deps import DepsDep, IdempotencyKey
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.api.routers.orgs import DepartmentOut, MemberOut, OrgOut
from corridor.platform.domain import identity as idn
from corridor.platform.domain import orgs as dom
from corridor.platform.domain.identity import User
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, StaffRole
from corridor.platform.services import orgs, staff

router = APIRouter(route_class=JsonRoute, prefix="/staff", tags=["staff administration"])

Id = Annotated[str, Path(max_length=64)]
Offset = Annotated[int, Query(ge=0, le=dom.PAGE_OFFSET_MAX)]
StaffManager = Annotated[Principal, Depends(staff_only(Perm.STAFF_MANAGE))]
CustomersReader = Annotated[Principal, Depends(staff_only(Perm.CUSTOMERS_READ))]
Operator = Annotated[Principal, Depends(staff_only(Perm.OPERATE))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StaffIn(Strict):
    email: EmailStr = Field(max_length=320)
    name: str = Field(min_length=1, max_length=idn.NAME_LEN_MAX)
    password: str = Field(max_length=idn.PASSWORD_LEN_MAX)
    role: StaffRole


class StaffRoleIn(Strict):
    role: StaffRole


class StaffOut(BaseModel):
    id: str
    email: str | None
    name: str
    role: str | None
    status: str
    created_ms: int

    @classmethod
    def of(cls, u: User) -> StaffOut:
        return cls(id=u.id, email=u.email, name=u.name, role=u.staff_role, status=u.status,
                   created_ms=u.created_ms)


class StaffList(BaseModel):
    items: list[StaffOut]
    limit: int
    offset: int


class StaffOrgList(BaseModel):
    items: list[OrgOut]
    limit: int
    offset: int


class StaffOrgOut(BaseModel):
    organisation: OrgOut
    departments: list[DepartmentOut]
    members: list[MemberOut]


@router.post("/users", status_code=201)
def create_staff(body: StaffIn, who: StaffManager, deps: DepsDep,
                 idempotency_key: IdempotencyKey = None) -> StaffOut:
    """`Idempotency-Key` is required: a retry with the same key returns the same
    account."""
    user = staff.create_staff(deps, who, email=str(body.email), name=body.name,
                              password=body.password, role=body.role.value,
                              idempotency_key=idempotency_key)
    return StaffOut.of(user)


@router.get("/users")
def list_staff(
    who: StaffManager,
    deps: DepsDep,
    limit: Annotated[int, Query(ge=1, le=staff.STAFF_PAGE_MAX)] = 50,
    offset: Offset = 0,
) -> StaffList:
    found = staff.list_staff(deps, who, limit=limit, offset=offset)
    return StaffList(items=[StaffOut.of(u) for u in found], limit=limit, offset=offset)


@router.patch("/users/{user_id}")
def change_staff_role(user_id: Id, body: StaffRoleIn, who: StaffManager, deps: DepsDep) -> StaffOut:
    return StaffOut.of(staff.change_staff_role(deps, who, user_id, role=body.role.value))


@router.post("/users/{user_id}/disable")
def disable_staff(user_id: Id, who: StaffManager, deps: DepsDep) -> StaffOut:
    """Disable a staff account; its sessions end at once. Not your own."""
    return StaffOut.of(staff.disable_staff(deps, who, user_id))


@router.get("/orgs")
def list_orgs(
    who: CustomersReader,
    deps: DepsDep,
    limit: Annotated[int, Query(ge=1, le=dom.ORGS_PAGE_MAX)] = 50,
    offset: Offset = 0,
) -> StaffOrgList:
    found = orgs.staff_list_orgs(deps, who, limit=limit, offset=offset)
    return StaffOrgList(items=[OrgOut.of(o) for o in found], limit=limit, offset=offset)


@router.get("/orgs/{org_id}")
def get_org(org_id: Id, who: CustomersReader, deps: DepsDep) -> StaffOrgOut:
    org, depts, members = orgs.staff_get_org(deps, who, org_id)
    return StaffOrgOut(organisation=OrgOut.of(org),
                       departments=[DepartmentOut.of(d) for d in depts],
                       members=[MemberOut.of(m) for m in members])


@router.post("/orgs/{org_id}/suspend")
def suspend_org(org_id: Id, who: Operator, deps: DepsDep) -> OrgOut:
    return OrgOut.of(orgs.set_org_status(deps, who, org_id, suspended=True))


@router.post("/orgs/{org_id}/unsuspend")
def unsuspend_org(org_id: Id, who: Operator, deps: DepsDep) -> OrgOut:
    return OrgOut.of(orgs.set_org_status(deps, who, org_id, suspended=False))
