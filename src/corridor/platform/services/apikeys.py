"""Organisations' API keys (domain/apikeys.py): created, listed, rotated and revoked by the
organisation's owners and admins (Perm.ORG_MANAGE), and resolved to a key principal on
every request that carries one, each use audited.

A key's principal acts for its creator (`user_id`) within one organisation, with its
scopes' permissions only; services/access.require_org asks the creator's role as well on
every request, and `authenticate` refuses a key whose creator is no longer an active
member, so a key never outlives its creator's rights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from corridor.platform.domain import apikeys as dom
from corridor.platform.domain import idempotency
from corridor.platform.domain.apikeys import ApiKey
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import Err, PlatformError, Problems, not_found
from corridor.platform.domain.identity import User, UserStatus
from corridor.platform.domain.orgs import Membership
from corridor.platform.domain.principal import KeyGrant, Principal
from corridor.platform.domain.roles import ORG_PERMS, OrgRole, Perm, UserKind
from corridor.platform.services import idempotency as replay
from corridor.platform.services.access import require_org, require_person
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

USE_ACTION = "apikey.use"
REFUSED_ACTION = "apikey.refused"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Issued:
    """A key and, in the answer that made it only, its token (`cor_<prefix>_<secret>`)."""

    key: ApiKey
    token: str | None


def create(deps: Deps, who: Principal, org_id: str, *, name: str, scopes: Sequence[str],
           allowlist: Sequence[str] = (), expires_in_days: int = dom.EXPIRY_DAYS_DEFAULT,
           idempotency_key: str | None) -> Issued:
    """A new key; its token is in this answer only. A retry under the same
    Idempotency-Key answers the same key without its token (the secret is kept nowhere):
    if the first answer was lost, revoke that key or rotate it."""
    require_person(who)
    with deps.reader() as uow:  # who may, before what they sent is judged
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
    problems = Problems()
    key = idempotency.check_key(idempotency_key, problems)
    name = dom.check_name(name, problems)
    scopes_ = dom.check_scopes(scopes, problems)
    nets = dom.check_allowlist(allowlist, problems)
    days = dom.check_days(expires_in_days, problems)
    idempotency.raise_if_any(problems)
    asked = {"org_id": org_id, "name": name, "scopes": list(scopes_), "allowlist": list(nets),
             "days": days}
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        role = require_org(uow, who, org_id, Perm.ORG_MANAGE)
        first = replay.prior(uow, who.user_id, key, "apikey.create", asked)
        if first is not None:
            return Issued(key=_key(uow, org_id, first), token=None)
        _check_within_role(role, scopes_)
        live = [k for k in uow.repo(ApiKey).many(org_id=org_id, revoked_ms=None)
                if dom.live(k, now)]
        if len(live) >= dom.KEYS_PER_ORG_MAX:
            raise Err.TOO_MANY_API_KEYS.error(f"at most {dom.KEYS_PER_ORG_MAX} live keys")
        issued = _issue(deps, uow, who, org_id, name=name, scopes=scopes_, allowlist=nets,
                        expires_ms=now + days * dom.DAY_MS)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="org.apikey.create",
                  object_type="organisation", object_id=org_id, ip=who.ip,
                  after=_state(issued.key))
        replay.remember(deps, uow, who.user_id, key, "apikey.create", asked, issued.key.id)
        uow.commit()
    return issued


def list_keys(deps: Deps, who: Principal, org_id: str) -> list[ApiKey]:
    """The organisation's keys, newest first (revoked and expired ones too)."""
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        return uow.repo(ApiKey).many(org_id=org_id, order_by="created_ms", descending=True,
                                     limit=dom.LIST_MAX)


def get_key(deps: Deps, who: Principal, org_id: str, key_id: str) -> ApiKey:
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        return _key(uow, org_id, key_id)


