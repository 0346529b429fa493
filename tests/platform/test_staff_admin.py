"""Staff administration and staff access to organisations (A6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.identity import Session, User
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, StaffRole, UserKind, staff_allows
from corridor.platform.services import orgs, staff, wallets
from corridor.platform.services.ports import Deps, UnitOfWork
from tests.platform.conftest import Actor, give_kyc, make_staff, new_key

GOOD_PASSWORD = "a long staff passphrase"


@pytest.fixture(autouse=True)
def no_custody(monkeypatch: pytest.MonkeyPatch) -> None:
    """ensure_wallet belongs to the custody work; organisations here need none."""

    def fake(deps: Deps, uow: UnitOfWork, *, owner_type: str, owner_id: str) -> str:
        return f"wallet-{owner_id}"

    monkeypatch.setattr(wallets, "ensure_wallet", fake)


def who(actor: Actor) -> Principal:
    u = actor.user
    return Principal(user_id=u.id, kind=UserKind(u.kind),
                     staff_role=StaffRole(u.staff_role) if u.staff_role else None,
                     session_id="test", ip="10.0.0.2")


def trail(platform: bootstrap.Platform, object_id: str) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(object_id=object_id, order_by="seq")


def users(platform: bootstrap.Platform) -> tuple[list[User], int]:
    with platform.deps.uow() as uow:
        return uow.repo(User).many(), uow.repo(AuditEntry).count()


@pytest.fixture
def admin(platform: bootstrap.Platform) -> Actor:
    return make_staff(platform, StaffRole.ADMIN)


# --- staff accounts ------------------------------------------------------------------


def test_the_command_line_creates_an_active_staff_user(platform: bootstrap.Platform) -> None:
    user = staff.create_staff(platform.deps, None, email=" Grace@Corridor.Example",
                              name="Grace", password=GOOD_PASSWORD, role="compliance_officer")
    assert (user.kind, user.staff_role, user.status, user.email, user.email_verified) == (
        "staff", "compliance_officer", "active", "grace@corridor.example", True)
    assert user.password_hash != GOOD_PASSWORD
    assert platform.deps.hasher.verify(user.password_hash, GOOD_PASSWORD)
    [entry] = trail(platform, user.id)
    assert (entry.action, entry.actor_id, entry.actor_kind, entry.object_type) == (
        "staff.create", None, "system", "user")
    assert entry.after == {"email": "grace@corridor.example", "role": "compliance_officer"}


def test_bad_staff_input_reports_every_field(platform: bootstrap.Platform) -> None:
    before = users(platform)
    with pytest.raises(PlatformError) as exc:
        staff.create_staff(platform.deps, None, email="nope", name=" ", password="short",
                           role="superuser")
    assert exc.value.code == "INVALID_FIELDS"
    assert set(exc.value.fields) == {"email", "name", "password", "role"}
    assert users(platform) == before


def test_staff_emails_are_unique_across_all_users(platform: bootstrap.Platform,
                                                  admin: Actor, customer: Actor) -> None:
    for email in ("ADMIN@corridor.example", "carol@example.com"):
        with pytest.raises(PlatformError) as exc:
            staff.create_staff(platform.deps, who(admin), email=email, name="Dup",
                               password=GOOD_PASSWORD, role="auditor", idempotency_key=new_key())
        assert exc.value.code == "EMAIL_TAKEN"


def test_admin_creates_and_lists_staff_over_the_api(platform: bootstrap.Platform,
                                                    client: TestClient, admin: Actor,
                                                    customer: Actor) -> None:
    r = client.post("/v1/staff/users", headers=admin.creating,
                    json={"email": "grace@corridor.example", "name": "Grace",
                          "password": GOOD_PASSWORD, "role": "support_agent"})
    assert r.status_code == 201, r.text
    grace = r.json()
    assert (grace["email"], grace["role"], grace["status"]) == (
        "grace@corridor.example", "support_agent", "active")
    assert trail(platform, grace["id"])[0].actor_id == admin.user.id
    r = client.get("/v1/staff/users", headers=admin.headers)
    listed = r.json()["items"]
    assert [u["email"] for u in listed] == ["admin@corridor.example", "grace@corridor.example"]
    assert "password" not in r.text and customer.user.id not in r.text
    page = client.get("/v1/staff/users", headers=admin.headers,
                      params={"limit": 1, "offset": 1}).json()
    assert [u["id"] for u in page["items"]] == [grace["id"]]


@pytest.mark.parametrize("body", [
    {"email": "g@corridor.example", "name": "G", "password": "short", "role": "auditor"},
    {"email": "g@corridor.example", "name": "G", "password": GOOD_PASSWORD, "role": "god"},
    {"email": "not-an-email", "name": "G", "password": GOOD_PASSWORD, "role": "auditor"},
    {"email": "g@corridor.example", "name": "", "password": GOOD_PASSWORD, "role": "auditor"},
    {"email": "g@corridor.example", "name": "G", "password": "x" * 257, "role": "auditor"},
    {"email": "g@corridor.example", "name": "G", "password": GOOD_PASSWORD, "role": "auditor",
     "kind": "staff"},
    {"email": "g@corridor.example", "name": "G", "role": "auditor"},
])
def test_create_staff_api_rejects_bad_input(platform: bootstrap.Platform, client: TestClient,
                                            admin: Actor, body: dict[str, Any]) -> None:
    before = users(platform)
    r = client.post("/v1/staff/users", headers=admin.creating, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] in {"INVALID_REQUEST", "INVALID_FIELDS"}
    assert users(platform) == before


def test_change_a_staff_role(platform: bootstrap.Platform, client: TestClient,
                             admin: Actor, customer: Actor) -> None:
    agent = make_staff(platform, StaffRole.SUPPORT_AGENT)
    r = client.patch(f"/v1/staff/users/{agent.user.id}", headers=admin.headers,
                     json={"role": "operator"})
    assert r.status_code == 200 and r.json()["role"] == "operator"
    [entry] = trail(platform, agent.user.id)
    assert (entry.action, entry.before, entry.after) == (
        "staff.role.change", {"role": "support_agent"}, {"role": "operator"})
    # The new role takes effect on the agent's existing session.
    assert client.get("/v1/staff/orgs", headers=agent.headers).status_code == 403
    for target, body, status, code in [
        (admin.user.id, {"role": "auditor"}, 409, "CANNOT_DEMOTE_SELF"),
        (customer.user.id, {"role": "auditor"}, 404, "NOT_FOUND"),  # customers are not staff
        ("no-such-user", {"role": "auditor"}, 404, "NOT_FOUND"),
        (agent.user.id, {"role": "owner"}, 422, "INVALID_REQUEST"),
        (agent.user.id, {"role": "auditor", "status": "active"}, 422, "INVALID_REQUEST"),
    ]:
        r = client.patch(f"/v1/staff/users/{target}", headers=admin.headers, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    # An admin keeping their own role is fine.
    staff.change_staff_role(platform.deps, who(admin), admin.user.id, role="admin")


def test_disable_a_staff_user_ends_their_sessions(platform: bootstrap.Platform,
                                                  client: TestClient, admin: Actor,
                                                  customer: Actor) -> None:
    agent = make_staff(platform, StaffRole.SUPPORT_AGENT)
    assert client.get("/v1/staff/orgs", headers=agent.headers).status_code == 200
    r = client.post(f"/v1/staff/users/{agent.user.id}/disable", headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    assert client.get("/v1/staff/orgs", headers=agent.headers).status_code == 401
    with platform.deps.uow() as uow:
        assert all(s.revoked_ms is not None
                   for s in uow.repo(Session).many(user_id=agent.user.id))
    [entry] = trail(platform, agent.user.id)
    assert (entry.action, entry.actor_id, entry.after) == (
        "staff.disable", admin.user.id, {"status": "disabled", "sessions_revoked": 1})
    r = client.post(f"/v1/staff/users/{admin.user.id}/disable", headers=admin.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "CANNOT_DISABLE_SELF")
    r = client.post(f"/v1/staff/users/{customer.user.id}/disable", headers=admin.headers)
    assert r.status_code == 404
    assert client.get("/v1/orgs", headers=customer.headers).status_code == 200


# --- staff access to organisations ---------------------------------------------------


@pytest.fixture
def org(platform: bootstrap.Platform, customer: Actor) -> Organisation:
    deps = platform.deps
    give_kyc(platform, customer.user.id)  # creating an organisation needs an accepted KYC
    o = orgs.create_org(deps, who(customer), name="Acme Ltd", country="GB",
                        idempotency_key=new_key())
    orgs.create_department(deps, who(customer), o.id, name="Treasury", idempotency_key=new_key())
    return o


def test_staff_read_organisations(client: TestClient, platform: bootstrap.Platform,
                                  org: Organisation, customer: Actor) -> None:
    officer = make_staff(platform, StaffRole.COMPLIANCE_OFFICER)
    r = client.get("/v1/staff/orgs", headers=officer.headers)
    assert r.status_code == 200
    assert [(o["id"], o["role"]) for o in r.json()["items"]] == [(org.id, None)]
    r = client.get(f"/v1/staff/orgs/{org.id}", headers=officer.headers)
    assert r.status_code == 200
    detail = r.json()
    assert detail["organisation"]["name"] == "Acme Ltd"
    assert [d["name"] for d in detail["departments"]] == ["Treasury"]
    assert [(m["user_id"], m["role"]) for m in detail["members"]] == [
        (customer.user.id, "owner")]
    assert client.get("/v1/staff/orgs/nope", headers=officer.headers).status_code == 404
    assert client.get("/v1/staff/orgs", headers=officer.headers,
                      params={"limit": 0}).status_code == 422


def test_staff_suspend_and_unsuspend(client: TestClient, platform: bootstrap.Platform,
                                     org: Organisation, customer: Actor) -> None:
    operator = make_staff(platform, StaffRole.OPERATOR)
    r = client.post(f"/v1/staff/orgs/{org.id}/suspend", headers=operator.headers)
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    assert client.get(f"/v1/orgs/{org.id}", headers=customer.headers).json()["status"] == (
        "suspended")
    r = client.patch(f"/v1/orgs/{org.id}", headers=customer.headers, json={"name": "New"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ORG_SUSPENDED")
    # Suspending twice changes nothing and is not audited twice.
    client.post(f"/v1/staff/orgs/{org.id}/suspend", headers=operator.headers)
    r = client.post(f"/v1/staff/orgs/{org.id}/unsuspend", headers=operator.headers)
    assert r.json()["status"] == "active"
    entries = [e for e in trail(platform, org.id) if e.actor_kind == "staff"]
    assert [(e.action, e.actor_id, e.object_type) for e in entries] == [
        ("org.suspend", operator.user.id, "organisation"),
        ("org.unsuspend", operator.user.id, "organisation")]
    r = client.post("/v1/staff/orgs/nope/suspend", headers=operator.headers)
    assert r.status_code == 404


# --- authorisation of every endpoint -------------------------------------------------

STAFF_ENDPOINTS: list[tuple[str, str, Perm, dict[str, Any] | None]] = [
    ("POST", "/v1/staff/users", Perm.STAFF_MANAGE,
     {"email": "x@corridor.example", "name": "X", "password": GOOD_PASSWORD, "role": "admin"}),
    ("GET", "/v1/staff/users", Perm.STAFF_MANAGE, None),
    ("PATCH", "/v1/staff/users/{target}", Perm.STAFF_MANAGE, {"role": "admin"}),
    ("POST", "/v1/staff/users/{target}/disable", Perm.STAFF_MANAGE, None),
    ("GET", "/v1/staff/orgs", Perm.CUSTOMERS_READ, None),
    ("GET", "/v1/staff/orgs/{org}", Perm.CUSTOMERS_READ, None),
    ("POST", "/v1/staff/orgs/{org}/suspend", Perm.OPERATE, None),
    ("POST", "/v1/staff/orgs/{org}/unsuspend", Perm.OPERATE, None),
]


def test_every_staff_endpoint_is_authorised(platform: bootstrap.Platform, client: TestClient,
                                            org: Organisation, customer: Actor) -> None:
    target = make_staff(platform, StaffRole.AUDITOR, email="target@corridor.example")
    staff_by_role = {role: make_staff(platform, role) for role in StaffRole}
    before = users(platform), platform_orgs(platform)
    for method, template, perm, body in STAFF_ENDPOINTS:
        url = template.format(target=target.user.id, org=org.id)
        expected: list[tuple[str, dict[str, str], int]] = [
            ("anonymous", {}, 401),
            ("bad token", {"Authorization": "Bearer nope"}, 401),
            ("customer (org owner)", customer.headers, 403),
        ]
        for role, actor in staff_by_role.items():
            if not staff_allows(role, perm):
                expected.append((role.value, actor.headers, 403))
        for label, headers, status in expected:
            r = client.request(method, url, headers=headers, json=body)
            assert r.status_code == status, (method, template, label, r.text)
        # Refused before the body is looked at: no hint of what a valid request is.
        r = client.request(method, url, headers=customer.headers, json={"junk": 1})
        assert r.status_code == 403, (method, template)
    assert (users(platform), platform_orgs(platform)) == before


def test_staff_services_check_permissions_themselves(platform: bootstrap.Platform,
                                                     org: Organisation, customer: Actor) -> None:
    """The services refuse on their own, whatever the edge does (e.g. a future CLI)."""
    deps = platform.deps
    agent, operator = (who(make_staff(platform, r))
                       for r in (StaffRole.SUPPORT_AGENT, StaffRole.OPERATOR))
    attempts: list[Callable[[], object]] = [
        lambda: staff.create_staff(deps, agent, email="x@corridor.example", name="X",
                                   password=GOOD_PASSWORD, role="admin", idempotency_key=new_key()),
        lambda: staff.list_staff(deps, agent),
        lambda: staff.change_staff_role(deps, agent, agent.user_id, role="admin"),
        lambda: staff.disable_staff(deps, agent, operator.user_id),
        lambda: orgs.staff_list_orgs(deps, operator),
        lambda: orgs.staff_get_org(deps, who(customer), org.id),
        lambda: orgs.set_org_status(deps, agent, org.id, suspended=True),
    ]
    for attempt in attempts:
        with pytest.raises(PlatformError) as exc:
            attempt()
        assert exc.value.code == "FORBIDDEN"


def platform_orgs(platform: bootstrap.Platform) -> list[Organisation]:
    with platform.deps.uow() as uow:
        return uow.repo(Organisation).many()
