"""Sign-in (requirement A2): a password, then always a second factor — TOTP when enrolled
(or a recovery code), otherwise a one-time code to a verified e-mail or phone.

Guessing is bounded three ways: per-account lockout after consecutive failures (in the
database, so it holds across API processes), attempts per challenge and per code, and
per-IP rate limits at the API. Unknown identifiers cost the same argon2 verification as
known ones and get the same answer, so responses do not reveal who has an account.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import conflict, invalid, unauthenticated
from corridor.platform.domain.identity import Channel, LoginChallenge, Purpose, User
from corridor.platform.domain.principal import Origin, Principal
from corridor.platform.services import codes, registration, sessions
from corridor.platform.services.ports import Deps, UnitOfWork

AUTH_FAILED = ("AUTH_FAILED", "the sign-in details are wrong, or the account is temporarily "
               "locked after too many attempts")
CHALLENGE_FAILED = ("MFA_FAILED", "the code is wrong, or the sign-in attempt has expired")
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
        if user is None or len(password) > idn.PASSWORD_LEN_MAX:
            deps.hasher.verify(_dummy_hash(deps), password[: idn.PASSWORD_LEN_MAX])
            raise unauthenticated(*AUTH_FAILED)
        locked = idn.is_locked(user, now)
        ok = deps.hasher.verify(user.password_hash, password)
        if locked or not ok:
            _failed(deps, uow, user, origin, "password")
            raise unauthenticated(*AUTH_FAILED)
        if user.status == idn.UserStatus.DISABLED:
            raise unauthenticated(*AUTH_FAILED)
        if user.status == idn.UserStatus.PENDING:
            raise conflict("VERIFICATION_REQUIRED",
                           "verify your e-mail or phone first (a new code can be sent)")
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


def _failed(deps: Deps, uow: UnitOfWork, user: User, origin: Origin, factor: str) -> None:
    """Counts a failure (committed even though the caller then refuses)."""
    now = deps.clock.now_ms()
    was_locked = idn.is_locked(user, now)
    user = idn.after_failed_login(user, now)
    uow.repo(User).update(user)
    uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.login.failed",
              object_type="user", object_id=user.id,
              after={"factor": factor, "failed_logins": user.failed_logins}, ip=origin.ip)
    if idn.is_locked(user, now) and not was_locked:
        codes.notify_user(deps, uow, user, "Your account is locked for 15 minutes",
                          "Several sign-in attempts failed. If it was not you, change your "
                          "password when the lock ends.")
        uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.lockout",
                  object_type="user", object_id=user.id, ip=origin.ip)
    uow.commit()


def finish(deps: Deps, challenge_token: str, origin: Origin, *, code: str | None = None,
           recovery_code: str | None = None) -> tuple[str, User]:
    """Checks the second factor; returns a new session token and the user."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        ch = uow.repo(LoginChallenge).one(token_hash=idn.digest(challenge_token[:200]))
        if (ch is None or ch.used_ms is not None or now >= ch.expires_ms
                or ch.attempts >= idn.CODE_ATTEMPTS_MAX):
            raise unauthenticated(*CHALLENGE_FAILED)
        user = uow.repo(User).get(ch.user_id)
        assert user is not None
        if idn.is_locked(user, now) or user.status != idn.UserStatus.ACTIVE:
            raise unauthenticated(*CHALLENGE_FAILED)
        ok, user = _second_factor(deps, uow, user, ch, code, recovery_code)
        ch = dataclasses.replace(ch, attempts=ch.attempts + 1, used_ms=now if ok else None)
        uow.repo(LoginChallenge).update(ch)
        if not ok:
            _failed(deps, uow, user, origin, ch.method)
            raise unauthenticated(*CHALLENGE_FAILED)
        user = dataclasses.replace(user, failed_logins=0, updated_ms=now)
        uow.repo(User).update(user)
        token = sessions.open_session(deps, uow, user, origin)
        uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.login",
                  object_type="user", object_id=user.id,
                  after={"factor": "recovery_code" if recovery_code else ch.method},
                  ip=origin.ip)
        uow.commit()
    return token, user


def _second_factor(deps: Deps, uow: UnitOfWork, user: User, ch: LoginChallenge,
                   code: str | None, recovery_code: str | None) -> tuple[bool, User]:
    if recovery_code:
        if not user.totp_enabled:
            return False, user
        return codes.use_recovery_code(uow, user.id, recovery_code, deps.clock.now_ms()), user
    if not code:
        raise invalid("CODE_REQUIRED", "give the code (or a recovery code)",
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

