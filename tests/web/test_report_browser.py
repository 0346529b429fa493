"""Suspicious-transaction reports in Chromium at 375 px, in English and Chinese: an officer
drafts a report from the case page, writes the narrative and submits it; a second officer
files it; the printable view prints without the menus. Each page: no CSP violation, a
label on every field, nothing wider than the phone; screenshots go to
out/web-screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from corridor.platform.domain.principal import Origin
from corridor.platform.domain.reports import Report
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import payments, screening, sessions
from corridor.platform.services.payments import PaymentRequest
from corridor.web import security
from tests.platform.conftest import make_staff, make_user, new_key
from tests.platform.payment_fakes import kyc, open_wallet
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.web.browser import holding
from tests.web.test_browser import PHONE_WIDTH, Checked, Live, browser, live  # noqa: F401

SESSION = security.cookie_names(False)[0]


@pytest.mark.parametrize(("language", "filed_text"), [("en", "Filed"), ("zh-Hans", "已报送")])
def test_a_report_is_drafted_filed_and_printed_at_phone_width(
        live: Live, browser: Browser, language: str, filed_text: str) -> None:  # noqa: F811
    p = live.platform
    screening.import_list(p.deps, None, LIST, ListFormat.CSL)
    alice = make_user(p, email="carol@example.com", name="Carol Customer")
    bob = make_user(p, email="dave@example.com", name=LISTED)
    for who in (alice, bob):
        kyc(p, who.user.id, 2)
        open_wallet(p, who.user.id)
    live.ledger.holdings = (holding("USD", 100_000),)
    payer = sessions.authenticate(p.deps, alice.token, Origin(ip="127.0.0.1"))
    held, _ = payments.create(p.deps, payer, PaymentRequest(
        recipient={"type": "user", "email": "dave@example.com"}, asset="USD",
        amount="25.00"), new_key())
    assert held.status == "on_hold"
    drafter = make_staff(p, "compliance_officer")
    reviewer = make_staff(p, "compliance_officer", "second@corridor.example")
    locale = "zh-CN" if language == "zh-Hans" else "en-GB"

    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800}, locale=locale)
    context.add_cookies([{"name": SESSION, "value": drafter.token, "url": live.url}])
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(live.url + "/staff/compliance")
    page.click("table.staff-queue a")
    b.landed()
    page.select_option("#report-kind", "SAR")
    page.click("#draft-report button")
    b.landed("staff-report-draft")
    assert "/staff/reports/" in page.url
    report_url = page.url
    page.fill("#narrative", "Paid a person on the US CSL.\n\nThe payment is held.")
    page.click("form[action$='/edit'] button")
    b.landed()
    assert page.input_value("#narrative").startswith("Paid a person on the US CSL.")
    page.click("form[action$='/submit'] button")
    b.landed()
    assert page.locator("#four-eyes").is_visible()
    context.close()

    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800}, locale=locale)
    context.add_cookies([{"name": SESSION, "value": reviewer.token, "url": live.url}])
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(report_url)
    b.landed("staff-report-review")
    page.click("form[action$='/file'] button")
    b.landed("staff-report-filed")
    with p.deps.reader() as uow:
        [filed] = uow.repo(Report).many()
    assert filed.state == "filed" and filed.number
    assert filed_text in page.locator(".status-line").inner_text()
    assert filed.number in page.locator(".status-line").inner_text()
    assert page.locator("#content-hash").inner_text() == filed.content_hash
    page.click(".report-links a[href$='/print']")
    b.landed("staff-report-print")
    assert page.locator("#not-filed").count() == 0
    assert page.locator("header.top").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("footer.bottom").is_visible()
    assert page.locator("#report-transactions").is_visible()
    context.close()
