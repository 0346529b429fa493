"""The signed-in user's own account: profile, sessions, authenticator, password, channels."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import not_found
from corridor.platform.services import login, security, sessions

router = APIRouter(route_class=JsonRoute, prefix="/me", tags=["account"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Password = Field(min_length=1, max_length=idn.PASSWORD_LEN_MAX)


class SessionView(BaseModel):
    id: str
    created_ms: int
    last_seen_ms: int
    expires_ms: int
    ip: str
    user_agent: str
    current: bool


class TotpBeginOut(BaseModel):
    secret: str
    provisioning_uri: str


class CodeIn(Strict):
    code: str = Field(min_length=4, max_length=32)


class TotpDisableIn(Strict):
    password: str = Password
    code: str = Field(min_length=4, max_length=32)


class PasswordIn(Strict):
    password: str = Password


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


class PasswordChangeIn(Strict):
    old_password: str = Password
    new_password: str = Password


class ChannelIn(Strict):
    address: str = Field(min_length=3, max_length=320)
    password: str = Password


Channel = Literal["email", "phone"]


def _channel(kind: Channel) -> str:
    return idn.Channel.EMAIL if kind == "email" else idn.Channel.SMS


@router.get("")
def me(who: PrincipalDep, deps: DepsDep) -> dict[str, object]:
    with deps.uow() as uow:
        user = uow.repo(idn.User).get(who.user_id)
    assert user is not None
    return login.profile(user)


@router.get("/sessions", response_model=list[SessionView])
def list_sessions(who: PrincipalDep, deps: DepsDep) -> list[SessionView]:
    return [
        SessionView(id=s.id, created_ms=s.created_ms, last_seen_ms=s.last_seen_ms,
                    expires_ms=s.expires_ms, ip=s.ip, user_agent=s.user_agent,
                    current=s.id == who.session_id)
        for s in sessions.list_sessions(deps, who)
    ]


@router.delete("/sessions/{session_id}", status_code=204)
def revoke_session(session_id: str, who: PrincipalDep, deps: DepsDep) -> None:
    if len(session_id) > 64:
        raise not_found("session")
    sessions.revoke_session(deps, who, session_id)


@router.post("/totp", response_model=TotpBeginOut)
def totp_begin(who: PrincipalDep, deps: DepsDep) -> TotpBeginOut:
    """Starts authenticator enrolment: scan the URI (as a QR code) or type the secret."""
    secret, uri = security.totp_begin(deps, who)
    return TotpBeginOut(secret=secret, provisioning_uri=uri)


@router.post("/totp/confirm", response_model=RecoveryCodesOut)
def totp_confirm(body: CodeIn, who: PrincipalDep, deps: DepsDep) -> RecoveryCodesOut:
    """Turns the authenticator on; the recovery codes are shown this once."""
    return RecoveryCodesOut(recovery_codes=security.totp_confirm(deps, who, body.code))


@router.post("/totp/disable", status_code=204)
def totp_disable(body: TotpDisableIn, who: PrincipalDep, deps: DepsDep) -> None:
    security.totp_disable(deps, who, body.password, body.code)


@router.post("/recovery-codes", response_model=RecoveryCodesOut)
def recovery_codes(body: PasswordIn, who: PrincipalDep, deps: DepsDep) -> RecoveryCodesOut:
    """New recovery codes (the old ones stop working)."""
    return RecoveryCodesOut(
        recovery_codes=security.regenerate_recovery_codes(deps, who, body.password)
    )


@router.post("/password")
def change_password(body: PasswordChangeIn, who: PrincipalDep,
                    deps: DepsDep) -> dict[str, int]:
    """Changes the password; every other session is signed out."""
    revoked = security.change_password(deps, who, body.old_password, body.new_password)
    return {"sessions_revoked": revoked}


@router.post("/{channel}", status_code=202)
def change_channel(channel: Channel, body: ChannelIn, who: PrincipalDep,
                   deps: DepsDep) -> dict[str, str]:
    """Binds a new e-mail or phone: a code goes to the new address."""
    security.request_channel_change(deps, who, _channel(channel), body.address, body.password)
    return {"status": "code_sent"}


@router.post("/{channel}/verify")
def confirm_channel(channel: Channel, body: CodeIn, who: PrincipalDep,
                    deps: DepsDep) -> dict[str, object]:
    user = security.confirm_channel_change(deps, who, _channel(channel), body.code)
    return login.profile(user)
