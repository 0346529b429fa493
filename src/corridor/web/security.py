"""What keeps the pages safe in a browser: the cookies, the CSRF token, and the headers
every page carries.

- The session cookie holds the platform's own session token (the one a bearer token is
  for the API: `sessions.authenticate` resolves both), HttpOnly, SameSite=Lax, Secure and
  `__Host-` prefixed outside development (a plain-HTTP development server on 127.0.0.1
  cannot set Secure cookies in every browser). A new token is issued at every sign-in,
  and the anonymous cookie is replaced then too, so nothing set before sign-in carries
  over (session fixation).
- CSRF: the signed double-submit pattern. Each form carries `keyed_hash(binding)`, an HMAC
  under a key derived from the platform's master key (`Sealer.keyed_hash`), where the
  binding is the session token once signed in, else a random anonymous cookie. Another
  site can neither read the cookie nor compute the HMAC; every API worker process can
  check it (the key is the keyring's, not the process's).
- Headers: a Content-Security-Policy that allows scripts and styles only from this origin
  (no inline script or style anywhere), framing refused twice (CSP frame-ancestors and
  X-Frame-Options for older browsers), no MIME sniffing, no referrer to other sites,
  no caching of pages that may show personal data.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corridor.platform.services.ports import Deps

CSRF_FIELD = "csrf_token"
CSRF_CONTEXT = "web-csrf"
CHALLENGE_TTL_S = 600  # the sign-in challenge cookie; the challenge itself expires sooner
LANGUAGE_COOKIE = "corridor-lang"
ZONE_COOKIE = "corridor-tz"
PREFERENCE_MAX_AGE_S = 365 * 24 * 3600
# Paths whose responses are not pages: the API (its own JSON errors), its interactive
# documentation (Swagger UI needs inline scripts, so it keeps its own policy).
NOT_PAGES = ("/v1/", "/docs", "/redoc", "/openapi.json")

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
PAGE_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def cookie_names(production: bool) -> tuple[str, str, str]:
    """(session, anonymous, sign-in challenge) cookie names. `__Host-`: the browser only
    accepts it Secure, from this host, for path / (no sibling subdomain can plant one)."""
    prefix = "__Host-" if production else ""
    return (f"{prefix}corridor-session", f"{prefix}corridor-anon",
            f"{prefix}corridor-challenge")


def csrf_token(deps: Deps, binding: str) -> str:
    return deps.sealer.keyed_hash(binding, CSRF_CONTEXT)


def csrf_ok(deps: Deps, binding: str, token: str) -> bool:
    if not binding or not token or len(token) > 200:
        return False
    return deps.sealer.keyed_hash_matches(token, binding, CSRF_CONTEXT)


class PageHeaders:
    """Adds the page headers to every response outside the API (pages, static files,
    redirects, error pages): one place, so no page can forget them."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.extra = (HSTS,) if production else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NOT_PAGES):
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [h for h in PAGE_HEADERS + self.extra if h[0] not in present]
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
