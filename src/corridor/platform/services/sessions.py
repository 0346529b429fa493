"""Sessions: opening one after a full login, resolving a bearer token to a principal,
listing and revoking them."""

from __future__ import annotations

import dataclasses

from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import Err, not_found
from corridor.platform.domain.identity import Session, User
from corridor.platform.domain.principal import Origin, Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.services.ports import Deps, UnitOfWork

USER_AGENT_LEN_MAX = 300


def open_session(deps: Deps, uow: UnitOfWork, user: User, origin: Origin) -> str:
    """Creates a session for `user` inside the caller's unit of work; returns the token
    (shown to the client once, stored only as a digest)."""
    now = deps.clock.now_ms()
    token = deps.rand.token()
    uow.repo(Session).add(
        Session(
            id=deps.rand.new_id(),
            user_id=user.id,
            token_hash=idn.digest(token),
            created_ms=now,
            last_seen_ms=now,
            expires_ms=now + idn.SESSION_TTL_MS,
            revoked_ms=None,
            ip=origin.ip[:64],
            user_agent=origin.user_agent[:USER_AGENT_LEN_MAX],
        )
    )
    return token


def principal_of(user: User, session: Session, ip: str) -> Principal:
    return Principal(
        user_id=user.id,
        kind=UserKind(user.kind),
        staff_role=StaffRole(user.staff_role) if user.staff_role else None,
        session_id=session.id,
        ip=ip,
    )


def authenticate(deps: Deps, token: str, origin: Origin) -> Principal:
    """The principal behind a bearer token, or UNAUTHENTICATED. Touches last-seen so idle
    sessions expire."""
    if not token or len(token) > 200:
        raise Err.UNAUTHENTICATED.error()
    now = deps.clock.now_ms()
    with deps.reader() as uow:  # every request comes here: no write lock
        session = uow.repo(Session).one(token_hash=idn.digest(token))
        if session is None or not idn.session_live(session, now):
            raise Err.SESSION_INVALID.error()
        user = uow.repo(User).get(session.user_id)
        if user is None or user.status != idn.UserStatus.ACTIVE:
            raise Err.SESSION_INVALID.error()
    if now - session.last_seen_ms > 60_000:  # write at most once a minute per session
        with deps.uow() as uow:
            fresh = uow.repo(Session).get(session.id, for_update=True)
            if fresh is not None and fresh.last_seen_ms < now:
                uow.repo(Session).update(dataclasses.replace(fresh, last_seen_ms=now))
                uow.commit()
    return principal_of(user, session, origin.ip)


def list_sessions(deps: Deps, who: Principal) -> list[Session]:
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        sessions = uow.repo(Session).many(user_id=who.user_id, order_by="created_ms",
                                          descending=True, limit=100)
    return [s for s in sessions if idn.session_live(s, now)]


def revoke_session(deps: Deps, who: Principal, session_id: str) -> None:
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        s = uow.repo(Session).get(session_id)
        if s is None or s.user_id != who.user_id:
            raise not_found("session")
        if s.revoked_ms is None:
            uow.repo(Session).update(dataclasses.replace(s, revoked_ms=now))
            uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="auth.session.revoke",
                      object_type="session", object_id=s.id, ip=who.ip)
        uow.commit()


def revoke_all(uow: UnitOfWork, user_id: str, now_ms: int, keep: str | None = None) -> int:
    """Revokes every live session of a user except `keep`; returns how many."""
    n = 0
    for s in uow.repo(Session).many(user_id=user_id, revoked_ms=None):
        if s.id != keep:
            uow.repo(Session).update(dataclasses.replace(s, revoked_ms=now_ms))
            n += 1
    return n
