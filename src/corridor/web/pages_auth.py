"""The front page, the language switcher, sign-up with its verification code, sign-in
with the second factor, and sign-out. Every step is the API's own service call
(registration, login, sessions), under the same rate limits counted in the same buckets,
so a guesser gains nothing by switching between the API and the pages."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import Err, PlatformError, Problems
from corridor.platform.domain.roles import UserKind
from corridor.platform.services import login, preferences, registration
from corridor.web import i18n, render, security
from corridor.web.context import Page, PageRoute, Redirect, page_of, safe_next
from corridor.web.messages import N_

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Text = Annotated[str, Form(max_length=400)]
Secret = Annotated[str, Form(max_length=idn.PASSWORD_LEN_MAX)]

# The API's buckets and numbers (api/routers/auth.py; tests/web/test_limits.py keeps them
# equal): one budget per address and per identifier, whichever door is knocked on.
MINUTE = 60.0
IP_BUCKET, IP_PER_MINUTE_MAX = "auth-ip", 30
IDENTIFIER_BUCKET, IDENTIFIER_PER_MINUTE_MAX = "auth-id", 10
# Short notes a redirect may ask the next page to show (never free text from the URL).
NOTES = {"verified": N_("Your address is verified. Sign in to continue."),
         "signed_out": N_("You have signed out."),
         "password_reset": N_("Your password is changed and every device signed out. Sign "
                              "in with the new one.")}


def limit(page: Page, identifier: str | None = None) -> None:
    limiter = page.request.app.state.limiter
    limiter.hit(IP_BUCKET, page.origin.ip, IP_PER_MINUTE_MAX, MINUTE)
    if identifier:
        limiter.hit(IDENTIFIER_BUCKET, identifier.strip().lower(), IDENTIFIER_PER_MINUTE_MAX,
                    MINUTE)


def _note(page: Page, key: str | None) -> str:
    return page.gettext(NOTES[key]) if key in NOTES else ""


@router.get("/", response_class=HTMLResponse)
def front(page: PageDep) -> Response:
    return render.html(page, "front.html")


@router.post("/language")
def language(page: PageDep, language: Text = "", zone: Text = "", back: Text = "/") -> Response:
    """The switcher: remembered in the browser for a year (with the reader's zone), and
    for the signed-in person in their account."""
    if language in i18n.LANGUAGES:
        page.set_cookie(security.LANGUAGE_COOKIE, language, security.PREFERENCE_MAX_AGE_S)
        if page.principal is not None:  # remembered for the person, on every device
            preferences.set_language(page.deps, page.principal, language)
    if zone in i18n.TIME_ZONES:
        page.set_cookie(security.ZONE_COOKIE, zone, security.PREFERENCE_MAX_AGE_S)
    return RedirectResponse(safe_next(back, "/"), status_code=303)


# --- sign-up ------------------------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
def signup_form(page: PageDep) -> Response:
    return render.form(page, "signup.html", values={}, terms=idn.TERMS_VERSION)


@router.post("/signup")
def signup(page: PageDep, name: Text = "", email: Text = "", phone: Text = "",
           password: Secret = "", accept_terms: Text = "", terms_version: Text = "",
           privacy_version: Text = "") -> Response:
    values = {"name": name, "email": email, "phone": phone}
    try:
        limit(page, email or phone)
        registration.register(page.deps, registration.Register(
            name=name, email=email or None, phone=phone or None, password=password,
            accept_terms=accept_terms == "yes", terms_version=terms_version,
            privacy_version=privacy_version, language=page.fmt.language), page.origin)
    except PlatformError as exc:
        return render.form(page, "signup.html", exc, values=values, terms=idn.TERMS_VERSION)
    return RedirectResponse("/verify?" + urlencode({"identifier": email or phone}),
                            status_code=303)


@router.get("/verify", response_class=HTMLResponse)
def verify_form(page: PageDep, identifier: Annotated[str, Query(max_length=320)] = "") -> Response:
    return render.form(page, "verify.html", values={"identifier": identifier})


@router.post("/verify")
def verify(page: PageDep, identifier: Text = "", code: Text = "",
           resend: Text = "") -> Response:
    values = {"identifier": identifier}
    try:
        limit(page, identifier)
        if resend:
            registration.resend(page.deps, identifier)
            return render.form(page, "verify.html", values=values, resent=True)
        required({"identifier": identifier, "code": code})
        registration.verify(page.deps, identifier, code.strip(), page.origin)
    except PlatformError as exc:
        return render.form(page, "verify.html", exc, values=values)
    return RedirectResponse("/signin?note=verified", status_code=303)


def required(values: dict[str, str]) -> None:
    p = Problems()
    for name, value in values.items():
        if not value.strip():
            p.add(name, "required")
    p.raise_if_any()


# --- sign-in ------------------------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
def signin_form(page: PageDep, next: Annotated[str, Query(max_length=400)] = "",
                note: Annotated[str, Query(max_length=20)] = "") -> Response:
    return render.form(page, "signin.html", values={}, next=safe_next(next, ""),
                       note=_note(page, note))


@router.post("/signin")
def signin(page: PageDep, identifier: Text = "", password: Secret = "",
           next: Text = "") -> Response:
    target = safe_next(next, "")  # none asked for: the code step picks by the user's kind
    try:
        limit(page, identifier)
        required({"identifier": identifier, "password": password})
        challenge = login.start(page.deps, identifier, password, page.origin)
    except PlatformError as exc:
        return render.form(page, "signin.html", exc, values={"identifier": identifier},
                           next=target)
    page.set_cookie(page.names[2], challenge.token, security.CHALLENGE_TTL_S)
    query = urlencode({"method": challenge.method, "to": challenge.destination_hint,
                       "next": target})
    return RedirectResponse(f"/signin/code?{query}", status_code=303)


# Where a code went, as the service masks it ("a***@example.com", "+44***58"): the page
# shows nothing else from its address, so a crafted link cannot put words in its mouth.
MASKED = re.compile(r"[^\s<>]{0,3}\*\*\*[^\s<>]{0,100}")
METHODS = ("totp", "email", "sms")


def _shown(method: str, to: str) -> tuple[str, str]:
    return (method if method in METHODS else "totp",
            to if MASKED.fullmatch(to) else "")


@router.get("/signin/code", response_class=HTMLResponse)
def code_form(page: PageDep, method: Annotated[str, Query(max_length=8)] = "totp",
              to: Annotated[str, Query(max_length=400)] = "",
              next: Annotated[str, Query(max_length=400)] = "") -> Response:
    method, to = _shown(method, to)
    return render.form(page, "signin_code.html", method=method, to=to,
                       next=safe_next(next, ""))


@router.post("/signin/code")
def code(page: PageDep, code: Text = "", recovery_code: Text = "", method: Text = "totp",
         to: Text = "", next: Text = "") -> Response:
    target = safe_next(next, "")
    method, to = _shown(method, to)
    challenge = page.request.cookies.get(page.names[2], "")
    try:
        limit(page)
        if not challenge:
            raise Err.MFA_FAILED.error()
        token, user = login.finish(page.deps, challenge, page.origin, code=code.strip() or None,
                                   recovery_code=recovery_code.strip() or None)
    except PlatformError as exc:
        return render.form(page, "signin_code.html", exc, method=method, to=to, next=target)
    page.start_session(token)
    # Nowhere asked for: staff land in the back office, customers on their dashboard.
    home = "/staff" if user.kind is UserKind.STAFF else "/dashboard"
    return RedirectResponse(target or home, status_code=303)


@router.post("/signout")
def signout(page: PageDep) -> Response:
    if page.principal is not None:
        login.logout(page.deps, page.principal)
    page.end_session()
    raise Redirect("/signin?note=signed_out")
