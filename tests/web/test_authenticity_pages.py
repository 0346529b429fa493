"""Supporting documents and travel-rule data in the pages, over HTTP on both databases: the
pay form asks the purpose; a trade payment abroad is held and its page asks for documents;
the payer uploads through the form (a bad file is refused in the reader's language); the
officer sees the travel-rule data and the documents, downloads one as an attachment,
records the check, and the case's release then goes through. Other people and roles are
refused; a form without its CSRF token changes nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.authenticity import Check, PaymentDocument
from corridor.platform.domain.payments import Payment
from corridor.web import security
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, open_wallet
from tests.platform.payment_records import PDF
from tests.platform.test_authenticity import ALICE, verified
from tests.platform.wallet_fakes import CountingKeyGen
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
KEY = re.compile(r'<input type="hidden" name="key" value="([^"]*)">')
ZH = {"accept-language": "zh-CN"}


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=FakeChain(),
                        keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def people(platform: bootstrap.Platform) -> tuple[Actor, Actor, Actor]:
    """Alice (GB, funded), Bob (CN), a compliance officer."""
    alice = make_user(platform, email="alice@example.com", name="Alice T")
    bob = make_user(platform, email="bob@example.com", name="Bob Importer")
    verified(platform, alice.user.id, ALICE)
    verified(platform, bob.user.id, {"first_name": "Bob", "last_name": "Importer",
                                     "address_country_code": "CN"})
    wallet = open_wallet(platform, alice.user.id)
    open_wallet(platform, bob.user.id)
    assert isinstance(platform.deps.ledger, FakeChain)
    platform.deps.ledger.fund(wallet.address, "USD", 5_000_000)
    return alice, bob, make_staff(platform, "compliance_officer")


def _pay_through_the_form(site: TestClient, purpose: str) -> str:
    """Alice pays Bob 6,000.00 USD through /pay; returns the payment's page address."""
    form = site.get("/pay")
    assert 'name="purpose"' in form.text and "Goods (purchase or sale)" in form.text
    values = {"recipient": "bob@example.com", "amount": "6000.00", "send_currency": "USD",
              "receive_currency": "USD", "memo": "", "purpose": purpose}
    review = site.post("/pay/review", data={**values, "csrf_token": csrf_of(form.text)})
    assert review.status_code == 200, review.text
    assert "Goods (purchase or sale)" in review.text or purpose != "GDDS"
    done = site.post("/pay/confirm", follow_redirects=False, data={
        **values, "csrf_token": csrf_of(review.text), "quote_id": "",
        "key": html.unescape(KEY.findall(review.text)[0])})
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def _upload(site: TestClient, page_text: str, payment_id: str, data: bytes, ctype: str,
            kind: str = "invoice") -> Any:
    return site.post("/payment-documents", follow_redirects=False,
                     data={"csrf_token": csrf_of(page_text), "payment_id": payment_id,
                           "kind": kind},
                     files={"document": ("invoice.pdf", data, ctype)})


def test_a_trade_payment_abroad_asks_for_documents_and_takes_them_in_both_languages(
        site: TestClient, platform: bootstrap.Platform,
        people: tuple[Actor, Actor, Actor]) -> None:
    alice, bob, _ = people
    site.cookies.set(SESSION, alice.token)
    path = _pay_through_the_form(site, "GDDS")
    payment_id = path.rsplit("/", 1)[1]
    page = site.get(path)
    assert "Supporting documents needed" in page.text and 'id="upload-documents"' in page.text
    assert "Alice Trader" in page.text and "Originator and beneficiary" in page.text
    assert "需要提交证明材料" in site.get(path, headers=ZH).text
    form = site.get(f"{path}/documents")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text

    bad = _upload(site, form.text, payment_id, b"plain text", "text/plain")
    assert bad.status_code == 422
    assert "Upload a JPEG, PNG or PDF file." in bad.text
    bad_zh = site.post("/payment-documents", headers=ZH, data={
        "csrf_token": csrf_of(form.text), "payment_id": payment_id, "kind": "invoice"},
        files={"document": ("x.txt", b"plain text", "text/plain")})
    assert bad_zh.status_code == 422 and "请上传" in bad_zh.text
    with platform.deps.uow() as uow:
        assert uow.repo(PaymentDocument).count(payment_id=payment_id) == 0

    ok = _upload(site, form.text, payment_id, PDF, "application/pdf")
    assert ok.status_code == 303
    shown = site.get(f"{path}/documents").text
    assert "Documents received, being checked" in shown and "Invoice · PDF" in shown
    site.cookies.set(SESSION, bob.token)  # the recipient: neither documents nor PII
    assert "Supporting documents" not in site.get(path).text
    assert "Alice Trader" not in site.get(path).text
    assert site.get(f"{path}/documents").status_code == 404
    theirs = _upload(site, form.text, payment_id, PDF + b"2", "application/pdf")
    assert theirs.status_code in (403, 404)