def rotate(deps: Deps, who: Principal, org_id: str, key_id: str, *,
           overlap_hours: int = dom.OVERLAP_HOURS_DEFAULT,
           idempotency_key: str | None) -> Issued:
    """A successor with the same name, scopes, allowlist and lifetime; the old key keeps
    working for `overlap_hours` (0: stops now), so servers can switch without downtime."""
    require_person(who)
    problems = Problems()
    key = idempotency.check_key(idempotency_key, problems)
    hours = dom.check_overlap(overlap_hours, problems)
    idempotency.raise_if_any(problems)
    asked = {"org_id": org_id, "key_id": key_id, "overlap_hours": hours}
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        role = require_org(uow, who, org_id, Perm.ORG_MANAGE)
        first = replay.prior(uow, who.user_id, key, "apikey.rotate", asked)
        if first is not None:
            return Issued(key=_key(uow, org_id, first), token=None)
        old = uow.repo(ApiKey).get(key_id, for_update=True)
        if old is None or old.org_id != org_id:
            raise not_found("API key")
        if not dom.live(old, now) or old.rotated_to is not None:
            raise Err.API_KEY_NOT_LIVE.error(
                "only a live key that was not rotated yet can be rotated")
        _check_within_role(role, old.scopes)
        lifetime_ms = old.expires_ms - old.created_ms
        issued = _issue(deps, uow, who, org_id, name=old.name, scopes=old.scopes,
                        allowlist=old.allowlist, expires_ms=now + lifetime_ms)
        ended = dataclasses.replace(old, rotated_to=issued.key.id,
                                    expires_ms=min(old.expires_ms, now + hours * dom.HOUR_MS))
        uow.repo(ApiKey).update(ended)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="org.apikey.rotate",
                  object_type="organisation", object_id=org_id, ip=who.ip,
                  before=_state(old), after={**_state(issued.key),
                                             "old_valid_until_ms": ended.expires_ms})
        replay.remember(deps, uow, who.user_id, key, "apikey.rotate", asked, issued.key.id)
        uow.commit()
    return issued


def revoke(deps: Deps, who: Principal, org_id: str, key_id: str) -> ApiKey:
    """Stops a key now (the next request with it is refused). Revoking a revoked key
    changes nothing."""
    require_person(who)
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        k = uow.repo(ApiKey).get(key_id, for_update=True)
        if k is None or k.org_id != org_id:
            raise not_found("API key")
        if k.revoked_ms is not None:
            return k
        k = dataclasses.replace(k, revoked_ms=now, revoked_by=who.user_id)
        uow.repo(ApiKey).update(k)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="org.apikey.revoke",
                  object_type="organisation", object_id=org_id, ip=who.ip, after=_state(k))
        uow.commit()
    return k


def uses(deps: Deps, who: Principal, org_id: str, key_id: str, *, limit: int = 50,
         offset: int = 0) -> list[AuditEntry]:
    """The key's audited uses (and refusals), newest first: when, the route, the address."""
    limit, offset = page_bounds(limit, offset, dom.USES_PAGE_MAX)
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        _key(uow, org_id, key_id)
        return uow.repo(AuditEntry).many(object_type="api_key", object_id=key_id,
                                         order_by="seq", descending=True, limit=limit,
                                         offset=offset)


# --- authentication -----------------------------------------------------------------------


def authenticate(deps: Deps, token: str, ip: str, route: str) -> Principal:
    """The key principal behind a bearer token `cor_…` used from `ip` on `route` (e.g.
    "GET /v1/orgs/{org_id}"), or a refusal: API_KEY_INVALID (unknown, wrong secret,
    expired, revoked, or its creator no longer an active member), API_KEY_IP_REFUSED (an
    address off its allowlist). Each use, and each refusal of a known key, is audited
    against the key with its route and address; the last use is kept on the key."""
    parts = dom.split_token(token)
    if parts is None:
        raise Err.API_KEY_INVALID.error()
    now = deps.clock.now_ms()
    with deps.reader() as uow:
        k = uow.repo(ApiKey).one(prefix=parts[0])
        if k is None or not deps.sealer.keyed_hash_matches(
                k.secret_hash, parts[1], dom.secret_context(k.id)):
            raise Err.API_KEY_INVALID.error()
        refusal = _refusal(uow, k, ip, now)
    with deps.uow() as uow:
        if refusal is None:
            fresh = uow.repo(ApiKey).get(k.id, for_update=True)
            assert fresh is not None, k.id
            uow.repo(ApiKey).update(dataclasses.replace(fresh, last_used_ms=now,
                                                        last_used_ip=ip[:64]))
        uow.audit(actor_id=k.created_by, actor_kind="api_key",
                  action=USE_ACTION if refusal is None else REFUSED_ACTION,
                  object_type="api_key", object_id=k.id, ip=ip[:64],
                  after={"route": route[:200], "org_id": k.org_id,
                         **({"refused": refusal.code} if refusal is not None else {})})
        uow.commit()
    if refusal is not None:
        raise refusal
    return Principal(user_id=k.created_by, kind=UserKind.CUSTOMER, staff_role=None,
                     session_id=f"apikey:{k.id}", ip=ip,
                     key=KeyGrant(key_id=k.id, org_id=k.org_id, perms=dom.perms_of(k.scopes)))


