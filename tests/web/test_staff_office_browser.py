"""The back office in Chromium at 375 px, in English and Chinese: the dashboard with its
charts, the customer lookup and a customer's page, staff administration (a new member of
staff through the form, the initial password shown), and the audit log's chain
verification. Each page: no CSP violation, a label on every field, nothing wider than the
phone; screenshots go to out/web-screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from corridor.platform.domain.identity import User
from corridor.web import security
from tests.platform.conftest import make_staff, make_user
from tests.platform.payment_records import make_payment, make_wallet
from tests.web.browser import holding
from tests.web.test_browser import PHONE_WIDTH, Checked, Live, browser, live  # noqa: F401

SESSION = security.cookie_names(False)[0]


@pytest.mark.parametrize(("language", "verified"), [
    ("en", "The chain is intact"), ("zh-Hans", "审计链完整")])
def test_the_back_office_works_at_phone_width(live: Live, browser: Browser,  # noqa: F811
                                              language: str, verified: str) -> None:
    carol = make_user(live.platform, email="carol@example.com", name="Carol Customer")
    make_payment(live.platform, make_wallet(live.platform, carol.user.id))
    live.ledger.holdings = (holding("USD", 123_450),)
    admin = make_staff(live.platform, "admin")
    auditor = make_staff(live.platform, "auditor")
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800},
                                  locale="zh-CN" if language == "zh-Hans" else "en-GB")
    context.add_cookies([{"name": SESSION, "value": admin.token, "url": live.url}])
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(live.url + "/staff/dashboard")
    b.landed("staff-dashboard")
    assert page.locator("svg.bars").count() == 3
    assert page.locator("[data-figure=success-rate]").inner_text() == "100.0%"
    page.goto(live.url + "/staff/customers")
    page.fill("#q", "carol@example.com")
    page.click("form.search button")
    b.landed("staff-customers")
    page.click(f"tr[data-id='{carol.user.id}'] a")
    b.landed("staff-customer")
    assert page.locator("[data-rows=sent] tr[data-id]").count() == 1
    balance = "US$1,234.50" if language == "zh-Hans" else "$1,234.50"
    assert page.locator(".wallet [data-currency=USD]").inner_text() == balance
    page.goto(live.url + "/staff/admin")
    page.fill("#email", "nina@corridor.example")
    page.fill("#name", "Nina Support")
    page.select_option("#role", "support_agent")
    page.click("form[action='/staff/admin'] button")
    b.landed("staff-admin")
    assert len(page.input_value("[data-initial-password]")) >= 32
    with live.platform.deps.uow() as uow:
        nina = uow.repo(User).one(email="nina@corridor.example")
    assert nina is not None and nina.staff_role == "support_agent"
    context.clear_cookies()
    context.add_cookies([{"name": SESSION, "value": auditor.token, "url": live.url}])
    page.goto(live.url + "/staff/audit")
    b.landed()
    page.click("form.verify-chain button")
    b.landed("staff-audit")
    assert verified in page.locator(".chain-report").inner_text()
    assert page.locator("tr[data-seq]").count() >= 2  # the customer view, the new account
    context.close()
