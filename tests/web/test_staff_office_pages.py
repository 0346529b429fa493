"""The back office's operations pages over HTTP (on both databases): the dashboard with
its charts and the same figures as GET /v1/staff/dashboard, the audit log with filters,
paging and chain verification, the customer lookup (each view audited, also through the
API) and staff administration (create with a one-time password, change role, disable);
the role matrix of every page and form, and forms without their CSRF token."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.identity import User
from corridor.platform.services import audit as audit_service
from corridor.web import security
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.payment_records import make_payment, make_wallet
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
ZH = {"accept-language": "zh-CN"}


def _as(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def _audit(platform: bootstrap.Platform, action: str) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(action=action)


def _user(platform: bootstrap.Platform, user_id: str) -> User:
    with platform.deps.uow() as uow:
        u = uow.repo(User).get(user_id)
    assert u is not None
    return u


def test_the_dashboard_shows_figures_charts_and_the_api_the_same(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    w = make_wallet(platform, carol.user.id)
    make_payment(platform, w)  # credited, 101.50 USD
    make_payment(platform, w, status="failed", sell_amount_minor=2_000)
    operator = make_staff(platform, "operator")
    _as(site, operator)
    page = site.get("/staff/dashboard")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'data-figure="payments">2<' in text and 'data-figure="success-rate">50.0%<' in text
    assert '<svg class="bars"' in text and 'role="img"' in text
    assert '<title id="payments-per-day-title">' in text and '<desc id="amount-USD-desc">' in text
    assert text.count('<details class="chart-data"') == 3  # per day, USD, queues
    assert "$121.50" in text  # the day's USD amount, formatted for the locale
    assert "US$121.50" in site.get("/staff/dashboard", headers=ZH).text
    week = site.get("/staff/dashboard", params={"days": 7}).text
    assert week.count('<tr><th scope="row">') == 7 + 7 + 5  # per day, USD per day, queues
    assert '<option value="7" selected>' in week
    assert site.get("/staff/dashboard", params={"days": 91}).status_code == 422
    api = site.get("/v1/staff/dashboard", headers=operator.headers).json()
    assert (api["payments"], api["succeeded"], api["failed"], api["success_rate"]) == (
        2, 1, 1, "50.0")
    assert api["queues"]["overdue_cases"] == 0
    assert [v["amount_minor"] for v in api["volumes"] if v["count"]] == ["12150"]
    # the navigation offers the operator only what the role may open
    nav = re.search(r'<nav class="staff-nav".*?</nav>', text, re.S)
    assert nav is not None
    assert re.findall(r'href="(/staff[^"]*)"', nav.group(0)) == ["/staff", "/staff/dashboard"]


def test_the_audit_log_filters_pages_and_verifies_its_chain(
        site: TestClient, platform: bootstrap.Platform) -> None:
    auditor = make_staff(platform, "auditor")
    admin = make_staff(platform, "admin")
    carol = make_user(platform, email="carol@example.com")
    _as(site, admin)
    for _ in range(3):  # three audited customer views by the admin
        assert site.get(f"/staff/customers/{carol.user.id}").status_code == 200
    _as(site, auditor)
    shown = site.get("/staff/audit", params={"action": "customer.view",
                                             "actor": admin.user.id})
    assert shown.status_code == 200 and shown.text.count("<tr data-seq=") == 3
    assert site.get("/staff/audit", params={"action": "nothing.like.this"}).text.count(
        "<tr data-seq=") == 0
    assert site.get("/staff/audit", params={"since": "2999-01-01"}).text.count(
        "<tr data-seq=") == 0
    assert site.get("/staff/audit", params={"until": "2000-01-01"}).text.count(
        "<tr data-seq=") == 0
    assert site.get("/staff/audit", params={"since": "2000-01-01", "until": "2999-12-31",
                                            "action": "customer.view"}).text.count(
        "<tr data-seq=") == 3
    bad = site.get("/staff/audit", params={"since": "yesterday"})
    assert bad.status_code == 422 and 'href="#since"' in bad.text
    assert "如 2026-03-10" in site.get("/staff/audit", params={"since": "x"}, headers=ZH).text
    # paging: 50 a page, the next page's link keeps the filters
    for _ in range(60):
        platform.deps.write(lambda uow: uow.audit(actor_id=None, actor_kind="system",
                                                  action="test.tick", object_type="t",
                                                  object_id="1"))
    first = site.get("/staff/audit", params={"action": "test.tick"}).text
    assert first.count("<tr data-seq=") == 50
    older = re.search(r'href="(/staff/audit\?[^"]*offset=50)"', first)
    assert older is not None and "action=test.tick" in older.group(1)
    second = site.get(html.unescape(older.group(1))).text
    assert second.count("<tr data-seq=") == 10
    # the API filters by time too
    api = site.get("/v1/staff/audit", headers=auditor.headers,
                   params={"action": "customer.view", "since_ms": 0, "until_ms": 2**52})
    assert api.status_code == 200 and len(api.json()) == 3
    api = site.get("/v1/staff/audit", headers=auditor.headers,
                   params={"action": "customer.view", "until_ms": 1})
    assert api.status_code == 200 and api.json() == []
    # verification runs the service's check and shows its result
    token = csrf_of(first)
    r = site.post("/staff/audit/verify", data={"csrf_token": token})
    assert r.status_code == 200 and 'data-chain-ok="yes"' in r.text
    report = audit_service.verify(platform.deps)
    assert f"{report.entries}" in r.text and report.ok


def test_support_looks_a_customer_up_and_each_view_is_audited(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    make_user(platform, email="dave@example.com", name="Dave Customer")
    w = make_wallet(platform, carol.user.id)
    p = make_payment(platform, w)
    agent = make_staff(platform, "support_agent")
    _as(site, agent)
    assert site.get("/staff/customers").status_code == 200
    found = site.get("/staff/customers", params={"q": "CAROL@example.com"})
    assert found.status_code == 200 and f'data-id="{carol.user.id}"' in found.text
    assert "Dave" not in found.text and _audit(platform, "customer.view") == []
    (search,) = _audit(platform, "customer.search")
    assert search.actor_id == agent.user.id and search.after == {
        "q": "CAROL@example.com", "matches": [carol.user.id]}
    assert "No customer matches." in site.get("/staff/customers", params={"q": "x@y.org"}).text
    empty = site.get("/staff/customers", params={"q": " "})
    assert empty.status_code == 422 and 'href="#q"' in empty.text
    shown = site.get(f"/staff/customers/{carol.user.id}", headers=ZH)
    assert shown.status_code == 200 and "Carol Customer" in shown.text
    assert f'data-id="{p.id}"' in shown.text and "US$101.50" in shown.text
    assert w.address in shown.text and "<form" not in shown.text.split("<main")[1].split(
        "</main>")[0]  # read-only: no form in the page's content
    (entry,) = _audit(platform, "customer.view")
    assert (entry.actor_id, entry.object_id) == (agent.user.id, carol.user.id)
    # the API: the same lookup, and its view is audited too
    r = site.get("/v1/staff/customers", params={"q": "Carol Customer"},
                 headers=agent.headers)
    assert r.status_code == 200 and [c["id"] for c in r.json()["items"]] == [carol.user.id]
    r = site.get(f"/v1/staff/customers/{carol.user.id}", headers=agent.headers)
    assert r.status_code == 200 and [x["id"] for x in r.json()["payments"]] == [p.id]
    assert len(_audit(platform, "customer.view")) == 2
    assert site.get(f"/staff/customers/{agent.user.id}").status_code == 404  # staff: not here


def carol_like(platform: bootstrap.Platform) -> str:
    """A customer's id: not a member of staff, so not found among staff."""
    return make_user(platform, email="carol@example.com").user.id


