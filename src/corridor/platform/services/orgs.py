"""Organisations, departments and members (requirement A6).

Creating requests (an organisation, a department, a member) carry an Idempotency-Key: a
retry under the same key returns the first answer's record as it stands now (services/
idempotency.py, remembered in the effect's transaction).

Visibility: a caller who is not a member of an organisation gets NOT_FOUND for anything
in it, so they never learn it exists; a member whose role lacks the permission gets
FORBIDDEN. Every change is audited against the organisation's id, so the organisation's
own trail (`org_audit`) shows it.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from corridor.platform.domain import idempotency
from corridor.platform.domain import orgs as dom
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import (
    Err,
    Problems,
    forbidden,
    not_found,
)
from corridor.platform.domain.identity import User, UserStatus, normalise_email
from corridor.platform.domain.orgs import Department, Membership, Organisation, OrgStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import GRANTABLE, OrgRole, Perm, UserKind
from corridor.platform.services import access, kyc, party_screening
from corridor.platform.services import idempotency as replay
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A membership with the member's display details (a read model for listings)."""

    membership: Membership
    name: str
    email: str | None


class Keep(enum.Enum):
    """Marks an optional update argument as "leave unchanged" (None means "clear")."""

    KEEP = "keep"


KEEP = Keep.KEEP


# --- organisations -------------------------------------------------------------------


def create_org(deps: Deps, who: Principal, *, name: str, country: str,
               idempotency_key: str | None) -> Organisation:
    """A customer whose own KYC was accepted creates an organisation (at most
    `settings.orgs_per_customer_max`) and becomes its owner. Its wallet is opened once its
    business verification (KYB) is accepted (kyc.decide), never before: an organisation
    costs the chain nothing until someone has vouched for it."""
    if who.kind is not UserKind.CUSTOMER:
        raise forbidden("staff cannot create organisations")
    problems = Problems()
    key = idempotency.check_key(idempotency_key, problems)
    name = dom.check_org_name(name, problems)
    country = dom.check_country(country, problems)
    idempotency.raise_if_any(problems)
    asked = {"name": name, "country": country}
    now = deps.clock.now_ms()
    cap: int = deps.settings.orgs_per_customer_max
    with deps.uow() as uow:
        uow.repo(User).get(who.user_id, for_update=True)  # serialises this customer's creations
        access.acting_owner(uow, who, None, Perm.ORG_WALLETS)  # an active customer
        first = replay.prior(uow, who.user_id, key, "org.create", asked)
        if first is not None:
            return _org(uow, first)
        if kyc.tier_of(uow, "user", who.user_id) <= 0:
            raise Err.KYC_REQUIRED.error("verify your identity (KYC) before creating an "
                                         "organisation")
        if uow.repo(Organisation).count(created_by=who.user_id) >= cap:
            raise Err.ORGS_LIMIT.error(f"you may create at most {cap} organisations")
        if uow.repo(Membership).count(user_id=who.user_id) >= dom.ORGS_PER_USER_MAX:
            raise Err.ORGS_LIMIT.error(f"at most {dom.ORGS_PER_USER_MAX} organisations")
        org = Organisation(id=deps.rand.new_id(), name=name, country=country,
                           status=OrgStatus.ACTIVE, created_by=who.user_id,
                           created_ms=now, updated_ms=now)
        uow.repo(Organisation).add(org)
        owner = _membership(deps, org.id, who.user_id, OrgRole.OWNER, None)
        uow.repo(Membership).add(owner)
        creator = uow.repo(User).get(who.user_id)
        assert creator is not None
        _screen_member(deps, uow, owner, creator)
        _audit(uow, who, "org.create", org.id, after={"name": name, "country": country})
        replay.remember(deps, uow, who.user_id, key, "org.create", asked, org.id)
        uow.commit()
    return org


