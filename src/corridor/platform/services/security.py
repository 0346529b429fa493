"""Account security (requirements A3, A4): TOTP enrolment, recovery codes, password
change, binding a new e-mail or phone, and recovery of a forgotten password.

The seed's "security question" is deliberately not offered: answers are guessable or
researchable (mother's maiden name, first school), rarely change, and get reused across
sites; NIST SP 800-63B forbids them as an authenticator. See docs/security.md.
"""

from __future__ import annotations

import dataclasses

import pyotp

from corridor.platform.domain import identity as idn
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import Err, Problems
from corridor.platform.domain.identity import Channel, Purpose, User
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.principal import Origin, Principal
from corridor.platform.domain.support import BODY_LEN_MAX, SupportRequest, SupportStatus
from corridor.platform.services import codes, mail_text, registration, sessions
from corridor.platform.services import notifications as inbox
from corridor.platform.services.mail_text import Mail
from corridor.platform.services.ports import Deps, UnitOfWork

ISSUER_NAME = "Corridor"


def _me(uow: UnitOfWork, who: Principal) -> User:
    user = uow.repo(User).get(who.user_id)
    assert user is not None, "an authenticated principal has a user"
    return user


def _audit(uow: UnitOfWork, who: Principal, action: str, before: dict[str, object] | None = None,
           after: dict[str, object] | None = None) -> None:
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action=action,
              object_type="user", object_id=who.user_id, before=before, after=after, ip=who.ip)


def _require_password(deps: Deps, user: User, password: str) -> None:
    if not deps.hasher.verify(user.password_hash, password[: idn.PASSWORD_LEN_MAX]):
        raise Err.PASSWORD_WRONG.error(None, {"password": "wrong"})


# --- TOTP --------------------------------------------------------------------------------

def totp_begin(deps: Deps, who: Principal) -> tuple[str, str]:
    """A new (not yet active) TOTP secret; returns (secret, otpauth:// provisioning URI)."""
    secret = pyotp.random_base32()
    with deps.uow() as uow:
        user = _me(uow, who)
        if user.totp_enabled:
            raise Err.TOTP_ALREADY_ENABLED.error()
        sealed = deps.sealer.seal(secret.encode(), f"totp:{user.id}")
        uow.repo(User).update(dataclasses.replace(user, totp_secret_enc=sealed,
                                                  updated_ms=deps.clock.now_ms()))
        uow.commit()
    label = user.email or user.phone or user.id
    return secret, pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER_NAME)


def totp_confirm(deps: Deps, who: Principal, code: str) -> list[str]:
    """Activates TOTP once the app shows a valid code; returns fresh recovery codes."""
    with deps.uow() as uow:
        user = _me(uow, who)
        if user.totp_enabled:
            raise Err.TOTP_ALREADY_ENABLED.error("the authenticator is already on")
        if user.totp_secret_enc is None:
            raise Err.TOTP_NOT_STARTED.error()
        step = codes.check_totp(deps, user, code)
        if step is None:
            raise Err.CODE_INVALID.error("the code does not match; check the app's clock",
                                         {"code": "wrong"})
        uow.repo(User).update(dataclasses.replace(
            user, totp_enabled=True, totp_last_step=step, updated_ms=deps.clock.now_ms()))
        shown = codes.new_recovery_codes(deps, uow, user.id)
        codes.notify_user(deps, uow, user, Mail.TOTP_ON)
        _security_event(deps, uow, user.id, Topic.SECOND_FACTOR_CHANGED, change="enabled")
        _audit(uow, who, "auth.totp.enable", {"totp_enabled": False}, {"totp_enabled": True})
        uow.commit()
    return shown


def totp_disable(deps: Deps, who: Principal, password: str, code: str) -> None:
    with deps.uow() as uow:
        user = _me(uow, who)
        if not user.totp_enabled:
            raise Err.TOTP_NOT_ENABLED.error()
        _require_password(deps, user, password)
        if codes.check_totp(deps, user, code) is None:
            raise Err.CODE_INVALID.error("the code does not match", {"code": "wrong"})
        uow.repo(User).update(dataclasses.replace(
            user, totp_enabled=False, totp_secret_enc=None, totp_last_step=0,
            updated_ms=deps.clock.now_ms()))
        for rc in uow.repo(idn.RecoveryCode).many(user_id=user.id):
            uow.repo(idn.RecoveryCode).delete(rc.id)
        codes.notify_user(deps, uow, user, Mail.TOTP_OFF)
        _security_event(deps, uow, user.id, Topic.SECOND_FACTOR_CHANGED, change="disabled")
        _audit(uow, who, "auth.totp.disable", {"totp_enabled": True}, {"totp_enabled": False})
        uow.commit()


