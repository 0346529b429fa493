"""The institution console over HTTP (on both databases): a verified customer creates an
organisation and manages its name, departments, members, wallets and webhooks and reads
its audit trail; a resent form creates once; bad input is refused on the form with
nothing changed; every page and form refuses the signed-out, staff, non-members, roles
without the permission and forms without their CSRF token."""

from __future__ import annotations

import html
import re
from typing import Any

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.orgs import Department, Membership, Organisation
from corridor.platform.domain.wallets import Wallet
from corridor.platform.domain.webhooks import WebhookEndpoint
from corridor.web import security
from tests.platform.conftest import Actor, give_kyc, make_staff, make_user
from tests.web.conftest import csrf_of

HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
SESSION = security.cookie_names(production=False)[0]


def _as(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def _form(site: TestClient, path: str, **headers: str) -> dict[str, str]:
    """The CSRF token and idempotency key of the (first) creating form on `path`."""
    page = site.get(path, headers=headers)
    assert page.status_code == 200, page.text
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)
            if name in ("csrf_token", "key")}
    assert form["key"] and form["csrf_token"] == csrf_of(page.text)
    return form


def _state(platform: bootstrap.Platform) -> tuple[int, ...]:
    """How many of each record the console can make: unchanged means nothing happened."""
    with platform.deps.uow() as uow:
        return tuple(uow.repo(t).count() for t in (
            Organisation, Department, Membership, Wallet, WebhookEndpoint, AuditEntry))


def _members(platform: bootstrap.Platform, org_id: str) -> dict[str, tuple[str, Any]]:
    with platform.deps.uow() as uow:
        return {m.user_id: (m.role, m.department_id)
                for m in uow.repo(Membership).many(org_id=org_id)}


def _verified(platform: bootstrap.Platform, email: str, name: str) -> Actor:
    who = make_user(platform, email=email, name=name)
    give_kyc(platform, who.user.id)
    return who