def test_an_admin_adds_re_roles_and_disables_staff(
        site: TestClient, platform: bootstrap.Platform) -> None:
    admin = make_staff(platform, "admin")
    _as(site, admin)
    page = site.get("/staff/admin")
    assert page.status_code == 200 and f'data-id="{admin.user.id}"' in page.text
    token = csrf_of(page.text)
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key is not None
    missing = site.post("/staff/admin", data={"csrf_token": token, "email": "nobody",
                                              "name": "", "role": "wizard",
                                              "key": key.group(1)})
    assert missing.status_code == 422
    assert all(f'href="#{n}"' in missing.text for n in ("email", "name", "role"))
    assert f'name="key" value="{key.group(1)}"' in missing.text  # kept for the retry
    new = {"csrf_token": token, "email": "Nina@Corridor.example", "name": "Nina Support",
           "role": "support_agent", "key": key.group(1)}
    r = site.post("/staff/admin", data=new)
    assert r.status_code == 200, r.text
    initial = re.search(r'value="([^"]+)" data-initial-password', r.text)
    assert initial is not None and len(initial.group(1)) >= 32
    with platform.deps.uow() as uow:
        nina = uow.repo(User).one(email="nina@corridor.example")
    assert nina is not None and nina.staff_role == "support_agent"
    assert platform.deps.hasher.verify(nina.password_hash, initial.group(1))
    assert initial.group(1) not in site.get("/staff/admin").text  # shown once
    again = site.post("/staff/admin", data=new)  # a resent form makes no second account
    assert again.status_code == 200 and 'data-initial-password' not in again.text
    assert "was made by your first submission" in again.text
    other = site.post("/staff/admin", data={**new, "key": "another-form-0001"})
    assert other.status_code == 409 and "An account with this e-mail address already exists." \
        in other.text
    r = site.post(f"/staff/admin/{nina.id}/role", data={"csrf_token": token,
                                                        "role": "compliance_officer"},
                  follow_redirects=False)
    assert r.status_code == 303 and _user(platform, nina.id).staff_role == "compliance_officer"
    listed = site.get("/staff/admin").text  # disabling asks first, on a page of its own
    assert f'href="/staff/admin/{nina.id}/disable"' in listed
    assert f'action="/staff/admin/{nina.id}/disable"' not in listed
    confirm = site.get(f"/staff/admin/{nina.id}/disable")
    assert confirm.status_code == 200 and "Nina Support" in confirm.text
    assert _user(platform, nina.id).status == "active"
    r = site.post(f"/staff/admin/{nina.id}/disable", data={"csrf_token": csrf_of(confirm.text)},
                  follow_redirects=False)
    assert r.status_code == 303 and _user(platform, nina.id).status == "disabled"
    assert len(_audit(platform, "staff.create")) == len(_audit(platform, "staff.disable")) == 1
    assert "This account is already disabled." in site.get(f"/staff/admin/{nina.id}/disable").text
    assert site.get(f"/staff/admin/{carol_like(platform)}/disable").status_code == 404
    # an admin can neither demote nor disable themselves
    r = site.post(f"/staff/admin/{admin.user.id}/disable", data={"csrf_token": token})
    assert r.status_code == 409 and 'data-code="CANNOT_DISABLE_SELF"' in r.text
    r = site.post(f"/staff/admin/{admin.user.id}/role", data={"csrf_token": token,
                                                              "role": "operator"})
    assert r.status_code == 409 and _user(platform, admin.user.id).staff_role == "admin"