def _refusal(uow: UnitOfWork, k: ApiKey, ip: str, now_ms: int) -> PlatformError | None:
    if not dom.live(k, now_ms):
        return Err.API_KEY_INVALID.error()
    creator = uow.repo(User).get(k.created_by)
    member = uow.repo(Membership).one(org_id=k.org_id, user_id=k.created_by)
    if creator is None or creator.status != UserStatus.ACTIVE or member is None:
        return Err.API_KEY_INVALID.error("the key's creator may no longer act for the "
                                         "organisation")
    if not dom.ip_allowed(k.allowlist, ip):
        return Err.API_KEY_IP_REFUSED.error()
    return None


# --- helpers ------------------------------------------------------------------------------


def _issue(deps: Deps, uow: UnitOfWork, who: Principal, org_id: str, *, name: str,
           scopes: tuple[str, ...], allowlist: tuple[str, ...], expires_ms: int) -> Issued:
    key_id = deps.rand.new_id()
    secret = deps.rand.token()
    prefix = _prefix(deps, uow)
    k = ApiKey(id=key_id, org_id=org_id, name=name, prefix=prefix,
               secret_hash=deps.sealer.keyed_hash(secret, dom.secret_context(key_id)),
               scopes=scopes, allowlist=allowlist, created_by=who.user_id,
               created_ms=deps.clock.now_ms(), expires_ms=expires_ms, revoked_ms=None,
               revoked_by=None, rotated_to=None, last_used_ms=None, last_used_ip=None)
    token = dom.token_of(prefix, secret)
    # Assert in pairs: the token just made splits back and verifies against its hash.
    assert dom.split_token(token) == (prefix, secret)
    assert deps.sealer.keyed_hash_matches(k.secret_hash, secret, dom.secret_context(key_id))
    uow.repo(ApiKey).add(k)
    return Issued(key=k, token=token)


def _prefix(deps: Deps, uow: UnitOfWork) -> str:
    """A fresh public prefix (48 random bits; a clash is retried, never shared)."""
    for _ in range(8):
        prefix = deps.rand.new_id().replace("-", "")[:dom.PREFIX_LEN]
        if uow.repo(ApiKey).one(prefix=prefix) is None:
            return prefix
    raise AssertionError("eight prefix clashes in a row: the random source is broken")


def _check_within_role(role: OrgRole, scopes: Sequence[str]) -> None:
    beyond = [s for s in scopes if not dom.perms_of((s,)) <= ORG_PERMS[role]]
    if beyond:
        message = f"the {role.value} role does not hold: {', '.join(beyond)}"
        raise Err.API_KEY_SCOPE.error(message, {"scopes": message})


def _key(uow: UnitOfWork, org_id: str, key_id: str) -> ApiKey:
    k = uow.repo(ApiKey).get(key_id) if len(key_id) <= 64 else None
    if k is None or k.org_id != org_id:
        raise not_found("API key")
    return k


def _state(k: ApiKey) -> dict[str, object]:
    return {"key_id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes),
            "allowlist": list(k.allowlist), "expires_ms": k.expires_ms}
