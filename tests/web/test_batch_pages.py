"""Batch payments in the institution console over HTTP, on both databases: the maker
uploads a file through the form (once, however often it is sent), reads the validation
report in English and Chinese, the checker approves (the maker is not offered it and is
refused if they try), the progress and the downloads; an invalid file lists every problem."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain import money
from corridor.platform.domain.batches import Batch
from corridor.web import security
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen, make_org
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
CSV = ("reference,currency,amount,recipient_type,email\n"
       "inv-1,USD,10.00,user,payee@example.com\ninv-2,USD,2.50,user,payee@example.com\n")


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def people(platform: bootstrap.Platform, chain: FakeChain) -> tuple[str, Actor, Actor]:
    maker = make_user(platform, email="maker@example.com", name="Mia Maker")
    checker = make_user(platform, email="checker@example.com", name="Carl Checker")
    org_id = make_org(platform, maker.user.id, {checker.user.id: "approver"})
    kyc(platform, org_id, 3, owner_type="org")
    chain.fund(open_wallet(platform, org_id, owner_type="org").address, "USD", 1_000_00)
    payee = make_user(platform, email="payee@example.com", name="Pat Payee")
    kyc(platform, payee.user.id, 2)
    open_wallet(platform, payee.user.id)
    return org_id, maker, checker


def _as(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def _upload(site: TestClient, org_id: str, data: bytes, name: str = "pay.csv") -> object:
    page = site.get(f"/org/{org_id}/batches")
    assert page.status_code == 200, page.text
    form = {k: html.unescape(v) for k, v in HIDDEN.findall(page.text)}
    assert form["key"] and form["org_id"] == org_id
    return site.post("/org-batches", data=form, files={"file": (name, data, "text/csv")},
                     follow_redirects=False)


def test_upload_report_approve_and_download(site: TestClient, platform: bootstrap.Platform,
                                            people: tuple[str, Actor, Actor]) -> None:
    org_id, maker, checker = people
    _as(site, maker)
    page = site.get(f"/org/{org_id}/batches")
    form = {k: html.unescape(v) for k, v in HIDDEN.findall(page.text)}
    sent = [site.post("/org-batches", data=form, files={"file": ("pay.csv", CSV.encode())},
                      follow_redirects=False) for _ in range(2)]  # a resent form
    assert [r.status_code for r in sent] == [303, 303]
    assert sent[0].headers["location"] == sent[1].headers["location"]
    with platform.deps.uow() as uow:
        assert uow.repo(Batch).count() == 1
    report = site.get(sent[0].headers["location"])
    assert 'data-status="validated"' in report.text and 'id="approve"' not in report.text
    # a customer is shown as typed, masked, until paid (no registered name before)
    assert "p***@example.com" in report.text and "Pat Payee" not in report.text
    with platform.deps.uow() as uow:
        [b] = uow.repo(Batch).many()
    totals = re.search(r'id="batch-totals">([^<]*)<', report.text)
    assert totals and b.totals["USD"] > 12_50  # what they receive, and the fees on top
    assert money.format_minor(b.totals["USD"], "USD") in totals.group(1)
    maker_try = site.post(sent[0].headers["location"] + "/approve",
                          data={"csrf_token": csrf_of(report.text)})
    assert maker_try.status_code == 403
    assert "another member must approve it" in maker_try.text
    _as(site, checker)
    shown = site.get(sent[0].headers["location"], headers={"Accept-Language": "zh-CN"})
    assert "批准并付款" in shown.text and "已检查：等待审批" in shown.text
    done = site.post(sent[0].headers["location"] + "/approve",
                     data={"csrf_token": csrf_of(shown.text)}, follow_redirects=False)
    assert done.status_code == 303
    after = site.get(sent[0].headers["location"])
    assert 'data-status="approved"' in after.text and 'data-status="submitted"' in after.text
    assert "Pat Payee" in after.text
    pain002 = site.get(sent[0].headers["location"] + "/pain002")
    assert pain002.status_code == 200 and b"<TxSts>ACSP</TxSts>" in pain002.content
    result = site.get(sent[0].headers["location"] + "/result.csv")
    assert result.text.count("submitted") == 2


def test_every_problem_is_listed_and_a_form_without_csrf_changes_nothing(
        site: TestClient, platform: bootstrap.Platform,
        people: tuple[str, Actor, Actor]) -> None:
    org_id, maker, _ = people
    _as(site, maker)
    bad = (b"reference,currency,amount,recipient_type,email\n"
           b"x,USD,abc,user,payee@example.com\nx,XYZ,1,user,nobody@example.com\n")
    r = _upload(site, org_id, bad)
    assert r.status_code == 303  # type: ignore[attr-defined]
    page = site.get(r.headers["location"], headers={"Accept-Language": "zh-CN"})  # type: ignore[attr-defined]
    for code in ("AMOUNT_INVALID", "REFERENCE_DUPLICATE", "CURRENCY_UNKNOWN"):
        assert f'data-code="{code}"' in page.text, code
    assert "金额无效" in page.text and 'data-status="invalid"' in page.text
    no_csrf = site.post("/org-batches", data={"org_id": org_id, "key": "k"},
                        files={"file": ("a.csv", CSV.encode())})
    assert no_csrf.status_code == 403
    with platform.deps.uow() as uow:
        assert uow.repo(Batch).count() == 1
    outsider = make_user(platform, email="out@example.com")
    _as(site, outsider)
    assert site.get(f"/org/{org_id}/batches").status_code == 404
