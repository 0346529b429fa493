"""Identity records and rules (requirements A1–A4): users, sessions, one-time codes.

Records are frozen; a use case changes one by `dataclasses.replace` and saves it.
Secrets are never stored in clear: passwords as argon2id hashes, session tokens and
one-time codes as SHA-256 digests, TOTP secrets encrypted by the key vault.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac

import email_validator
import phonenumbers

from corridor.platform.domain.errors import Problems, invalid

NAME_LEN_MAX = 200
PASSWORD_LEN_MIN = 12
PASSWORD_LEN_MAX = 256  # argon2 hashes anything, but unbounded input is a DoS lever
CODE_DIGITS = 6
CODE_TTL_MS = 10 * 60_000
CODE_ATTEMPTS_MAX = 5
CODES_PER_HOUR_MAX = 5  # codes sent to one user per purpose per hour
LOGIN_FAILURES_MAX = 5  # consecutive failures before the account locks
LOCKOUT_MS = 15 * 60_000
CHALLENGE_TTL_MS = 5 * 60_000
SESSION_TTL_MS = 12 * 3_600_000
SESSION_IDLE_MS = 60 * 60_000
RECOVERY_CODES = 10
TERMS_VERSION = "2026-11"
PRIVACY_VERSION = "2026-11"


class UserStatus(enum.StrEnum):
    PENDING = "pending"  # registered, no channel verified yet
    ACTIVE = "active"
    DISABLED = "disabled"  # by staff


class Purpose(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"
    VERIFY_PHONE = "verify_phone"
    LOGIN = "login"  # second factor by e-mail or SMS
    RECOVERY = "recovery"  # password reset through a verified channel


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class User:
    id: str
    kind: str  # roles.UserKind
    staff_role: str | None
    name: str
    email: str | None
    email_verified: bool
    phone: str | None
    phone_verified: bool
    password_hash: str
    totp_secret_enc: str | None  # sealed by the vault; None until enrolment starts
    totp_enabled: bool
    totp_last_step: int  # the last TOTP time step accepted: a code is never accepted twice
    status: str  # UserStatus
    failed_logins: int
    locked_until_ms: int
    terms_version: str
    privacy_version: str
    terms_accepted_ms: int
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A signed-in device. The bearer token is shown once; only its digest is stored."""

    id: str
    user_id: str
    token_hash: str
    created_ms: int
    last_seen_ms: int
    expires_ms: int
    revoked_ms: int | None
    ip: str
    user_agent: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoginChallenge:
    """The half-way state of a login: password accepted, second factor pending."""

    id: str
    user_id: str
    token_hash: str
    method: str  # "totp" | "email" | "sms"
    expires_ms: int
    attempts: int
    used_ms: int | None
    ip: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OneTimeCode:
    id: str
    user_id: str
    purpose: str  # Purpose
    channel: str  # Channel
    destination: str  # the normalised address the code went to
    code_hash: str
    created_ms: int
    expires_ms: int
    attempts: int
    used_ms: int | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryCode:
    id: str
    user_id: str
    code_hash: str
    used_ms: int | None


def digest(secret: str, salt: str = "") -> str:
    """SHA-256 of a high-entropy token (or a short code salted by its record id)."""
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def normalise_email(text: str) -> str:
    """The canonical form of an e-mail address; raises INVALID_EMAIL. No DNS lookups."""
    try:
        info = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise invalid("INVALID_EMAIL", str(exc), {"email": str(exc)}) from None
    return info.normalized.lower()


def normalise_phone(text: str) -> str:
    """E.164 form of a phone number written with its country code; raises INVALID_PHONE."""
    message = "a phone number in international form, e.g. +44 20 7946 0958"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise invalid("INVALID_PHONE", message, {"phone": message}) from None
    if not phonenumbers.is_valid_number(number):
        raise invalid("INVALID_PHONE", message, {"phone": message})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_password(password: str, problems: Problems, field: str = "password") -> None:
    if not PASSWORD_LEN_MIN <= len(password) <= PASSWORD_LEN_MAX:
        problems.add(field, f"{PASSWORD_LEN_MIN} to {PASSWORD_LEN_MAX} characters")
    elif len(set(password)) < 5:
        problems.add(field, "too simple: use at least 5 different characters")


def check_name(name: str, problems: Problems, field: str = "name") -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= NAME_LEN_MAX:
        problems.add(field, f"1 to {NAME_LEN_MAX} characters")
    return name


def is_locked(user: User, now_ms: int) -> bool:
    return user.locked_until_ms > now_ms


def after_failed_login(user: User, now_ms: int) -> User:
    failures = user.failed_logins + 1
    locked = now_ms + LOCKOUT_MS if failures >= LOGIN_FAILURES_MAX else user.locked_until_ms
    return dataclasses.replace(
        user, failed_logins=failures, locked_until_ms=locked, updated_ms=now_ms
    )


def session_live(s: Session, now_ms: int) -> bool:
    return (
        s.revoked_ms is None and now_ms < s.expires_ms and now_ms - s.last_seen_ms < SESSION_IDLE_MS
    )