def list_my_orgs(deps: Deps, who: Principal) -> list[tuple[Organisation, OrgRole]]:
    """The caller's organisations with their role in each, oldest membership first."""
    with deps.uow() as uow:
        found = uow.repo(Membership).many(user_id=who.user_id, order_by="created_ms",
                                          limit=dom.ORGS_PER_USER_MAX)
        out = []
        for m in found:
            org = uow.repo(Organisation).get(m.org_id)
            assert org is not None, "a membership outlived its organisation"
            out.append((org, OrgRole(m.role)))
    return out


def get_org(deps: Deps, who: Principal, org_id: str) -> tuple[Organisation, OrgRole]:
    with deps.uow() as uow:
        role = access.require_org(uow, who, org_id, Perm.ORG_READ)
        return _org(uow, org_id), role


def rename_org(deps: Deps, who: Principal, org_id: str, *, name: str) -> Organisation:
    problems = Problems()
    name = dom.check_org_name(name, problems)
    problems.raise_if_any()
    with deps.uow() as uow:
        access.require_org(uow, who, org_id, Perm.ORG_MANAGE)
        org = _active_org(uow, org_id)
        renamed = dataclasses.replace(org, name=name, updated_ms=deps.clock.now_ms())
        uow.repo(Organisation).update(renamed)
        _audit(uow, who, "org.rename", org_id, before={"name": org.name}, after={"name": name})
        uow.commit()
    return renamed


# --- departments ---------------------------------------------------------------------


def create_department(deps: Deps, who: Principal, org_id: str, *, name: str,
                      idempotency_key: str | None) -> Department:
    """A retry whose department was deleted since is answered NOT_FOUND (its record is
    gone; the key is not reused for a new one)."""
    problems = Problems()
    key = idempotency.check_key(idempotency_key, problems)
    name = dom.check_department_name(name, problems)
    idempotency.raise_if_any(problems)
    asked = {"org_id": org_id, "name": name}
    with deps.uow() as uow:
        access.require_org(uow, who, org_id, Perm.ORG_MANAGE)
        _active_org(uow, org_id, lock=True)  # the lock serialises the count and name checks
        repo = uow.repo(Department)
        first = replay.prior(uow, who.user_id, key, "org.department.create", asked)
        if first is not None:
            before = _department(uow, org_id, first)
            if before is None:
                raise not_found("department")
            return before
        if repo.count(org_id=org_id) >= dom.DEPARTMENTS_MAX:
            raise Err.DEPARTMENTS_LIMIT.error(f"at most {dom.DEPARTMENTS_MAX} departments")
        if repo.one(org_id=org_id, name=name) is not None:
            raise Err.DEPARTMENT_EXISTS.error()
        dept = Department(id=deps.rand.new_id(), org_id=org_id, name=name,
                          created_ms=deps.clock.now_ms())
        repo.add(dept)
        _audit(uow, who, "org.department.create", org_id,
               after={"department_id": dept.id, "name": name})
        replay.remember(deps, uow, who.user_id, key, "org.department.create", asked, dept.id)
        uow.commit()
    return dept


def list_departments(deps: Deps, who: Principal, org_id: str) -> list[Department]:
    with deps.uow() as uow:
        access.require_org(uow, who, org_id, Perm.ORG_READ)
        return uow.repo(Department).many(org_id=org_id, order_by="name",
                                         limit=dom.DEPARTMENTS_MAX)


def delete_department(deps: Deps, who: Principal, org_id: str, department_id: str) -> None:
    """Refused while members are assigned, so nobody silently loses their department."""
    with deps.uow() as uow:
        access.require_org(uow, who, org_id, Perm.ORG_MANAGE)
        _org(uow, org_id, lock=True)
        dept = _department(uow, org_id, department_id)
        if dept is None:
            raise not_found("department")
        if uow.repo(Membership).count(org_id=org_id, department_id=dept.id):
            raise Err.DEPARTMENT_IN_USE.error()
        uow.repo(Department).delete(dept.id)
        _audit(uow, who, "org.department.delete", org_id,
               before={"department_id": dept.id, "name": dept.name})
        uow.commit()


