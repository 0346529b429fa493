"""Quote and pay through the pages: the full cost shown before anything moves, one
payment however often the confirmation is sent, refusals in the reader's language."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.payments import Payment
from corridor.web import security
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen
from tests.web.conftest import csrf_of

HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(),
                        ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def alice(platform: bootstrap.Platform, chain: FakeChain) -> Actor:
    """Tier 2, an open wallet holding 1,000.00 USD; Dave (tier 2, open wallet) exists."""
    actor = make_user(platform, email="carol@example.com", name="Carol Customer")
    kyc(platform, actor.user.id, 2)
    chain.fund(open_wallet(platform, actor.user.id).address, "USD", 100_000)
    dave = make_user(platform, email="dave@example.com", name="Dave Customer")
    kyc(platform, dave.user.id, 2)
    open_wallet(platform, dave.user.id)
    return actor


def _payments(platform: bootstrap.Platform) -> int:
    with platform.deps.uow() as uow:
        return len(uow.repo(Payment).many(limit=100))


def _review(site: TestClient, amount: str, language: str = "en") -> tuple[int, str]:
    headers = {"accept-language": language}
    token = csrf_of(site.get("/pay", headers=headers).text)
    r = site.post("/pay/review", headers=headers,
                  data={"csrf_token": token, "recipient": "dave@example.com",
                        "send_currency": "USD", "receive_currency": "CNY", "amount": amount})
    return r.status_code, r.text


def test_the_cost_is_shown_before_paying_and_a_resent_confirmation_pays_once(
        site: TestClient, platform: bootstrap.Platform, alice: Actor) -> None:
    site.cookies.set(security.cookie_names(production=False)[0], alice.token)
    status, page = _review(site, "100.00")
    assert status == 200, page
    total = re.search(r'id="total"><strong>([^<]+)<', page)
    received = re.search(r'id="received"><strong>([^<]+)<', page)
    assert total and total.group(1) == "$100.00" and received and "CN¥" in received.group(1)
    assert 'id="fee"' in page and "1 USD = " in page
    assert _payments(platform) == 0  # shown, nothing made
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page)}
    assert form["quote_id"] and form["key"]
    first = site.post("/pay/confirm", data=form, follow_redirects=False)
    again = site.post("/pay/confirm", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert _payments(platform) == 1
    shown = site.get(first.headers["location"])
    assert shown.status_code == 200 and "Payment to" in shown.text


def test_a_payment_beyond_the_balance_is_refused_in_the_readers_language(
        site: TestClient, platform: bootstrap.Platform, alice: Actor) -> None:
    site.cookies.set(security.cookie_names(production=False)[0], alice.token)
    status, page = _review(site, "5000.00", "zh-CN")
    assert status == 409 and "您的钱包余额不足" in page
    status, page = _review(site, "", "zh-CN")
    assert status == 422 and 'href="#amount"' in page and "请输入金额" in page
    assert _payments(platform) == 0
