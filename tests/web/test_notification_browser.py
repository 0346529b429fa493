"""The notifications inbox and the sign-in history in Chromium, in English and Chinese, at
375 px: no Content-Security-Policy violation, a label on every input, nothing wider than
the phone; "mark read" and "mark all read" move the nav's badge. Screenshots go to
out/web-screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.principal import Origin
from corridor.platform.services import login, notifications
from corridor.web import security
from corridor.web.site import create_site
from tests.platform.conftest import make_user
from tests.web.browser import CHROMIUM_ARGS, chromium, serve
from tests.web.test_browser import PHONE_WIDTH, Checked

SESSION = security.cookie_names(production=False)[0]
AGENT = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " \
        "Chrome/131.0 Mobile Safari/537.36 with a very long tail that must wrap on a phone"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bootstrap.Platform]]:
    # SQLite only, as the main browser suite: the HTTP tests cover both databases.
    platform = bootstrap.build(Settings(data_dir=tmp_path_factory.mktemp("p") / "platform",
                                        fast_password_hashing=True))
    try:
        for url in serve(create_site(platform)):
            yield url, platform
    finally:
        platform.close()


def _inbox_of(platform: bootstrap.Platform, user_id: str) -> None:
    deps = platform.deps
    with deps.uow() as uow:
        for topic, subject, sid, params in (
                (Topic.DEPOSIT_CREDITED, SubjectType.DEPOSIT, "dep-1",
                 {"amount_minor": 123456, "currency": "USD", "reference": "CRD7XK2Q"}),
                (Topic.PAYMENT_SETTLED, SubjectType.PAYMENT, "PMT1",
                 {"amount_minor": 10000, "currency": "USD", "received_minor": 71533,
                  "received_currency": "CNY"}),
                (Topic.SIGNED_IN, SubjectType.SECURITY, user_id,
                 {"ip": "203.0.113.9", "device": AGENT})):
            notifications.record(deps, uow, user_id=user_id, topic=topic, subject_type=subject,
                                 subject_id=sid, event=sid, params=params)
        uow.commit()


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_the_inbox_and_the_sign_in_history_on_a_phone(
        live: tuple[str, bootstrap.Platform], browser: Browser, language: str) -> None:
    url, platform = live
    email = f"{language.lower()}@example.com"
    who = make_user(platform, email=email, name="Ann Example")
    _inbox_of(platform, who.user.id)
    with pytest.raises(PlatformError):  # a failed attempt, for the history
        login.start(platform.deps, email, "not the password", Origin(ip="198.51.100.7",
                                                                     user_agent=AGENT))
    context = browser.new_context(locale="zh-CN" if language == "zh-Hans" else "en-GB",
                                  viewport={"width": PHONE_WIDTH, "height": 800})
    context.add_cookies([{"name": SESSION, "value": who.token, "url": url}])
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(url + "/notifications")
    b.landed("notifications")
    assert page.inner_text("#unread-badge").startswith("3")
    assert page.locator("li.notice.unread").count() == 3
    page.locator("li.notice.unread form button").first.click()
    b.landed()
    assert page.inner_text("#unread-badge").startswith("2")
    page.click("form[action='/notifications/read-all'] button")
    b.landed()
    assert page.locator("#unread-badge").count() == 0
    assert page.locator("li.notice.unread").count() == 0
    page.click("a[href='/deposits/dep-1']")
    assert page.url.endswith("/deposits/dep-1")  # the link leads to its record (absent here)

    page.goto(url + "/security")
    b.landed("security-history")
    row = page.locator("#sign-in-history tr[data-result=failed]")
    assert row.count() == 1 and "198.51.100.7" in row.inner_text()
    context.close()

