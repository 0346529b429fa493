"""Held deposits and withdrawals through the pages (both databases, issue 16): the
customer sees the held state in English and 简体中文 (neutral words: a compliance review is
not announced); the officer's case page lists every movement, the held ones marked, and
one release through its form, however often sent, lets the withdrawal go on once."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.compliance import CaseDecision
from corridor.platform.domain.rails import Withdrawal
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import screening
from corridor.web import security
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_records import make_payment, make_wallet
from tests.platform.rails_fakes import credit, grant_tier, open_wallet, sim_of
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.platform.test_withdrawals import IBAN_OK
from tests.platform.wallet_fakes import CountingKeyGen
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
ZH = {"accept-language": "zh-CN"}


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    """No node (balances from the rails' records), the simulated bank, a list naming
    LISTED."""
    p = bootstrap.build(settings, ledger=None, keygen=CountingKeyGen())
    screening.import_list(p.deps, None, LIST, ListFormat.CSL)
    yield p
    p.close()


def _customer(platform: bootstrap.Platform, site: TestClient) -> Actor:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    grant_tier(platform, carol.user.id)
    open_wallet(platform, carol.user.id)
    credit(site, platform, carol, "500.00")
    site.cookies.set(SESSION, carol.token)
    return carol


def _hidden(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)
            if name in ("csrf_token", "key")}


def test_a_held_withdrawal_shows_on_both_sides_and_one_release_lets_it_go_on(
        site: TestClient, platform: bootstrap.Platform) -> None:
    _customer(platform, site)
    form = {**_hidden(site.get("/withdrawals").text), "amount": "100.00", "currency": "USD",
            "bank_name": LISTED, "bank_account": IBAN_OK, "bank_country": "GB",
            "bank_code": "WESTGB2L"}
    made = site.post("/withdrawals", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    mine = made.headers["location"]
    shown = site.get(mine).text
    assert 'data-status="held"' in shown
    assert "Held for review by our staff: the amount stays reserved" in shown
    assert "compliance" not in shown.lower()  # the review is not announced
    assert "暂缓处理，正由我们的工作人员审核" in site.get(mine, headers=ZH).text

    officer = make_staff(platform, "compliance_officer")
    site.cookies.set(SESSION, officer.token)
    found = re.search(r'href="(/staff/compliance/cases/[^"]+)"',
                      site.get("/staff/compliance").text)
    assert found
    case = found.group(1)
    page = site.get(case).text
    (w,) = _withdrawals(platform)
    assert f'data-withdrawal="{w.id}" data-held="true"' in page
    assert "waiting for this case" in page and "The money on hold (1)" in page
    zh = site.get(case, headers=ZH).text
    assert "资金往来" in zh and "等待本案件决定" in zh
    decision = {**_hidden(page), "kind": "release", "note": "another person of that name"}
    assert decision["csrf_token"] == csrf_of(page)
    for _ in range(2):
        r = site.post(f"{case}/decision", data=decision, follow_redirects=False)
        assert r.status_code == 303, r.text
    (w,) = _withdrawals(platform)
    assert w.status == "requested" and [s.status for s in w.history] == ["held", "requested"]
    with platform.deps.uow() as uow:
        assert [d.kind for d in uow.repo(CaseDecision).many()] == ["release"]
    after = site.get(case).text
    assert 'data-held="true"' not in after and "The money on hold" not in after

    site.cookies.set(SESSION, make_staff(platform, "support_agent").token)
    assert site.get(case).status_code == 403


def test_a_deposit_held_by_compliance_shows_no_limits_note(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _customer(platform, site)
    made = site.post("/v1/deposits", headers={**carol.headers, "Idempotency-Key": "d-1"},
                     json={"currency": "USD", "amount": "40.00"})
    assert made.status_code == 201, made.text
    d = made.json()
    sent = site.post("/v1/dev/sim-bank/transfers", headers=carol.headers,
                     json={"reference": d["reference"], "amount": "40.00", "currency": "USD",
                           "remitter_name": LISTED})
    assert sent.status_code == 202 and sim_of(platform).drain() == 1
    page = site.get(f"/deposits/{d['id']}").text
    assert 'data-status="held"' in page and "Held for review by our staff" in page
    assert 'id="held-limits"' not in page
    assert "暂缓处理，正由我们的工作人员审核" in site.get(f"/deposits/{d['id']}", headers=ZH).text


def test_a_held_refund_shows_its_held_state_to_the_customer(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    dave = make_user(platform, email="dave@example.com", name="Dave Customer")
    p = make_payment(platform, make_wallet(platform, carol.user.id),
                     recipient=make_wallet(platform, dave.user.id), sender_name=LISTED)
    asked = site.post(f"/v1/payments/{p.id}/refund", headers=keyed(carol.headers),
                      json={"kind": "revocation", "reason": "sent by mistake"})
    assert asked.status_code == 201, asked.text
    agent = make_staff(platform, "support_agent")
    r = site.post(f"/v1/staff/refunds/{asked.json()['id']}/decision",
                  headers=keyed(agent.headers),
                  json={"decision": "approve", "reason": "payee agreed"})
    assert r.status_code == 200 and r.json()["status"] == "held", r.text
    site.cookies.set(SESSION, carol.token)
    page = site.get(f"/refunds/{r.json()['id']}").text
    assert page.count("Approved, held for review by our staff") >= 2  # status and timeline
    assert "Being processed" not in page
    zh = site.get(f"/refunds/{r.json()['id']}", headers=ZH).text
    assert "已批准，正由我们的工作人员审核（暂缓处理）" in zh


def _withdrawals(platform: bootstrap.Platform) -> list[Withdrawal]:
    with platform.deps.uow() as uow:
        return uow.repo(Withdrawal).many()