def regenerate_recovery_codes(deps: Deps, who: Principal, password: str) -> list[str]:
    with deps.uow() as uow:
        user = _me(uow, who)
        if not user.totp_enabled:
            raise Err.TOTP_NOT_ENABLED.error("recovery codes back up the authenticator app")
        _require_password(deps, user, password)
        shown = codes.new_recovery_codes(deps, uow, user.id)
        _audit(uow, who, "auth.recovery_codes.regenerate")
        uow.commit()
    return shown


def _security_event(deps: Deps, uow: UnitOfWork, user_id: str, topic: Topic,
                    change: str) -> None:
    """The owner's inbox entry for a change to how they sign in (one per request)."""
    inbox.record(deps, uow, user_id=user_id, topic=topic, subject_type=SubjectType.SECURITY,
                 subject_id=user_id, event=deps.rand.new_id(), params={"change": change})


# --- password ------------------------------------------------------------------------------

def change_password(deps: Deps, who: Principal, old: str, new: str) -> int:
    """Changes the password and signs out every other session; returns how many."""
    p = Problems()
    weak = idn.check_password(new, p, "new_password")
    if old == new:
        p.add("new_password", "choose a password different from the current one")
    p.raise_if_any(idn.password_code(p, weak))
    new_hash = deps.hasher.hash(new)
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        user = _me(uow, who)
        _require_password(deps, user, old)
        uow.repo(User).update(dataclasses.replace(user, password_hash=new_hash, updated_ms=now))
        revoked = sessions.revoke_all(uow, user.id, now, keep=who.session_id)
        codes.notify_user(deps, uow, user, Mail.PASSWORD_CHANGED)
        _security_event(deps, uow, user.id, Topic.PASSWORD_CHANGED, change="changed")
        _audit(uow, who, "auth.password.change", after={"sessions_revoked": revoked})
        uow.commit()
    return revoked


# --- e-mail and phone ------------------------------------------------------------------------

def request_channel_change(deps: Deps, who: Principal, channel: str, address: str,
                           password: str) -> None:
    """Sends a code to a new e-mail address or phone number; it is bound on `confirm`."""
    if channel == Channel.EMAIL:
        normal, purpose = idn.normalise_email(address), Purpose.VERIFY_EMAIL
    else:
        normal, purpose = idn.normalise_phone(address), Purpose.VERIFY_PHONE
    with deps.uow() as uow:
        user = _me(uow, who)
        _require_password(deps, user, password)
        owner = uow.repo(User).one(**{"email" if channel == Channel.EMAIL else "phone": normal})
        if owner is not None:
            raise Err.ADDRESS_TAKEN.error()
        if not codes.issue(deps, uow, user, purpose, channel, normal):
            raise Err.TOO_MANY_CODES.error()
        uow.commit()


def confirm_channel_change(deps: Deps, who: Principal, channel: str, code: str) -> User:
    purpose = Purpose.VERIFY_EMAIL if channel == Channel.EMAIL else Purpose.VERIFY_PHONE
    field = "email" if channel == Channel.EMAIL else "phone"
    with deps.uow() as uow:
        user = _me(uow, who)
        used = codes.consume(deps, uow, user.id, purpose, code)
        if used is None:
            uow.commit()
            raise Err.CODE_INVALID.error(None, {"code": "wrong or expired"})
        if uow.repo(User).one(**{field: used.destination}) not in (None, user):
            raise Err.ADDRESS_TAKEN.error()
        old = getattr(user, field)
        now = deps.clock.now_ms()
        if field == "email":
            changed = dataclasses.replace(user, email=used.destination, email_verified=True,
                                          updated_ms=now)
        else:
            changed = dataclasses.replace(user, phone=used.destination, phone_verified=True,
                                          updated_ms=now)
        uow.repo(User).update(changed)
        if old and old != used.destination:  # tell the old address, in case it was not them
            subject, body = mail_text.compose(
                mail_text.language_of(user),
                Mail.EMAIL_CHANGED if field == "email" else Mail.PHONE_CHANGED,
                address=used.destination)
            codes.notify(deps, uow, user_id=user.id, channel=channel, destination=old,
                         subject=subject, body=body)
        _security_event(deps, uow, user.id, Topic.SECOND_FACTOR_CHANGED, change=field)
        _audit(uow, who, f"auth.{field}.change", {field: old}, {field: used.destination})
        uow.commit()
    return changed


# --- recovery ----------------------------------------------------------------------------------

def recovery_start(deps: Deps, identifier: str) -> None:
    """Sends a recovery code to the verified channel `identifier` names; silent otherwise."""
    with deps.uow() as uow:
        user = registration.find_by_identifier(uow, identifier)
        if user is None or user.status != idn.UserStatus.ACTIVE:
            return
        codes.issue_to_named_channel(deps, uow, user, identifier, Purpose.RECOVERY)
        uow.commit()