# --- members -------------------------------------------------------------------------


def list_members(
    deps: Deps, who: Principal, org_id: str, *, limit: int = 50, offset: int = 0
) -> tuple[list[Member], int]:
    """A page of members (oldest first) and the total number."""
    limit, offset = page_bounds(limit, offset, dom.MEMBERS_PAGE_MAX)
    with deps.uow() as uow:
        access.require_org(uow, who, org_id, Perm.ORG_READ)
        return _members(uow, org_id, limit, offset), uow.repo(Membership).count(org_id=org_id)


def add_member(
    deps: Deps,
    who: Principal,
    org_id: str,
    *,
    email: str,
    role: str,
    department_id: str | None = None,
    idempotency_key: str | None,
) -> Member:
    """Adds an existing, active customer by e-mail. Only callers with ORG_MEMBERS learn
    whether an address belongs to a customer (USER_NOT_FOUND): an accepted, bounded
    enumeration risk, since an owner or admin needs to know why the add failed. Staff
    and inactive accounts answer the same USER_NOT_FOUND, so staff addresses stay hidden.
    A retry whose member was removed since is answered NOT_FOUND."""
    key = idempotency.check_key(idempotency_key)
    granted = _role(role)
    address = normalise_email(email)
    asked = {"org_id": org_id, "email": address, "role": granted.value,
             "department_id": department_id}
    with deps.uow() as uow:
        caller = access.require_org(uow, who, org_id, Perm.ORG_MEMBERS)
        _active_org(uow, org_id, lock=True)
        first = replay.prior(uow, who.user_id, key, "org.member.add", asked)
        if first is not None:
            before = uow.repo(Membership).get(first)
            if before is None:
                raise not_found("member")
            return _with_user(uow, before)
        _check_grant(caller, granted)
        _check_department(uow, org_id, department_id)
        user = uow.repo(User).one(email=address)
        if user is None or user.kind != UserKind.CUSTOMER or user.status != UserStatus.ACTIVE:
            raise Err.USER_NOT_FOUND.error()
        _check_can_join(uow, org_id, user.id)
        m = _membership(deps, org_id, user.id, granted, department_id)
        uow.repo(Membership).add(m)
        _screen_member(deps, uow, m, user)
        _audit(uow, who, "org.member.add", org_id, after=_member_state(m))
        replay.remember(deps, uow, who.user_id, key, "org.member.add", asked, m.id)
        uow.commit()
    return Member(membership=m, name=user.name, email=user.email)


def change_member(
    deps: Deps,
    who: Principal,
    org_id: str,
    user_id: str,
    *,
    role: str | None = None,
    department_id: str | Keep | None = KEEP,
) -> Member:
    """Changes a member's role and/or department under the same grant rules as adding:
    the caller must be able to grant both the member's current and new role (so an admin
    cannot touch an owner), and the last owner cannot be demoted."""
    new_role = _role(role) if role is not None else None
    with deps.uow() as uow:
        caller = access.require_org(uow, who, org_id, Perm.ORG_MEMBERS)
        _active_org(uow, org_id, lock=True)
        m = _find_member(uow, org_id, user_id)
        _check_grant(caller, OrgRole(m.role))
        changes: dict[str, Any] = {}
        if new_role is not None and new_role != m.role:
            _check_grant(caller, new_role)
            if m.role == OrgRole.OWNER:
                _check_not_last_owner(uow, org_id)
            changes["role"] = new_role.value
        if not isinstance(department_id, Keep) and department_id != m.department_id:
            _check_department(uow, org_id, department_id)
            changes["department_id"] = department_id
        changed = dataclasses.replace(m, **changes, updated_ms=deps.clock.now_ms())
        if changes:
            uow.repo(Membership).update(changed)
            _audit(uow, who, "org.member.change", org_id, before=_member_state(m),
                   after=_member_state(changed))
            uow.commit()
        return _with_user(uow, m if not changes else changed)


