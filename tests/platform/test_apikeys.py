"""Organisations' API keys (issue 17): a key works within its scopes and organisation and
not beyond, from allowed addresses only; rotation keeps the old key for its overlap;
revocation is immediate; a removed creator's keys stop; the secret is not in the database;
every use is audited. On SQLite and PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.adapters.db import metadata
from corridor.platform.domain import apikeys as dom
from corridor.platform.domain.apikeys import ApiKey
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import Problems
from corridor.platform.domain.principal import Origin
from corridor.platform.services import sessions
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock
from tests.platform.wallet_fakes import make_org
from tests.platform.webhook_fakes import (
    webhook_chain,  # noqa: F401  (fixture `chain`)
    webhook_client,  # noqa: F401  (fixture `client`)
    webhook_clock,  # noqa: F401  (fixture `clock`)
    webhook_org,  # noqa: F401  (fixture `org`)
    webhook_platform,  # noqa: F401  (fixture `platform`)
)

SERVER_IP = "203.0.113.7"
PAYMENT = {"recipient": {"type": "user", "email": "dave@example.com"}, "asset": "USD",
           "amount": "10"}


@pytest.fixture
def server(platform: bootstrap.Platform) -> Iterator[TestClient]:
    """The organisation's server, calling from a public address."""
    with TestClient(create_app(platform), client=(SERVER_IP, 40000)) as c:
        yield c


def make_key(client: TestClient, who: Actor, org: str, **body: Any) -> Any:
    doc = {"name": "payroll server", "scopes": ["read", "pay-initiate"], **body}
    return client.post(f"/v1/orgs/{org}/api-keys", headers=who.creating, json=doc)


def bearer(token: str, idem: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **({"Idempotency-Key": idem} if idem else {})}


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def test_a_key_works_within_its_scopes_and_not_beyond(
        client: TestClient, server: TestClient, platform: bootstrap.Platform,
        customer: Actor, other_customer: Actor, org: str) -> None:
    read = make_key(client, customer, org, scopes=["read"])
    assert read.status_code == 201, read.text
    token = read.json()["token"]
    assert token.startswith("cor_" + read.json()["prefix"] + "_")
    r = server.get(f"/v1/orgs/{org}", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert server.get(f"/v1/orgs/{org}/wallets", headers=bearer(token)).status_code == 200
    # read only: no payment
    r = server.post("/v1/payments", headers=bearer(token, "p1"), json={**PAYMENT, "org_id": org})
    assert r.status_code == 403 and code(r) == "API_KEY_SCOPE"
    # operations keys never reach, whatever their scopes: members, keys, the person's own
    for method, path in (("GET", f"/v1/orgs/{org}/members"), ("GET", f"/v1/orgs/{org}/api-keys"),
                         ("GET", "/v1/me"), ("GET", f"/v1/orgs/{org}/webhooks")):
        r = server.request(method, path, headers=bearer(token))
        assert r.status_code == 403 and code(r) == "API_KEY_ROUTE_REFUSED", path

    pay = make_key(client, customer, org, scopes=["pay-initiate", "read"]).json()["token"]
    r = server.post("/v1/payments", headers=bearer(pay, "p2"), json={**PAYMENT, "org_id": org})
    assert r.status_code == 201, r.text
    payment_id = r.json()["id"]
    assert server.get(f"/v1/payments/{payment_id}", headers=bearer(pay)).json()["id"] == payment_id
    # never the creator's own money or payments, never another organisation
    r = server.post("/v1/payments", headers=bearer(pay, "p3"), json=PAYMENT)
    assert r.status_code == 403 and code(r) == "API_KEY_SCOPE"
    assert server.get("/v1/payments", headers=bearer(pay)).status_code == 403
    other = make_org(platform, customer.user.id)
    assert server.get(f"/v1/orgs/{other}", headers=bearer(pay)).status_code == 404

    # pay-approve is never a scope; unknown scopes are refused, every problem at once
    r = make_key(client, customer, org, scopes=["pay-approve"], allowlist=["10.0.0.1/8"],
                 expires_in_days=1)
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"scopes", "allowlist"}
    # within the creator's role: an admin holds no pay.initiate, so cannot give it
    admin = make_user(platform, email="admin@example.com")
    _add_member(platform, org, admin, "admin")
    r = make_key(client, admin, org, scopes=["pay-initiate"])
    assert r.status_code == 403 and code(r) == "API_KEY_SCOPE"
    # and only owners and admins manage keys
    viewer = make_user(platform, email="viewer@example.com")
    _add_member(platform, org, viewer, "viewer")
    assert make_key(client, viewer, org, scopes=["read"]).status_code == 403
    assert make_key(client, other_customer, org, scopes=["read"]).status_code == 404
    assert client.get(f"/v1/orgs/{org}/api-keys", headers=viewer.headers).status_code == 403
    # a wrong or unknown token
    assert server.get(f"/v1/orgs/{org}", headers=bearer(token[:-2] + "xx")).status_code == 401
    assert code(server.get(f"/v1/orgs/{org}", headers=bearer("cor_nope"))) == "API_KEY_INVALID"