# path -> the roles that may open it (least privilege, platform/domain/roles.py)
PAGES = {
    "/staff/dashboard": {"admin", "operator"},
    # the regulator reads the trail at /regulator/audit, each read audited (issue 16)
    "/staff/audit": {"auditor"},
    "/staff/customers": {"admin", "compliance_officer", "support_agent", "auditor"},
    "/staff/customers/{carol}": {"admin", "compliance_officer", "support_agent", "auditor"},
    "/staff/admin": {"admin"},
    "/staff/admin/{victim}/disable": {"admin"},
}
FORMS = {
    "/staff/audit/verify": {"auditor"},
    "/staff/admin": {"admin"},
    "/staff/admin/{victim}/role": {"admin"},
    "/staff/admin/{victim}/disable": {"admin"},
    "/staff/customers/{carol}/freeze": {"compliance_officer"},
    "/staff/customers/{carol}/unfreeze": {"compliance_officer"},
}
API = {
    "/v1/staff/dashboard": {"admin", "operator"},
    "/v1/staff/customers?q=carol@example.com": PAGES["/staff/customers"],
    "/v1/staff/customers/{carol}": PAGES["/staff/customers"],
    "/v1/staff/customers/{carol}/freezes": PAGES["/staff/customers"],
}
ROLES = ("admin", "compliance_officer", "support_agent", "operator", "auditor", "regulator")


