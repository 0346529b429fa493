"""The explorer in Chromium: the "Verify" button checks a real inclusion proof in the
browser (static/verify.js, WebCrypto) and refuses tampered ones — a sibling hash, the
header, the transaction bytes, the position — on the explorer's transaction page and on a
customer's payment page; no Content-Security-Policy violation; nothing wider than a phone."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.web import security
from corridor.web.site import create_site
from tests.platform.conftest import make_user
from tests.platform.payment_records import make_payment, make_wallet
from tests.web.browser import CHROMIUM_ARGS, SHOTS, chromium, serve
from tests.web.chain_fakes import FakeChain

PHONE_WIDTH = 375


@dataclasses.dataclass
class Live:
    url: str
    platform: bootstrap.Platform
    chain: FakeChain


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    chain = FakeChain()
    platform = bootstrap.build(
        Settings(data_dir=tmp_path_factory.mktemp("explorer") / "platform",
                 fast_password_hashing=True),
        ledger=chain, chain=chain)  # type: ignore[arg-type]
    try:
        for url in serve(create_site(platform)):
            yield Live(url, platform, chain)
    finally:
        platform.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 900})
    tab = context.new_page()
    violations: list[str] = []

    def console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    tab.on("console", console)
    yield tab, violations
    context.close()


def verify(tab: Page) -> tuple[str, str]:
    """Clicks Verify; the verdict (data-verified) and the message shown."""
    box = tab.locator("[data-proof]")
    box.evaluate("b => b.removeAttribute('data-verified')")
    box.locator("[data-verify]").click()
    tab.wait_for_selector("[data-proof][data-verified]", timeout=10_000)
    return (str(box.get_attribute("data-verified")),
            box.locator(".proof-result").inner_text())


def tamper(tab: Page, attribute: str, change: str) -> None:
    """Rewrites one data attribute of the proof with a JS expression over `v`."""
    tab.locator("[data-proof]").evaluate(
        f"(b) => {{ const v = b.getAttribute('{attribute}'); "
        f"b.setAttribute('{attribute}', {change}); }}")


FLIP_LAST = "v.slice(0, -1) + (v.slice(-1) === '0' ? '1' : '0')"


def test_verify_accepts_a_real_proof_and_refuses_tampered_ones(
        live: Live, page: tuple[Page, list[str]]) -> None:
    tab, violations = page
    tx_id = live.chain.tx_ids(2)[1]  # the middle one of three: a path of two siblings
    tab.goto(f"{live.url}/explorer/tx/{tx_id}")
    assert tab.evaluate("() => document.documentElement.scrollWidth") <= PHONE_WIDTH
    verdict, message = verify(tab)
    assert verdict == "true", message
    assert "number 2 of 3 in block 2" in message
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / "explorer-tx-verified.png"), full_page=True)

    original = tab.locator("[data-proof]").evaluate("b => ({...b.dataset})")
    cases = [
        ("data-path", FLIP_LAST, "Merkle path"),  # a sibling hash changed
        ("data-header", "v.replace(/.{8}$/, '00000000')", "header does not hash"),
        ("data-tx", FLIP_LAST, "Merkle path"),  # a signature byte: same id, another leaf
        ("data-tx", "v.slice(0, 60) + (v[60] === '0' ? '1' : '0') + v.slice(61)",
         "not this transaction"),  # a body byte: another transaction
        ("data-index", "'0'", "Merkle path"),  # claimed at another position
        ("data-height", "'3'", "another block height"),
        ("data-path", "v.split(' ')[0]", "Merkle path"),  # a sibling left out
        ("data-path", "'zz'", "malformed"),
    ]
    for attribute, change, reason in cases:
        tab.goto(f"{live.url}/explorer/tx/{tx_id}")
        tamper(tab, attribute, change)
        assert tab.locator("[data-proof]").evaluate("b => ({...b.dataset})") != original
        verdict, message = verify(tab)
        assert verdict == "false", (attribute, change, message)
        assert "does NOT verify" in message and reason in message, (attribute, message)
    tab.screenshot(path=str(SHOTS / "explorer-tx-tampered.png"), full_page=True)
    assert not violations, violations


def test_every_transaction_of_the_block_verifies(live: Live,
                                                 page: tuple[Page, list[str]]) -> None:
    """Each leaf position of a three-leaf tree (the last one carried up unpaired) and a
    one-leaf tree (no path at all)."""
    tab, violations = page
    for tx_id in live.chain.tx_ids(2) + live.chain.tx_ids(4):
        tab.goto(f"{live.url}/explorer/tx/{tx_id}")
        verdict, message = verify(tab)
        assert verdict == "true", (tx_id, message)
    assert not violations, violations


def test_the_payment_page_verifies_its_proof_in_chinese(live: Live,
                                                        page: tuple[Page, list[str]]) -> None:
    tab, violations = page
    tx_id = live.chain.tx_ids(4)[0]
    customer = make_user(live.platform, email="vera@example.com", name="Vera Customer")
    wallet = make_wallet(live.platform, customer.user.id)
    payment = make_payment(live.platform, wallet, tx_id=tx_id, height=4)
    tab.context.add_cookies([
        {"name": security.cookie_names(False)[0], "value": customer.token, "url": live.url},
        {"name": security.LANGUAGE_COOKIE, "value": "zh-Hans", "url": live.url}])
    tab.goto(f"{live.url}/payments/{payment.id}")
    assert tab.get_attribute("html", "lang") == "zh-Hans"
    verdict, message = verify(tab)
    assert verdict == "true" and "已在您的浏览器中核验" in message, message
    tamper(tab, "data-path", "'" + "00" * 32 + "'")  # a path where none belongs
    verdict, message = verify(tab)
    assert verdict == "false" and "未通过核验" in message, message
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / "payment-proof-zh.png"), full_page=True)
    assert not violations, violations


def test_explorer_pages_fit_a_phone_without_script_errors(
        live: Live, page: tuple[Page, list[str]]) -> None:
    tab, violations = page
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    for path, shot in (("/explorer", "explorer"), ("/explorer/block/2", "explorer-block"),
                       ("/explorer/validators", "explorer-validators")):
        tab.goto(live.url + path)
        width = tab.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE_WIDTH, (path, width)
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    tab.fill("#explorer-q", "4")
    tab.click("form.explorer-search button")
    tab.wait_for_url("**/explorer/block/4")
    assert not violations and not errors, (violations, errors)
