"""The security centre: the authenticator app (set up with its secret, confirmed with a
code, recovery codes shown once) and the signed-in devices, through the same services as
the API's /v1/me/totp and /v1/me/sessions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, Response

from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import security, sessions
from corridor.web import render
from corridor.web.context import Page, PageRoute, Redirect, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Text = Annotated[str, Form(max_length=400)]


def _centre(page: Page, exc: PlatformError | None = None, **values: Any) -> Response:
    who = page.signed_in()
    live = sessions.list_sessions(page.deps, who)
    return render.form(page, "security.html", exc, sessions=live,
                       current=who.session_id,
                       sign_ins=security.sign_in_history(page.deps, who), **values)


@router.get("/security", response_class=HTMLResponse)
def centre(page: PageDep) -> Response:
    return _centre(page)


@router.post("/security/totp")
def totp_begin(page: PageDep) -> Response:
    """Shows the new secret (type it, or open the otpauth link on the phone)."""
    who = page.signed_in()
    try:
        secret, uri = security.totp_begin(page.deps, who)
    except PlatformError as exc:
        return _centre(page, exc)
    return _centre(page, setup={"secret": secret, "uri": uri})


@router.post("/security/totp/confirm")
def totp_confirm(page: PageDep, code: Text = "") -> Response:
    who = page.signed_in()
    try:
        recovery = security.totp_confirm(page.deps, who, code.strip())
    except PlatformError as exc:
        return _centre(page, exc, setup={"secret": "", "uri": ""})
    return _centre(page, recovery_codes=recovery)


@router.post("/security/sessions/{session_id}/revoke")
def revoke(page: PageDep, session_id: str) -> Response:
    who = page.signed_in()
    sessions.revoke_session(page.deps, who, session_id[:64])
    raise Redirect("/security")


Secret = Annotated[str, Form(max_length=200)]


@router.post("/security/password")
def change_password(page: PageDep, old_password: Secret = "",
                    new_password: Secret = "") -> Response:
    """A new password; every other device is signed out (this one stays)."""
    who = page.signed_in()
    try:
        revoked = security.change_password(page.deps, who, old_password, new_password)
    except PlatformError as exc:
        if exc.code == "PASSWORD_WRONG":  # the service names the API's field
            exc = PlatformError(exc.err, exc.message,
                                {"old_password": exc.fields.get("password", "wrong")})
        return _centre(page, exc)
    return _centre(page, password_changed=True, revoked=revoked)


@router.post("/security/recovery-codes")
def new_recovery_codes(page: PageDep, password: Secret = "") -> Response:
    """New recovery codes, shown once; the old ones stop working."""
    who = page.signed_in()
    try:
        recovery = security.regenerate_recovery_codes(page.deps, who, password)
    except PlatformError as exc:
        return _centre(page, exc)
    return _centre(page, recovery_codes=recovery)


@router.post("/security/totp/disable")
def totp_disable(page: PageDep, password: Secret = "", code: Text = "") -> Response:
    """Turns the app off (password and a current code, so a stolen session cannot)."""
    who = page.signed_in()
    try:
        security.totp_disable(page.deps, who, password, code.strip())
    except PlatformError as exc:
        return _centre(page, exc)
    raise Redirect("/security")
