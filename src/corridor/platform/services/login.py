"""Sign-in (requirement A2): a password, then always a second factor — TOTP when enrolled
(or a recovery code), otherwise a one-time code to a verified e-mail or phone.

Guessing is bounded four ways: progressive delays after consecutive failures per account
and per source address (in the database, so they hold across API processes; attempts
while blocked are refused unchecked and do not count, so nobody can lengthen a block),
attempts per challenge and per code, and per-IP rate limits at the API. The owner of a
blocked account lifts the block with a second factor (`unlock_start`/`unlock_finish`);
repeated lockouts of a staff account alert the staff admins. Unknown identifiers cost the
same argon2 verification as known ones and get the same answer, so responses do not reveal
who has an account.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain import identity as idn
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import Err
from corridor.platform.domain.identity import Channel, LoginChallenge, LoginThrottle, Purpose, User
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.principal import Origin, Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.services import codes, mail_text, registration, sessions
from corridor.platform.services import notifications as inbox
from corridor.platform.services.mail_text import Mail
from corridor.platform.services.ports import Deps, UnitOfWork

_dummy_hashes: dict[int, str] = {}


def _dummy_hash(deps: Deps) -> str:
    key = id(deps.hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = deps.hasher.hash("not a real password, only for equal timing")
    return _dummy_hashes[key]


@dataclasses.dataclass(frozen=True, slots=True)
class Challenge:
    token: str
    method: str
    expires_ms: int
    destination_hint: str  # "c***@example.com": where the code went, masked


def _mask(destination: str) -> str:
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{destination[:3]}***{destination[-2:]}"


def _method(user: User, wanted: str | None) -> tuple[str, str]:
    """The second factor to use and where a code goes ("" for TOTP)."""
    if user.totp_enabled:
        return "totp", ""
    available = {}
    if user.email and user.email_verified:
        available["email"] = user.email
    if user.phone and user.phone_verified:
        available["sms"] = user.phone
    if wanted in available:
        return wanted, available[wanted]
    method = next(iter(available))  # an active user has at least one verified channel
    return method, available[method]


def start(deps: Deps, identifier: str, password: str, origin: Origin,
          method: str | None = None) -> Challenge:
    """Checks the password; on success opens a second-factor challenge."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        user = registration.find_by_identifier(uow, identifier)
        source = uow.repo(LoginThrottle).get(_source_key(origin))
        blocked = idn.source_blocked(source, now) or (user is not None
                                                      and idn.is_locked(user, now))
        if user is None or blocked or len(password) > idn.PASSWORD_LEN_MAX:
            deps.hasher.verify(_dummy_hash(deps), password[: idn.PASSWORD_LEN_MAX])
            if not blocked:  # a guess at an unknown account still counts for its source
                _count_source(deps, uow, source, origin)
                uow.commit()
            raise Err.AUTH_FAILED.error()
        if not deps.hasher.verify(user.password_hash, password):
            _failed(deps, uow, user, origin, "password")
            raise Err.AUTH_FAILED.error()
        if user.status == idn.UserStatus.DISABLED:
            raise Err.AUTH_FAILED.error()
        if user.status == idn.UserStatus.PENDING:
            raise Err.VERIFICATION_REQUIRED.error()
        if deps.hasher.needs_rehash(user.password_hash):
            user = dataclasses.replace(user, password_hash=deps.hasher.hash(password))
        kind, destination = _method(user, method)
        token = deps.rand.token()
        challenge = LoginChallenge(
            id=deps.rand.new_id(), user_id=user.id, token_hash=idn.digest(token), method=kind,
            expires_ms=now + idn.CHALLENGE_TTL_MS, attempts=0, used_ms=None, ip=origin.ip[:64],
        )
        uow.repo(LoginChallenge).add(challenge)
        if kind != "totp":
            channel = Channel.EMAIL if kind == "email" else Channel.SMS
            codes.issue(deps, uow, user, Purpose.LOGIN, channel, destination)
        uow.repo(User).update(dataclasses.replace(user, failed_logins=0, updated_ms=now))
        uow.commit()
    return Challenge(token, kind, challenge.expires_ms, _mask(destination) if destination else "")


