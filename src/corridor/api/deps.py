"""Request-scoped dependencies: the platform, the caller's origin and principal, staff
permission checks, and rate limits."""

from __future__ import annotations

import functools
import ipaddress
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

from fastapi import Depends, Header, Request

from corridor.api.statuses import refuses
from corridor.platform.adapters.rate_limits import SqlRateLimits
from corridor.platform.bootstrap import Platform
from corridor.platform.domain import apikeys as apikey_dom
from corridor.platform.domain.errors import Err, Kind, forbidden, rate_limited
from corridor.platform.domain.principal import Origin, Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import apikeys, sessions
from corridor.platform.services.ports import Deps

# The dependencies that only read the request are `async def`: FastAPI runs a plain `def`
# dependency in its thread pool, and a hop there and back per dependency per request was
# CPU spent on every call (bench payments). Only `principal` reads the database.


def _platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HOPS_MAX = 32  # X-Forwarded-For entries looked at (a longer chain is forged)


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_ip(peer: str, forwarded_for: list[str], proxies: tuple[str, ...]) -> str:
    """The client's address: the TCP peer, unless the peer is one of the configured
    reverse proxies (`Settings.trusted_proxies`, none by default); then the right-most
    X-Forwarded-For entry that is not itself a trusted proxy (entries further left were
    written by the client and prove nothing). The server runs with uvicorn's own proxy
    header handling off, so this is the only place the header is read."""
    networks = _networks(proxies)
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for line in forwarded_for for h in line.split(",")][-FORWARDED_HOPS_MAX:]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where an address should be: the proxy is the client
    return peer


def _origin(request: Request) -> Origin:
    peer = request.client.host if request.client else ""
    ip = client_ip(peer, request.headers.getlist("x-forwarded-for"),
                   _platform(request).settings.trusted_proxies)
    return Origin(ip=ip, user_agent=request.headers.get("user-agent", "")[:300])


# An operation using the platform's services may find one it needs (the chain node, a
# bank rail, the rate source) unavailable: 503, documented on each (api/statuses.py).
@refuses(Kind.UNAVAILABLE)
async def platform(request: Request) -> Platform:
    return _platform(request)


@refuses(Kind.UNAVAILABLE)
async def deps(request: Request) -> Deps:
    return _platform(request).deps


async def origin(request: Request) -> Origin:
    return _origin(request)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# The operations an organisation's API key may call (issue 17; docs/architecture.md, "API
# keys"), as (method, route template): reading the organisation, and pricing, sending and
# reading its payments. Everything else (a person's own account, members, keys, webhooks,
# approvals, staff) answers API_KEY_ROUTE_REFUSED to a key, whatever its scopes; within
# these, the services check the organisation and the key's scopes (access.require_org).
# An area whose operations keys should reach adds them here.
KEY_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/v1/orgs/{org_id}"),
    ("GET", "/v1/orgs/{org_id}/wallets"),
    ("GET", "/v1/orgs/{org_id}/deposits"),
    ("POST", "/v1/quotes"),
    ("GET", "/v1/quotes/{quote_id}"),
    ("POST", "/v1/payments/preview"),
    ("POST", "/v1/payments"),
    ("GET", "/v1/payments"),
    ("GET", "/v1/payments/{payment_id}"),
    ("POST", "/v1/payments/{payment_id}/cancel"),
    ("GET", "/v1/payments/{payment_id}/receipt"),
})


def _route(request: Request) -> str:
    """"<METHOD> <route template>" of the request, e.g. "GET /v1/orgs/{org_id}" (the
    routers' templates are relative to the /v1 mount)."""
    template = str(getattr(request.scope.get("route"), "path", ""))
    if not template:
        return f"{request.method} {request.url.path}"
    if not template.startswith("/v1/"):
        template = "/v1" + template
    return f"{request.method} {template}"


@refuses(Kind.UNAUTHENTICATED, Kind.FORBIDDEN, Kind.RATE_LIMITED, security="bearer")
def principal(request: Request) -> Principal:
    token = _bearer(request)
    if not apikey_dom.is_key_token(token):
        return sessions.authenticate(_platform(request).deps, token, _origin(request))
    route = _route(request)
    method, _, template = route.partition(" ")
    if (method, template) not in KEY_ROUTES:
        raise Err.API_KEY_ROUTE_REFUSED.error()
    who = apikeys.authenticate(_platform(request).deps, token, _origin(request).ip, route)
    assert who.key is not None
    # Per key, in the database (every API worker counts against the same window).
    limiter: Limiter = request.app.state.limiter
    limiter.hit("apikey", who.key.key_id, apikey_dom.REQUESTS_PER_WINDOW_MAX,
                apikey_dom.RATE_WINDOW_S)
    return who


DepsDep = Annotated[Deps, Depends(deps)]
OriginDep = Annotated[Origin, Depends(origin)]
PrincipalDep = Annotated[Principal, Depends(principal)]
# Every creating request's key (platform/domain/idempotency.py). Optional here so a missing
# one is answered by the service, with its own code (IDEMPOTENCY_KEY_MISSING).
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def staff(perm: Perm) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only staff whose role grants `perm`."""

    async def check(who: PrincipalDep) -> Principal:
        if not who.staff_can(perm):
            raise forbidden()
        return who

    return check


class Limiter(Protocol):
    def hit(self, bucket: str, key: str, limit: int, window_s: float) -> None:
        """Counts a hit of `key` in `bucket`; RATE_LIMITED when `limit` hits were already
        counted in the last `window_s`."""
        ...


def _refused(window_s: float) -> Exception:
    return rate_limited(f"too many attempts; try again in {int(window_s)} s")


class RateLimiter:
    """Sliding-window counters in memory, per (bucket, key): for one process only (tests,
    tools). The API uses `SharedRateLimiter`, which every API worker process shares."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hit(self, bucket: str, key: str, limit: int, window_s: float) -> None:
        now = self._clock()
        with self._lock:
            q = self._hits.setdefault((bucket, key), deque())
            while q and q[0] <= now - window_s:
                q.popleft()
            if len(q) >= limit:
                raise _refused(window_s)
            q.append(now)
            if len(self._hits) > 100_000:  # bound memory under a spray of keys
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - window_s}


class SharedRateLimiter:
    """The same sliding windows, counted in the platform's database
    (adapters/rate_limits.py): several API worker processes admit `limit` hits a window
    between them, not `limit` each."""

    def __init__(self, store: SqlRateLimits) -> None:
        self._store = store

    def hit(self, bucket: str, key: str, limit: int, window_s: float) -> None:
        if not self._store.hit(bucket, key, limit, int(window_s * 1000)):
            raise _refused(window_s)


@refuses(Kind.RATE_LIMITED)
async def limiter(request: Request) -> Limiter:
    r: Limiter = request.app.state.limiter
    return r


LimiterDep = Annotated[Limiter, Depends(limiter)]