def recovery_finish(deps: Deps, identifier: str, code: str, new_password: str, origin: Origin,
                    *, totp_code: str | None = None, recovery_code: str | None = None) -> None:
    """Sets a new password given the channel code and, for users with an authenticator, a
    TOTP or recovery code too (two factors, as for sign-in). Signs out every session."""
    p = Problems()
    weak = idn.check_password(new_password, p, "new_password")
    p.raise_if_any(idn.password_code(p, weak))
    new_hash = deps.hasher.hash(new_password)
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        user = registration.find_by_identifier(uow, identifier)
        if user is None or user.status != idn.UserStatus.ACTIVE:
            raise Err.CODE_INVALID.error()
        if codes.consume(deps, uow, user.id, Purpose.RECOVERY, code) is None:
            uow.commit()
            raise Err.CODE_INVALID.error()
        if user.totp_enabled:
            step = codes.check_totp(deps, user, totp_code) if totp_code else None
            if step is not None:
                user = dataclasses.replace(user, totp_last_step=step)
            elif not (recovery_code and codes.use_recovery_code(deps, uow, user.id,
                                                                recovery_code)):
                uow.commit()  # the channel code is spent
                raise Err.SECOND_FACTOR_REQUIRED.error(
                    "this account has an authenticator: give its code or a "
                    "recovery code; without either, ask support for a manual "
                    "identity check")
        uow.repo(User).update(dataclasses.replace(user, password_hash=new_hash,
                                                  failed_logins=0, locked_until_ms=0,
                                                  updated_ms=now))
        revoked = sessions.revoke_all(uow, user.id, now)
        codes.notify_user(deps, uow, user, Mail.PASSWORD_RESET)
        _security_event(deps, uow, user.id, Topic.PASSWORD_CHANGED, change="reset")
        uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.recovery",
                  object_type="user", object_id=user.id, after={"sessions_revoked": revoked},
                  ip=origin.ip)
        uow.commit()


def request_identity_check(deps: Deps, identifier: str, contact: str, details: str,
                           origin: Origin) -> str:
    """When every automatic route failed: a support request for a manual identity check.
    Returns the request id (the same answer whether or not the identifier matched)."""
    p = Problems()
    if not 3 <= len(contact.strip()) <= 320:
        p.add("contact", "how support can reach you (3 to 320 characters)")
    if len(details) > BODY_LEN_MAX:
        p.add("details", f"at most {BODY_LEN_MAX} characters")
    p.raise_if_any()
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        user = registration.find_by_identifier(uow, identifier)
        req = SupportRequest(
            id=deps.rand.new_id(), user_id=user.id if user else None, kind="identity_check",
            contact=contact.strip(), subject="Account recovery: manual identity check",
            body=f"identifier: {identifier[:320]}\n\n{details}", status=SupportStatus.OPEN,
            created_ms=now, updated_ms=now,
        )
        uow.repo(SupportRequest).add(req)
        uow.audit(actor_id=None, actor_kind="anonymous", action="support.identity_check",
                  object_type="support_request", object_id=req.id,
                  after={"matched_user": user.id if user else None}, ip=origin.ip)
        uow.commit()
    return req.id


# --- sign-in history ---------------------------------------------------------------------------

SIGN_IN_HISTORY_MAX = 20  # recent attempts shown in the security centre
_SIGN_IN_ACTIONS = {"auth.login": "succeeded", "auth.login.failed": "failed"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SignIn:
    """One sign-in attempt of the caller's account, as the audit trail recorded it:
    `result` is "succeeded" or "failed" (`factor`: which step failed, or how it passed)."""

    at_ms: int
    ip: str
    user_agent: str
    result: str
    factor: str


def sign_in_history(deps: Deps, who: Principal, limit: int = SIGN_IN_HISTORY_MAX
                    ) -> list[SignIn]:
    """The caller's recent sign-ins and failed attempts, newest first (read from the
    audit trail, where sign-in writes them with the address and the device)."""
    with deps.reader() as uow:
        entries = uow.repo(AuditEntry).many(
            object_type="user", object_id=who.user_id, action=tuple(_SIGN_IN_ACTIONS),
            order_by="seq", descending=True, limit=max(1, min(limit, SIGN_IN_HISTORY_MAX)))
    return [SignIn(at_ms=e.at_ms, ip=e.ip, user_agent=str((e.after or {}).get("user_agent", "")),
                   result=_SIGN_IN_ACTIONS[e.action],
                   factor=str((e.after or {}).get("factor", ""))) for e in entries]