def test_every_page_form_and_endpoint_refuses_roles_without_the_permission(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="carol@example.com")
    victim = make_staff(platform, "operator", email="victim@corridor.example")
    ids = {"carol": carol.user.id, "victim": victim.user.id}
    site.cookies.clear()
    for path in PAGES:
        r = site.get(path.format(**ids), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin?next="), path
    _as(site, carol)
    token = csrf_of(site.get("/").text)
    for path in PAGES:
        assert site.get(path.format(**ids)).status_code == 403, path
    for path in FORMS:
        assert site.post(path.format(**ids), data={"csrf_token": token}).status_code == 403
    for role in ROLES:
        who = make_staff(platform, role, email=f"{role}-matrix@corridor.example")
        _as(site, who)
        token = csrf_of(site.get("/staff").text)
        nav = site.get("/staff").text
        for path, allowed in PAGES.items():
            r = site.get(path.format(**ids), follow_redirects=False)
            assert r.status_code == (200 if role in allowed else 403), (role, path)
            if "{" not in path:
                assert (f'href="{path}"' in nav) == (role in allowed), (role, path)
        for path, allowed in FORMS.items():
            if role in allowed:
                continue  # the allowed roles' actions are tested above
            r = site.post(path.format(**ids), data={"csrf_token": token, "role": "admin",
                                                    "email": "x@corridor.example",
                                                    "name": "X"}, follow_redirects=False)
            assert r.status_code == 403 and 'data-code="FORBIDDEN"' in r.text, (role, path)
        for path, allowed in API.items():
            r = site.get(path.format(**ids), headers=who.headers)
            assert r.status_code == (200 if role in allowed else 403), (role, path)
    assert _user(platform, victim.user.id).staff_role == "operator"
    assert _user(platform, victim.user.id).status == "active"
    assert _audit(platform, "staff.create") == []


def test_the_back_office_forms_refuse_a_missing_or_forged_csrf_token(
        site: TestClient, platform: bootstrap.Platform) -> None:
    victim = make_staff(platform, "operator", email="victim@corridor.example")
    admin = make_staff(platform, "admin")
    _as(site, admin)
    token = csrf_of(site.get("/staff/admin").text)
    forms = {"/staff/admin": {"email": "x@corridor.example", "name": "X", "role": "admin"},
             f"/staff/admin/{victim.user.id}/role": {"role": "admin"},
             f"/staff/admin/{victim.user.id}/disable": {}}
    for path, data in forms.items():
        for forged in (None, "", token + "x"):
            body = dict(data) if forged is None else {**data, "csrf_token": forged}
            r = site.post(path, data=body, follow_redirects=False)
            assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text, path
    assert _user(platform, victim.user.id).staff_role == "operator"
    assert _user(platform, victim.user.id).status == "active"
    _as(site, make_staff(platform, "auditor"))
    r = site.post("/staff/audit/verify", data={"csrf_token": "forged"})
    assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text


def test_bars_scale_to_the_largest_value_and_label_every_nth() -> None:
    from corridor.web import charts

    chart = charts.bars([("a", 0, "0"), ("b", 5, "5"), ("c", 10, "10")], width=300,
                        height=100 + charts.AXIS)
    assert chart.baseline == 100
    assert [(b.x, b.y, b.width, b.height) for b in chart.bars] == [
        (10, 100, 80, 0), (110, 50, 80, 50), (210, 0, 80, 100)]
    tiny = charts.bars([("a", 1, "1"), ("b", 10_000, "10000")], height=100 + charts.AXIS)
    assert tiny.bars[0].height == 1  # a value above zero is never invisible
    many = charts.bars([(str(i), i, str(i)) for i in range(14)])
    assert [b.label for b in many.bars if b.labelled] == ["0", "2", "4", "6", "8", "10", "12"]