def _org(site: TestClient, platform: bootstrap.Platform, owner: Actor) -> str:
    """An organisation `owner` created through the page."""
    _as(site, owner)
    r = site.post("/org", data={**_form(site, "/org"), "name": "Acme Payments Ltd",
                                "country": "GB"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    org_id = r.headers["location"].removeprefix("/org/")
    return org_id


def test_a_customer_creates_an_organisation_once_and_sees_it_listed(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _verified(platform, "carol@example.com", "Carol Customer")
    _as(site, carol)
    listing = site.get("/org")
    assert listing.status_code == 200 and 'href="/org"' in listing.text  # the nav link
    assert "You do not belong to any organisation yet." in listing.text
    form = _form(site, "/org")
    before = _state(platform)
    for bad, field in (({"name": "", "country": "GB"}, "name"),
                       ({"name": "Acme", "country": "ZZ"}, "country")):
        r = site.post("/org", data={**form, **bad})
        assert r.status_code == 422 and f'href="#{field}"' in r.text, r.text
        assert f'name="key" value="{form["key"]}"' in r.text  # the same form, the same key
    assert _state(platform) == before
    data = {**form, "name": "  Acme   Payments ", "country": "gb"}
    first = site.post("/org", data=data, follow_redirects=False)
    again = site.post("/org", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303, first.text
    assert first.headers["location"] == again.headers["location"]
    with platform.deps.uow() as uow:
        [org] = uow.repo(Organisation).many()
    assert (org.name, org.country) == ("Acme Payments", "GB")
    assert first.headers["location"] == f"/org/{org.id}"
    shown = site.get("/org", headers={"accept-language": "zh-CN"}).text
    assert f'data-id="{org.id}"' in shown and "所有者" in shown and "组织" in shown
    # an unverified customer is told why, on the form, and nothing is made
    _as(site, make_user(platform, email="uma@example.com"))
    r = site.post("/org", data={**_form(site, "/org"), "name": "Shell", "country": "GB"})
    assert r.status_code == 409 and "Verify your own identity before creating" in r.text
    with platform.deps.uow() as uow:
        assert uow.repo(Organisation).count() == 1


def test_the_owner_renames_and_manages_departments(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _verified(platform, "carol@example.com", "Carol Customer")
    org_id = _org(site, platform, carol)
    overview = site.get(f"/org/{org_id}", headers={"accept-language": "zh-CN"}).text
    assert "Acme Payments Ltd" in overview and "所有者" in overview
    assert f'action="/org/{org_id}/name"' in overview
    token = csrf_of(overview)
    r = site.post(f"/org/{org_id}/name", data={"csrf_token": token, "name": " "})
    assert r.status_code == 422 and 'href="#name"' in r.text
    r = site.post(f"/org/{org_id}/name", data={"csrf_token": token, "name": "Acme Ltd"},
                  follow_redirects=False)
    assert r.status_code == 303
    assert "<h1>Acme Ltd</h1>" in site.get(f"/org/{org_id}").text
    url = f"/org/{org_id}/departments"
    form = _form(site, url)
    first = site.post(url, data={**form, "name": "Treasury"}, follow_redirects=False)
    again = site.post(url, data={**form, "name": "Treasury"}, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    before = _state(platform)
    taken = site.post(url, data={**_form(site, url), "name": "Treasury"})
    assert taken.status_code == 409 and "exists already" in taken.text
    assert _state(platform) == before
    with platform.deps.uow() as uow:
        [dept] = uow.repo(Department).many(org_id=org_id)
    assert f'data-id="{dept.id}"' in site.get(url).text
    r = site.post(f"{url}/{dept.id}/delete", data={"csrf_token": form["csrf_token"]},
                  follow_redirects=False)
    assert r.status_code == 303
    with platform.deps.uow() as uow:
        assert uow.repo(Department).count(org_id=org_id) == 0
    audit = site.get(f"/org/{org_id}/audit").text
    for words in ("Organisation created", "Organisation renamed", "Department created",
                  "Department deleted"):
        assert words in audit, words
    zh = site.get(f"/org/{org_id}/audit", headers={"accept-language": "zh-CN"}).text
    assert "审计" in zh


def test_the_owner_adds_changes_and_removes_members(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _verified(platform, "carol@example.com", "Carol Customer")
    dave = make_user(platform, email="dave@example.com", name="Dave Member")
    org_id = _org(site, platform, carol)
    dept = site.post(f"/org/{org_id}/departments",
                     data={**_form(site, f"/org/{org_id}/departments"), "name": "Ops"})
    assert dept.status_code == 200
    with platform.deps.uow() as uow:
        [ops] = uow.repo(Department).many(org_id=org_id)
    url = f"/org/{org_id}/members"
    form = _form(site, url)
    before = _state(platform)
    for bad, status, words in (
            ({"email": "nobody@example.com", "role": "viewer"}, 404, "No active Corridor"),
            ({"email": "not an address", "role": "viewer"}, 422, 'href="#email"'),
            ({"email": "dave@example.com", "role": "emperor"}, 422, "roles offered"),
            ({"email": "dave@example.com", "role": "viewer", "department_id": "nope"}, 422,
             'href="#department_id"')):
        r = site.post(url, data={**form, **bad})
        assert r.status_code == status and words in r.text, (bad, r.text)
    assert _state(platform) == before
    data = {**form, "email": "Dave@Example.com", "role": "initiator", "department_id": ops.id}
    first = site.post(url, data=data, follow_redirects=False)
    again = site.post(url, data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert _members(platform, org_id)[dave.user.id] == ("initiator", ops.id)
    shown = site.get(url).text
    assert f'data-user="{dave.user.id}"' in shown and "Initiator" in shown
    r = site.post(f"{url}/{dave.user.id}/change",
                  data={"csrf_token": form["csrf_token"], "role": "approver",
                        "department_id": ""}, follow_redirects=False)
    assert r.status_code == 303
    assert _members(platform, org_id)[dave.user.id] == ("approver", None)
    # the last owner cannot leave: told on the page, nothing changed
    before = _state(platform)
    r = site.post(f"{url}/{carol.user.id}/remove", data={"csrf_token": form["csrf_token"]})
    assert r.status_code == 409 and "must keep an owner" in r.text
    assert _state(platform) == before
    r = site.post(f"{url}/{dave.user.id}/remove", data={"csrf_token": form["csrf_token"]},
                  follow_redirects=False)
    assert r.status_code == 303 and dave.user.id not in _members(platform, org_id)
    audit = site.get(f"/org/{org_id}/audit").text
    assert "Member added" in audit and "Member removed" in audit
    assert "<td>Carol Customer</td>" in audit  # the actor, by name


def test_wallets_and_webhooks(site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _verified(platform, "carol@example.com", "Carol Customer")
    org_id = _org(site, platform, carol)
    url = f"/org/{org_id}/wallets"
    form = _form(site, url)
    before = _state(platform)
    r = site.post(url, data={**form, "label": "payouts"})  # no business verification yet
    assert r.status_code == 409 and "business verification" in r.text
    assert _state(platform) == before
    give_kyc(platform, org_id, tier=3, subject_type="org")
    r = site.post(url, data={**form, "label": ""})
    assert r.status_code == 422 and 'href="#label"' in r.text
    first = site.post(url, data={**form, "label": "payouts"}, follow_redirects=False)
    again = site.post(url, data={**form, "label": "payouts"}, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    with platform.deps.uow() as uow:
        [wallet] = uow.repo(Wallet).many(owner_type="org", owner_id=org_id)
    assert wallet.label == "payouts"
    for path in (url, f"/org/{org_id}"):
        assert wallet.address in site.get(path).text, path
    hooks = f"/org/{org_id}/webhooks"
    form = _form(site, hooks)
    before = _state(platform)
    for bad in ("ftp://hooks.example", "https://127.0.0.1/x"):
        r = site.post(hooks, data={**form, "url": bad})
        assert r.status_code == 422 and 'href="#url"' in r.text, bad
    assert _state(platform) == before
    data = {**form, "url": "https://hooks.example/corridor"}
    first = site.post(hooks, data=data)
    again = site.post(hooks, data=data)  # a resent form: the same registration, same secret
    assert first.status_code == again.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9_-]+", first.text)
    assert secret and secret.group(0) in again.text
    with platform.deps.uow() as uow:
        assert uow.repo(WebhookEndpoint).count(org_id=org_id) == 1
    listed = site.get(hooks).text
    assert "https://hooks.example/corridor" in listed and "whsec_" not in listed


def test_each_role_gets_only_what_it_may_use(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _verified(platform, "carol@example.com", "Carol Customer")
    org_id = _org(site, platform, carol)
    roles = {}
    for role in ("admin", "viewer", "auditor"):
        roles[role] = make_user(platform, email=f"{role}@example.com", name=f"A {role}")
        r = site.post(f"/org/{org_id}/members", data={
            **_form(site, f"/org/{org_id}/members"), "email": f"{role}@example.com",
            "role": role}, follow_redirects=False)
        assert r.status_code == 303
    writes: list[tuple[str, dict[str, str]]] = [
        (f"/org/{org_id}/name", {"name": "Taken over"}),
        (f"/org/{org_id}/departments", {"name": "Shadow", "key": "k1"}),
        (f"/org/{org_id}/members", {"email": "viewer@example.com", "role": "owner",
                                     "key": "k2"}),
        (f"/org/{org_id}/members/{carol.user.id}/change", {"role": "viewer"}),
        (f"/org/{org_id}/members/{carol.user.id}/remove", {}),
        (f"/org/{org_id}/wallets", {"label": "mine", "key": "k3"}),
        (f"/org/{org_id}/webhooks", {"url": "https://evil.example", "key": "k4"}),
    ]
    before = _state(platform)

    def refused(who: Actor, pages: list[str], forms: list[str], status: int) -> None:
        _as(site, who)
        token = csrf_of(site.get("/").text)
        code = "FORBIDDEN" if status == 403 else "NOT_FOUND"
        for path in pages:
            r = site.get(path)
            assert r.status_code == status and f'data-code="{code}"' in r.text, path
        for path, data in writes:
            if path in forms:
                r = site.post(path, data={**data, "csrf_token": token})
                assert r.status_code == status and f'data-code="{code}"' in r.text, path
        if status == 403:
            assert "Your role in this organisation does not allow this." in r.text

    # a viewer reads but changes nothing, and sees no form it may not use
    viewer = roles["viewer"]
    _as(site, viewer)
    overview = site.get(f"/org/{org_id}").text
    assert 'action="/org/' not in overview and f'/org/{org_id}/webhooks' not in overview
    assert "/change" not in site.get(f"/org/{org_id}/members").text
    refused(viewer, [f"/org/{org_id}/webhooks", f"/org/{org_id}/audit"],
            [p for p, _ in writes if not p.endswith("/remove")], 403)
    # an auditor reads the trail; an admin manages all but owners
    _as(site, roles["auditor"])
    assert site.get(f"/org/{org_id}/audit").status_code == 200
    admin = roles["admin"]
    refused(admin, [], [f"/org/{org_id}/members",
                        f"/org/{org_id}/members/{carol.user.id}/change",
                        f"/org/{org_id}/members/{carol.user.id}/remove"], 403)
    shown = site.get(f"/org/{org_id}/members").text
    assert f'/members/{carol.user.id}/change' not in shown
    assert 'value="owner"' not in shown  # an admin cannot make owners
    # an outsider (and an unknown organisation) learns nothing
    outsider = _verified(platform, "eve@example.com", "Eve Outsider")
    pages = [f"/org/{org_id}{s}" for s in ("", "/departments", "/members", "/wallets",
                                           "/webhooks", "/audit")]
    refused(outsider, [*pages, "/org/nope"], [p for p, _ in writes], 404)
    assert f'data-id="{org_id}"' not in site.get("/org").text
    assert _state(platform) == before
    # staff use the back office, not the console; the signed-out are sent to sign in
    _as(site, make_staff(platform, "admin"))
    r = site.get("/org")
    assert r.status_code == 403 and 'href="/org"' not in r.text
    assert site.get(f"/org/{org_id}").status_code == 403
    site.cookies.clear()
    for path in ["/org", *pages]:
        r = site.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/signin?next={path}"


def test_forms_without_their_csrf_token_change_nothing(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _verified(platform, "carol@example.com", "Carol Customer")
    org_id = _org(site, platform, carol)
    form = _form(site, f"/org/{org_id}/departments")
    before = _state(platform)
    for path, data in ((f"/org/{org_id}/departments", {"name": "Forged"}),
                       (f"/org/{org_id}/name", {"name": "Forged"}),
                       ("/org", {"name": "Forged", "country": "GB"}),
                       (f"/org/{org_id}/members/{carol.user.id}/remove", {})):
        for token in (None, "", form["csrf_token"] + "x"):
            sent = {**data, "key": form["key"]}
            if token is not None:
                sent["csrf_token"] = token
            r = site.post(path, data=sent)
            assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text, (path, token)
    assert _state(platform) == before
