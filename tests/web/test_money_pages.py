"""Deposits and history through the pages (on both databases): the bank instructions
with the reference, one deposit however often the form is sent, the history's filters,
its exports (the API export's files), and refusals of the signed-out, the wrong role and
a form without its CSRF token."""

from __future__ import annotations

import csv
import html
import io
import re

from openpyxl import load_workbook
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.rails import Deposit, Withdrawal
from corridor.web import security
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.rails_fakes import (
    credit,
    grant_tier,
    open_wallet,
    rails_platform,  # noqa: F401  (the `platform` fixture: no node, deterministic keys)
)
from tests.platform.test_withdrawals import IBAN_OK
from tests.web.conftest import csrf_of

HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
ROW_ID = re.compile(r'data-id="([^"]+)"')
SESSION = security.cookie_names(production=False)[0]


def _deposits(platform: bootstrap.Platform) -> list[Deposit]:
    with platform.deps.uow() as uow:
        return uow.repo(Deposit).many()


def _customer(platform: bootstrap.Platform, site: TestClient) -> Actor:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    grant_tier(platform, carol.user.id)
    open_wallet(platform, carol.user.id)
    site.cookies.set(SESSION, carol.token)
    return carol


def _form(site: TestClient, amount: str, currency: str = "USD") -> dict[str, str]:
    page = site.get("/deposits").text
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page)
            if name in ("csrf_token", "key")}
    assert form["key"] and form["csrf_token"] == csrf_of(page)
    return {**form, "amount": amount, "currency": currency}


def test_a_deposit_shows_the_bank_details_and_is_made_once_however_often_sent(
        site: TestClient, platform: bootstrap.Platform) -> None:
    _customer(platform, site)
    form = _form(site, "250.00")
    first = site.post("/deposits", data=form, follow_redirects=False)
    again = site.post("/deposits", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    (d,) = _deposits(platform)
    assert d.amount_minor == 25_000 and d.currency == "USD"
    shown = site.get(first.headers["location"])
    assert shown.status_code == 200
    assert f"<strong>{d.reference}</strong>" in shown.text
    assert d.instructions["account"] in shown.text and "$250.00" in shown.text
    listed = site.get("/deposits", headers={"accept-language": "zh-CN"}).text
    assert d.reference in listed and "等待您的银行转账" in listed
    # a new form is a new key: a second deposit
    assert site.post("/deposits", data=_form(site, "10.00"),
                     follow_redirects=False).status_code == 303
    assert len(_deposits(platform)) == 2


def test_a_refused_deposit_says_why_and_keeps_its_key(
        site: TestClient, platform: bootstrap.Platform) -> None:
    _customer(platform, site)
    form = _form(site, "")
    r = site.post("/deposits", data=form)
    assert r.status_code == 422 and 'href="#amount"' in r.text
    assert f'name="key" value="{form["key"]}"' in r.text
    r = site.post("/deposits", data={**form, "amount": "abc"}, headers={"accept-language": "zh-CN"})
    assert r.status_code == 422 and 'href="#amount"' in r.text
    assert _deposits(platform) == []


def test_deposits_and_history_refuse_the_signed_out_the_wrong_role_and_forged_forms(
        site: TestClient, platform: bootstrap.Platform) -> None:
    for path in ("/deposits", "/history", "/history/export.csv"):
        r = site.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin?next="), path
    staff = make_staff(platform, "support_agent")
    site.cookies.set(SESSION, staff.token)
    for path in ("/deposits", "/history", "/history/export.xlsx"):
        r = site.get(path, follow_redirects=False)
        assert r.status_code == 403 and 'data-code="FORBIDDEN"' in r.text, path
    _customer(platform, site)
    form = _form(site, "250.00")
    for token in (None, "", form["csrf_token"] + "x"):
        data = {k: v for k, v in form.items() if k != "csrf_token"}
        if token is not None:
            data["csrf_token"] = token
        r = site.post("/deposits", data=data, follow_redirects=False)
        assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text
    assert _deposits(platform) == []
    # another customer's deposit is absent, exactly like one that does not exist
    assert site.post("/deposits", data=form, follow_redirects=False).status_code == 303
    (d,) = _deposits(platform)
    site.cookies.set(SESSION, make_user(platform, email="dave@example.com").token)
    assert site.get(f"/deposits/{d.id}").status_code == 404


def test_filters_narrow_the_history_and_exports_carry_them(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _customer(platform, site)
    for amount, currency in (("250.00", "USD"), ("80.00", "EUR"), ("12.50", "USD")):
        site.post("/deposits", data=_form(site, amount, currency), follow_redirects=False)
    done = credit(site, platform, carol, "40.00", "USD")  # through the API: the same rows
    all_rows = site.get("/history").text
    assert all_rows.count('data-type="deposit"') == 4
    credited = site.get("/history", params={"status": "credited"}).text
    assert ROW_ID.findall(credited) == [done["id"]]
    assert "Credited to your wallet" in credited
    shown = site.get(f"/deposits/{done['id']}").text
    assert done["tx_id"] in shown and "Credited to your wallet" in shown
    usd = site.get("/history", params={"currency": "USD", "min_amount": "100"}).text
    assert usd.count('data-type="deposit"') == 1 and "$250.00" in usd
    assert site.get("/history", params={"type": "withdrawal"}).text.count("data-type=") == 0
    assert site.get("/history", params={"type": ["withdrawal", "deposit"]}).text.count(
        "data-type=") == 4
    by_uetr = site.get("/history", params={"ref": done["uetr"].upper()}).text
    assert ROW_ID.findall(by_uetr) == [done["id"]]
    bad = site.get("/history", params={"min_amount": "5"})
    assert bad.status_code == 422 and 'href="#currency"' in bad.text
    bad = site.get("/history", params={"from": "2026-13-01"})
    assert bad.status_code == 422 and 'href="#from"' in bad.text
    shown = site.get("/history", params={"currency": "EUR"}).text
    link = re.search(r'href="(/history/export\.csv[^"]*)"', shown)
    assert link and "currency=EUR" in link.group(1)
    r = site.get(html.unescape(link.group(1)))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["type"], x["currency"], x["amount"]) for x in lines] == [
        ("deposit", "EUR", "80.00")]
    r = site.get("/history/export.xlsx", params={"currency": "USD"})
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 4 and sorted(v[5] for v in values[1:]) == [12.5, 40, 250]
    assert site.get("/history/export.pdf").status_code == 404