def remove_member(deps: Deps, who: Principal, org_id: str, user_id: str) -> None:
    """Removes a member, or lets a member leave. Allowed while suspended: removing access
    only reduces risk. The last owner can neither be removed nor leave."""
    leaving = user_id == who.user_id
    with deps.uow() as uow:
        caller = access.require_org(uow, who, org_id,
                                    Perm.ORG_READ if leaving else Perm.ORG_MEMBERS)
        _org(uow, org_id, lock=True)
        m = _find_member(uow, org_id, user_id)
        if not leaving:
            _check_grant(caller, OrgRole(m.role))
        if m.role == OrgRole.OWNER:
            _check_not_last_owner(uow, org_id)
        uow.repo(Membership).delete(m.id)
        _audit(uow, who, "org.member.leave" if leaving else "org.member.remove", org_id,
               before=_member_state(m))
        uow.commit()


# --- audit trail ---------------------------------------------------------------------


def org_audit(
    deps: Deps, who: Principal, org_id: str, *, limit: int = 50, offset: int = 0
) -> list[AuditEntry]:
    """The organisation's audit trail, newest first. Staff actors are shown by kind only:
    an institution learns that the platform acted, not which employee or from where."""
    limit, offset = page_bounds(limit, offset, dom.AUDIT_PAGE_MAX)
    with deps.uow() as uow:
        access.require_org(uow, who, org_id, Perm.ORG_AUDIT)
        entries = uow.repo(AuditEntry).many(object_type="organisation", object_id=org_id,
                                            order_by="seq", descending=True,
                                            limit=limit, offset=offset)
    return [
        dataclasses.replace(e, actor_id=None, ip="") if e.actor_kind == UserKind.STAFF else e
        for e in entries
    ]


# --- staff views and controls --------------------------------------------------------


def staff_list_orgs(
    deps: Deps, who: Principal, *, limit: int = 50, offset: int = 0
) -> list[Organisation]:
    access.require_staff(who, Perm.CUSTOMERS_READ)
    limit, offset = page_bounds(limit, offset, dom.ORGS_PAGE_MAX)
    with deps.uow() as uow:
        return uow.repo(Organisation).many(order_by="created_ms", descending=True,
                                           limit=limit, offset=offset)


def staff_get_org(
    deps: Deps, who: Principal, org_id: str
) -> tuple[Organisation, list[Department], list[Member]]:
    access.require_staff(who, Perm.CUSTOMERS_READ)
    with deps.uow() as uow:
        org = _org(uow, org_id)
        depts = uow.repo(Department).many(org_id=org_id, order_by="name",
                                          limit=dom.DEPARTMENTS_MAX)
        return org, depts, _members(uow, org_id, dom.MEMBERS_MAX, 0)


def set_org_status(deps: Deps, who: Principal, org_id: str, *, suspended: bool) -> Organisation:
    """Staff suspend or reinstate an organisation (Perm.OPERATE)."""
    access.require_staff(who, Perm.OPERATE)
    status = OrgStatus.SUSPENDED if suspended else OrgStatus.ACTIVE
    with deps.uow() as uow:
        org = _org(uow, org_id, lock=True)
        if org.status == status:
            return org
        changed = dataclasses.replace(org, status=status, updated_ms=deps.clock.now_ms())
        uow.repo(Organisation).update(changed)
        _audit(uow, who, "org.suspend" if suspended else "org.unsuspend", org_id,
               before={"status": org.status}, after={"status": status.value})
        uow.commit()
    return changed


# --- helpers -------------------------------------------------------------------------


def _screen_member(deps: Deps, uow: UnitOfWork, m: Membership, user: User) -> None:
    """A new member's name (their verified one, else the one they registered) against the
    sanctions lists: a hit is an alert on the organisation's case (issue 16)."""
    name = kyc.screening_names(deps, uow, "user", {user.id: user.name}).get(user.id)
    if name:
        party_screening.screen_member(deps, uow, org_id=m.org_id, user_id=user.id, name=name,
                                      membership_id=m.id)


