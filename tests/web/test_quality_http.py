"""Over HTTP, on both databases: the security-education page, the quote's countdown and
the refusal of an expired price, the history's print view with the history's filters, and
the page registry the accessibility test and `corridor bench web` walk."""

from __future__ import annotations

import html
import re
import string

from starlette.testclient import TestClient

from corridor.bench import web_demo
from corridor.platform import bootstrap
from corridor.platform.domain import fx
from corridor.web import security
from corridor.web.pages_pay import quote_seconds_left
from tests.platform.conftest import Actor, make_staff
from tests.platform.payment_fakes import FakeChain, FakeClock
from tests.platform.payment_records import make_payment, make_wallet
from tests.web.test_pay import HIDDEN, _payments, _review, alice, chain, platform  # noqa: F401

SESSION = security.cookie_names(production=False)[0]


def test_the_security_help_page_is_public_in_both_languages_and_linked(
        site: TestClient) -> None:
    en = site.get("/help/security", headers={"accept-language": "en"})
    assert en.status_code == 200
    for anchor in ("never-share", "phishing", "recovery-codes", "how-we-contact-you"):
        assert f'id="{anchor}"' in en.text
    assert "Nobody from Corridor will ever ask you for a code" in en.text
    zh = site.get("/help/security", headers={"accept-language": "zh-CN"})
    assert zh.status_code == 200 and 'lang="zh-Hans"' in zh.text and "验证码" in zh.text
    assert "Nobody from Corridor" not in zh.text
    # Every page's footer links to it; the security centre does too.
    assert 'href="/help/security"' in site.get("/signin").text


def test_the_security_centre_links_to_the_help_page(
        site: TestClient, alice: Actor) -> None:  # noqa: F811
    site.cookies.set(SESSION, alice.token)
    page = site.get("/security")
    assert page.status_code == 200 and 'id="security-help"' in page.text
    assert re.search(r'id="security-help".*href="/help/security"', page.text, re.S)


def test_the_review_counts_down_from_the_server_and_an_expired_price_is_refused(
        site: TestClient, platform: bootstrap.Platform, alice: Actor) -> None:  # noqa: F811
    site.cookies.set(SESSION, alice.token)
    status, page = _review(site, "100.00")
    assert status == 200, page
    left = re.search(r'id="quote-countdown" data-seconds-left="(\d+)"', page)
    assert left and int(left.group(1)) == fx.QUOTE_TTL_MS // 1000
    assert 'id="quote-expiry"' in page  # the time as text, for pages without JavaScript
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page)}
    clock = platform.deps.clock
    assert isinstance(clock, FakeClock)
    clock.advance(fx.QUOTE_TTL_MS + 1_000)
    refused = site.post("/pay/confirm", data=form, headers={"accept-language": "zh-CN"})
    assert refused.status_code == 409 and "报价已过期" in refused.text
    assert _payments(platform) == 0


def test_seconds_left_never_goes_below_zero() -> None:
    assert quote_seconds_left(None, 5_000) is None
    assert quote_seconds_left(65_500, 5_000) == 60
    assert quote_seconds_left(5_000, 5_000) == 0
    assert quote_seconds_left(1_000, 5_000) == 0


def test_the_print_view_shows_the_filtered_rows_and_is_the_customer_s_own(
        site: TestClient, platform: bootstrap.Platform, chain: FakeChain,  # noqa: F811
        alice: Actor) -> None:  # noqa: F811
    wallet = make_wallet(platform, alice.user.id)
    usd = make_payment(platform, wallet, sell_code="USD")
    eur = make_payment(platform, wallet, sell_code="EUR", buy_code="EUR")
    assert site.get("/history/print", follow_redirects=False).headers["location"] == \
        "/signin?next=/history/print"
    site.cookies.set(SESSION, alice.token)
    everything = site.get("/history/print")
    assert everything.status_code == 200
    assert f'data-id="{usd.id}"' in everything.text and f'data-id="{eur.id}"' in everything.text
    only_eur = site.get("/history/print?currency=EUR")
    assert f'data-id="{eur.id}"' in only_eur.text and f'data-id="{usd.id}"' not in only_eur.text
    assert "Currency: EUR" in only_eur.text
    # /history links to the print view with its own filters.
    assert 'href="/history/print?currency=EUR"' in site.get("/history?currency=EUR").text
    bad = site.get("/history/print?from=31-01-2026")
    assert bad.status_code == 422
    # Staff have no history of their own to print.
    site.cookies.set(SESSION, make_staff(platform, "support_agent").token)
    assert site.get("/history/print").status_code == 403


def test_the_page_registry_names_each_page_once_and_every_visitor_it_needs() -> None:
    names = [p.name for p in web_demo.PAGES]
    assert len(names) == len(set(names))
    visitors = {p.who for p in web_demo.PAGES}
    assert {web_demo.ANONYMOUS, web_demo.CUSTOMER} <= visitors
    ids = {name: "x" for p in web_demo.PAGES
           for _, name, _, _ in string.Formatter().parse(p.path) if name}
    assert all(web_demo.path_of(p, ids).startswith("/") for p in web_demo.PAGES)
