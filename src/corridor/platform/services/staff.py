"""Staff accounts (requirement A6): created by an admin (or the admin command line, which
has no principal), listed, re-roled and disabled. Every change is audited against the
staff user's id. An admin can neither disable nor demote themselves, so the platform
always keeps at least the admin who acted."""

from __future__ import annotations

import dataclasses

from corridor.platform.domain import idempotency
from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import Err, PlatformError, Problems, not_found
from corridor.platform.domain.identity import User, UserStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, StaffRole, UserKind
from corridor.platform.services import access, sessions
from corridor.platform.services import idempotency as replay
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

STAFF_PAGE_MAX = 200


def create_staff(
    deps: Deps, actor: Principal | None, *, email: str, name: str, password: str, role: str,
    idempotency_key: str | None = None,
) -> User:
    """An active staff user with a verified e-mail. `actor` None is the command line (no
    request to retry: no key); a staff manager's request carries an Idempotency-Key, and
    a retry under it returns the account it made. The password is not part of what the
    key remembers (only a digest of the request is kept, and a password's has no place
    there)."""
    if actor is not None:
        access.require_staff(actor, Perm.STAFF_MANAGE)
    key = idempotency.check_key(idempotency_key) if actor is not None else ""
    problems = Problems()
    address = _email(email, problems)
    name = idn.check_name(name, problems)
    weak = idn.check_password(password, problems, user_inputs=(name, email))
    staff_role = _staff_role(role, problems)
    problems.raise_if_any(idn.password_code(problems, weak))
    assert staff_role is not None
    asked = {"email": address, "name": name, "role": staff_role.value}
    now = deps.clock.now_ms()
    user = User(
        id=deps.rand.new_id(), kind=UserKind.STAFF, staff_role=staff_role, name=name,
        email=address, email_verified=True, phone=None, phone_verified=False,
        password_hash=deps.hasher.hash(password), totp_secret_enc=None, totp_enabled=False,
        totp_last_step=0,
        status=UserStatus.ACTIVE, failed_logins=0, locked_until_ms=0,
        terms_version=idn.TERMS_VERSION, privacy_version=idn.PRIVACY_VERSION,
        terms_accepted_ms=now, created_ms=now, updated_ms=now,
    )
    with deps.uow() as uow:
        if actor is not None:
            first = replay.prior(uow, actor.user_id, key, "staff.create", asked)
            if first is not None:
                before = uow.repo(User).get(first)
                assert before is not None, "a remembered account is never deleted"
                return before
        if uow.repo(User).one(email=address) is not None:
            raise Err.EMAIL_TAKEN.error()
        uow.repo(User).add(user)
        _audit(uow, actor, "staff.create", user.id,
               after={"email": address, "role": staff_role.value})
        if actor is not None:
            replay.remember(deps, uow, actor.user_id, key, "staff.create", asked, user.id)
        uow.commit()
    return user


def list_staff(deps: Deps, who: Principal, *, limit: int = 50, offset: int = 0) -> list[User]:
    access.require_staff(who, Perm.STAFF_MANAGE)
    limit, offset = page_bounds(limit, offset, STAFF_PAGE_MAX)
    with deps.uow() as uow:
        return uow.repo(User).many(kind=UserKind.STAFF.value, order_by="created_ms",
                                   limit=limit, offset=offset)


def get_staff(deps: Deps, who: Principal, user_id: str) -> User:
    access.require_staff(who, Perm.STAFF_MANAGE)
    with deps.uow() as uow:
        return _staff_user(uow, user_id)


def change_staff_role(deps: Deps, who: Principal, user_id: str, *, role: str) -> User:
    access.require_staff(who, Perm.STAFF_MANAGE)
    problems = Problems()
    staff_role = _staff_role(role, problems)
    problems.raise_if_any()
    assert staff_role is not None
    if user_id == who.user_id and staff_role is not StaffRole.ADMIN:
        raise Err.CANNOT_DEMOTE_SELF.error()
    with deps.uow() as uow:
        user = _staff_user(uow, user_id)
        if user.staff_role == staff_role:
            return user
        changed = dataclasses.replace(user, staff_role=staff_role,
                                      updated_ms=deps.clock.now_ms())
        uow.repo(User).update(changed)
        _audit(uow, who, "staff.role.change", user.id, before={"role": user.staff_role},
               after={"role": staff_role.value})
        uow.commit()
    return changed


def disable_staff(deps: Deps, who: Principal, user_id: str) -> User:
    """Disables a staff account and revokes every session it has, effective at once."""
    access.require_staff(who, Perm.STAFF_MANAGE)
    if user_id == who.user_id:
        raise Err.CANNOT_DISABLE_SELF.error()
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        user = _staff_user(uow, user_id)
        if user.status == UserStatus.DISABLED:
            return user
        changed = dataclasses.replace(user, status=UserStatus.DISABLED, updated_ms=now)
        uow.repo(User).update(changed)
        revoked = sessions.revoke_all(uow, user.id, now)
        _audit(uow, who, "staff.disable", user.id, before={"status": user.status},
               after={"status": changed.status, "sessions_revoked": revoked})
        uow.commit()
    return changed


def _email(email: str, problems: Problems) -> str:
    try:
        return idn.normalise_email(email.strip())
    except PlatformError as exc:
        problems.add("email", exc.message)
        return email


def _staff_role(role: str, problems: Problems) -> StaffRole | None:
    try:
        return StaffRole(role)
    except ValueError:
        problems.add("role", "one of " + ", ".join(r.value for r in StaffRole))
        return None


def _staff_user(uow: UnitOfWork, user_id: str) -> User:
    user = uow.repo(User).get(user_id) if len(user_id) <= 64 else None
    if user is None or user.kind != UserKind.STAFF:
        raise not_found("staff user")
    return user


def _audit(
    uow: UnitOfWork,
    actor: Principal | None,
    action: str,
    user_id: str,
    *,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    uow.audit(actor_id=actor.user_id if actor else None,
              actor_kind=actor.kind.value if actor else "system", action=action,
              object_type="user", object_id=user_id, before=before, after=after,
              ip=actor.ip if actor else "")
