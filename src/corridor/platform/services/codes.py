"""One-time codes (verification, login, recovery) and TOTP checks, shared by the
identity use cases. Callers commit attempt counters before refusing, so a refusal still
counts against the attempt limit."""

from __future__ import annotations

import dataclasses
import hmac

import pyotp

from corridor.platform.domain import identity as idn
from corridor.platform.domain.identity import OneTimeCode, RecoveryCode, User
from corridor.platform.domain.notices import Notice
from corridor.platform.services.ports import Deps, UnitOfWork

TOTP_STEP_S = 30
TOTP_WINDOW = 1  # steps either side: tolerates 30 s of clock drift
HOUR_MS = 3_600_000

_SUBJECTS = {
    idn.Purpose.VERIFY_EMAIL: "Verify your e-mail address",
    idn.Purpose.VERIFY_PHONE: "Verify your phone number",
    idn.Purpose.LOGIN: "Your sign-in code",
    idn.Purpose.RECOVERY: "Your account recovery code",
}


def notify(deps: Deps, uow: UnitOfWork, *, user_id: str | None, channel: str, destination: str,
           subject: str, body: str) -> None:
    uow.repo(Notice).add(Notice(
        id=deps.rand.new_id(), user_id=user_id, channel=channel, destination=destination,
        subject=subject, body=body, created_ms=deps.clock.now_ms(), sent_ms=None,
    ))


def notify_user(deps: Deps, uow: UnitOfWork, user: User, subject: str, body: str) -> None:
    """A security notice to every verified channel of the user."""
    if user.email and user.email_verified:
        notify(deps, uow, user_id=user.id, channel=idn.Channel.EMAIL, destination=user.email,
               subject=subject, body=body)
    if user.phone and user.phone_verified:
        notify(deps, uow, user_id=user.id, channel=idn.Channel.SMS, destination=user.phone,
               subject=subject, body=body)


def issue(deps: Deps, uow: UnitOfWork, user: User, purpose: str, channel: str,
          destination: str) -> bool:
    """Sends a fresh code (earlier unused codes for the same purpose die). False, and
    nothing sent, when the hourly limit for this user and purpose is reached."""
    now = deps.clock.now_ms()
    repo = uow.repo(OneTimeCode)
    recent = [c for c in repo.many(user_id=user.id, purpose=purpose, order_by="created_ms",
                                   descending=True, limit=idn.CODES_PER_HOUR_MAX + 1)
              if c.created_ms > now - HOUR_MS]
    if len(recent) >= idn.CODES_PER_HOUR_MAX:
        return False
    for c in repo.many(user_id=user.id, purpose=purpose, used_ms=None):
        repo.update(dataclasses.replace(c, used_ms=now))
    code = deps.rand.digits(idn.CODE_DIGITS)
    record_id = deps.rand.new_id()
    repo.add(OneTimeCode(
        id=record_id, user_id=user.id, purpose=purpose, channel=channel,
        destination=destination, code_hash=idn.digest(code, record_id), created_ms=now,
        expires_ms=now + idn.CODE_TTL_MS, attempts=0, used_ms=None,
    ))
    minutes = idn.CODE_TTL_MS // 60_000
    notify(deps, uow, user_id=user.id, channel=channel, destination=destination,
           subject=_SUBJECTS[idn.Purpose(purpose)],
           body=f"Your Corridor code is {code}. It expires in {minutes} minutes. "
                "Nobody from Corridor will ever ask you for it.")
    return True


def consume(deps: Deps, uow: UnitOfWork, user_id: str, purpose: str,
            code: str) -> OneTimeCode | None:
    """The live code record if `code` matches it (now used up), else None (attempt counted)."""
    now = deps.clock.now_ms()
    repo = uow.repo(OneTimeCode)
    live = repo.many(user_id=user_id, purpose=purpose, used_ms=None, order_by="created_ms",
                     descending=True, limit=1)
    if not live:
        return None
    c = live[0]
    if now >= c.expires_ms or c.attempts >= idn.CODE_ATTEMPTS_MAX:
        return None
    ok = idn.same_digest(idn.digest(code.strip(), c.id), c.code_hash)
    c = dataclasses.replace(c, attempts=c.attempts + 1, used_ms=now if ok else None)
    repo.update(c)
    return c if ok else None


def totp_secret(deps: Deps, user: User) -> str:
    assert user.totp_secret_enc is not None
    return deps.sealer.open(user.totp_secret_enc, f"totp:{user.id}").decode()


def check_totp(deps: Deps, user: User, code: str) -> int | None:
    """The accepted time step if `code` is valid now and newer than the last accepted one
    (a code is never accepted twice), else None."""
    code = code.strip()
    if user.totp_secret_enc is None or len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(totp_secret(deps, user))
    now_step = deps.clock.now_ms() // 1000 // TOTP_STEP_S
    for step in range(now_step - TOTP_WINDOW, now_step + TOTP_WINDOW + 1):
        if step > user.totp_last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_recovery_code(uow: UnitOfWork, user_id: str, code: str, now_ms: int) -> bool:
    normal = code.strip().replace("-", "").lower()
    for rc in uow.repo(RecoveryCode).many(user_id=user_id, used_ms=None):
        if idn.same_digest(idn.digest(normal, rc.id), rc.code_hash):
            uow.repo(RecoveryCode).update(dataclasses.replace(rc, used_ms=now_ms))
            return True
    return False


def new_recovery_codes(deps: Deps, uow: UnitOfWork, user_id: str) -> list[str]:
    """Replaces the user's recovery codes; returns them in clear (shown once)."""
    for rc in uow.repo(RecoveryCode).many(user_id=user_id):
        uow.repo(RecoveryCode).delete(rc.id)
    shown = []
    for _ in range(idn.RECOVERY_CODES):
        raw = deps.rand.token()[:10].lower().replace("-", "x").replace("_", "y")
        rid = deps.rand.new_id()
        uow.repo(RecoveryCode).add(
            RecoveryCode(id=rid, user_id=user_id, code_hash=idn.digest(raw, rid), used_ms=None)
        )
        shown.append(f"{raw[:5]}-{raw[5:]}")
    return shown
