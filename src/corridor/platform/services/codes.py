"""One-time codes (verification, login, recovery) and TOTP checks, shared by the
identity use cases. Callers commit attempt counters before refusing, so a refusal still
counts against the attempt limit.

Codes are stored only as keyed hashes (HMAC under a key derived from the master keyring,
`Sealer.keyed_hash`): six digits are a million guesses, so a plain digest in a copied
database would give every live code away. The message that carries a code is never
stored in production: it goes to the delivery port (`Deps.messenger`). In
development the outbox keeps it, for `corridor platform outbox`, only while the code
lives: it is deleted when the code is used, replaced or expires.
"""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any

import pyotp

from corridor.platform.domain import identity as idn
from corridor.platform.domain.identity import OneTimeCode, RecoveryCode, User
from corridor.platform.domain.notices import Notice
from corridor.platform.services import mail_text
from corridor.platform.services.ports import Deps, UnitOfWork

TOTP_STEP_S = 30
TOTP_WINDOW = 1  # steps either side: tolerates 30 s of clock drift
HOUR_MS = 3_600_000


OUTBOX_PURGE_MAX = 500  # expired code messages deleted per call (the rest next time)


def notify(deps: Deps, uow: UnitOfWork, *, user_id: str | None, channel: str, destination: str,
           subject: str, body: str) -> None:
    """A notice without a secret in it: kept in the outbox."""
    uow.repo(Notice).add(Notice(
        id=deps.rand.new_id(), user_id=user_id, channel=idn.Channel(channel),
        destination=destination,
        subject=subject, body=body, created_ms=deps.clock.now_ms(), sent_ms=None,
        expires_ms=None,
    ))


def _send_code(deps: Deps, uow: UnitOfWork, c: OneTimeCode, code: str, language: str) -> None:
    """The message carrying `code`, in `language`: handed to the delivery port; stored
    (development only) under the code record's id, with the code's expiry."""
    subject, body = mail_text.compose(language, mail_text.CODE_MAIL[idn.Purpose(c.purpose)],
                                      code=code, minutes=idn.CODE_TTL_MS // 60_000)
    if deps.messenger is not None:
        deps.messenger.send(channel=c.channel, destination=c.destination, subject=subject,
                            body=body)
    if deps.settings.production:
        return
    uow.repo(Notice).add(Notice(
        id=c.id, user_id=c.user_id, channel=c.channel, destination=c.destination,
        subject=subject, body=body, created_ms=c.created_ms, sent_ms=None,
        expires_ms=c.expires_ms,
    ))


def _forget_message(uow: UnitOfWork, c: OneTimeCode) -> None:
    """The development outbox's copy of a code that can no longer be used."""
    uow.repo(Notice).delete(c.id)


def purge_expired(deps: Deps, uow: UnitOfWork) -> int:
    """Deletes stored messages whose code has expired; returns how many."""
    now = deps.clock.now_ms()
    repo = uow.repo(Notice)
    old = repo.many(below={"expires_ms": now + 1}, limit=OUTBOX_PURGE_MAX)
    for n in old:
        repo.delete(n.id)
    return len(old)


def outbox(deps: Deps, destination: str | None, limit: int) -> list[Notice]:
    """The development outbox, newest first: notices, and messages of live codes."""
    with deps.uow() as uow:
        purge_expired(deps, uow)
        eq: dict[str, Any] = {"destination": destination} if destination else {}
        rows = uow.repo(Notice).many(order_by="created_ms", descending=True, limit=limit, **eq)
        uow.commit()
    return rows


def notify_user(deps: Deps, uow: UnitOfWork, user: User, key: mail_text.Mail,
                **values: object) -> None:
    """A security notice to every verified channel of the user, in their language."""
    subject, body = mail_text.compose(mail_text.language_of(user), key, **values)
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
        _forget_message(uow, c)
    purge_expired(deps, uow)
    code = deps.rand.digits(idn.CODE_DIGITS)
    record_id = deps.rand.new_id()
    record = OneTimeCode(
        id=record_id, user_id=user.id, purpose=idn.Purpose(purpose),
        channel=idn.Channel(channel),
        destination=destination, code_hash=deps.sealer.keyed_hash(code, f"code:{record_id}"),
        created_ms=now, expires_ms=now + idn.CODE_TTL_MS, attempts=0, used_ms=None,
    )
    repo.add(record)
    _send_code(deps, uow, record, code, mail_text.language_of(user))
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
    ok = deps.sealer.keyed_hash_matches(c.code_hash, code.strip(), f"code:{c.id}")
    c = dataclasses.replace(c, attempts=c.attempts + 1, used_ms=now if ok else None)
    repo.update(c)
    if ok or c.attempts >= idn.CODE_ATTEMPTS_MAX:
        _forget_message(uow, c)
    return c if ok else None


def totp_secret(deps: Deps, user: User) -> str:
    assert user.totp_secret_enc is not None
    return deps.sealer.open(user.totp_secret_enc, f"totp:{user.id}").decode()


def check_totp(deps: Deps, user: User, code: str) -> int | None:
    """The accepted time step if `code` is valid now and newer than the last accepted one
    (a code is never accepted twice), else None."""
    code = code.strip()
    # ASCII digits only: str.isdigit() admits "¹²³⁴⁵⁶", which compare_digest refuses
    # with a TypeError (a 500, found by the fuzzer's class of input)
    if user.totp_secret_enc is None or len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(totp_secret(deps, user))
    now_step = deps.clock.now_ms() // 1000 // TOTP_STEP_S
    for step in range(now_step - TOTP_WINDOW, now_step + TOTP_WINDOW + 1):
        if step > user.totp_last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_recovery_code(deps: Deps, uow: UnitOfWork, user_id: str, code: str) -> bool:
    normal = code.strip().replace("-", "").lower()
    for rc in uow.repo(RecoveryCode).many(user_id=user_id, used_ms=None):
        if deps.sealer.keyed_hash_matches(rc.code_hash, normal, f"recovery:{rc.id}"):
            uow.repo(RecoveryCode).update(dataclasses.replace(rc, used_ms=deps.clock.now_ms()))
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
            RecoveryCode(id=rid, user_id=user_id,
                         code_hash=deps.sealer.keyed_hash(raw, f"recovery:{rid}"), used_ms=None)
        )
        shown.append(f"{raw[:5]}-{raw[5:]}")
    return shown


def issue_to_named_channel(deps: Deps, uow: UnitOfWork, user: User, identifier: str,
                           purpose: idn.Purpose) -> None:
    """A code for `purpose` to the channel `identifier` names (an e-mail address, else a
    phone), if that channel is the user's and verified; nothing otherwise (the caller's
    answer stays the same either way)."""
    if "@" in identifier and user.email and user.email_verified:
        issue(deps, uow, user, purpose, idn.Channel.EMAIL, user.email)
    elif "@" not in identifier and user.phone and user.phone_verified:
        issue(deps, uow, user, purpose, idn.Channel.SMS, user.phone)
