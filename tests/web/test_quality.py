"""Every registered page (corridor.bench.web_demo.PAGES) on the demo data, in Chromium, in
English and in Chinese: axe-core finds no serious or critical accessibility violation, and
nothing scrolls sideways on a 375 px phone. Then the quote's countdown and the history's
print view in the browser."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from corridor.bench import web_demo
from corridor.web import security
from corridor.web.site import create_site
from tests.web.browser import CHROMIUM_ARGS, SHOTS, chromium, serve

PHONE_WIDTH = 375
BLOCKING = ("serious", "critical")
LANGUAGES = {"en": "en-GB", "zh-Hans": "zh-CN"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[web_demo.Demo, str]]:
    # SQLite only, as the other browser tests: the pages' services run on both databases
    # in tests/web/test_http.py and tests/platform.
    d = web_demo.build(tmp_path_factory.mktemp("web-demo"))
    try:
        web_demo.check(d)
        for url in serve(create_site(d.platform)):
            yield d, url
    finally:
        d.platform.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


def signed_in(context: BrowserContext, demo: web_demo.Demo, url: str, who: str) -> None:
    context.clear_cookies()
    if who != web_demo.ANONYMOUS:
        context.add_cookies([{"name": security.cookie_names(False)[0],
                              "value": demo.tokens[who], "url": url}])


def with_axe(context: BrowserContext) -> BrowserContext:
    """axe-core (axe-playwright-python's copy) loaded into every page of `context` before
    the page's own scripts: once per page, not pasted in again for each check."""
    context.add_init_script(script=Axe().axe_script)
    return context


def axe_run(page: Any) -> dict[str, Any]:
    """axe-core's results on `page` (loaded by `with_axe`): every rule, violations listed."""
    result: dict[str, Any] = page.evaluate("() => axe.run({resultTypes: ['violations']})")
    return result


def _blocking(results: dict[str, Any]) -> list[str]:
    assert results["passes"], "axe-core checked nothing"
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in results["violations"] if v["impact"] in BLOCKING]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_page_passes_axe_and_fits_a_phone(demo: tuple[web_demo.Demo, str],
                                                browser: Browser, language: str) -> None:
    d, url = demo
    context = with_axe(browser.new_context(locale=LANGUAGES[language],
                                           viewport={"width": PHONE_WIDTH, "height": 800}))
    page = context.new_page()
    problems: list[str] = []
    for p in web_demo.PAGES:
        signed_in(context, d, url, p.who)
        response = page.goto(url + d.path(p))
        assert response is not None and response.status == p.status, (p.name, response)
        assert page.get_attribute("html", "lang") == language, p.name
        problems += [f"{p.name}: {v}" for v in _blocking(axe_run(page))]
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE_WIDTH:
            problems.append(f"{p.name}: {width} px wide at {PHONE_WIDTH} px")
    context.close()
    assert problems == [], "\n".join(problems)


def test_the_axe_check_finds_what_it_should(browser: Browser) -> None:
    """The check above can fail: a page with an unlabelled field, a picture without a
    text and grey-on-white text is refused by the same function."""
    context = with_axe(browser.new_context())
    page = context.new_page()
    page.set_content("<html lang=en><title>t</title><main><h1>t</h1><input>"
                     "<img src=x><p style='color:#ccc'>faint</p></main></html>")
    found = _blocking(axe_run(page))
    context.close()
    assert {v.split(" ")[0] for v in found} >= {"label", "image-alt", "color-contrast"}


def _review(d: web_demo.Demo, url: str, context: BrowserContext) -> Any:
    signed_in(context, d, url, web_demo.CUSTOMER)
    page = context.new_page()
    page.clock.install()  # the countdown's timers run on a clock the test moves
    page.goto(url + "/pay")
    page.fill("#recipient", "bo@example.com")
    page.fill("#amount", "10.00")
    page.select_option("#send_currency", "USD")
    page.select_option("#receive_currency", "CNY")
    page.click("form[action='/pay/review'] button")
    page.wait_for_load_state("load")
    return page


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_review_counts_down_and_an_expired_price_cannot_be_confirmed(
        demo: tuple[web_demo.Demo, str], browser: Browser, language: str) -> None:
    d, url = demo
    context = with_axe(browser.new_context(locale=LANGUAGES[language],
                                           viewport={"width": PHONE_WIDTH, "height": 800}))
    page = _review(d, url, context)
    box = page.locator("#quote-countdown")
    assert box.is_visible()  # shown by the script (hidden without it: the time is text)
    assert _blocking(axe_run(page)) == []  # (axe-core needs the timers running)
    now_ms = page.evaluate("() => Date.now()")
    page.clock.pause_at(dt.datetime.fromtimestamp((now_ms + 100) / 1000, dt.UTC))
    start = int(box.get_attribute("data-seconds-left") or "0")
    assert 50 < start <= 60  # the quote's minute, from the server's clock
    shown = page.inner_text(".countdown-clock")
    minutes, seconds = shown.split(":")
    now_left = int(minutes) * 60 + int(seconds)
    assert start - 2 <= now_left <= start
    page.clock.run_for(5_000)
    left = now_left - 5
    assert page.inner_text(".countdown-clock") == f"{left // 60}:{left % 60:02d}"
    assert page.locator("#confirm-form button").is_enabled()
    page.clock.run_for((left + 1) * 1000)
    assert box.get_attribute("role") == "alert"
    assert page.locator("#confirm-form button").is_disabled()
    expired = {"en": "This price has expired", "zh-Hans": "此报价已过期"}[language]
    assert expired in box.inner_text()
    assert page.locator(".countdown-clock").count() == 0
    context.close()


def test_the_history_prints_without_menus(demo: tuple[web_demo.Demo, str],
                                          browser: Browser) -> None:
    d, url = demo
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    signed_in(context, d, url, web_demo.CUSTOMER)
    page = context.new_page()
    page.goto(url + "/history?currency=USD")
    page.click("#print-view")
    page.wait_for_load_state("load")
    assert page.url.endswith("/history/print?currency=USD")
    rows = page.locator("tr[data-type]").count()
    assert rows > 0
    assert page.locator("header.top").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("footer.bottom").is_visible()
    assert page.locator("tr[data-type]").count() == rows
    assert page.locator("thead").is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.pdf(path=str(SHOTS / "history-print.pdf"))
    context.close()


def test_the_keyboard_starts_with_the_skip_link_and_follows_the_page_s_order(
        demo: tuple[web_demo.Demo, str], browser: Browser) -> None:
    d, url = demo
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800})
    signed_in(context, d, url, web_demo.CUSTOMER)
    page = context.new_page()
    page.goto(url + "/pay")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    box = page.locator("a.skip").bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0  # shown when focused
    # Tab order is the reading order: the first field of the form comes after the menus.
    order = []
    for _ in range(40):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id || "
                                   "document.activeElement.getAttribute('href') || ''"))
    assert order.index("/dashboard") < order.index("language") < order.index("recipient") \
        < order.index("amount")
    context.close()
