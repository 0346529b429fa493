"""End to end in Chromium, in English and in Chinese: register -> verify -> sign in with
the e-mailed code -> turn the authenticator on -> sign out -> sign in with TOTP ->
dashboard with balances -> payment list -> a payment's timeline. Along the way: no
Content-Security-Policy violation, a label on every input, nothing wider than a 375 px
phone, CSRF, framing and the wrong role refused in the browser too. Screenshots of the
main pages go to out/web-screenshots/ (gitignored)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.identity import User
from corridor.platform.domain.wallets import Wallet, WalletStatus
from corridor.web import security
from corridor.web.site import create_site
from tests.platform.conftest import make_staff, make_user
from tests.platform.payment_fakes import FakeClock, kyc, open_wallet
from tests.platform.payment_records import make_payment
from tests.web.browser import CHROMIUM_ARGS, SHOTS, Ledger, chromium, holding, serve
from tests.web.conftest import PASSWORD, latest_code

PHONE_WIDTH = 375


@dataclasses.dataclass
class Live:
    url: str
    platform: bootstrap.Platform
    clock: FakeClock
    ledger: Ledger


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    # The browser suite runs on SQLite only: the pages' services run on both databases in
    # tests/web/test_http.py and tests/platform; a second browser run would only repeat them.
    clock, ledger = FakeClock(), Ledger()
    platform = bootstrap.build(Settings(data_dir=tmp_path / "platform",
                                        fast_password_hashing=True),
                               clock=clock, ledger=ledger)
    try:
        for url in serve(create_site(platform)):
            yield Live(url, platform, clock, ledger)
    finally:
        platform.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Checked:
    """A browser page that records CSP violations and checks each page it lands on."""

    def __init__(self, page: Page, language: str) -> None:
        self.page, self.language, self.violations = page, language, []  # type: list[str]
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(message.text)

    def landed(self, shot: str | None = None) -> None:
        page = self.page
        page.wait_for_load_state("load")
        assert page.get_attribute("html", "lang") == self.language
        unlabelled = page.evaluate(
            "() => [...document.querySelectorAll('input:not([type=hidden]), select')]"
            ".filter(e => e.labels.length === 0).map(e => e.name)")
        assert unlabelled == [], f"{page.url}: inputs without a label {unlabelled}"
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE_WIDTH, f"{page.url} is {width} px wide at {PHONE_WIDTH} px"
        assert not self.violations, self.violations
        if shot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{shot}-{self.language}.png"), full_page=True)


def _totp(live: Live, secret: str) -> str:
    return str(pyotp.TOTP(secret).at(live.clock.now_ms() // 1000))


@pytest.mark.parametrize(("language", "texts"), [
    ("en", {"hello": "Hello, Ann Example", "usd": "$1,234.50", "credited": "Credited",
            "total": "$100.00"}),
    ("zh-Hans", {"hello": "您好，Ann Example", "usd": "US$1,234.50", "credited": "已入账",
                 "total": "US$100.00"}),
])
def test_a_newcomer_signs_up_and_sees_their_money(live: Live, browser: Browser, language: str,
                                                  texts: dict[str, str]) -> None:
    email = "ann@example.com"
    context = browser.new_context(locale="zh-CN" if language == "zh-Hans" else "en-GB",
                                  viewport={"width": PHONE_WIDTH, "height": 800})
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(live.url + "/")
    b.landed("front")
    page.click("a[href='/signup'].button")
    b.landed("signup")
    page.fill("#name", "Ann Example")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.check("#accept_terms")
    page.click("form[action='/signup'] button[type=submit]")
    b.landed("verify")
    page.fill("#code", latest_code(live.platform, email))
    page.click("form[action='/verify'] button:not([name])")
    b.landed()
    assert page.url.endswith("/signin?note=verified")

    before = _cookies(context)
    _sign_in(b, live, email, code=latest_code)
    after = _cookies(context)
    anon, session = security.cookie_names(False)[1], security.cookie_names(False)[0]
    assert session not in before and after[session]  # a session only from sign-in on
    assert after[anon] != before[anon]  # and nothing from before sign-in is kept
    page.goto(live.url + "/security")
    page.click("form[action='/security/totp'] button")
    b.landed()
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#code", _totp(live, secret))
    page.click("form[action='/security/totp/confirm'] button")
    b.landed("security")
    assert len(page.locator("#recovery-codes li").all()) >= 8

    # Money to show: the wallet open on chain with two currencies, and a payment.
    wallet = _open_wallet(live, email)
    live.ledger.holdings = (holding("USD", 123_450), holding("CNY", 8_800))
    payment = make_payment(live.platform, wallet, status="credited")

    live.clock.advance(31_000)  # the next authenticator code
    page.click("form[action='/signout'] button")
    b.landed()
    _sign_in(b, live, email, code=lambda _p, _e: _totp(live, secret))
    b.landed("dashboard")
    assert texts["hello"] in page.inner_text("h1")
    assert page.inner_text("td[data-currency=USD]") == texts["usd"]

    page.goto(live.url + "/verification")
    b.landed("verification")
    page.goto(live.url + "/payments")
    b.landed("payments")
    page.click(f"a[href='/payments/{payment.id}']")
    b.landed("payment")
    assert page.inner_text("#uetr") == payment.uetr
    steps = page.locator("ol.timeline li").all()
    assert len(steps) == len(payment.history)
    assert texts["credited"] in steps[-1].inner_text()
    assert page.locator("#timeline[hx-get]").count() == 0  # at rest: not followed any more

    # Quote and pay: the full cost first, then the payment's own page.
    _verified(live, email)
    page.goto(live.url + "/pay")
    b.landed("pay")
    page.fill("#recipient", "dave@example.com")
    page.fill("#amount", "100.00")
    page.select_option("#send_currency", "USD")
    page.select_option("#receive_currency", "CNY")
    page.click("form[action='/pay/review'] button")
    b.landed("pay-review")
    assert page.inner_text("#total") == texts["total"]
    page.click("form[action='/pay/confirm'] button")
    b.landed("payment-new")
    assert "/payments/" in page.url and page.inner_text("#uetr")

    # Add money: the bank details with the reference; then the history with its filters.
    page.goto(live.url + "/deposits")
    b.landed("deposits")
    page.fill("#amount", "250.00")
    page.select_option("#currency", "USD")
    page.click("form[action='/deposits'] button")
    b.landed("deposit")
    assert "/deposits/" in page.url and page.inner_text("#reference").startswith("RF")
    page.goto(live.url + "/history")
    b.landed("history")
    page.check("input[name=type][value=deposit]")
    page.click("form[action='/history'] button")
    b.landed()
    rows = page.locator("tr[data-type]")
    assert rows.count() == page.locator("tr[data-type=deposit]").count() == 1
    page.goto(live.url + "/withdrawals")
    b.landed("withdrawals")
    context.close()


def _cookies(context: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies()}


def _sign_in(b: Checked, live: Live, email: str, code: Any) -> None:
    page = b.page
    page.goto(live.url + "/signin")
    b.landed("signin")
    page.fill("#identifier", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/signin'] button")
    b.landed("signin-code")
    page.fill("#code", code(live.platform, email))
    page.click("form[action='/signin/code'] button[type=submit]")
    b.landed()
    assert page.url.endswith("/dashboard"), page.url


def _open_wallet(live: Live, email: str) -> Wallet:
    with live.platform.deps.uow() as uow:
        user = uow.repo(User).one(email=email)
        assert user is not None
        wallet = uow.repo(Wallet).one(owner_id=user.id)
        assert wallet is not None
        wallet = dataclasses.replace(wallet, status=WalletStatus.OPEN)
        uow.repo(Wallet).update(wallet)
        uow.commit()
    return wallet


def _verified(live: Live, email: str) -> None:
    """KYC accepted for the customer (tier 2), and a recipient with an open wallet, as a
    compliance officer's decisions would leave them (the KYC pages come later)."""
    with live.platform.deps.uow() as uow:
        user = uow.repo(User).one(email=email)
        assert user is not None
    kyc(live.platform, user.id, 2)
    dave = make_user(live.platform, email="dave@example.com", name="Dave Customer")
    kyc(live.platform, dave.user.id, 2)
    open_wallet(live.platform, dave.user.id)


