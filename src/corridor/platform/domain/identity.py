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
from collections.abc import Sequence

import email_validator
import phonenumbers
import zxcvbn

from corridor.platform.domain.errors import Err, Problems
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.domain.text import check_display_name

NAME_LEN_MAX = 200
PASSWORD_LEN_MIN = 12
LANGUAGES = ("en", "zh-Hans")  # what a person may choose (the pages speak these)
PASSWORD_LEN_MAX = 256  # argon2 hashes anything, but unbounded input is a DoS lever
PASSWORD_SCORE_MIN = 3  # zxcvbn score 0-4; 3: about 10^8 guesses or more
PASSWORD_SCORED_LEN_MAX = 72  # zxcvbn's own input limit: the rest adds strength unscored
CODE_DIGITS = 6
CODE_TTL_MS = 10 * 60_000
CODE_ATTEMPTS_MAX = 5
CODES_PER_HOUR_MAX = 5  # codes sent to one user per purpose per hour
# Failed sign-ins slow down, they do not lock anyone out for good. After
# LOGIN_FAILURES_FREE consecutive failures each further one blocks the next attempt for a
# delay that doubles from LOGIN_DELAY_BASE_MS up to LOCKOUT_MS; attempts made while blocked
# are refused without counting, so they cannot lengthen the block. The owner lifts it with
# a second factor (a code to a verified address, or the authenticator app).
LOGIN_FAILURES_FREE = 3
LOGIN_FAILURES_MAX = 5  # failures that make a lockout: the owner is told (staff: alerts)
LOGIN_DELAY_BASE_MS = 1_000
LOCKOUT_MS = 15 * 60_000  # the longest block
# The same per source address: more free failures (an office behind one address), and
# forgotten after a quiet LOCKOUT_MS * 4.
SOURCE_FAILURES_FREE = 10
SOURCE_FORGET_MS = 4 * LOCKOUT_MS
STAFF_LOCKOUTS_ALERT = 2  # lockouts of one staff account within a day that alert the admins
DAY_MS = 24 * 3_600_000
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
    UNLOCK = "unlock"  # lifts a sign-in block through a verified channel


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class User:
    id: str
    kind: UserKind
    staff_role: StaffRole | None
    name: str
    email: str | None
    email_verified: bool
    phone: str | None
    phone_verified: bool
    password_hash: str
    totp_secret_enc: str | None  # sealed by the vault; None until enrolment starts
    totp_enabled: bool
    totp_last_step: int  # the last TOTP time step accepted: a code is never accepted twice
    status: UserStatus
    failed_logins: int
    locked_until_ms: int
    terms_version: str
    privacy_version: str
    terms_accepted_ms: int
    created_ms: int
    updated_ms: int
    # The language the person chose for pages and messages (one of LANGUAGES); "" until
    # they choose, when the browser's preference is used.
    language: str = ""


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
    purpose: Purpose
    channel: Channel
    destination: str  # the normalised address the code went to
    code_hash: str
    created_ms: int
    expires_ms: int
    attempts: int
    used_ms: int | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoginThrottle:
    """Consecutive failed sign-ins from one source (a client address), keyed by a digest."""

    key_hash: str
    failures: int
    blocked_until_ms: int
    updated_ms: int


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
        raise Err.INVALID_EMAIL.error(str(exc), {"email": str(exc)}) from None
    return info.normalized.lower()