def test_ip_allowlist(client: TestClient, server: TestClient, platform: bootstrap.Platform,
                      customer: Actor, org: str) -> None:
    inside = make_key(client, customer, org, allowlist=["203.0.113.0/24"]).json()
    outside = make_key(client, customer, org, allowlist=["198.51.100.0/24", "2001:db8::/32"]
                       ).json()
    assert inside["allowlist"] == ["203.0.113.0/24"]
    assert server.get(f"/v1/orgs/{org}", headers=bearer(inside["token"])).status_code == 200
    r = server.get(f"/v1/orgs/{org}", headers=bearer(outside["token"]))
    assert r.status_code == 403 and code(r) == "API_KEY_IP_REFUSED"
    r = make_key(client, customer, org, allowlist=["203.0.113.1/24", "not-an-ip"])
    assert r.status_code == 422 and "allowlist" in r.json()["error"]["fields"]
    p = Problems()
    assert dom.check_allowlist(["10.0.0.5", " 10.0.0.5/32 "], p) == ("10.0.0.5/32",) and not p
    assert dom.ip_allowed(("10.0.0.0/8",), "::ffff:10.1.2.3")
    assert not dom.ip_allowed(("10.0.0.0/8",), "11.0.0.1")
    assert dom.ip_allowed((), "anything")


