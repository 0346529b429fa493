"""The regulator's pages over HTTP (both databases), in English and 简体中文: the overview,
payments, alerts, cases (read-only: no form posts anywhere), the audit trail with its
chain verification, the live feed page and its event stream; each page read audited;
other roles refused; the staff navigation shows these pages to the regulator only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.compliance import Case
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import reports, screening
from corridor.web import security
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.platform.wallet_fakes import CountingKeyGen

SESSION = security.cookie_names(production=False)[0]
PAGES = ("/regulator/overview", "/regulator/payments", "/regulator/alerts",
         "/regulator/cases", "/regulator/audit", "/regulator/feed")
ZH = {"accept-language": "zh-CN"}


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=FakeChain(),
                        keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def held(site: TestClient, platform: bootstrap.Platform) -> tuple[Actor, str]:
    """A regulator, and the id of a payment held for a listed recipient."""
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
    return make_staff(platform, "regulator"), r.json()["id"]


def _reads(platform: bootstrap.Platform, who: Actor) -> list[tuple[str, str]]:
    with platform.deps.uow() as uow:
        return [(e.object_type, e.object_id) for e in uow.repo(AuditEntry).many(
            actor_id=who.user.id, action="supervise.read", order_by="seq")]


def test_the_regulator_reads_every_page_in_both_languages_without_a_form_to_post(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    regulator, payment_id = held
    site.cookies.set(SESSION, regulator.token)
    staff_home = site.get("/staff").text
    for path in PAGES:
        assert f'href="{path}"' in staff_home, path
    assert 'href="/staff/audit"' not in staff_home  # the unaudited trail is not theirs
    assert site.get("/regulator", follow_redirects=False).headers["location"] == (
        "/regulator/overview")
    for path in PAGES:
        for headers in ({}, ZH):
            r = site.get(path, headers=headers)
            assert r.status_code == 200, (path, r.status_code)
            assert 'method="post"' not in r.text.replace(
                'method="post" action="/signout"', "").replace(
                'method="post" action="/language"', ""), path
    overview = site.get("/regulator/overview").text
    assert re.search(r'data-figure="payments_on_hold">1<', overview)
    assert "监管" in site.get("/regulator/overview", headers=ZH).text

    listed = site.get("/regulator/payments?status=on_hold&currency=usd").text
    assert f'data-payment="{payment_id}"' in listed
    assert f'data-payment="{payment_id}"' not in site.get(
        "/regulator/payments?status=credited").text
    detail = site.get(f"/regulator/payments/{payment_id}").text
    assert 'data-step="on_hold"' in detail and "sanctions" in detail

    case_link = re.search(r'href="(/regulator/cases/[^"]+)"',
                          site.get("/regulator/cases?state=open").text)
    assert case_link
    case = site.get(case_link.group(1))
    assert "KHOROSHEV, Dmitry Yuryevich" in case.text and LISTED in case.text
    assert "<form" not in case.text.split('<main id="main">')[1]
    assert "筛查的姓名" in site.get(case_link.group(1), headers=ZH).text
    alerts = site.get("/regulator/alerts?state=open&typology=sanctions").text
    assert f'href="/regulator/payments/{payment_id}"' in alerts

    audit = site.get("/regulator/audit?verify=yes&action=compliance.alert").text
    assert 'data-chain-ok="yes"' in audit and "compliance.alert" in audit
    feed = site.get("/regulator/feed").text
    assert 'data-kind="hold"' in feed and 'data-kind="alert"' in feed
    assert '<script src="/static/regulator-feed.js" defer></script>' in feed
    assert "<script>" not in feed

    read = _reads(platform, regulator)
    assert ("payments", payment_id) in read and ("audit", "chain") in read
    assert ("feed", "recent") in read and read.count(("payments", "*")) == 4


def test_a_bad_filter_is_shown_on_the_form_in_the_readers_language(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    regulator, _ = held
    site.cookies.set(SESSION, regulator.token)
    r = site.get("/regulator/payments?status=lost&since=yesterday")
    assert r.status_code == 422
    assert 'href="#since"' in r.text and 'id="error-summary"' in r.text
    assert site.get("/regulator/audit?since=nope", headers=ZH).status_code == 422
    assert _reads(platform, regulator) == []  # refused input reads nothing


def test_the_feed_page_streams_from_the_last_event_id(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    regulator, payment_id = held
    site.cookies.set(SESSION, regulator.token)
    with site.stream("GET", "/regulator/feed/events?max_ms=0&last_event_id=0") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert re.findall(r"^event: (\w+)$", text, re.M) == ["alert", "hold"]
    ids = [int(i) for i in re.findall(r"^id: (\d+)$", text, re.M)]
    with site.stream("GET", "/regulator/feed/events?max_ms=0&last_event_id=0",
                     headers={"Last-Event-ID": str(ids[0])}) as r:
        again = "".join(r.iter_text())
    assert re.findall(r"^id: (\d+)$", again, re.M) == [str(ids[1])]
    assert payment_id in again


@pytest.mark.parametrize("role", [r.value for r in StaffRole if r is not StaffRole.REGULATOR])
def test_other_roles_are_refused_every_regulator_page(
        site: TestClient, platform: bootstrap.Platform, role: str) -> None:
    who = make_staff(platform, role)
    site.cookies.set(SESSION, who.token)
    assert "/regulator/" not in site.get("/staff").text
    for path in (*PAGES, "/regulator/feed/events?max_ms=0", "/regulator/cases/x"):
        assert site.get(path).status_code == 403, (role, path)


def test_customers_and_strangers_are_kept_out(
        site: TestClient, platform: bootstrap.Platform) -> None:
    r = site.get("/regulator/payments", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    customer = make_user(platform, email="erin@example.com")
    site.cookies.set(SESSION, customer.token)
    assert site.get("/regulator/overview").status_code == 403


def test_the_regulator_reads_a_filed_report_and_not_a_draft(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    regulator, _ = held
    deps = platform.deps
    drafter, filer = (make_staff(platform, "compliance_officer", f"officer{i}@corridor.example")
                      for i in range(2))

    def principal(a: Actor) -> Principal:
        return Principal(user_id=a.user.id, kind=UserKind.STAFF,
                         staff_role=StaffRole.COMPLIANCE_OFFICER, session_id="")

    with deps.reader() as uow:
        case = uow.repo(Case).one(state="open")
    assert case is not None
    r = reports.draft(deps, principal(drafter), case.id, "SAR", "k1")
    reports.edit(deps, principal(drafter), r.id, narrative="Paid a listed person.",
                 kind=None, idempotency_key="k2")
    site.cookies.set(SESSION, regulator.token)
    assert f'data-report="{r.id}"' not in site.get("/regulator/reports").text
    assert site.get(f"/regulator/reports/{r.id}").status_code == 404
    reports.submit(deps, principal(drafter), r.id, "k3")
    filed = reports.file(deps, principal(filer), r.id, "k4")
    listed = site.get("/regulator/reports?kind=SAR").text
    assert f'data-report="{r.id}"' in listed and str(filed.number) in listed
    page = site.get(f"/regulator/reports/{r.id}")
    assert page.status_code == 200 and "Paid a listed person." in page.text
    assert str(filed.content_hash) in page.text and "<form" not in page.text.split(
        '<main id="main">')[1]
    assert "已报送的报告" in site.get("/regulator/reports", headers=ZH).text
    assert ("reports", r.id) in _reads(platform, regulator)
    site.cookies.set(SESSION, drafter.token)
    assert site.get("/regulator/reports").status_code == 403
