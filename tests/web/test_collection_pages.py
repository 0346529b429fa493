"""Collections and merchants through the pages (on both databases, the chain played by an
in-memory fake): a customer asks another for money with the form (bad input shown on the
form, in both languages, nothing stored), the payer pays it from the request page in one
step; a merchant opens its account, makes a checkout link with its QR code, a signed-out
visitor is asked to sign in, a customer pays it, the merchant refunds part of it and
reads the day's settlement (and its CSV); other roles and outsiders are refused."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.collections import CollectionRequest
from corridor.platform.domain.merchants import MerchantRefund
from corridor.web import security
from corridor.web.site import create_site
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, commit, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen, make_org
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
KEY = re.compile(r'<input type="hidden" name="key" value="([^"]*)">')


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def site(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_site(platform), base_url="http://127.0.0.1") as c:
        yield c


def customer(platform: bootstrap.Platform, chain: FakeChain, email: str,
             usd_minor: int = 0) -> Actor:
    actor = make_user(platform, email=email, name=email.split("@")[0].title())
    kyc(platform, actor.user.id, 2)
    chain.fund(open_wallet(platform, actor.user.id).address, "USD", usd_minor)
    return actor


def as_(site: TestClient, who: Actor | None) -> None:
    site.cookies.clear()
    if who is not None:
        site.cookies.set(SESSION, who.token)


def post(site: TestClient, path: str, form_page: str, **data: str) -> Any:
    token = csrf_of(site.get(form_page).text)
    return site.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def requests_of(platform: bootstrap.Platform) -> list[CollectionRequest]:
    with platform.deps.uow() as uow:
        return uow.repo(CollectionRequest).many()


def test_ask_for_money_and_pay_the_request_in_one_step(
        site: TestClient, platform: bootstrap.Platform, chain: FakeChain) -> None:
    alice = customer(platform, chain, "alice@example.com", 100_000)
    bob = customer(platform, chain, "bob@example.com")
    as_(site, bob)
    page = site.get("/requests")
    assert page.status_code == 200 and 'for="payer"' in page.text and 'for="reference"' in page.text
    bad = post(site, "/requests", "/requests", payer="", currency="USD", amount="abc",
               due_date="2020-01-01", reference="")
    assert bad.status_code == 422
    assert 'class="error-summary"' in bad.text
    for field in ("payer", "amount", "due_date", "reference"):
        assert f'href="#{field}"' in bad.text, field
    site.cookies.set(security.LANGUAGE_COOKIE, "zh-Hans")
    zh = post(site, "/requests", "/requests", payer="", currency="USD", amount="abc",
              due_date="2020-01-01", reference="")
    assert zh.status_code == 422 and "部分内容需要更正" in zh.text
    site.cookies.delete(security.LANGUAGE_COOKIE)
    assert requests_of(platform) == []

    due = html.unescape(re.search(r'name="due_date" type="date" value="([^"]+)"',
                                  page.text).group(1))  # type: ignore[union-attr]
    made = post(site, "/requests", "/requests", payer="alice@example.com", currency="USD",
                amount="12.50", due_date=due, reference="INV-9", description="Lunch")
    assert made.status_code == 303, made.text
    (r,) = requests_of(platform)
    assert made.headers["location"] == f"/requests/{r.id}"
    assert (r.amount_minor, r.reference, r.status) == (1250, "INV-9", "open")

    as_(site, alice)
    listed = site.get("/requests").text
    assert f'href="/requests/{r.id}"' in listed and "Bob" in listed
    shown = site.get(f"/requests/{r.id}")
    assert shown.status_code == 200 and f'action="/requests/{r.id}/pay"' in shown.text
    paid = post(site, f"/requests/{r.id}/pay", f"/requests/{r.id}")
    assert paid.status_code == 303 and paid.headers["location"].startswith("/payments/PMT")
    (r,) = requests_of(platform)
    assert r.status == "paid" and paid.headers["location"] == f"/payments/{r.payment_id}"
    again = post(site, f"/requests/{r.id}/decline", "/requests")
    assert again.status_code == 409 and "This request is no longer open" in again.text

    outsider = customer(platform, chain, "erin@example.com")
    as_(site, outsider)
    assert site.get(f"/requests/{r.id}").status_code == 404


def test_merchant_checkout_qr_pay_refund_and_settlement(
        site: TestClient, platform: bootstrap.Platform, chain: FakeChain) -> None:
    owner = make_user(platform, email="owner@shop.example", name="Shop Owner")
    viewer = make_user(platform, email="viewer@shop.example", name="Shop Viewer")
    org_id = make_org(platform, owner.user.id, {viewer.user.id: "viewer"})
    kyc(platform, org_id, 3, "org")
    chain.fund(open_wallet(platform, org_id, "org").address, "USD", 10_000)
    alice = customer(platform, chain, "alice@example.com", 100_000)
    console = f"/org/{org_id}/merchant"

    as_(site, owner)
    assert 'name="name"' in site.get(console).text  # no account yet: the form to open one
    opened = post(site, console, console, name="Tea House")
    assert opened.status_code == 303
    made = post(site, f"{console}/checkouts", console, order_ref="T-42", currency="USD",
                amount="30.00")
    assert made.status_code == 303, made.text
    order_page = site.get(made.headers["location"]).text
    qr = re.search(r'<figure class="qr">(.*?)</figure>', order_page, re.S)
    assert qr is not None and "<svg" in qr.group(1) and "script" not in qr.group(1)
    link = re.search(r'id="checkout-link">([^<]+)<', order_page).group(1)  # type: ignore[union-attr]
    path = link.replace("http://127.0.0.1", "")
    assert path.startswith("/checkout/")

    as_(site, None)
    public = site.get(path)
    assert public.status_code == 200 and "Pay Tea House" in public.text
    assert f'href="/signin?next={path}"' in public.text and "30.00" in public.text

    as_(site, viewer)
    assert 'action="/org/' not in site.get(console).text  # no form a viewer may not use
    refused = post(site, f"{console}/checkouts", console, order_ref="T-43", currency="USD",
                   amount="1.00")
    assert refused.status_code == 403

    as_(site, alice)
    paid = post(site, f"{path}/pay", path)
    assert paid.status_code == 303, paid.text
    (order,) = requests_of(platform)
    assert order.payment_id is not None
    commit(platform, chain, order.payment_id)

    as_(site, owner)
    order_url = f"{console}/orders/{order.id}"
    page = site.get(order_url).text
    key = KEY.search(page).group(1)  # type: ignore[union-attr]
    too_much = post(site, f"{order_url}/refunds", order_url, amount="30.01", reason="", key=key)
    assert too_much.status_code == 422 and 'href="#amount"' in too_much.text
    done = post(site, f"{order_url}/refunds", order_url, amount="10.00", reason="late",
                key=key)
    assert done.status_code == 303
    twice = post(site, f"{order_url}/refunds", order_url, amount="10.00", reason="late",
                 key=key)
    assert twice.status_code == 303  # a resent form refunds once
    with platform.deps.uow() as uow:
        assert [x.amount_minor for x in uow.repo(MerchantRefund).many()] == [1000]

    day = re.search(r"settlement\?day=([0-9-]+)", site.get(console).text).group(1)  # type: ignore[union-attr]
    report = site.get(f"{console}/settlement?day={day}")
    assert report.status_code == 200 and 'data-currency="USD"' in report.text
    csv_text = site.get(f"{console}/settlement.csv?day={day}").text
    assert csv_text.splitlines()[1].startswith(f"Tea House,{day},USD,1,30.00,1,10.00,")

    as_(site, alice)
    assert site.get(console).status_code == 404
