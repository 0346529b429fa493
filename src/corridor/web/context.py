"""One page request: who is asking (from the session cookie), in which language and time
zone, and the CSRF binding; the route class every page router uses, which builds it, checks
the CSRF token of every POST, turns a service's refusal into a page, and sets cookies.

A refusal (`PlatformError`) raised by a service while a page handles a request is shown
as an error page in the reader's language (web/messages.py), never as the API's JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from corridor.api.deps import client_ip
from corridor.platform.domain.errors import Err, PlatformError, forbidden
from corridor.platform.domain.identity import User
from corridor.platform.domain.principal import Origin, Principal
from corridor.platform.domain.roles import Perm, UserKind
from corridor.platform.services import sessions
from corridor.platform.services.ports import Deps
from corridor.web import i18n, security

NEXT_LEN_MAX = 200


class Redirect(Exception):
    """Raised by a page to send the browser elsewhere (303: the next request is a GET)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclasses.dataclass
class Page:
    """What a page handler knows about its request."""

    request: Request
    deps: Deps
    fmt: i18n.Formats
    origin: Origin
    production: bool
    principal: Principal | None = None
    user: User | None = None
    session_token: str = ""
    anon: str = ""  # the anonymous cookie's value (a new one when `anon_is_new`)
    anon_is_new: bool = False
    # Cookies the response sets (name -> (value, max_age_s)); max_age 0 deletes.
    cookies: dict[str, tuple[str, int]] = dataclasses.field(default_factory=dict)

    @property
    def names(self) -> tuple[str, str, str]:
        return security.cookie_names(self.production)

    @property
    def binding(self) -> str:
        return self.session_token or self.anon

    @property
    def csrf(self) -> str:
        return security.csrf_token(self.deps, self.binding)

    def gettext(self, message: str) -> str:
        return self.fmt.gettext(message)

    def form_key(self, values: Mapping[str, object]) -> str:
        """A creating form's idempotency key: the one it was sent with (so a form shown
        again after a refusal keeps it), or a new one when the form is first shown."""
        return str(values.get("key") or "") or self.deps.rand.token()

    def customer(self) -> Principal:
        """The signed-in customer, or a redirect to sign in (then back here); staff get
        403: these pages show a customer's own money."""
        who = self.signed_in()
        if who.kind is not UserKind.CUSTOMER:
            raise forbidden()
        return who

    def staff(self, perm: Perm | None = None) -> Principal:
        """The signed-in member of staff whose role grants `perm` (any staff when None),
        or a redirect to sign in; anyone else gets 403 before anything is read, as the
        API's `deps.staff` (the service checks again)."""
        who = self.signed_in()
        if not who.is_staff or (perm is not None and not who.staff_can(perm)):
            raise forbidden()
        return who

    def signed_in(self) -> Principal:
        if self.principal is None:
            target = self.request.url.path
            raise Redirect(f"/signin?next={quote(target)}")
        return self.principal

    def set_cookie(self, name: str, value: str, max_age_s: int) -> None:
        self.cookies[name] = (value, max_age_s)

    def start_session(self, token: str) -> None:
        """Signed in: the new session's cookie, a fresh anonymous cookie (nothing issued
        before sign-in survives it) and no challenge cookie any more."""
        session, anon, challenge = self.names
        self.session_token = token
        self.set_cookie(session, token, -1)
        self.anon = self.deps.rand.token()
        self.set_cookie(anon, self.anon, -1)
        self.set_cookie(challenge, "", 0)

    def end_session(self) -> None:
        session, anon, _ = self.names
        self.session_token = ""
        self.principal = self.user = None
        self.set_cookie(session, "", 0)
        self.anon = self.deps.rand.token()
        self.set_cookie(anon, self.anon, -1)


def safe_next(target: str | None, default: str = "/dashboard") -> str:
    """A same-site path to return to after sign-in (never another host: `//x`, `/\\x`)."""
    if (not target or len(target) > NEXT_LEN_MAX or not target.startswith("/")
            or target.startswith(("//", "/\\"))):
        return default
    return target


def _origin(request: Request, deps: Deps) -> Origin:
    peer = request.client.host if request.client else ""
    ip = client_ip(peer, request.headers.getlist("x-forwarded-for"),
                   deps.settings.trusted_proxies)
    return Origin(ip=ip, user_agent=request.headers.get("user-agent", "")[:300])


def build_page(request: Request) -> Page:
    """The page's request: reads the session (an invalid one is as good as none)."""
    deps: Deps = request.app.state.platform.deps
    production = bool(deps.settings.production)
    session_name, anon_name, _ = security.cookie_names(production)
    origin = _origin(request, deps)
    page = Page(request=request, deps=deps, fmt=i18n.Formats("en", "UTC"), origin=origin,
                production=production)
    token = request.cookies.get(session_name, "")
    if token:
        try:
            page.principal = sessions.authenticate(deps, token, origin)
            page.session_token = token
            with deps.reader() as uow:
                page.user = uow.repo(User).get(page.principal.user_id)
        except PlatformError:
            page.set_cookie(session_name, "", 0)  # expired or revoked: forget it
    page.anon = request.cookies.get(anon_name, "")[:100]
    if not page.anon:
        page.anon, page.anon_is_new = deps.rand.token(), True
        page.set_cookie(anon_name, page.anon, -1)
    language = i18n.choose(request.cookies.get(security.LANGUAGE_COOKIE),
                           page.user.language if page.user is not None else None,
                           request.headers.get("accept-language", ""))
    page.fmt = i18n.Formats(language,
                            i18n.zone_of(request.cookies.get(security.ZONE_COOKIE), language))
    return page


def finish(page: Page, response: Response) -> Response:
    """Sets the cookies the page asked for (Secure outside development) and the
    language headers."""
    for name, (value, max_age) in page.cookies.items():
        if max_age == 0:
            response.delete_cookie(name, path="/", secure=page.production, httponly=True,
                                   samesite="lax")
            continue
        response.set_cookie(name, value, max_age=None if max_age < 0 else max_age, path="/",
                            secure=page.production, httponly=True, samesite="lax")
    response.headers["content-language"] = page.fmt.language
    response.headers["vary"] = "Cookie, Accept-Language"
    return response


async def _csrf_refused(request: Request, page: Page) -> bool:
    if request.method != "POST":
        return False
    form = await request.form()
    token = form.get(security.CSRF_FIELD)
    return not security.csrf_ok(page.deps, page.binding,
                                token if isinstance(token, str) else "")


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    """The route class of every page router (the pages' counterpart of the API's
    `JsonRoute`): see the module's docstring."""

    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            from corridor.web import render  # render imports this module

            page = await run_in_threadpool(build_page, request)
            request.state.page = page
            try:
                if await _csrf_refused(request, page):
                    response: Response = render.refusal(page, Err.CSRF_FAILED.error())
                else:
                    response = await original(request)
            except Redirect as r:
                response = RedirectResponse(r.location, status_code=303)
            except PlatformError as exc:
                response = render.refusal(page, exc)
            except RequestValidationError:
                response = render.refusal(page, Err.INVALID_REQUEST.error())
            finally:
                await request.close()  # a multipart form's spooled files, read or refused
            return finish(page, response)

        return handler


def page_of(request: Request) -> Page:
    """The dependency pages take: the request's `Page`, built by `PageRoute`."""
    page: Page = request.state.page
    return page