def test_the_officer_checks_the_documents_and_the_case_then_releases(
        site: TestClient, platform: bootstrap.Platform,
        people: tuple[Actor, Actor, Actor]) -> None:
    alice, _, officer = people
    site.cookies.set(SESSION, alice.token)
    path = _pay_through_the_form(site, "GDDS")
    payment_id = path.rsplit("/", 1)[1]
    form = site.get(f"{path}/documents").text
    assert _upload(site, form, payment_id, PDF, "application/pdf").status_code == 303

    site.cookies.set(SESSION, officer.token)
    review_path = f"/staff/compliance/payments/{payment_id}"
    case = site.get(re.findall(r'href="(/staff/compliance/cases/[^"]+)"',
                               site.get("/staff/compliance").text)[0])
    assert f'href="{review_path}"' in case.text
    review = site.get(review_path)
    assert review.status_code == 200
    assert "Alice Trader" in review.text and "passport 123456789" in review.text
    assert "Documents received, being checked" in review.text
    assert "核查" in site.get(review_path, headers=ZH).text
    link = re.findall(r'href="(/staff/compliance/payments/[^"]+/documents/[^"]+)"',
                      review.text)[0]
    got = site.get(link)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-disposition"].startswith("attachment;")

    empty = site.post(f"{review_path}/check", data={
        "csrf_token": csrf_of(review.text), "key": html.unescape(KEY.findall(review.text)[0]),
        "amount_agrees": "yes", "reason": ""})
    assert empty.status_code == 422 and 'id="check_reason-error"' in empty.text
    check = {"csrf_token": csrf_of(review.text),
             "key": html.unescape(KEY.findall(review.text)[0]), "amount_agrees": "yes",
             "parties_agree": "yes", "purpose_agrees": "yes",
             "reason": "invoice 118 names both parties and the amount"}
    for _ in range(2):  # a resent form records once
        r = site.post(f"{review_path}/check", data=check, follow_redirects=False)
        assert r.status_code == 303, r.text
    with platform.deps.uow() as uow:
        assert [c.outcome for c in uow.repo(Check).many(payment_id=payment_id)] == ["agree"]
    assert "Documents checked: they agree" in site.get(review_path).text

    page = case.text
    r = site.post(f"{case.url.path}/decision", follow_redirects=False, data={
        "csrf_token": csrf_of(page), "key": html.unescape(KEY.findall(page)[0]),
        "kind": "release", "note": "documents agree"})
    assert r.status_code == 303, r.text
    with platform.deps.uow() as uow:
        p = uow.repo(Payment).get(payment_id)
    assert p is not None and p.status == "submitted"


def test_other_roles_and_forms_without_csrf_are_refused(
        site: TestClient, platform: bootstrap.Platform,
        people: tuple[Actor, Actor, Actor]) -> None:
    alice, _, officer = people
    site.cookies.set(SESSION, alice.token)
    path = _pay_through_the_form(site, "GDDS")
    payment_id = path.rsplit("/", 1)[1]
    review_path = f"/staff/compliance/payments/{payment_id}"
    assert site.get(review_path).status_code == 403  # a customer
    site.cookies.set(SESSION, make_staff(platform, "support_agent").token)
    assert site.get(review_path).status_code == 403
    site.cookies.set(SESSION, officer.token)
    no_csrf = site.post(f"{review_path}/check", follow_redirects=False, data={
        "key": "k", "amount_agrees": "yes", "parties_agree": "yes", "purpose_agrees": "yes",
        "reason": "fine"})
    assert no_csrf.status_code == 403
    with platform.deps.uow() as uow:
        assert uow.repo(Check).count(payment_id=payment_id) == 0
    assert site.get(f"{path}/documents").status_code == 403  # staff: not a customer page


def test_a_payment_for_family_support_is_not_held(
        site: TestClient, people: tuple[Actor, Actor, Actor]) -> None:
    alice, _, _ = people
    site.cookies.set(SESSION, alice.token)
    page = site.get(_pay_through_the_form(site, "FAMI")).text
    assert "Supporting documents needed" not in page
    assert 'data-status="submitted"' in page
