"""The freeze form on the back office's customer page (issue 16), over HTTP on both
databases: a compliance officer freezes with a reason (CSRF checked, a resent form acts
once), the page and the customer's dashboard show the state in English and 简体中文, the
same officer cannot lift it, another can; other roles see no form and are refused."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.freezes import Freeze
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.services import freezes
from corridor.web import security
from tests.platform.conftest import Actor, make_staff, make_user, new_key
from tests.platform.wallet_fakes import make_org
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
ZH = {"accept-language": "zh-CN"}


def _as(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def _key(text: str) -> str:
    m = re.search(r'name="key" value="([^"]+)"', text)
    assert m is not None
    return m.group(1)


def _freezes(platform: bootstrap.Platform, owner_id: str) -> list[Freeze]:
    with platform.deps.uow() as uow:
        return uow.repo(Freeze).many(owner_id=owner_id)


def test_an_officer_freezes_and_another_unfreezes_from_the_customer_page(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    olive = make_staff(platform, "compliance_officer", "olive@corridor.example")
    sam = make_staff(platform, "compliance_officer", "sam@corridor.example")
    url = f"/staff/customers/{carol.user.id}"
    _as(site, olive)
    page = site.get(url)
    assert page.status_code == 200 and 'data-freeze="none"' in page.text
    assert f'action="{url}/freeze"' in page.text and '<label for="reason">' in page.text
    form = {"csrf_token": csrf_of(page.text), "key": _key(page.text), "reason": "",
            "reference": "CASE-3"}
    bad = site.post(f"{url}/freeze", data=form)
    assert bad.status_code == 422 and 'id="reason-error"' in bad.text
    assert _freezes(platform, carol.user.id) == []
    no_csrf = site.post(f"{url}/freeze", data={**form, "csrf_token": "", "reason": "x"})
    assert no_csrf.status_code == 403 and _freezes(platform, carol.user.id) == []

    form["reason"] = "sanctions hit under review"
    done = site.post(f"{url}/freeze", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    again = site.post(f"{url}/freeze", data=form, follow_redirects=False)  # resent
    assert again.status_code == 303 and len(_freezes(platform, carol.user.id)) == 1
    page = site.get(url)
    assert 'data-freeze="frozen"' in page.text and "Frozen on the ledger" in page.text
    assert "CASE-3" in page.text and f'action="{url}/unfreeze"' in page.text
    assert "已在账本上冻结" in site.get(url, headers=ZH).text

    _as(site, carol)
    dashboard = site.get("/dashboard")
    assert 'data-freeze="frozen"' in dashboard.text
    assert "合规团队冻结" in site.get("/dashboard", headers=ZH).text

    _as(site, olive)
    page = site.get(url)
    form = {"csrf_token": csrf_of(page.text), "key": _key(page.text), "reason": "cleared"}
    same = site.post(f"{url}/unfreeze", data=form)
    assert same.status_code == 403 and "Another compliance officer" in same.text
    _as(site, sam)
    page = site.get(url)
    form = {"csrf_token": csrf_of(page.text), "key": _key(page.text), "reason": "cleared"}
    assert site.post(f"{url}/unfreeze", data=form, follow_redirects=False).status_code == 303
    page = site.get(url)
    assert 'data-freeze="none"' in page.text and 'data-status="released"' in page.text


def test_other_roles_see_no_form_and_are_refused(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="carol@example.com")
    support = make_staff(platform, "support_agent")
    url = f"/staff/customers/{carol.user.id}"
    _as(site, support)
    page = site.get(url)
    assert page.status_code == 200 and "/freeze" not in page.text
    refused = site.post(f"{url}/freeze", data={"csrf_token": csrf_of(page.text),
                                               "reason": "x", "key": "k1"})
    assert refused.status_code == 403
    _as(site, carol)
    assert site.post(f"{url}/freeze", data={"reason": "x"}).status_code == 403
    assert _freezes(platform, carol.user.id) == []


def test_an_organisations_wallet_pages_show_its_freeze(
        site: TestClient, platform: bootstrap.Platform) -> None:
    owner = make_user(platform, email="owner@example.com")
    org_id = make_org(platform, owner.user.id, kyb=True)
    _as(site, owner)
    assert "data-freeze" not in site.get(f"/org/{org_id}/wallets").text
    olive = make_staff(platform, "compliance_officer")
    officer = Principal(user_id=olive.user.id, kind=UserKind.STAFF,
                        staff_role=StaffRole.COMPLIANCE_OFFICER, session_id="test")
    freezes.freeze(platform.deps, officer, "org", org_id, reason="adverse media",
                   idempotency_key=new_key())
    for path in (f"/org/{org_id}/wallets", f"/org/{org_id}"):
        assert 'data-freeze="frozen"' in site.get(path).text, path
    assert "该组织已被我们的合规团队冻结" in site.get(f"/org/{org_id}", headers=ZH).text
