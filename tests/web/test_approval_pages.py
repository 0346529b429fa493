"""The approval pages of the institution console over HTTP (on both databases): the policy
editor saves a version and shows every problem beside its field (in English and Chinese),
an approver approves from the queue and the payment's page shows who approved when, a
viewer gets no form and is refused if they post one, the beneficiary book verifies bank
details, and forms without their CSRF token change nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.approvals import Policy, SavedBeneficiary, Vote
from corridor.web import security
from tests.platform.conftest import Actor, keyed, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen, make_org
from tests.web.conftest import csrf_of

HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
SESSION = security.cookie_names(production=False)[0]
ZH = {"accept-language": "zh-CN"}


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


def _as(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def _hidden(page: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in HIDDEN.findall(page):
        found.setdefault(name, html.unescape(value))
    return found


def _count(platform: bootstrap.Platform, record: type) -> int:
    with platform.deps.uow() as uow:
        n: int = uow.repo(record).count()
    return n


class World:
    def __init__(self, platform: bootstrap.Platform, chain: FakeChain) -> None:
        def user(name: str) -> Actor:
            return make_user(platform, email=f"{name}@acme.example", name=name.title())
        self.owner, self.approver, self.viewer, self.bob = (
            user(n) for n in ("owner", "ada", "vic", "bob"))
        self.org_id = make_org(platform, self.owner.user.id, {
            self.approver.user.id: "approver", self.viewer.user.id: "viewer"})
        kyc(platform, self.org_id, 3, owner_type="org")
        chain.fund(open_wallet(platform, self.org_id, owner_type="org").address, "USD",
                   1_000_00)
        kyc(platform, self.bob.user.id, 2)
        open_wallet(platform, self.bob.user.id)


def _policy_form(site: TestClient, w: World, **fields: Any) -> Any:
    page = site.get(f"/org/{w.org_id}/policy")
    assert page.status_code == 200, page.text
    return site.post(f"/org/{w.org_id}/policy", data={"csrf_token": csrf_of(page.text),
                                                      **fields}, follow_redirects=False)


def test_the_policy_editor_saves_and_reports_every_problem(
        site: TestClient, platform: bootstrap.Platform, chain: FakeChain) -> None:
    w = World(platform, chain)
    _as(site, w.owner)
    bad = _policy_form(site, w, **{
        "group-0-name": "leads", "rule-0-action": "approve", "rule-0-usd_min": "abc",
        "rule-0-levels": "nosuch:1", "rule-1-action": "allow", "rule-1-currencies": "EUR",
        "approval_ttl_h": "24", "tolerance_bp": "50", "cooling_off_h": "24"})
    assert bad.status_code == 422
    assert 'id="error-summary"' in bad.text
    for field in ("rule-0-usd_min", "rule-0-levels", "group-0-members", "rule-1-action"):
        assert f'href="#{field}"' in bad.text, field
    assert 'value="leads"' in bad.text  # what was typed is kept
    assert _count(platform, Policy) == 0
    zh_page = site.post(f"/org/{w.org_id}/policy", headers=ZH, follow_redirects=False,
                        data={"csrf_token": csrf_of(site.get(f"/org/{w.org_id}/policy").text),
                              "group-0-name": "leads", "rule-0-action": "allow",
                              "rule-1-action": "block"})
    assert "无法到达" in zh_page.text and "成员" in zh_page.text
    ok = _policy_form(site, w, **{
        "group-0-name": "approvers", "group-0-members": w.approver.user.id,
        "rule-0-action": "approve", "rule-0-usd_min": "100.00",
        "rule-0-levels": "approvers:1", "rule-1-action": "allow",
        "approval_ttl_h": "24", "tolerance_bp": "50", "cooling_off_h": "24"})
    assert ok.status_code == 303 and ok.headers["location"].endswith("?saved=1")
    shown = site.get(ok.headers["location"]).text
    assert 'id="policy-saved"' in shown and 'value="approvers:1"' in shown
    _as(site, w.viewer)  # a viewer reads it, without a save button, and cannot save
    assert "Save the policy" not in site.get(f"/org/{w.org_id}/policy").text
    assert _policy_form(site, w, **{"rule-0-action": "allow"}).status_code == 403


def test_an_approver_approves_from_the_queue_and_the_payment_shows_it(
        site: TestClient, platform: bootstrap.Platform, chain: FakeChain) -> None:
    w = World(platform, chain)
    _as(site, w.owner)
    assert _policy_form(site, w, **{
        "group-0-name": "approvers", "group-0-members": w.approver.user.id,
        "rule-0-action": "approve", "rule-0-levels": "approvers:1",
        "approval_ttl_h": "24", "tolerance_bp": "50", "cooling_off_h": "24"}
    ).status_code == 303
    site.cookies.clear()
    r = site.post("/v1/payments", headers=keyed(w.owner.headers),
                  json={"recipient": {"type": "user", "email": "bob@acme.example"},
                        "asset": "USD", "amount": "150", "org_id": w.org_id})
    assert r.status_code == 201 and r.json()["status"] == "pending_approval", r.text
    pid = r.json()["id"]
    _as(site, w.viewer)
    queue = site.get(f"/org/{w.org_id}/approvals")
    assert pid in queue.text and "/decide" not in queue.text  # no form for a viewer
    approval_id = re.search(rf'/org/{w.org_id}/approvals/([0-9a-f-]+)"', queue.text)
    assert approval_id is not None
    decide = f"/org/{w.org_id}/approvals/{approval_id.group(1)}/decide"
    refused = site.post(decide, data={"csrf_token": csrf_of(queue.text), "key": "try",
                                      "decision": "approve"})
    assert refused.status_code == 403 and _count(platform, Vote) == 0
    _as(site, w.approver)
    one = site.get(f"/org/{w.org_id}/approvals/{approval_id.group(1)}")
    assert one.status_code == 200 and 'name="decision" value="approve"' in one.text
    form = _hidden(one.text)
    done = site.post(decide, data={"csrf_token": form["csrf_token"], "key": form["key"],
                                   "decision": "approve", "note": "within budget"},
                     follow_redirects=False)
    assert done.status_code == 303, done.text
    again = site.post(decide, data={"csrf_token": form["csrf_token"], "key": form["key"],
                                    "decision": "approve", "note": "within budget"},
                      follow_redirects=False)
    assert again.status_code == 303 and _count(platform, Vote) == 1  # a resent form
    _as(site, w.owner)
    shown = site.get(f"/payments/{pid}")
    assert 'data-state="approved"' in shown.text and "Ada" in shown.text
    assert "within budget" in shown.text
    zh = site.get(f"/payments/{pid}", headers=ZH).text
    assert "审批" in zh


def test_the_beneficiary_book_verifies_bank_details(
        site: TestClient, platform: bootstrap.Platform, chain: FakeChain) -> None:
    w = World(platform, chain)
    _as(site, w.owner)
    page = site.get(f"/org/{w.org_id}/beneficiaries")
    assert page.status_code == 200
    form = _hidden(page.text)
    bad = site.post(f"/org/{w.org_id}/beneficiaries", data={
        **form, "name": "Acme Ltd", "type": "external", "country": "GB",
        "iban": "GB00WEST12345698765432", "bank_code": "WESTGB2L"})
    assert bad.status_code == 422 and 'href="#iban"' in bad.text
    assert _count(platform, SavedBeneficiary) == 0
    ok = site.post(f"/org/{w.org_id}/beneficiaries", data={
        **form, "name": "Acme Ltd", "type": "external", "country": "GB",
        "iban": "GB82WEST12345698765432", "bank_code": "WESTGB2L"}, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    book = site.get(f"/org/{w.org_id}/beneficiaries").text
    assert "Acme Ltd" in book and "5432" in book and "12345698765432" not in book
    assert "New bank details for Acme Ltd" in book
    b_id = re.search(r'/beneficiaries/([0-9a-f-]+)/bank-details', book)
    assert b_id is not None
    change = _hidden(book.split(f"/beneficiaries/{b_id.group(1)}/bank-details")[1])
    proposed = site.post(f"/org/{w.org_id}/beneficiaries/{b_id.group(1)}/bank-details",
                         data={"csrf_token": form["csrf_token"], "key": change["key"],
                               "name": "Acme Ltd", "country": "DE",
                               "iban": "DE89370400440532013000", "bank_code": "COBADEFFXXX"},
                         follow_redirects=False)
    assert proposed.status_code == 303, proposed.text
    pending = site.get(f"/org/{w.org_id}/beneficiaries").text
    assert "New bank details wait for approval" in pending and "3000" in pending
    _as(site, w.approver)  # the change waits in the approver's queue; the link leads there
    queue = site.get(f"/org/{w.org_id}/approvals").text
    assert "Change of bank details" in queue
    approval_id = re.search(rf'/org/{w.org_id}/approvals/([0-9a-f-]+)"', queue)
    assert approval_id is not None
    link = site.get(f"/approvals/{approval_id.group(1)}", follow_redirects=False)
    assert link.status_code == 303
    assert link.headers["location"] == f"/org/{w.org_id}/approvals/{approval_id.group(1)}"
    _as(site, w.owner)
    no_token = site.post(f"/org/{w.org_id}/beneficiaries", data={
        "key": "k2", "name": "Other", "type": "user", "email": "bob@acme.example"})
    assert no_token.status_code == 403 and _count(platform, SavedBeneficiary) == 1


def test_every_validation_word_of_the_policy_is_in_the_catalogue() -> None:
    from corridor.platform.domain import approvals as dom
    from corridor.web import pages_approvals

    assert set(pages_approvals.POLICY_WORDS) == set(dom.MESSAGES)