def _org(uow: UnitOfWork, org_id: str, *, lock: bool = False) -> Organisation:
    # Locking the organisation row serialises membership changes in one organisation,
    # so two owners cannot demote each other at once and limits cannot be overrun.
    org = uow.repo(Organisation).get(org_id, for_update=lock) if len(org_id) <= 64 else None
    if org is None:
        raise not_found("organisation")
    return org


def _active_org(uow: UnitOfWork, org_id: str, *, lock: bool = False) -> Organisation:
    org = _org(uow, org_id, lock=lock)
    if org.status != OrgStatus.ACTIVE:
        raise Err.ORG_SUSPENDED.error()
    return org


def _role(role: str) -> OrgRole:
    try:
        return OrgRole(role)
    except ValueError:
        names = ", ".join(r.value for r in OrgRole)
        raise Err.INVALID_ROLE.error(f"role must be one of {names}", {"role": names}) from None


def _check_grant(caller: OrgRole, role: OrgRole) -> None:
    if role not in GRANTABLE.get(caller, frozenset()):
        raise forbidden(f"the {caller.value} role may not grant or change the {role.value} role")


def _check_not_last_owner(uow: UnitOfWork, org_id: str) -> None:
    if uow.repo(Membership).count(org_id=org_id, role=OrgRole.OWNER.value) <= 1:
        raise Err.LAST_OWNER.error()


def _check_can_join(uow: UnitOfWork, org_id: str, user_id: str) -> None:
    repo = uow.repo(Membership)
    if repo.one(org_id=org_id, user_id=user_id) is not None:
        raise Err.ALREADY_MEMBER.error()
    if repo.count(org_id=org_id) >= dom.MEMBERS_MAX:
        raise Err.MEMBERS_LIMIT.error(f"at most {dom.MEMBERS_MAX} members")
    if repo.count(user_id=user_id) >= dom.ORGS_PER_USER_MAX:
        raise Err.ORGS_LIMIT.error("this customer belongs to too many organisations")


def _department(uow: UnitOfWork, org_id: str, department_id: str) -> Department | None:
    dept = uow.repo(Department).get(department_id) if len(department_id) <= 64 else None
    return dept if dept is not None and dept.org_id == org_id else None


def _check_department(uow: UnitOfWork, org_id: str, department_id: str | None) -> None:
    if department_id is not None and _department(uow, org_id, department_id) is None:
        message = "no such department in this organisation"
        raise Err.UNKNOWN_DEPARTMENT.error(message, {"department_id": message})


def _find_member(uow: UnitOfWork, org_id: str, user_id: str) -> Membership:
    m = uow.repo(Membership).one(org_id=org_id, user_id=user_id) if len(user_id) <= 64 else None
    if m is None:
        raise not_found("member")
    return m


def _members(uow: UnitOfWork, org_id: str, limit: int, offset: int) -> list[Member]:
    found = uow.repo(Membership).many(org_id=org_id, order_by="created_ms", limit=limit,
                                      offset=offset)
    return [_with_user(uow, m) for m in found]


def _with_user(uow: UnitOfWork, m: Membership) -> Member:
    user = uow.repo(User).get(m.user_id)
    assert user is not None, "a membership outlived its user"
    return Member(membership=m, name=user.name, email=user.email)


def _membership(
    deps: Deps, org_id: str, user_id: str, role: OrgRole, department_id: str | None
) -> Membership:
    now = deps.clock.now_ms()
    return Membership(id=deps.rand.new_id(), org_id=org_id, user_id=user_id, role=role,
                      department_id=department_id, created_ms=now, updated_ms=now)


def _member_state(m: Membership) -> dict[str, Any]:
    return {"user_id": m.user_id, "role": m.role, "department_id": m.department_id}


def _audit(
    uow: UnitOfWork,
    who: Principal,
    action: str,
    org_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action=action,
              object_type="organisation", object_id=org_id, before=before, after=after,
              ip=who.ip)
