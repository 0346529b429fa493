"""Authorisation checks shared by every use case. Rule: a caller learns nothing about an
object they may not see, so "not yours" and "absent" give the same NOT_FOUND; "you may
see it but your role may not do this" gives FORBIDDEN.

Standing (issue 14, item 2): money moves only for an owner in good standing. Every use case
that moves money or opens a chain account names whose money it is through `acting_owner`
(or `require_org` with a permission in `roles.MONEY_PERMS`), and both refuse a suspended
organisation and a customer who is not active; the check lives here, once, so a new use
case gets it by asking for the permission it needs, not by remembering it."""

from __future__ import annotations

from corridor.platform.domain.errors import Err, forbidden, not_found
from corridor.platform.domain.identity import User, UserStatus
from corridor.platform.domain.orgs import Membership, Organisation, OrgStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import MONEY_PERMS, OrgRole, Perm, UserKind, org_allows
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services.ports import UnitOfWork


def member_role(uow: UnitOfWork, org_id: str, user_id: str) -> OrgRole | None:
    m = uow.repo(Membership).one(org_id=org_id, user_id=user_id)
    return OrgRole(m.role) if m is not None else None


def require_org(uow: UnitOfWork, who: Principal, org_id: str, perm: Perm) -> OrgRole:
    """The caller's role in `org_id` if it grants `perm`. Non-members get NOT_FOUND. A
    money permission (`MONEY_PERMS`) also needs the organisation and the caller in good
    standing (ORG_SUSPENDED, ACCOUNT_SUSPENDED)."""
    org = uow.repo(Organisation).get(org_id) if len(org_id) <= 64 else None
    if org is None or (who.key is not None and who.key.org_id != org_id):
        raise not_found("organisation")
    role = member_role(uow, org_id, who.user_id)
    if role is None:  # for a key: its creator left, and took its rights along
        raise not_found("organisation")
    if not org_allows(role, perm):
        raise forbidden(f"the {role.value} role may not do this")
    if who.key is not None and perm not in who.key.perms:
        raise Err.API_KEY_SCOPE.error(f"the API key's scopes do not include {perm.value}")
    if perm in MONEY_PERMS:
        _require_active_user(uow, who.user_id)
        if org.status != OrgStatus.ACTIVE:
            raise Err.ORG_SUSPENDED.error(
                f"the organisation is {org.status}: its money cannot move")
    return role


def acting_owner(uow: UnitOfWork, who: Principal, org_id: str | None,
                 perm: Perm = Perm.PAY_INITIATE) -> tuple[str, str]:
    """Whose money the caller moves (the one resolver every money-moving use case asks):
    their own, or an organisation's they hold `perm` in. Refuses staff, a customer who is
    not active, and a suspended organisation."""
    assert perm in MONEY_PERMS, f"{perm} does not move money: use require_org"
    if org_id is not None:
        require_org(uow, who, org_id, perm)
        return OwnerType.ORG, org_id
    if who.kind is not UserKind.CUSTOMER:
        raise forbidden("only customers move money")
    require_person(who)
    _require_active_user(uow, who.user_id)
    return OwnerType.USER, who.user_id


def require_person(who: Principal) -> None:
    """An organisation's API key acts for the organisation only: never with its creator's
    own money or data."""
    if who.key is not None:
        raise Err.API_KEY_SCOPE.error("an API key acts for its organisation only: give org_id")


def _require_active_user(uow: UnitOfWork, user_id: str) -> None:
    # Sessions of a disabled account are refused at sign-in; this also closes the moment
    # between a session being checked and the use case running.
    user = uow.repo(User).get(user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        raise Err.ACCOUNT_SUSPENDED.error()


def require_staff(who: Principal, perm: Perm) -> None:
    if not who.staff_can(perm):
        raise forbidden()
