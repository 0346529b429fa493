"""Organisations, departments, members and the organisation audit trail (A6)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain import orgs as dom
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.orgs import Department, Membership, Organisation
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import OrgRole, Perm, StaffRole, UserKind, org_allows
from corridor.platform.services import orgs, wallets
from corridor.platform.services.ports import Deps, UnitOfWork
from tests.platform.conftest import Actor, give_kyc, keyed, make_staff, make_user, new_key

WalletCalls = list[dict[str, Any]]


@pytest.fixture(autouse=True)
def wallet_calls(monkeypatch: pytest.MonkeyPatch) -> WalletCalls:
    """ensure_wallet belongs to the custody work; here it only records its calls."""
    calls: WalletCalls = []

    def fake(deps: Deps, uow: UnitOfWork, *, owner_type: str, owner_id: str) -> str:
        calls.append({"owner_type": owner_type, "owner_id": owner_id})
        return f"wallet-{owner_id}"

    monkeypatch.setattr(wallets, "ensure_wallet", fake)
    return calls


@pytest.fixture(autouse=True)
def verified(platform: bootstrap.Platform, customer: Actor, other_customer: Actor) -> None:
    """The customers who create organisations here passed KYC (issue 14/9 needs it)."""
    give_kyc(platform, customer.user.id)
    give_kyc(platform, other_customer.user.id)


def who(actor: Actor) -> Principal:
    u = actor.user
    return Principal(user_id=u.id, kind=UserKind(u.kind),
                     staff_role=StaffRole(u.staff_role) if u.staff_role else None,
                     session_id="test", ip="10.0.0.1")


def code(exc: pytest.ExceptionInfo[PlatformError]) -> str:
    return exc.value.code


def audit_of(platform: bootstrap.Platform, org_id: str) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(object_type="organisation", object_id=org_id,
                                         order_by="seq")


def snapshot(platform: bootstrap.Platform) -> tuple[Any, ...]:
    """Everything an organisation request could change, to prove a refusal changed nothing."""
    with platform.deps.uow() as uow:
        return (uow.repo(Organisation).many(), uow.repo(Department).many(),
                uow.repo(Membership).many(), uow.repo(AuditEntry).count())


@dataclasses.dataclass
class World:
    org: Organisation
    owner: Actor
    members: dict[OrgRole, Actor]  # one member per role (the owner under OWNER)
    dept: Department
    outsider: Actor  # a customer in no organisation
    other_owner: Actor  # owner of a different organisation
    staff: Actor


@pytest.fixture
def world(platform: bootstrap.Platform, customer: Actor, other_customer: Actor) -> World:
    deps = platform.deps
    org = orgs.create_org(deps, who(customer), name="Acme Payments Ltd", country="GB",
                          idempotency_key=new_key())
    dept = orgs.create_department(deps, who(customer), org.id, name="Treasury",
                                  idempotency_key=new_key())
    members = {OrgRole.OWNER: customer}
    for role in OrgRole:
        if role is OrgRole.OWNER:
            continue
        actor = make_user(platform, email=f"{role.value}@acme.example", name=f"Acme {role}")
        orgs.add_member(deps, who(customer), org.id, email=actor.user.email or "",
                        role=role.value, idempotency_key=new_key())
        members[role] = actor
    outsider = make_user(platform, email="eve@example.com", name="Eve Outsider")
    orgs.create_org(deps, who(other_customer), name="Other Co", country="FR",
                    idempotency_key=new_key())
    return World(org=org, owner=customer, members=members, dept=dept, outsider=outsider,
                 other_owner=other_customer, staff=make_staff(platform, StaffRole.ADMIN))


# --- organisations ---------------------------------------------------------------------


def test_a_customer_creates_an_org_and_owns_it(
    platform: bootstrap.Platform, customer: Actor, wallet_calls: WalletCalls
) -> None:
    org = orgs.create_org(platform.deps, who(customer), name="  Acme   Ltd ", country="gb",
                          idempotency_key=new_key())
    assert (org.name, org.country, org.status) == ("Acme Ltd", "GB", "active")
    assert wallet_calls == []  # opened once its KYB is accepted (test_kyc_api::test_org_kyc)
    assert orgs.list_my_orgs(platform.deps, who(customer)) == [(org, OrgRole.OWNER)]
    [entry] = audit_of(platform, org.id)
    assert (entry.action, entry.actor_id, entry.ip) == ("org.create", customer.user.id,
                                                         "10.0.0.1")
    assert entry.after == {"name": "Acme Ltd", "country": "GB"}


def test_only_a_customer_with_accepted_kyc_creates_orgs(
    platform: bootstrap.Platform, client: TestClient, wallet_calls: WalletCalls
) -> None:
    """Issue 14/9: an unverified customer created 34 organisations, each a chain account."""
    unverified = make_user(platform, email="uma@example.com")
    before = snapshot(platform)
    with pytest.raises(PlatformError) as exc:
        orgs.create_org(platform.deps, who(unverified), name="Shell Co", country="GB",
                        idempotency_key=new_key())
    assert code(exc) == "KYC_REQUIRED"
    r = client.post("/v1/orgs", headers=unverified.creating,
                    json={"name": "Shell Co", "country": "GB"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "KYC_REQUIRED")
    assert snapshot(platform) == before and wallet_calls == []
    give_kyc(platform, unverified.user.id)
    orgs.create_org(platform.deps, who(unverified), name="Real Co", country="GB",
                    idempotency_key=new_key())


def test_orgs_created_are_capped_per_customer_by_settings(
    platform: bootstrap.Platform, customer: Actor
) -> None:
    deps = dataclasses.replace(platform.deps, settings=dataclasses.replace(
        platform.deps.settings, orgs_per_customer_max=2))
    first = orgs.create_org(deps, who(customer), name="Org 0", country="GB",
                            idempotency_key=new_key())
    orgs.create_org(deps, who(customer), name="Org 1", country="GB", idempotency_key=new_key())
    # Leaving an organisation does not give the room back: the cap counts creations.
    orgs.add_member(deps, who(customer), first.id, email="dave@example.com", role="owner",
                    idempotency_key=new_key())
    orgs.remove_member(deps, who(customer), first.id, customer.user.id)
    before = snapshot(platform)
    with pytest.raises(PlatformError) as exc:
        orgs.create_org(deps, who(customer), name="One too many", country="GB",
                        idempotency_key=new_key())
    assert code(exc) == "ORGS_LIMIT"
    assert snapshot(platform) == before


def test_bad_org_input_reports_every_field_and_creates_nothing(
    platform: bootstrap.Platform, customer: Actor, wallet_calls: WalletCalls
) -> None:
    before = snapshot(platform)
    for name, country in [("   ", "ZZ"), ("x" * 201, "AC"), ("", "G")]:
        with pytest.raises(PlatformError) as exc:
            orgs.create_org(platform.deps, who(customer), name=name, country=country,
                            idempotency_key=new_key())
        assert code(exc) == "INVALID_FIELDS"
        assert set(exc.value.fields) == {"name", "country"}
    assert snapshot(platform) == before and wallet_calls == []


def test_staff_cannot_create_orgs(platform: bootstrap.Platform, client: TestClient) -> None:
    admin = make_staff(platform, StaffRole.ADMIN)
    with pytest.raises(PlatformError) as exc:
        orgs.create_org(platform.deps, who(admin), name="Inside job", country="GB",
                        idempotency_key=new_key())
    assert code(exc) == "FORBIDDEN"
    r = client.post("/v1/orgs", headers=admin.creating, json={"name": "X", "country": "GB"})
    assert r.status_code == 403
    assert client.get("/v1/orgs", headers=admin.headers).json() == {"items": []}


def test_orgs_are_bounded_per_user(
    platform: bootstrap.Platform, customer: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dom, "ORGS_PER_USER_MAX", 2)
    for n in range(2):
        orgs.create_org(platform.deps, who(customer), name=f"Org {n}", country="GB",
                        idempotency_key=new_key())
    with pytest.raises(PlatformError) as exc:
        orgs.create_org(platform.deps, who(customer), name="One too many", country="GB",
                        idempotency_key=new_key())
    assert code(exc) == "ORGS_LIMIT"


def test_org_api_create_list_get_rename(client: TestClient, customer: Actor,
                                        other_customer: Actor) -> None:
    r = client.post("/v1/orgs", headers=customer.creating,
                    json={"name": "Acme Ltd", "country": "NG"})
    assert r.status_code == 201, r.text
    org = r.json()
    assert (org["name"], org["country"], org["role"], org["status"]) == (
        "Acme Ltd", "NG", "owner", "active")
    assert client.get("/v1/orgs", headers=customer.headers).json()["items"] == [org]
    assert client.get("/v1/orgs", headers=other_customer.headers).json()["items"] == []
    assert client.get(f"/v1/orgs/{org['id']}", headers=customer.headers).json() == org
    r = client.patch(f"/v1/orgs/{org['id']}", headers=customer.headers, json={"name": "Acme"})
    assert r.status_code == 200 and r.json()["name"] == "Acme"


@pytest.mark.parametrize("body", [
    {"name": "Acme", "country": "ZZ"},
    {"name": "Acme", "country": "GBR"},
    {"name": "", "country": "GB"},
    {"name": "x" * 201, "country": "GB"},
    {"name": "Acme"},
    {"name": "Acme", "country": "GB", "status": "active"},
    {"name": 5, "country": "GB"},
])
def test_org_api_rejects_bad_input(platform: bootstrap.Platform, client: TestClient,
                                   customer: Actor, body: dict[str, Any]) -> None:
    before = snapshot(platform)
    r = client.post("/v1/orgs", headers=customer.creating, json=body)
    assert r.status_code == 422
    assert r.json()["error"]["code"] in {"INVALID_REQUEST", "INVALID_FIELDS"}
    assert snapshot(platform) == before


def test_rename_rules(platform: bootstrap.Platform, world: World) -> None:
    deps, org = platform.deps, world.org
    renamed = orgs.rename_org(deps, who(world.members[OrgRole.ADMIN]), org.id, name="Acme Plc")
    assert renamed.name == "Acme Plc"
    assert audit_of(platform, org.id)[-1].before == {"name": "Acme Payments Ltd"}
    with pytest.raises(PlatformError) as exc:
        orgs.rename_org(deps, who(world.owner), org.id, name=" ")
    assert code(exc) == "INVALID_FIELDS"
    with pytest.raises(PlatformError) as exc:
        orgs.rename_org(deps, who(world.members[OrgRole.VIEWER]), org.id, name="Mine")
    assert code(exc) == "FORBIDDEN"
    with pytest.raises(PlatformError) as exc:
        orgs.rename_org(deps, who(world.outsider), org.id, name="Mine")
    assert code(exc) == "NOT_FOUND"


# --- departments -----------------------------------------------------------------------


def test_departments_create_list_delete(platform: bootstrap.Platform, world: World,
                                        client: TestClient) -> None:
    url = f"/v1/orgs/{world.org.id}/departments"
    h = world.owner.headers
    r = client.post(url, headers=keyed(h), json={"name": "  Accounts  payable "})
    assert r.status_code == 201, r.text
    dept = r.json()
    assert dept["name"] == "Accounts payable"
    names = [d["name"] for d in client.get(url, headers=world.members[OrgRole.VIEWER].headers)
             .json()["items"]]
    assert names == ["Accounts payable", "Treasury"]
    again = client.post(url, headers=keyed(h), json={"name": "Treasury"})
    assert again.json()["error"]["code"] == "DEPARTMENT_EXISTS"
    assert client.delete(f"{url}/{dept['id']}", headers=h).status_code == 204
    assert client.delete(f"{url}/{dept['id']}", headers=h).status_code == 404
    actions = [e.action for e in audit_of(platform, world.org.id)]
    assert actions[-2:] == ["org.department.create", "org.department.delete"]


def test_a_department_with_members_cannot_be_deleted(platform: bootstrap.Platform,
                                                     world: World) -> None:
    deps, org = platform.deps, world.org
    viewer = world.members[OrgRole.VIEWER]
    orgs.change_member(deps, who(world.owner), org.id, viewer.user.id,
                       department_id=world.dept.id)
    with pytest.raises(PlatformError) as exc:
        orgs.delete_department(deps, who(world.owner), org.id, world.dept.id)
    assert code(exc) == "DEPARTMENT_IN_USE"
    orgs.change_member(deps, who(world.owner), org.id, viewer.user.id, department_id=None)
    orgs.delete_department(deps, who(world.owner), org.id, world.dept.id)
    assert orgs.list_departments(deps, who(world.owner), org.id) == []


def test_departments_are_bounded_and_scoped(platform: bootstrap.Platform, world: World,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    deps = platform.deps
    monkeypatch.setattr(dom, "DEPARTMENTS_MAX", 2)
    orgs.create_department(deps, who(world.owner), world.org.id, name="Ops",
                           idempotency_key=new_key())
    with pytest.raises(PlatformError) as exc:
        orgs.create_department(deps, who(world.owner), world.org.id, name="Legal",
                               idempotency_key=new_key())
    assert code(exc) == "DEPARTMENTS_LIMIT"
    # Another organisation's department is invisible from here.
    [(other, _)] = orgs.list_my_orgs(deps, who(world.other_owner))
    theirs = orgs.create_department(deps, who(world.other_owner), other.id, name="Theirs",
                                    idempotency_key=new_key())
    with pytest.raises(PlatformError) as exc:
        orgs.delete_department(deps, who(world.owner), world.org.id, theirs.id)
    assert code(exc) == "NOT_FOUND"
    with pytest.raises(PlatformError) as exc:
        orgs.create_department(deps, who(world.owner), world.org.id, name="",
                               idempotency_key=new_key())
    assert code(exc) == "INVALID_FIELDS"


# --- members ---------------------------------------------------------------------------


def test_add_member_by_email_with_role_and_department(platform: bootstrap.Platform,
                                                      world: World, client: TestClient) -> None:
    frank = make_user(platform, email="frank@example.com", name="Frank")
    r = client.post(f"/v1/orgs/{world.org.id}/members", headers=world.owner.creating,
                    json={"email": "Frank@Example.com", "role": "initiator",
                          "department_id": world.dept.id})
    assert r.status_code == 201, r.text
    assert r.json() | {"created_ms": 0} == {
        "user_id": frank.user.id, "name": "Frank", "email": "frank@example.com",
        "role": "initiator", "department_id": world.dept.id, "created_ms": 0}
    [(org, role)] = orgs.list_my_orgs(platform.deps, who(frank))
    assert (org.id, role) == (world.org.id, OrgRole.INITIATOR)
    entry = audit_of(platform, world.org.id)[-1]
    assert (entry.action, entry.actor_id) == ("org.member.add", world.owner.user.id)
    assert entry.after == {"user_id": frank.user.id, "role": "initiator",
                           "department_id": world.dept.id}


def test_add_member_refusals(platform: bootstrap.Platform, world: World) -> None:
    deps, org_id = platform.deps, world.org.id
    admin = who(world.members[OrgRole.ADMIN])
    frank = make_user(platform, email="frank@example.com")
    make_staff(platform, StaffRole.SUPPORT_AGENT, email="agent@corridor.example")
    cases = [
        (admin, "frank@example.com", "owner", None, "FORBIDDEN"),  # only owners make owners
        (admin, "nobody@example.com", "viewer", None, "USER_NOT_FOUND"),
        (admin, "agent@corridor.example", "viewer", None, "USER_NOT_FOUND"),  # staff: never
        (admin, "viewer@acme.example", "viewer", None, "ALREADY_MEMBER"),
        (admin, "frank@example.com", "viewer", "no-such-dept", "UNKNOWN_DEPARTMENT"),
        (admin, "frank@example.com", "superuser", None, "INVALID_ROLE"),
        (admin, "not an e-mail", "viewer", None, "INVALID_EMAIL"),
        (who(world.members[OrgRole.VIEWER]), "frank@example.com", "viewer", None, "FORBIDDEN"),
        (who(world.outsider), "frank@example.com", "viewer", None, "NOT_FOUND"),
    ]
    before = snapshot(platform)
    for caller, email, role, dept, expected in cases:
        with pytest.raises(PlatformError) as exc:
            orgs.add_member(deps, caller, org_id, email=email, role=role, department_id=dept,
                            idempotency_key=new_key())
        assert code(exc) == expected, (email, role, dept)
    assert snapshot(platform) == before
    assert orgs.add_member(deps, admin, org_id, email="frank@example.com",
                           role="admin",
                           idempotency_key=new_key()).membership.user_id == frank.user.id


def test_a_disabled_customer_cannot_be_added(platform: bootstrap.Platform, world: World) -> None:
    from corridor.platform.domain.identity import User

    frank = make_user(platform, email="frank@example.com")
    with platform.deps.uow() as uow:
        uow.repo(User).update(dataclasses.replace(frank.user, status="disabled"))
        uow.commit()
    with pytest.raises(PlatformError) as exc:
        orgs.add_member(platform.deps, who(world.owner), world.org.id,
                        email="frank@example.com", role="viewer", idempotency_key=new_key())
    assert code(exc) == "USER_NOT_FOUND"


def test_members_are_bounded(platform: bootstrap.Platform, world: World,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    make_user(platform, email="frank@example.com")
    monkeypatch.setattr(dom, "MEMBERS_MAX", len(OrgRole))
    with pytest.raises(PlatformError) as exc:
        orgs.add_member(platform.deps, who(world.owner), world.org.id,
                        email="frank@example.com", role="viewer", idempotency_key=new_key())
    assert code(exc) == "MEMBERS_LIMIT"


def test_members_list_is_paged(world: World, client: TestClient) -> None:
    url = f"/v1/orgs/{world.org.id}/members"
    h = world.members[OrgRole.VIEWER].headers
    page = client.get(url, headers=h, params={"limit": 4}).json()
    rest = client.get(url, headers=h, params={"limit": 4, "offset": 4}).json()
    assert page["total"] == rest["total"] == len(OrgRole)
    ids = [m["user_id"] for m in page["items"] + rest["items"]]
    assert len(page["items"]) == 4 and len(set(ids)) == len(OrgRole)
    assert ids[0] == world.owner.user.id
    assert "password_hash" not in str(page)
    for params in ({"limit": 0}, {"limit": dom.MEMBERS_PAGE_MAX + 1}, {"offset": -1}):
        r = client.get(url, headers=h, params=params)
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"


def test_change_member_role_and_department(platform: bootstrap.Platform, world: World,
                                           client: TestClient) -> None:
    target = world.members[OrgRole.VIEWER].user.id
    url = f"/v1/orgs/{world.org.id}/members/{target}"
    h = world.members[OrgRole.ADMIN].headers
    r = client.patch(url, headers=h, json={"role": "approver", "department_id": world.dept.id})
    assert r.status_code == 200, r.text
    assert (r.json()["role"], r.json()["department_id"]) == ("approver", world.dept.id)
    r = client.patch(url, headers=h, json={"role": "initiator"})  # department kept
    assert (r.json()["role"], r.json()["department_id"]) == ("initiator", world.dept.id)
    r = client.patch(url, headers=h, json={"department_id": None})  # department cleared
    assert (r.json()["role"], r.json()["department_id"]) == ("initiator", None)
    changes = [e for e in audit_of(platform, world.org.id) if e.action == "org.member.change"]
    assert len(changes) == 3
    assert changes[0].before == {"user_id": target, "role": "viewer", "department_id": None}
    for body in ({"role": "boss"}, {"role": "viewer", "extra": 1},
                 {"department_id": "x" * 65}):
        r = client.patch(url, headers=h, json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"


def test_grant_rules_on_change(platform: bootstrap.Platform, world: World) -> None:
    deps, org_id = platform.deps, world.org.id
    admin = world.members[OrgRole.ADMIN]
    viewer = world.members[OrgRole.VIEWER]
    cases = [
        (admin, world.owner.user.id, "viewer", "FORBIDDEN"),  # an admin cannot touch an owner
        (admin, viewer.user.id, "owner", "FORBIDDEN"),  # nor make one
        (admin, admin.user.id, "owner", "FORBIDDEN"),  # nor become one
        (world.owner, world.owner.user.id, "admin", "LAST_OWNER"),
        (world.members[OrgRole.AUDITOR], viewer.user.id, "auditor", "FORBIDDEN"),
        (world.outsider, viewer.user.id, "viewer", "NOT_FOUND"),
        (world.owner, world.outsider.user.id, "viewer", "NOT_FOUND"),  # not a member
        (world.owner, viewer.user.id, "root", "INVALID_ROLE"),
    ]
    before = snapshot(platform)
    for caller, target, role, expected in cases:
        with pytest.raises(PlatformError) as exc:
            orgs.change_member(deps, who(caller), org_id, target, role=role)
        assert code(exc) == expected, (caller.user.email, role)
    with pytest.raises(PlatformError) as exc:
        orgs.change_member(deps, who(world.owner), org_id, viewer.user.id,
                           department_id="elsewhere")
    assert code(exc) == "UNKNOWN_DEPARTMENT"
    assert snapshot(platform) == before
    # With a second owner, the first may step down.
    orgs.change_member(deps, who(world.owner), org_id, admin.user.id, role="owner")
    orgs.change_member(deps, who(world.owner), org_id, world.owner.user.id, role="viewer")
    assert orgs.get_org(deps, who(world.owner), org_id)[1] is OrgRole.VIEWER


def test_remove_and_leave(platform: bootstrap.Platform, world: World, client: TestClient) -> None:
    org_id = world.org.id
    admin = world.members[OrgRole.ADMIN]
    viewer = world.members[OrgRole.VIEWER]
    approver = world.members[OrgRole.APPROVER]
    url = f"/v1/orgs/{org_id}/members"

    def error(r: Any) -> str:
        return str(r.json()["error"]["code"])

    assert error(client.delete(f"{url}/{world.owner.user.id}", headers=admin.headers)) == (
        "FORBIDDEN")
    assert error(client.delete(f"{url}/{approver.user.id}", headers=viewer.headers)) == (
        "FORBIDDEN")
    r = client.delete(f"{url}/{world.owner.user.id}", headers=world.owner.headers)
    assert (r.status_code, error(r)) == (409, "LAST_OWNER")
    assert client.delete(f"{url}/{approver.user.id}", headers=admin.headers).status_code == 204
    assert client.delete(f"{url}/{viewer.user.id}", headers=viewer.headers).status_code == 204
    assert client.get(f"/v1/orgs/{org_id}", headers=viewer.headers).status_code == 404
    assert client.delete(f"{url}/{viewer.user.id}", headers=admin.headers).status_code == 404
    trail = audit_of(platform, org_id)[-2:]
    assert [(e.action, e.actor_id) for e in trail] == [
        ("org.member.remove", admin.user.id), ("org.member.leave", viewer.user.id)]
    assert trail[0].before == {"user_id": approver.user.id, "role": "approver",
                               "department_id": None}


def test_an_owner_may_leave_when_another_owner_remains(platform: bootstrap.Platform,
                                                       world: World) -> None:
    deps, org_id = platform.deps, world.org.id
    admin = world.members[OrgRole.ADMIN]
    orgs.change_member(deps, who(world.owner), org_id, admin.user.id, role="owner")
    orgs.remove_member(deps, who(world.owner), org_id, world.owner.user.id)
    assert orgs.list_my_orgs(deps, who(world.owner)) == []
    with pytest.raises(PlatformError) as exc:
        orgs.remove_member(deps, who(admin), org_id, admin.user.id)
    assert code(exc) == "LAST_OWNER"


# --- the audit trail -------------------------------------------------------------------


def test_org_audit_trail_is_newest_first_and_paged(platform: bootstrap.Platform, world: World,
                                                   client: TestClient) -> None:
    url = f"/v1/orgs/{world.org.id}/audit"
    auditor = world.members[OrgRole.AUDITOR]
    r = client.get(url, headers=auditor.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    seqs = [e["seq"] for e in items]
    assert seqs == sorted(seqs, reverse=True)
    assert [e["action"] for e in reversed(items)] == (
        ["org.create", "org.department.create"] + ["org.member.add"] * (len(OrgRole) - 1))
    page = client.get(url, headers=auditor.headers, params={"limit": 2, "offset": 1}).json()
    assert [e["seq"] for e in page["items"]] == seqs[1:3]
    # Another organisation's actions never appear here.
    assert all(e["actor_id"] != world.other_owner.user.id for e in items)
    assert client.get(url, headers=auditor.headers,
                      params={"limit": dom.AUDIT_PAGE_MAX + 1}).status_code == 422


def test_staff_actions_show_in_the_trail_without_naming_the_employee(
    platform: bootstrap.Platform, world: World
) -> None:
    operator = make_staff(platform, StaffRole.OPERATOR)
    orgs.set_org_status(platform.deps, who(operator), world.org.id, suspended=True)
    [latest, *_] = orgs.org_audit(platform.deps, who(world.owner), world.org.id)
    assert (latest.action, latest.actor_kind, latest.actor_id, latest.ip) == (
        "org.suspend", "staff", None, "")
    assert audit_of(platform, world.org.id)[-1].actor_id == operator.user.id  # kept in full


def test_a_suspended_org_is_frozen_except_removals(platform: bootstrap.Platform,
                                                   world: World) -> None:
    deps, org_id, owner = platform.deps, world.org.id, who(world.owner)
    operator = who(make_staff(platform, StaffRole.OPERATOR))
    orgs.set_org_status(deps, operator, org_id, suspended=True)
    make_user(platform, email="frank@example.com")
    attempts: list[Callable[[], object]] = [
        lambda: orgs.rename_org(deps, owner, org_id, name="New"),
        lambda: orgs.create_department(deps, owner, org_id, name="Ops", idempotency_key=new_key()),
        lambda: orgs.add_member(deps, owner, org_id, email="frank@example.com", role="viewer",
                                idempotency_key=new_key()),
        lambda: orgs.change_member(deps, owner, org_id, world.members[OrgRole.VIEWER].user.id,
                                   role="admin"),
    ]
    for attempt in attempts:
        with pytest.raises(PlatformError) as exc:
            attempt()
        assert code(exc) == "ORG_SUSPENDED"
    orgs.remove_member(deps, owner, org_id, world.members[OrgRole.VIEWER].user.id)
    orgs.set_org_status(deps, operator, org_id, suspended=False)
    assert orgs.rename_org(deps, owner, org_id, name="New").name == "New"


# --- authorisation of every endpoint ---------------------------------------------------

ORG_ENDPOINTS: list[tuple[str, str, Perm, dict[str, Any] | None]] = [
    ("GET", "/v1/orgs/{org}", Perm.ORG_READ, None),
    ("PATCH", "/v1/orgs/{org}", Perm.ORG_MANAGE, {"name": "Taken"}),
    ("GET", "/v1/orgs/{org}/departments", Perm.ORG_READ, None),
    ("POST", "/v1/orgs/{org}/departments", Perm.ORG_MANAGE, {"name": "Shadow"}),
    ("DELETE", "/v1/orgs/{org}/departments/{dept}", Perm.ORG_MANAGE, None),
    ("GET", "/v1/orgs/{org}/members", Perm.ORG_READ, None),
    ("POST", "/v1/orgs/{org}/members", Perm.ORG_MEMBERS,
     {"email": "eve@example.com", "role": "viewer"}),
    ("PATCH", "/v1/orgs/{org}/members/{target}", Perm.ORG_MEMBERS, {"role": "auditor"}),
    ("DELETE", "/v1/orgs/{org}/members/{target}", Perm.ORG_MEMBERS, None),
    ("GET", "/v1/orgs/{org}/audit", Perm.ORG_AUDIT, None),
]


def test_every_org_endpoint_is_authorised(platform: bootstrap.Platform, world: World,
                                          client: TestClient) -> None:
    # The target of member endpoints is a member outside the role table, so no caller's
    # request is a "leave" (which needs no more than membership).
    make_user(platform, email="target@acme.example")
    target = orgs.add_member(platform.deps, who(world.owner), world.org.id,
                             email="target@acme.example", role="viewer",
                             idempotency_key=new_key()).membership.user_id
    before = snapshot(platform)
    for method, template, perm, body in ORG_ENDPOINTS:
        url = template.format(org=world.org.id, dept=world.dept.id, target=target)
        expected: list[tuple[str, dict[str, str], int]] = [
            ("anonymous", {}, 401),
            ("bad token", {"Authorization": "Bearer nope"}, 401),
            ("outsider", world.outsider.headers, 404),
            ("other org's owner", world.other_owner.headers, 404),
            ("staff admin", world.staff.headers, 404),
        ]
        for role, actor in world.members.items():
            if not org_allows(role, perm):
                expected.append((role.value, actor.headers, 403))
        for label, headers, status in expected:
            r = client.request(method, url, headers=keyed(headers), json=body)
            assert r.status_code == status, (method, template, label, r.text)
            assert r.json()["error"]["code"] in {
                401: {"UNAUTHENTICATED", "SESSION_INVALID"}, 403: {"FORBIDDEN"},
                404: {"NOT_FOUND"}}[status]
        # An unknown organisation answers as a hidden one does.
        r = client.request(method, template.format(org="nope", dept="x", target="x"),
                           headers=world.owner.creating, json=body)
        assert r.status_code == 404, (method, template)
    assert snapshot(platform) == before


def test_org_collection_endpoints_need_a_session(client: TestClient) -> None:
    assert client.get("/v1/orgs").status_code == 401
    r = client.post("/v1/orgs", json={"name": "Acme", "country": "GB"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"


def test_audit_is_only_for_roles_with_org_audit(world: World, client: TestClient) -> None:
    url = f"/v1/orgs/{world.org.id}/audit"
    for role, actor in world.members.items():
        status = client.get(url, headers=actor.headers).status_code
        assert status == (200 if role in {OrgRole.OWNER, OrgRole.ADMIN, OrgRole.AUDITOR}
                          else 403), role