def test_rotation_overlap_and_immediate_revocation(
        client: TestClient, server: TestClient, platform: bootstrap.Platform, customer: Actor,
        org: str, clock: FakeClock) -> None:
    first = make_key(client, customer, org).json()
    r = client.post(f"/v1/orgs/{org}/api-keys/{first['id']}/rotate", headers=customer.creating,
                    json={"overlap_hours": 2})
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["token"] != first["token"] and second["scopes"] == first["scopes"]
    old = client.get(f"/v1/orgs/{org}/api-keys/{first['id']}", headers=customer.headers).json()
    assert (old["state"], old["rotated_to"]) == ("rotating", second["id"])
    assert old["expires_ms"] == clock.now + 2 * dom.HOUR_MS
    for token in (first["token"], second["token"]):  # both work during the overlap
        assert server.get(f"/v1/orgs/{org}", headers=bearer(token)).status_code == 200
    r = client.post(f"/v1/orgs/{org}/api-keys/{first['id']}/rotate", headers=customer.creating,
                    json={})
    assert r.status_code == 409 and code(r) == "API_KEY_NOT_LIVE"  # rotated once only
    clock.advance(2 * dom.HOUR_MS)
    assert server.get(f"/v1/orgs/{org}", headers=bearer(first["token"])).status_code == 401
    assert server.get(f"/v1/orgs/{org}", headers=bearer(second["token"])).status_code == 200

    customer = signed_in_again(platform, customer)  # the session idled out meanwhile
    r = client.post(f"/v1/orgs/{org}/api-keys/{second['id']}/revoke", headers=customer.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "revoked"
    assert server.get(f"/v1/orgs/{org}", headers=bearer(second["token"])).status_code == 401
    again = client.post(f"/v1/orgs/{org}/api-keys/{second['id']}/revoke",
                        headers=customer.headers)
    assert again.json()["revoked_ms"] == r.json()["revoked_ms"]  # revoking twice: no change


def test_a_removed_creator_takes_the_keys_rights_along(
        client: TestClient, server: TestClient, platform: bootstrap.Platform,
        customer: Actor, org: str) -> None:
    partner = make_user(platform, email="partner@example.com")
    _add_member(platform, org, partner, "owner")
    token = make_key(client, partner, org).json()["token"]
    assert server.get(f"/v1/orgs/{org}", headers=bearer(token)).status_code == 200
    # demoted to viewer: the key loses pay.initiate at once (scopes ∩ role, per request)
    r = client.patch(f"/v1/orgs/{org}/members/{partner.user.id}", headers=customer.headers,
                     json={"role": "viewer"})
    assert r.status_code == 200, r.text
    r = server.post("/v1/payments", headers=bearer(token, "x"), json={**PAYMENT, "org_id": org})
    assert r.status_code == 403
    assert client.delete(f"/v1/orgs/{org}/members/{partner.user.id}",
                         headers=customer.headers).status_code == 204
    r = server.get(f"/v1/orgs/{org}", headers=bearer(token))
    assert r.status_code == 401 and code(r) == "API_KEY_INVALID"


def test_the_secret_is_not_in_the_database_and_every_use_is_audited(
        client: TestClient, server: TestClient, platform: bootstrap.Platform,
        customer: Actor, org: str) -> None:
    made = make_key(client, customer, org, scopes=["read"], allowlist=["203.0.113.0/24"]).json()
    parts = dom.split_token(made["token"])  # (the secret may itself hold "_")
    assert parts is not None and parts[0] == made["prefix"]
    secret = parts[1]
    assert len(secret) >= 40
    # the secret is in no row of any table (the key's row, its audit entry, the
    # remembered request), while its public prefix is
    dumps = {}
    with platform.engine.connect() as conn:
        for table in metadata.sorted_tables:
            dumps[table.name] = repr(conn.execute(sa.select(table)).all())
    assert not [name for name, dump in dumps.items() if secret in dump]
    assert made["prefix"] in dumps["api_keys"]
    with platform.deps.uow() as uow:
        stored = uow.repo(ApiKey).get(made["id"])
    assert stored is not None and stored.secret_hash.startswith("h1.")
    # a retry of the creating request answers the same key, and cannot show the token
    listed = client.get(f"/v1/orgs/{org}/api-keys", headers=customer.headers).json()["items"]
    assert [k["token"] for k in listed] == [None]

    server.get(f"/v1/orgs/{org}", headers=bearer(made["token"]))
    server.get(f"/v1/orgs/{org}/wallets", headers=bearer(made["token"]))
    server.post("/v1/payments", headers=bearer(made["token"], "z"), json={**PAYMENT,
                                                                           "org_id": org})
    with TestClient(server.app, client=("198.51.100.9", 1)) as elsewhere:
        elsewhere.get(f"/v1/orgs/{org}", headers=bearer(made["token"]))
    uses = client.get(f"/v1/orgs/{org}/api-keys/{made['id']}/uses",
                      headers=customer.headers).json()["items"]
    assert [(u["action"], u["route"], u["ip"], u["refused"]) for u in reversed(uses)] == [
        ("apikey.use", "GET /v1/orgs/{org_id}", SERVER_IP, None),
        ("apikey.use", "GET /v1/orgs/{org_id}/wallets", SERVER_IP, None),
        ("apikey.use", "POST /v1/payments", SERVER_IP, None),
        ("apikey.refused", "GET /v1/orgs/{org_id}", "198.51.100.9", "API_KEY_IP_REFUSED")]
    key = client.get(f"/v1/orgs/{org}/api-keys/{made['id']}", headers=customer.headers).json()
    assert key["last_used_ip"] == SERVER_IP and key["last_used_ms"] is not None
    with platform.deps.uow() as uow:
        actions = [e.action for e in uow.repo(AuditEntry).many(object_type="organisation",
                                                               object_id=org)]
    assert "org.apikey.create" in actions


def test_creating_is_idempotent_and_bounded(client: TestClient, customer: Actor,
                                            org: str) -> None:
    headers = customer.creating
    body = {"name": "erp", "scopes": ["read"]}
    first = client.post(f"/v1/orgs/{org}/api-keys", headers=headers, json=body)
    again = client.post(f"/v1/orgs/{org}/api-keys", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["token"] and again.json()["token"] is None
    for _ in range(dom.KEYS_PER_ORG_MAX - 1):
        assert make_key(client, customer, org, scopes=["read"]).status_code == 201
    r = make_key(client, customer, org, scopes=["read"])
    assert r.status_code == 409 and code(r) == "TOO_MANY_API_KEYS"


def test_a_key_is_rate_limited(client: TestClient, server: TestClient, customer: Actor,
                               org: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dom, "REQUESTS_PER_WINDOW_MAX", 3)
    token = make_key(client, customer, org, scopes=["read"]).json()["token"]
    answers = [server.get(f"/v1/orgs/{org}", headers=bearer(token)).status_code
               for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    # another key of the same organisation has its own window
    other = make_key(client, customer, org, scopes=["read"]).json()["token"]
    assert server.get(f"/v1/orgs/{org}", headers=bearer(other)).status_code == 200


def signed_in_again(platform: bootstrap.Platform, who: Actor) -> Actor:
    with platform.deps.uow() as uow:
        token = sessions.open_session(platform.deps, uow, who.user, Origin(ip="127.0.0.1"))
        uow.commit()
    return Actor(who.user, token)


def _add_member(platform: bootstrap.Platform, org: str, who: Actor, role: str) -> None:
    from corridor.platform.domain.orgs import Membership

    deps = platform.deps
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        uow.repo(Membership).add(Membership(id=deps.rand.new_id(), org_id=org,
                                            user_id=who.user.id, role=role, department_id=None,
                                            created_ms=now, updated_ms=now))
        uow.commit()


_ = FakeChain  # the `chain` fixture's type (webhook_fakes)