def normalise_phone(text: str) -> str:
    """E.164 form of a phone number written with its country code; raises INVALID_PHONE."""
    message = "a phone number in international form, e.g. +44 20 7946 0958"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise Err.INVALID_PHONE.error(message, {"phone": message}) from None
    if not phonenumbers.is_valid_number(number):
        raise Err.INVALID_PHONE.error(message, {"phone": message})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def password_weakness(password: str, user_inputs: Sequence[str] = ()) -> str | None:
    """Why `password` is too easy to guess, or None. zxcvbn estimates the guesses an
    attacker needs, matching against its bundled frequency lists (the 30,000 most common
    passwords of a large breach corpus, English words, names) with common variations
    (capitals, l33t, reversal, appended digits and years), keyboard walks, repeats and
    sequences; `user_inputs` (the person's name and addresses) count as known words. A
    password found in the list, or a variation of one, scores at most 2."""
    result = zxcvbn.zxcvbn(password[:PASSWORD_SCORED_LEN_MAX],
                           user_inputs=[u for u in user_inputs if u])
    if result["score"] >= PASSWORD_SCORE_MIN:
        return None
    feedback = result["feedback"]
    advice = [feedback.get("warning") or "This password is easy to guess.",
              *feedback.get("suggestions", [])]
    return " ".join(a for a in advice if a)


def check_password(password: str, problems: Problems, field: str = "password",
                   user_inputs: Sequence[str] = ()) -> bool:
    """Adds a problem to `field` if the password is too short or long, or too easy to
    guess; returns whether it was refused for being weak (see `password_code`)."""
    if not PASSWORD_LEN_MIN <= len(password) <= PASSWORD_LEN_MAX:
        problems.add(field, f"{PASSWORD_LEN_MIN} to {PASSWORD_LEN_MAX} characters")
        return False
    if len(set(password)) < 5:
        problems.add(field, "too simple: use at least 5 different characters")
        return True
    weakness = password_weakness(password, user_inputs)
    if weakness is not None:
        problems.add(field, f"too easy to guess: {weakness}")
        return True
    return False


def password_code(problems: Problems, weak: bool) -> Err:
    """The error code of a refusal: WEAK_PASSWORD when a weak password is the only problem,
    so a client can show zxcvbn's advice next to the field."""
    return Err.WEAK_PASSWORD if weak and len(problems.fields) == 1 else Err.INVALID_FIELDS


def check_name(name: str, problems: Problems, field: str = "name") -> str:
    return check_display_name(name, problems, field, NAME_LEN_MAX)


def is_locked(user: User, now_ms: int) -> bool:
    return user.locked_until_ms > now_ms


def failure_delay_ms(failures: int, free: int = LOGIN_FAILURES_FREE) -> int:
    """How long sign-in stays blocked after the `failures`-th consecutive failure: nothing
    for the first `free`, then 1 s, 2 s, 4 s ... up to LOCKOUT_MS."""
    if failures < free:
        return 0
    return min(LOCKOUT_MS, LOGIN_DELAY_BASE_MS << min(failures - free, 30))


def after_failed_login(user: User, now_ms: int) -> User:
    """The user after one more failure (never called while blocked: those do not count)."""
    failures = user.failed_logins + 1
    delay = failure_delay_ms(failures)
    locked = now_ms + delay if delay else user.locked_until_ms
    return dataclasses.replace(
        user, failed_logins=failures, locked_until_ms=locked, updated_ms=now_ms
    )


def is_lockout(failures: int) -> bool:
    """Whether the failure that brought the count to `failures` is a lockout (every
    LOGIN_FAILURES_MAX-th: the owner is told, repeated ones of staff raise an alert)."""
    return failures > 0 and failures % LOGIN_FAILURES_MAX == 0


def source_blocked(t: LoginThrottle | None, now_ms: int) -> bool:
    return t is not None and t.blocked_until_ms > now_ms


def after_source_failure(t: LoginThrottle | None, key_hash: str, now_ms: int) -> LoginThrottle:
    """The source's throttle after one more failure; a quiet source starts again."""
    failures = 1 if t is None or now_ms - t.updated_ms > SOURCE_FORGET_MS else t.failures + 1
    delay = failure_delay_ms(failures, SOURCE_FAILURES_FREE)
    return LoginThrottle(key_hash=key_hash, failures=failures,
                         blocked_until_ms=now_ms + delay if delay else 0, updated_ms=now_ms)


def session_live(s: Session, now_ms: int) -> bool:
    return (
        s.revoked_ms is None and now_ms < s.expires_ms and now_ms - s.last_seen_ms < SESSION_IDLE_MS
    )
