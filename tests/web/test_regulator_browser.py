"""The regulator's pages in Chromium at 375 px, in English and Chinese: the live feed
connects by itself (EventSource, from a static script: no CSP violation) and shows a
hold the moment a payment is held, linked to the payment's page; every supervision page
has a label on each field and fits the phone; screenshots go to out/web-screenshots/."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser

from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import screening
from corridor.web import security
from tests.platform.conftest import keyed, make_staff, make_user
from tests.platform.payment_fakes import kyc, open_wallet
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.web.browser import holding
from tests.web.test_browser import PHONE_WIDTH, Checked, Live, browser, live  # noqa: F401

SESSION = security.cookie_names(False)[0]


@pytest.mark.parametrize(("language", "live_text"), [
    ("en", "Live: new events appear at the top."), ("zh-Hans", "实时：新事件显示在最上方。")])
def test_the_live_feed_shows_a_hold_as_it_happens(live: Live, browser: Browser,  # noqa: F811
                                                  language: str, live_text: str) -> None:
    screening.import_list(live.platform.deps, None, LIST, ListFormat.CSL)
    alice = make_user(live.platform, email="carol@example.com", name="Carol Customer")
    bob = make_user(live.platform, email="dave@example.com", name=LISTED)
    for who in (alice, bob):
        kyc(live.platform, who.user.id, 2)
        open_wallet(live.platform, who.user.id)
    live.ledger.holdings = (holding("USD", 100_000),)
    regulator = make_staff(live.platform, "regulator")
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800},
                                  locale="zh-CN" if language == "zh-Hans" else "en-GB")
    context.add_cookies([{"name": SESSION, "value": regulator.token, "url": live.url}])
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(live.url + "/regulator/feed")
    b.landed()
    page.wait_for_function("t => document.getElementById('feed-status').textContent === t",
                           arg=live_text)
    assert page.locator("#feed li").count() == 0

    r = httpx.post(live.url + "/v1/payments", headers=keyed(alice.headers),
                   json={"recipient": {"type": "user", "email": "dave@example.com"},
                         "asset": "USD", "amount": "50.00"})
    assert r.status_code == 201 and r.json()["status"] == "on_hold", r.text
    payment_id = r.json()["id"]
    page.wait_for_selector("#feed li[data-kind=hold]")
    assert page.locator("#feed li").first.get_attribute("data-kind") == "hold"
    assert page.locator("#feed li[data-kind=alert]").count() == 1
    b.landed("regulator-feed")
    page.click("#feed li[data-kind=hold] a")
    page.wait_for_url(f"**/regulator/payments/{payment_id}")
    b.landed("regulator-payment")
    assert page.locator("[data-step=on_hold]").count() == 1

    for path, shot in (("/regulator/overview", "regulator-overview"),
                       ("/regulator/payments", "regulator-payments"),
                       ("/regulator/alerts", "regulator-alerts"),
                       ("/regulator/cases", "regulator-cases"),
                       ("/regulator/audit?verify=yes", "regulator-audit")):
        page.goto(live.url + path)
        b.landed(shot)
    page.goto(live.url + "/regulator/cases")
    page.click("tr[data-case] a")
    b.landed("regulator-case")
    assert page.locator("main form").count() == 0  # read-only: no decision form
    assert page.locator(".alert-evidence").count() == 1
    context.close()
