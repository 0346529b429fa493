"""Every registered page (corridor.bench.web_demo.PAGES) on the demo data, in Chromium, in
English and in Chinese: axe-core finds no serious or critical accessibility violation, and
nothing scrolls sideways on a 375 px phone. Then the quote's countdown and the history's
print view in the browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from corridor.bench import web_demo
from corridor.web import security
from corridor.web.site import create_site
from tests.web.browser import CHROMIUM_ARGS, chromium, serve

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


def _blocking(results: Any) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in results.response["violations"] if v["impact"] in BLOCKING]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_page_passes_axe_and_fits_a_phone(demo: tuple[web_demo.Demo, str],
                                                browser: Browser, language: str) -> None:
    d, url = demo
    axe = Axe()
    context = browser.new_context(locale=LANGUAGES[language],
                                  viewport={"width": PHONE_WIDTH, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    for p in web_demo.PAGES:
        signed_in(context, d, url, p.who)
        response = page.goto(url + d.path(p))
        assert response is not None and response.status == p.status, (p.name, response)
        assert page.get_attribute("html", "lang") == language, p.name
        problems += [f"{p.name}: {v}" for v in _blocking(axe.run(page))]
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE_WIDTH:
            problems.append(f"{p.name}: {width} px wide at {PHONE_WIDTH} px")
    context.close()
    assert problems == [], "\n".join(problems)
