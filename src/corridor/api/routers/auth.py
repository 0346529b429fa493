"""Sign-up, sign-in and recovery: the only endpoints open without a session. Each is
rate-limited per client address and, where it names an account, per identifier."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, LimiterDep, OriginDep, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import identity as idn
from corridor.platform.services import login, registration, security

# Wrong credentials or codes answer 401 here without a session check to declare it.
router = APIRouter(route_class=JsonRoute, prefix="/auth", tags=["auth"],
                   responses={401: {"description": "Wrong credentials or code."}})

MINUTE = 60.0
IP_PER_MINUTE_MAX = 30  # requests to the auth endpoints per client address
IDENTIFIER_PER_MINUTE_MAX = 10


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Identifier = Field(min_length=3, max_length=320, description="E-mail address or phone (+E.164)")
Password = Field(min_length=1, max_length=idn.PASSWORD_LEN_MAX)
Code = Field(min_length=4, max_length=32)


class RegisterIn(Strict):
    name: str = Field(min_length=1, max_length=idn.NAME_LEN_MAX)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    password: str = Password
    accept_terms: bool
    terms_version: str = Field(max_length=16)
    privacy_version: str = Field(max_length=16)


class Accepted(BaseModel):
    status: str


class VerifyIn(Strict):
    identifier: str = Identifier
    code: str = Code


class ResendIn(Strict):
    identifier: str = Identifier


class LoginIn(Strict):
    identifier: str = Identifier
    password: str = Password
    method: Literal["email", "sms"] | None = Field(
        default=None, description="Where to send a code, when no authenticator is enrolled"
    )


class ChallengeOut(BaseModel):
    mfa_required: bool = True
    challenge: str
    method: str
    expires_ms: int
    sent_to: str


class LoginVerifyIn(Strict):
    challenge: str = Field(min_length=10, max_length=200)
    code: str | None = Field(default=None, max_length=32)
    recovery_code: str | None = Field(default=None, max_length=32)


class SessionOut(BaseModel):
    token: str
    token_type: str = "bearer"
    user: dict[str, object]


class RecoverResetIn(Strict):
    identifier: str = Identifier
    code: str = Code
    new_password: str = Password
    totp_code: str | None = Field(default=None, max_length=32)
    recovery_code: str | None = Field(default=None, max_length=32)


class IdentityCheckIn(Strict):
    identifier: str = Identifier
    contact: str = Field(min_length=3, max_length=320)
    details: str = Field(default="", max_length=4000)


class TermsOut(BaseModel):
    terms_version: str
    privacy_version: str


def _limit(limiter: LimiterDep, origin: OriginDep, identifier: str | None = None) -> None:
    limiter.hit("auth-ip", origin.ip, IP_PER_MINUTE_MAX, MINUTE)
    if identifier:
        limiter.hit("auth-id", identifier.strip().lower(), IDENTIFIER_PER_MINUTE_MAX, MINUTE)


@router.get("/terms", response_model=TermsOut)
def terms() -> TermsOut:
    """The versions of the terms and privacy policy a registration must accept."""
    return TermsOut(terms_version=idn.TERMS_VERSION, privacy_version=idn.PRIVACY_VERSION)


@router.post("/register", status_code=202, response_model=Accepted)
def register(body: RegisterIn, deps: DepsDep, origin: OriginDep,
             limiter: LimiterDep) -> Accepted:
    """Registers a customer and sends verification codes. The answer is the same whether
    or not the address already has an account (its owner gets a notice instead)."""
    _limit(limiter, origin, body.email or body.phone)
    registration.register(deps, registration.Register(**body.model_dump()), origin)
    return Accepted(status="verification_sent")


@router.post("/verify", response_model=Accepted)
def verify(body: VerifyIn, deps: DepsDep, origin: OriginDep, limiter: LimiterDep) -> Accepted:
    """Verifies an e-mail address or phone number with the code sent to it."""
    _limit(limiter, origin, body.identifier)
    registration.verify(deps, body.identifier, body.code, origin)
    return Accepted(status="verified")


@router.post("/verify/resend", status_code=202, response_model=Accepted)
def resend(body: ResendIn, deps: DepsDep, origin: OriginDep, limiter: LimiterDep) -> Accepted:
    _limit(limiter, origin, body.identifier)
    registration.resend(deps, body.identifier)
    return Accepted(status="sent_if_pending")


@router.post("/login", response_model=ChallengeOut)
def start_login(body: LoginIn, deps: DepsDep, origin: OriginDep,
                limiter: LimiterDep) -> ChallengeOut:
    """Step 1: the password. Answers with a second-factor challenge."""
    _limit(limiter, origin, body.identifier)
    ch = login.start(deps, body.identifier, body.password, origin, body.method)
    return ChallengeOut(challenge=ch.token, method=ch.method, expires_ms=ch.expires_ms,
                        sent_to=ch.destination_hint)


@router.post("/login/verify", response_model=SessionOut)
def finish_login(body: LoginVerifyIn, deps: DepsDep, origin: OriginDep,
                 limiter: LimiterDep) -> SessionOut:
    """Step 2: the authenticator code, the code sent by e-mail/SMS, or a recovery code."""
    _limit(limiter, origin)
    token, user = login.finish(deps, body.challenge, origin, code=body.code,
                               recovery_code=body.recovery_code)
    return SessionOut(token=token, user=login.profile(user))


@router.post("/logout", status_code=204)
def logout(who: PrincipalDep, deps: DepsDep) -> None:
    login.logout(deps, who)


class UnlockVerifyIn(Strict):
    identifier: str = Identifier
    code: str = Field(min_length=4, max_length=32,
                      description="The unlock code sent, or a code of the authenticator app")


@router.post("/unlock", status_code=202, response_model=Accepted)
def unlock(body: ResendIn, deps: DepsDep, origin: OriginDep, limiter: LimiterDep) -> Accepted:
    """Sends an unlock code to the verified address named, if its sign-ins are blocked
    after failed attempts (silently nothing otherwise)."""
    _limit(limiter, origin, body.identifier)
    login.unlock_start(deps, body.identifier)
    return Accepted(status="sent_if_blocked")


@router.post("/unlock/verify", response_model=Accepted)
def unlock_verify(body: UnlockVerifyIn, deps: DepsDep, origin: OriginDep,
                  limiter: LimiterDep) -> Accepted:
    """Lifts the block with the unlock code (or an authenticator code): sign in at once."""
    _limit(limiter, origin, body.identifier)
    login.unlock_finish(deps, body.identifier, body.code, origin)
    return Accepted(status="unlocked")


@router.post("/recover", status_code=202, response_model=Accepted)
def recover(body: ResendIn, deps: DepsDep, origin: OriginDep, limiter: LimiterDep) -> Accepted:
    """Sends a recovery code to the verified channel named (silently nothing otherwise)."""
    _limit(limiter, origin, body.identifier)
    security.recovery_start(deps, body.identifier)
    return Accepted(status="sent_if_registered")


@router.post("/recover/reset", response_model=Accepted)
def recover_reset(body: RecoverResetIn, deps: DepsDep, origin: OriginDep,
                  limiter: LimiterDep) -> Accepted:
    _limit(limiter, origin, body.identifier)
    security.recovery_finish(deps, body.identifier, body.code, body.new_password, origin,
                             totp_code=body.totp_code, recovery_code=body.recovery_code)
    return Accepted(status="password_reset")


@router.post("/recover/identity-check", status_code=202)
def identity_check(body: IdentityCheckIn, deps: DepsDep, origin: OriginDep,
                   limiter: LimiterDep) -> dict[str, str]:
    """When no automatic route works: ask support for a manual identity check."""
    _limit(limiter, origin, body.identifier)
    request_id = security.request_identity_check(deps, body.identifier, body.contact,
                                                 body.details, origin)
    return {"status": "support_request_opened", "request_id": request_id}