def test_the_browser_refuses_forged_forms_framing_and_the_wrong_role(
        live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800})
    page = context.new_page()
    # A form whose CSRF token was tampered with is refused, and says why.
    page.goto(live.url + "/signin")
    page.evaluate("() => document.querySelector(\"form[action='/signin'] "
                  "input[name=csrf_token]\").value = 'h1.k.forged'")
    page.fill("#identifier", "ann@example.com")
    page.fill("#password", PASSWORD)
    page.click("form[action='/signin'] button")
    assert page.locator("[data-code=CSRF_FAILED]").count() == 1
    # Another page may not frame the portal.
    # (set_content waits for the frames' load; the API's health answer, which does not
    # refuse framing, shows that a frame does load here, so the refusal is the headers'.)
    page.set_content(f"<iframe id=f src='{live.url}/signin'></iframe>"
                     f"<iframe id=g src='{live.url}/v1/health'></iframe>")
    assert "ok" in page.frame_locator("#g").locator("body").inner_text(timeout=10_000)
    assert page.frame_locator("#f").locator("form[action='/signin']").count() == 0
    # Staff have no customer dashboard.
    staff = make_staff(live.platform, "support_agent")
    context.add_cookies([{"name": security.cookie_names(False)[0], "value": staff.token,
                          "url": live.url}])
    response = page.goto(live.url + "/dashboard")
    assert response is not None and response.status == 403
    context.close()


def test_a_moving_payment_s_timeline_follows_it_without_reloading(
        live: Live, browser: Browser) -> None:
    from corridor.platform.domain.payments import Payment, PaymentStatus, PaymentStep
    from tests.platform.payment_records import make_wallet

    customer = make_user(live.platform, email="erin@example.com", name="Erin Customer")
    wallet = make_wallet(live.platform, customer.user.id)
    payment = make_payment(live.platform, wallet, status="submitted")
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800})
    context.add_cookies([{"name": security.cookie_names(False)[0], "value": customer.token,
                          "url": live.url}])
    b = Checked(context.new_page(), "en")
    b.page.goto(f"{live.url}/payments/{payment.id}")
    b.landed()
    assert b.page.locator("ol.timeline li").count() == 1
    b.page.evaluate("() => { window.notReloaded = true; }")
    with live.platform.deps.uow() as uow:  # the settlement worker's part, in short
        p = uow.repo(Payment).get(payment.id)
        assert p is not None
        at = live.clock.now_ms()
        uow.repo(Payment).update(dataclasses.replace(
            p, status=PaymentStatus.INCLUDED,
            history=(*p.history, PaymentStep(status=PaymentStatus.INCLUDED, at_ms=at))))
        uow.commit()
    b.page.wait_for_selector("li[data-status=included]", timeout=15_000)  # htmx polled
    assert b.page.evaluate("() => window.notReloaded") is True  # swapped, not reloaded
    assert not b.violations, b.violations
    context.close()