def test_the_history_pages_follow_the_cursor(site: TestClient,
                                             platform: bootstrap.Platform) -> None:
    from corridor.web import pages_history

    _customer(platform, site)
    for i in range(pages_history.PAGE_SIZE + 2):
        site.post("/deposits", data=_form(site, f"{i + 1}.00"), follow_redirects=False)
    first = site.get("/history").text
    assert first.count('data-type="deposit"') == pages_history.PAGE_SIZE
    older = re.search(r'href="(/history\?cursor=[^"]+)"', first)
    assert older
    second = site.get(html.unescape(older.group(1))).text
    assert second.count('data-type="deposit"') == 2
    ids = set(ROW_ID.findall(first)) | set(ROW_ID.findall(second))
    assert len(ids) == pages_history.PAGE_SIZE + 2


def _withdrawals(platform: bootstrap.Platform) -> list[Withdrawal]:
    with platform.deps.uow() as uow:
        return uow.repo(Withdrawal).many()


def _withdrawal_form(site: TestClient, amount: str, account: str = IBAN_OK) -> dict[str, str]:
    page = site.get("/withdrawals").text
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page)
            if name in ("csrf_token", "key")}
    assert form["key"]
    return {**form, "amount": amount, "currency": "USD", "bank_name": "Carol Customer",
            "bank_account": account, "bank_country": "GB", "bank_code": "WESTGB2L"}


def test_a_withdrawal_is_made_once_however_often_sent_and_shows_the_account_masked(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _customer(platform, site)
    credit(site, platform, carol, "500.00")
    form = _withdrawal_form(site, "100.00")
    first = site.post("/withdrawals", data=form, follow_redirects=False)
    again = site.post("/withdrawals", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    (w,) = _withdrawals(platform)
    assert (w.amount_minor, w.currency, w.status) == (10_000, "USD", "requested")
    shown = site.get(first.headers["location"]).text
    account = IBAN_OK.replace(" ", "")
    assert "$100.00" in shown and account[-4:] in shown and account[:-4] not in shown
    listed = site.get("/withdrawals", headers={"accept-language": "zh-CN"}).text
    assert f'data-id="{w.id}"' in listed and "已申请" in listed
    history = site.get("/history", params={"type": "withdrawal"}).text
    assert ROW_ID.findall(history) == [w.id]


def test_a_refused_withdrawal_names_each_field_and_moves_nothing(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _customer(platform, site)
    credit(site, platform, carol, "50.00")
    form = _withdrawal_form(site, "100.00")
    r = site.post("/withdrawals", data=form)
    assert r.status_code == 409 and f'name="key" value="{form["key"]}"' in r.text
    r = site.post("/withdrawals", data={**form, "bank_account": "x", "bank_country": "ZZZ"})
    assert r.status_code == 422
    assert 'href="#bank_account"' in r.text and 'href="#bank_country"' in r.text
    r = site.post("/withdrawals", data={k: v for k, v in form.items() if k != "csrf_token"})
    assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text
    assert _withdrawals(platform) == []
    staff = make_staff(platform, "support_agent")
    site.cookies.set(SESSION, staff.token)
    assert site.get("/withdrawals", follow_redirects=False).status_code == 403
