"""The back office's compliance pages over HTTP (both databases): the queue of open cases
and a case with its evidence, in English and 简体中文; a release through the form decides
once however often it is sent; other roles and forms without CSRF are refused."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.compliance import CaseDecision
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import screening
from corridor.web import security
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.platform.wallet_fakes import CountingKeyGen
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
KEY = re.compile(r'<input type="hidden" name="key" value="([^"]*)">')


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    chain = FakeChain()
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def held(site: TestClient, platform: bootstrap.Platform) -> tuple[Actor, str]:
    """A compliance officer, and the id of a payment held for a listed recipient."""
    screening.import_list(platform.deps, None, LIST, ListFormat.CSL)
    alice = make_user(platform, email="carol@example.com", name="Carol Customer")
    bob = make_user(platform, email="dave@example.com", name=LISTED)
    for who in (alice, bob):
        kyc(platform, who.user.id, 2)
        wallet = open_wallet(platform, who.user.id)
        assert isinstance(platform.deps.ledger, FakeChain)
        platform.deps.ledger.fund(wallet.address, "USD", 100_000)
    r = site.post("/v1/payments", headers=keyed(alice.headers),
                  json={"recipient": {"type": "user", "email": "dave@example.com"},
                        "asset": "USD", "amount": "50.00"})
    assert r.status_code == 201 and r.json()["status"] == "on_hold", r.text
    return make_staff(platform, "compliance_officer"), r.json()["id"]


def _case_path(site: TestClient) -> str:
    queue = site.get("/staff/compliance")
    assert queue.status_code == 200
    found = re.search(r'href="(/staff/compliance/cases/[^"]+)"', queue.text)
    assert found
    return found.group(1)


def test_the_queue_and_the_case_show_the_evidence_in_both_languages(
        site: TestClient, held: tuple[Actor, str]) -> None:
    officer, _ = held
    site.cookies.set(SESSION, officer.token)
    assert 'href="/staff/compliance"' in site.get("/staff").text
    queue = site.get("/staff/compliance").text
    assert "Carol Customer" in queue and "Compliance cases" in queue
    path = _case_path(site)
    page = site.get(path).text
    assert "KHOROSHEV, Dmitry Yuryevich" in page and "khoroshev" in page
    assert "Name screened" in page and LISTED in page and "Release" in page
    zh = {"accept-language": "zh-CN"}
    assert "合规案件" in site.get("/staff/compliance", headers=zh).text
    shown = site.get(path, headers=zh).text
    assert "筛查的姓名" in shown and "释放" in shown


def test_a_release_through_the_form_decides_once(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    officer, payment_id = held
    site.cookies.set(SESSION, officer.token)
    path = _case_path(site)
    page = site.get(path).text
    form = {"csrf_token": csrf_of(page), "key": html.unescape(KEY.findall(page)[0]),
            "kind": "release", "note": "the recipient is another person"}
    for _ in range(2):
        r = site.post(f"{path}/decision", data=form, follow_redirects=False)
        assert r.status_code == 303, r.text
    with platform.deps.uow() as uow:
        p = uow.repo(Payment).get(payment_id)
        decisions = uow.repo(CaseDecision).many()
    assert p is not None and p.status == "submitted"
    assert [d.kind for d in decisions] == ["release"]
    refused = site.post(f"{path}/decision", data={**form, "kind": "close", "key": "k2"},
                        follow_redirects=False)
    assert refused.status_code == 403 and "second officer" in refused.text


def test_other_roles_and_forms_without_csrf_are_refused(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    officer, _ = held
    site.cookies.set(SESSION, officer.token)
    path = _case_path(site)
    no_csrf = site.post(f"{path}/decision", data={"kind": "note", "note": "x", "key": "k"},
                        follow_redirects=False)
    assert no_csrf.status_code == 403
    site.cookies.set(SESSION, make_staff(platform, "support_agent").token)
    assert site.get("/staff/compliance").status_code == 403
    assert site.get(path).status_code == 403
    assert 'href="/staff/compliance"' not in site.get("/staff").text
