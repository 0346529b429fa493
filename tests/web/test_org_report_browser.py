"""The treasury report pages with figures and charts (tests/platform/report_history.py) in
Chromium, English and Chinese: axe-core finds no serious or critical violation, nothing
scrolls sideways at 375 px, and printing hides the menus and the period form. SQLite
only, as the other browser tests (the figures are checked on both databases in
tests/web/test_org_report_pages.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.web import security
from corridor.web.site import create_site
from tests.platform.report_history import NOW, History, seed
from tests.web.browser import CHROMIUM_ARGS, chromium, serve
from tests.web.test_quality import BLOCKING, LANGUAGES, PHONE_WIDTH, axe_run, with_axe

PATHS = ("", "/payments?by=corridor&from=2026-11-01&to=2026-12-06",
         "/fees?from=2026-11-01&to=2026-12-06", "/forecast")


class _Pinned:
    def now_ms(self) -> int:
        return NOW


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[History, str]]:
    data: Path = tmp_path_factory.mktemp("org-report-browser") / "platform"
    platform = bootstrap.build(Settings(data_dir=data, fast_password_hashing=True))
    try:
        platform.deps.clock.now_ms = _Pinned().now_ms  # type: ignore[method-assign]
        history = seed(platform)
        for url in serve(create_site(platform)):
            yield history, url
    finally:
        platform.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_report_pages_pass_axe_fit_a_phone_and_print_plainly(
        world: tuple[History, str], browser: Browser, language: str) -> None:
    h, url = world
    context = with_axe(browser.new_context(locale=LANGUAGES[language],
                                           viewport={"width": PHONE_WIDTH, "height": 800}))
    context.add_cookies([{"name": security.cookie_names(False)[0], "value": h.owner.token,
                          "url": url}])
    page = context.new_page()
    problems: list[str] = []
    for path in PATHS:
        response = page.goto(f"{url}/org/{h.org_id}/reports{path}")
        assert response is not None and response.status == 200, (path, response)
        assert page.locator("svg.bars").count() >= 1, path
        results = axe_run(page)
        assert results["passes"], "axe-core checked nothing"
        problems += [f"{path}: {v['id']} ({v['impact']}): {v['help']}"
                     for v in results["violations"] if v["impact"] in BLOCKING]
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE_WIDTH:
            problems.append(f"{path}: {width} px wide at {PHONE_WIDTH} px")
    page.goto(f"{url}/org/{h.org_id}/reports/fees?from=2026-11-01&to=2026-12-06")
    page.emulate_media(media="print")
    assert not page.locator("nav.org-nav").is_visible()
    assert not page.locator("form.report-filters").is_visible()
    assert page.locator("table[data-table='fees-total']").is_visible()
    context.close()
    assert problems == [], "\n".join(problems)
