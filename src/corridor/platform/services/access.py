"""Authorisation checks shared by every use case. Rule: a caller learns nothing about an
object they may not see, so "not yours" and "absent" give the same NOT_FOUND; "you may
see it but your role may not do this" gives FORBIDDEN."""

from __future__ import annotations

from corridor.platform.domain.errors import forbidden, not_found
from corridor.platform.domain.orgs import Membership, Organisation
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import OrgRole, Perm, org_allows
from corridor.platform.services.ports import UnitOfWork


def member_role(uow: UnitOfWork, org_id: str, user_id: str) -> OrgRole | None:
    m = uow.repo(Membership).one(org_id=org_id, user_id=user_id)
    return OrgRole(m.role) if m is not None else None


def require_org(uow: UnitOfWork, who: Principal, org_id: str, perm: Perm) -> OrgRole:
    """The caller's role in `org_id` if it grants `perm`. Non-members get NOT_FOUND."""
    if len(org_id) > 64 or uow.repo(Organisation).get(org_id) is None:
        raise not_found("organisation")
    role = member_role(uow, org_id, who.user_id)
    if role is None:
        raise not_found("organisation")
    if not org_allows(role, perm):
        raise forbidden(f"the {role.value} role may not do this")
    return role


def require_staff(who: Principal, perm: Perm) -> None:
    if not who.staff_can(perm):
        raise forbidden()
