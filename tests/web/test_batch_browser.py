"""Batch payments in Chromium at 375 px, in English and Chinese: the maker uploads a CSV
through the form and reads the validation report; the checker approves it and sees it
being paid. Each page: no CSP violation, a label on every field, nothing wider than the
phone; screenshots go to out/web-screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from corridor.web import security
from tests.platform.conftest import make_user
from tests.platform.payment_fakes import kyc, open_wallet
from tests.platform.wallet_fakes import make_org
from tests.web.browser import holding
from tests.web.test_browser import PHONE_WIDTH, Checked, Live, browser, live  # noqa: F401

SESSION = security.cookie_names(False)[0]
CSV = ("reference,currency,amount,recipient_type,email,memo\n"
       "INV-2026-001,USD,10.00,user,payee@example.com,March invoice\n"
       "INV-2026-002,USD,2.50,user,payee@example.com,April invoice\n")


@pytest.mark.parametrize(("language", "approved"), [("en", "Approved: being paid"),
                                                    ("zh-Hans", "已批准：正在付款")])
def test_a_batch_is_uploaded_checked_and_approved_at_phone_width(
        live: Live, browser: Browser, tmp_path: Path, language: str,  # noqa: F811
        approved: str) -> None:
    p = live.platform
    maker = make_user(p, email="maker@example.com", name="Mia Maker")
    checker = make_user(p, email="checker@example.com", name="Carl Checker")
    org_id = make_org(p, maker.user.id, {checker.user.id: "approver"})
    kyc(p, org_id, 3, owner_type="org")
    open_wallet(p, org_id, owner_type="org")
    payee = make_user(p, email="payee@example.com", name="Pat Payee")
    kyc(p, payee.user.id, 2)
    open_wallet(p, payee.user.id)
    live.ledger.holdings = (holding("USD", 1_000_00),)
    locale = "zh-CN" if language == "zh-Hans" else "en-GB"
    file = tmp_path / "march.csv"
    file.write_text(CSV)

    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800}, locale=locale)
    context.add_cookies([{"name": SESSION, "value": maker.token, "url": live.url}])
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(f"{live.url}/org/{org_id}/batches")
    b.landed("org-batches")
    page.set_input_files("#file", str(file))
    page.click("form[action='/org-batches'] button[type=submit]")
    b.landed("org-batch-validated")
    assert page.get_attribute("#batch-status", "data-status") == "validated"
    assert page.locator("#approve").count() == 0  # the maker may not approve their own
    batch_url = page.url
    context.close()

    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800}, locale=locale)
    context.add_cookies([{"name": SESSION, "value": checker.token, "url": live.url}])
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(batch_url)
    b.landed()
    page.click("#approve")
    b.landed("org-batch-approved")
    assert approved in page.locator("#batch-status").inner_text()
    assert page.locator("#batch-progress li[data-status='submitted']").count() == 1
    context.close()
