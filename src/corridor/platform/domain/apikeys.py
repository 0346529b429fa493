"""API keys of organisations (issue 17, Integration): an organisation's own servers call
the API without a person's session.

A key is created by an owner or admin, with scopes, an optional IP allowlist and an
expiry; its secret is shown once. Authentication is a bearer token over TLS:
``Authorization: Bearer cor_<prefix>_<secret>``. The prefix is public (it names the key in
lists and logs); the secret is 32 random bytes (URL-safe base64) and is stored only as an
HMAC-SHA256 under a server-side key derived from the master keyring (`Sealer.keyed_hash`):
a key of that entropy cannot be guessed from its hash, so a slow hash (argon2) would only
cost CPU on every request, while the pepper means a copy of the database alone cannot even
test a candidate.

What a key may do: its scopes' permissions, intersected with its creator's role *now*
(checked on every request by services/access.require_org): a key never outlives its
creator's rights. Approvals are decisions of people, so `pay.approve` is no scope.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Iterable

from corridor.platform.domain.errors import Problems
from corridor.platform.domain.roles import Perm

TOKEN_PREFIX = "cor_"
PREFIX_LEN = 12  # hex characters of the public part
NAME_LEN_MAX = 100
KEYS_PER_ORG_MAX = 20  # live keys (not revoked, not expired) of one organisation
ALLOWLIST_MAX = 20  # networks on one key's allowlist
TOKEN_LEN_MAX = 120
EXPIRY_DAYS_MAX = 366
EXPIRY_DAYS_DEFAULT = 90
OVERLAP_HOURS_MAX = 7 * 24  # how long a rotated key may stay valid next to its successor
OVERLAP_HOURS_DEFAULT = 24
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# Requests per key per window (the API's rate limiter, counted in the database).
REQUESTS_PER_WINDOW_MAX = 600
RATE_WINDOW_S = 60.0
LIST_MAX = 100
USES_PAGE_MAX = 100


class Scope(enum.StrEnum):
    READ = "read"
    PAY_INITIATE = "pay-initiate"


SCOPE_PERMS: dict[Scope, frozenset[Perm]] = {
    Scope.READ: frozenset({Perm.ORG_READ}),
    Scope.PAY_INITIATE: frozenset({Perm.PAY_INITIATE}),
}
# Never grantable to a key, whatever its scopes: approvals are people's decisions.
NEVER_KEY_PERMS = frozenset({Perm.PAY_APPROVE})
assert not any(p & NEVER_KEY_PERMS for p in SCOPE_PERMS.values())


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """One key of an organisation. `secret_hash` is the keyed hash of the secret part
    (context `apikey:<id>`); the secret itself is never stored. A rotated key keeps working
    until `expires_ms` (set to the end of the overlap) and names its successor."""

    id: str
    org_id: str
    name: str
    prefix: str
    secret_hash: str
    scopes: tuple[str, ...]
    allowlist: tuple[str, ...]  # CIDR networks; empty: any address
    created_by: str
    created_ms: int
    expires_ms: int
    revoked_ms: int | None
    revoked_by: str | None
    rotated_to: str | None
    last_used_ms: int | None
    last_used_ip: str | None


def secret_context(key_id: str) -> str:
    return f"apikey:{key_id}"


def token_of(prefix: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}{prefix}_{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key token, else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > TOKEN_LEN_MAX:
        return None
    prefix, sep, secret = token[len(TOKEN_PREFIX):].partition("_")
    if not sep or len(prefix) != PREFIX_LEN or not secret:
        return None
    return prefix, secret


def is_key_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


def state(key: ApiKey, now_ms: int) -> str:
    """active, rotating (replaced, still valid in its overlap), expired or revoked."""
    if key.revoked_ms is not None:
        return "revoked"
    if now_ms >= key.expires_ms:
        return "expired"
    return "rotating" if key.rotated_to is not None else "active"


def live(key: ApiKey, now_ms: int) -> bool:
    return key.revoked_ms is None and now_ms < key.expires_ms


def perms_of(scopes: Iterable[str]) -> frozenset[Perm]:
    out: set[Perm] = set()
    for s in scopes:
        out |= SCOPE_PERMS[Scope(s)]
    return frozenset(out)


def check_name(name: str, problems: Problems) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= NAME_LEN_MAX or not name.isprintable():
        problems.add("name", f"1 to {NAME_LEN_MAX} characters")
    return name


def check_scopes(scopes: Iterable[str], problems: Problems) -> tuple[str, ...]:
    """The scopes in a canonical order; pay.approve (and anything unknown) refused."""
    given = [s.strip() for s in scopes if s.strip()]
    known = {s.value for s in Scope}
    if not given:
        problems.add("scopes", "at least one of: read, pay-initiate")
    elif any(s not in known for s in given):
        problems.add("scopes", "only read and pay-initiate: approvals are made by people")
    return tuple(s.value for s in Scope if s.value in given)


def check_allowlist(entries: Iterable[str], problems: Problems) -> tuple[str, ...]:
    """Networks in CIDR form (an address alone is its /32 or /128), normalised; host bits
    set are refused rather than silently widened."""
    out: list[str] = []
    bad: list[str] = []
    for raw in entries:
        text = raw.strip()
        if not text:
            continue
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError:
            bad.append(text[:50])
            continue
        if str(net) not in out:
            out.append(str(net))
    if bad:
        problems.add("allowlist", f"not a network in CIDR form (e.g. 203.0.113.0/24): "
                                  f"{', '.join(bad[:3])}")
    elif len(out) > ALLOWLIST_MAX:
        problems.add("allowlist", f"at most {ALLOWLIST_MAX} networks")
    return tuple(out)


def check_days(days: int, problems: Problems) -> int:
    if not 1 <= days <= EXPIRY_DAYS_MAX:
        problems.add("expires_in_days", f"1 to {EXPIRY_DAYS_MAX} days")
    return days


def check_overlap(hours: int, problems: Problems) -> int:
    if not 0 <= hours <= OVERLAP_HOURS_MAX:
        problems.add("overlap_hours", f"0 to {OVERLAP_HOURS_MAX} hours")
    return hours


def ip_allowed(allowlist: tuple[str, ...], ip: str) -> bool:
    """Whether a request from `ip` may use a key with this allowlist (empty: any)."""
    if not allowlist:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n
               for n in (ipaddress.ip_network(t) for t in allowlist))
