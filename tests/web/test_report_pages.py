"""The back office's suspicious-transaction report pages over HTTP (both databases): a
report drafted from the case page, its narrative saved, submitted, sent back and filed by
a second officer through the forms (each form acting once however often it is sent),
the filed view's downloads (XML valid against the schema) and the printable view, in
English and 简体中文; other roles and forms without CSRF are refused."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
import xmlschema
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.reports import Report
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import report_export, screening
from corridor.web import security
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.platform.wallet_fakes import CountingKeyGen
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
KEY = re.compile(r'<input type="hidden" name="key" value="([^"]*)">')
ZH = {"accept-language": "zh-CN"}


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    chain = FakeChain()
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def officers(site: TestClient, platform: bootstrap.Platform) -> tuple[Actor, Actor]:
    """Two compliance officers, and a case holding a payment to a listed name."""
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
    return (make_staff(platform, "compliance_officer"),
            make_staff(platform, "compliance_officer", "second@corridor.example"))


def as_(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def case_path(site: TestClient) -> str:
    found = re.search(r'href="(/staff/compliance/cases/[^"]+)"', site.get("/staff/compliance").text)
    assert found
    return found.group(1)


def form_of(page: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf_of(page), "key": html.unescape(KEY.findall(page)[0]), **fields}


def draft(site: TestClient) -> str:
    """Drafts from the case page's form; the report's path."""
    path = case_path(site)
    page = site.get(path).text
    assert 'id="draft-report"' in page
    r = site.post(f"{path}/report", data=form_of(page, kind="STR"), follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def reports_of(platform: bootstrap.Platform) -> list[Report]:
    with platform.deps.uow() as uow:
        return uow.repo(Report).many()


def test_a_report_goes_from_the_case_page_to_filed_through_the_forms(
        site: TestClient, platform: bootstrap.Platform, officers: tuple[Actor, Actor]) -> None:
    drafter, reviewer = officers
    as_(site, drafter)
    assert 'href="/staff/reports"' in site.get("/staff").text
    path = draft(site)
    page = site.get(path).text
    assert "Carol Customer" in page and LISTED in page and "sanctions" in page
    assert "KHOROSHEV, Dmitry Yuryevich" in page and "Save the draft" in page
    # an empty narrative is refused with the summary linking to the field
    r = site.post(f"{path}/edit", data=form_of(page, narrative=" ", kind="STR"))
    assert r.status_code == 422 and 'href="#narrative"' in r.text
    form = form_of(page, narrative="Paid a listed person.\n\nHeld at once.", kind="SAR")
    for _ in range(2):  # the same form twice edits once
        r = site.post(f"{path}/edit", data=form, follow_redirects=False)
        assert r.status_code == 303
    page = site.get(path).text
    assert "Paid a listed person." in page and 'value="SAR" checked' in page
    r = site.post(f"{path}/submit", data=form_of(page), follow_redirects=False)
    assert r.status_code == 303
    page = site.get(path).text
    assert 'id="four-eyes"' in page and "File the report" not in page
    refused = site.post(f"{path}/file", data={"csrf_token": csrf_of(page), "key": "k-file"})
    assert refused.status_code == 403 and "Another compliance officer" in refused.text
    # the reviewer sends it back, in Chinese
    as_(site, reviewer)
    page = site.get(path, headers=ZH).text
    assert "退回起草人" in page and "报送报告" in page and "保存草稿" not in page
    r = site.post(f"{path}/send-back", data=form_of(page, reason="Say which list."),
                  follow_redirects=False)
    assert r.status_code == 303
    as_(site, drafter)
    page = site.get(path).text
    assert 'id="returned-reason"' in page and "Say which list." in page
    site.post(f"{path}/submit", data=form_of(page), follow_redirects=False)
    as_(site, reviewer)
    page = site.get(path).text
    form = form_of(page)
    for _ in range(2):  # filed once, whatever the resend
        assert site.post(f"{path}/file", data=form, follow_redirects=False).status_code == 303
    [filed] = reports_of(platform)
    assert filed.state == "filed" and filed.seq == 1 and filed.filed_by == reviewer.user.id
    page = site.get(path).text
    assert filed.number and filed.number in page and filed.content_hash in page
    assert "Save the draft" not in page and "File the report" not in page
    xml = site.get(f"{path}/report.xml")
    assert xml.status_code == 200 and xml.headers["content-type"] == "application/xml"
    xmlschema.XMLSchema(str(report_export.XSD)).validate(xml.text)
    doc = site.get(f"{path}/report.json").json()
    assert doc["number"] == filed.number and doc["content_hash"] == filed.content_hash
    printed = site.get(f"{path}/print")
    assert printed.status_code == 200 and filed.number in printed.text
    assert 'id="not-filed"' not in printed.text and "Held at once." in printed.text
    zh = site.get(f"{path}/print", headers=ZH).text
    assert "可疑活动报告" in zh and "内容哈希" in zh
    listed = site.get("/staff/reports?state=filed").text
    assert filed.id in listed
    assert filed.id not in site.get("/staff/reports?state=draft").text
    assert "可疑交易报告" in site.get("/staff/reports", headers=ZH).text


def test_other_roles_and_forms_without_csrf_are_refused(
        site: TestClient, platform: bootstrap.Platform, officers: tuple[Actor, Actor]) -> None:
    drafter, _ = officers
    as_(site, drafter)
    path = draft(site)
    no_csrf = site.post(f"{path}/edit", data={"narrative": "x", "key": "k"},
                        follow_redirects=False)
    assert no_csrf.status_code == 403
    # a second draft while one is open: the page says why
    again = site.post(f"{case_path(site)}/report",
                      data=form_of(site.get(case_path(site)).text, kind="STR"))
    assert again.status_code == 409
    assert len(reports_of(platform)) == 1
    printed = site.get(f"{path}/print").text
    assert 'id="not-filed"' in printed
    for role in ("support_agent", "auditor", "operator"):
        as_(site, make_staff(platform, role, f"{role}@corridor.example"))
        for url in ("/staff/reports", path, f"{path}/print", f"{path}/report.json"):
            assert site.get(url).status_code == 403, (role, url)
        r = site.post(f"{path}/file", data={"csrf_token": csrf_of(site.get("/staff").text),
                                            "key": "k"})
        assert r.status_code == 403
        assert 'href="/staff/reports"' not in site.get("/staff").text