def _source_key(origin: Origin) -> str:
    return idn.digest(origin.ip, "login-source")  # no addresses stored


def _count_source(deps: Deps, uow: UnitOfWork, source: LoginThrottle | None,
                  origin: Origin) -> None:
    after = idn.after_source_failure(source, _source_key(origin), deps.clock.now_ms())
    if source is None:
        uow.repo(LoginThrottle).add(after)
    else:
        uow.repo(LoginThrottle).update(after)


LOCKED_SUBJECT = mail_text.MESSAGES[Mail.LOCKED][0]  # in English


def _failed(deps: Deps, uow: UnitOfWork, user: User, origin: Origin, factor: str) -> None:
    """Counts a failure for the account and its source (committed even though the caller
    then refuses); a lockout tells the owner how to lift it and may alert the admins."""
    now = deps.clock.now_ms()
    _count_source(deps, uow, uow.repo(LoginThrottle).get(_source_key(origin)), origin)
    user = idn.after_failed_login(user, now)
    uow.repo(User).update(user)
    uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.login.failed",
              object_type="user", object_id=user.id,
              after={"factor": factor, "failed_logins": user.failed_logins,
                     "user_agent": origin.user_agent[:sessions.USER_AGENT_LEN_MAX]},
              ip=origin.ip)
    if idn.is_lockout(user.failed_logins):
        uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.lockout",
                  object_type="user", object_id=user.id,
                  after={"failed_logins": user.failed_logins,
                         "blocked_until_ms": user.locked_until_ms}, ip=origin.ip)
        if user.failed_logins == idn.LOGIN_FAILURES_MAX:
            codes.notify_user(deps, uow, user, Mail.LOCKED)
        if user.kind == UserKind.STAFF:
            _alert_staff_lockouts(deps, uow, user, origin, now)
    uow.commit()


def _alert_staff_lockouts(deps: Deps, uow: UnitOfWork, user: User, origin: Origin,
                          now: int) -> None:
    """Repeated lockouts of a staff account in a day: someone is after it. An audit event
    and a notice to every active staff admin (the security administrators)."""
    # Reading the trail flushes this transaction's entries: this lockout is among them.
    lockouts = len(uow.repo(AuditEntry).many(object_id=user.id, action="auth.lockout",
                                             above={"at_ms": now - idn.DAY_MS}))
    if lockouts < idn.STAFF_LOCKOUTS_ALERT:
        return
    uow.audit(actor_id=None, actor_kind="system", action="security.alert.staff_lockouts",
              object_type="user", object_id=user.id,
              after={"lockouts_in_a_day": lockouts, "email": user.email}, ip=origin.ip)
    for admin in uow.repo(User).many(kind=UserKind.STAFF.value, staff_role=StaffRole.ADMIN.value,
                                     status=idn.UserStatus.ACTIVE.value, limit=100):
        codes.notify_user(deps, uow, admin, Mail.STAFF_LOCKOUTS, account=user.email,
                          lockouts=lockouts, ip=origin.ip or "?")


def unlock_start(deps: Deps, identifier: str) -> None:
    """Sends an unlock code to the verified channel `identifier` names, if its account is
    blocked; silent otherwise (the answer reveals nothing)."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        user = registration.find_by_identifier(uow, identifier)
        if user is None or user.status != idn.UserStatus.ACTIVE or not (
                idn.is_locked(user, now) or user.failed_logins >= idn.LOGIN_FAILURES_MAX):
            return
        codes.issue_to_named_channel(deps, uow, user, identifier, Purpose.UNLOCK)
        uow.commit()


def unlock_finish(deps: Deps, identifier: str, code: str, origin: Origin) -> None:
    """Lifts the block of the account `identifier` names given its unlock code, or a code
    of its authenticator app: the failure count starts again from zero, so the owner signs
    in at once even while someone keeps guessing."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        user = registration.find_by_identifier(uow, identifier)
        if user is None or user.status != idn.UserStatus.ACTIVE:
            raise Err.CODE_INVALID.error()
        factor = "code"
        ok = codes.consume(deps, uow, user.id, Purpose.UNLOCK, code) is not None
        if not ok and user.totp_enabled:
            step = codes.check_totp(deps, user, code)
            if step is not None:
                ok, factor = True, "totp"
                user = dataclasses.replace(user, totp_last_step=step)
        if not ok:
            uow.commit()  # the attempt counts against the code
            raise Err.CODE_INVALID.error(None, {"code": "wrong or expired"})
        before = {"failed_logins": user.failed_logins, "locked_until_ms": user.locked_until_ms}
        uow.repo(User).update(dataclasses.replace(user, failed_logins=0, locked_until_ms=0,
                                                  updated_ms=now))
        uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.unlock",
                  object_type="user", object_id=user.id, before=before,
                  after={"factor": factor}, ip=origin.ip)
        uow.commit()


def finish(deps: Deps, challenge_token: str, origin: Origin, *, code: str | None = None,
           recovery_code: str | None = None) -> tuple[str, User]:
    """Checks the second factor; returns a new session token and the user."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        ch = uow.repo(LoginChallenge).one(token_hash=idn.digest(challenge_token[:200]))
        if (ch is None or ch.used_ms is not None or now >= ch.expires_ms
                or ch.attempts >= idn.CODE_ATTEMPTS_MAX):
            raise Err.MFA_FAILED.error()
        user = uow.repo(User).get(ch.user_id)
        assert user is not None
        if idn.is_locked(user, now) or user.status != idn.UserStatus.ACTIVE:
            raise Err.MFA_FAILED.error()
        ok, user = _second_factor(deps, uow, user, ch, code, recovery_code)
        ch = dataclasses.replace(ch, attempts=ch.attempts + 1, used_ms=now if ok else None)
        uow.repo(LoginChallenge).update(ch)
        if not ok:
            _failed(deps, uow, user, origin, ch.method)
            raise Err.MFA_FAILED.error()
        user = dataclasses.replace(user, failed_logins=0, updated_ms=now)
        uow.repo(User).update(user)
        token = sessions.open_session(deps, uow, user, origin)
        device = origin.user_agent[:sessions.USER_AGENT_LEN_MAX]
        inbox.record(deps, uow, user_id=user.id, topic=Topic.SIGNED_IN,
                     subject_type=SubjectType.SECURITY, subject_id=user.id, event=ch.id,
                     params={"ip": origin.ip, "device": device})
        uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.login",
                  object_type="user", object_id=user.id,
                  after={"factor": "recovery_code" if recovery_code else ch.method,
                         "user_agent": device},
                  ip=origin.ip)
        uow.commit()
    return token, user


def _second_factor(deps: Deps, uow: UnitOfWork, user: User, ch: LoginChallenge,
                   code: str | None, recovery_code: str | None) -> tuple[bool, User]:
    if recovery_code:
        if not user.totp_enabled:
            return False, user
        return codes.use_recovery_code(deps, uow, user.id, recovery_code), user
    if not code:
        raise Err.CODE_REQUIRED.error("give the code (or a recovery code)",
                                      {"code": "required"})
    if ch.method == "totp":
        step = codes.check_totp(deps, user, code)
        if step is None:
            return False, user
        return True, dataclasses.replace(user, totp_last_step=step)
    return codes.consume(deps, uow, user.id, Purpose.LOGIN, code) is not None, user


def logout(deps: Deps, who: Principal) -> None:
    with deps.uow() as uow:
        s = uow.repo(idn.Session).get(who.session_id)
        if s is not None and s.revoked_ms is None:
            uow.repo(idn.Session).update(dataclasses.replace(s, revoked_ms=deps.clock.now_ms()))
            uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="auth.logout",
                      object_type="session", object_id=s.id, ip=who.ip)
        uow.commit()


def profile(user: User) -> dict[str, Any]:
    """The public view of a user (never hashes, secrets or counters)."""
    return {
        "id": user.id, "kind": user.kind, "staff_role": user.staff_role, "name": user.name,
        "email": user.email, "email_verified": user.email_verified, "phone": user.phone,
        "phone_verified": user.phone_verified, "totp_enabled": user.totp_enabled,
        "status": user.status, "created_ms": user.created_ms,
    }

