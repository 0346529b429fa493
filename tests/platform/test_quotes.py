"""FX quotes (F2): the pricing arithmetic as properties, and the quote API on both
databases (firm price, expiry, ownership, bad input)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.adapters.static_rates import DEMO_PER_USD, StaticRates
from corridor.platform.config import Settings
from corridor.platform.domain import fx, money
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.payments import Quote
from tests.platform.conftest import Actor, make_staff
from tests.platform.payment_fakes import FakeClock

CODES = sorted(DEMO_PER_USD)
RATES = StaticRates()

# --- the arithmetic -------------------------------------------------------------------------


def test_cross_rates_are_exact_decimals_through_usd() -> None:
    assert RATES.mid("USD", "CNY") == Decimal("7.24")
    assert RATES.mid("EUR", "USD") == Decimal("1.08695652173")  # 12 digits, rounded down
    assert RATES.mid("USD", "USD") == 1


def test_spread_lowers_the_price_and_a_worked_example() -> None:
    terms = fx.Terms()
    q = fx.for_sell(10_000, "USD", "CNY", Decimal("7.24"), terms)  # 100.00 USD
    assert q.price == Decimal("7.2038")  # 7.24 less 50 bps
    assert (q.fee_minor, q.principal_minor, q.buy_minor) == (70, 9930, 71533)
    assert q.fee_breakdown(terms) == (fx.FeeLine(name="fixed", amount_minor=50),
                                      fx.FeeLine(name="20 bps", amount_minor=20))


terms_st = st.builds(fx.Terms, spread_bps=st.integers(0, 300),
                     fee_fixed_minor=st.integers(0, 500), fee_bps=st.integers(0, 300))
pairs = st.tuples(st.sampled_from(CODES), st.sampled_from(CODES))


def _largest_principal(amount: int, terms: fx.Terms) -> int:
    """The largest p with p + fee_of(p) <= amount, by bisection (fee_of grows with p)."""
    lo, hi = 0, amount
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid + fx.fee_of(mid, terms) <= amount:
            lo = mid
        else:
            hi = mid - 1
    return lo


@settings(max_examples=400, deadline=None)
@given(amount=st.integers(1, 10**11), pair=pairs, terms=terms_st)
# Found by CI: 16 CNY fen pays for a 7-fen principal, which buys no EUR cent.
@example(amount=16, pair=("CNY", "EUR"), terms=fx.Terms(fee_fixed_minor=8, fee_bps=1, spread_bps=0))
def test_selling_an_amount(amount: int, pair: tuple[str, str], terms: fx.Terms) -> None:
    sell, buy = pair
    mid = RATES.mid(sell, buy)
    try:
        q = fx.for_sell(amount, sell, buy, mid, terms)
    except PlatformError as exc:
        # Too small exactly when the largest principal the amount pays for, fee included,
        # buys nothing at the quoted price.
        assert exc.code == "AMOUNT_TOO_SMALL"
        p = _largest_principal(amount, terms)
        price = Decimal(1) if sell == buy else fx.price_after_spread(mid, terms.spread_bps)
        assert p == 0 or money.convert(p, sell, buy, price) <= 0
        return
    assert q.principal_minor == _largest_principal(amount, terms)
    assert q.sell_minor == amount == q.fee_minor + q.principal_minor  # charged what shown
    assert q.fee_minor >= fx.fee_of(q.principal_minor, terms) and q.principal_minor > 0
    assert q.fee_minor < fx.fee_of(q.principal_minor + 1, terms) + 1  # no principal lost
    assert 0 < q.buy_minor <= money.convert(q.principal_minor, sell, buy, mid)  # <= mid
    assert q.buy_minor == money.convert(q.principal_minor, sell, buy, q.price)


@settings(max_examples=400, deadline=None)
@given(amount=st.integers(1, 10**10), pair=pairs, terms=terms_st)
def test_buying_an_amount(amount: int, pair: tuple[str, str], terms: fx.Terms) -> None:
    sell, buy = pair
    mid = RATES.mid(sell, buy)
    q = fx.for_buy(amount, sell, buy, mid, terms)
    assert q.buy_minor == amount
    assert q.sell_minor == q.fee_minor + q.principal_minor
    assert q.fee_minor == fx.fee_of(q.principal_minor, terms) >= 0
    assert money.convert(q.principal_minor, sell, buy, q.price) >= amount  # it buys it ...
    assert q.principal_minor == 1 or money.convert(
        q.principal_minor - 1, sell, buy, q.price) < amount  # ... and no cent more is taken
    assert amount <= money.convert(q.principal_minor, sell, buy, mid)


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def platform(settings: Settings, clock: FakeClock) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock, ledger=None)
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


def quote_count(platform: bootstrap.Platform) -> int:
    with platform.deps.uow() as uow:
        return uow.repo(Quote).count()


def test_quote_is_firm_and_owned(client: TestClient, customer: Actor, other_customer: Actor,
                                 clock: FakeClock) -> None:
    r = client.post("/v1/quotes", headers=customer.creating,
                    json={"sell_asset": "USD", "buy_asset": "CNY", "sell_amount": "100.00"})
    assert r.status_code == 201, r.text
    q = r.json()
    assert (q["sell_amount"], q["fee"], q["buy_amount"], q["price"]) == (
        "100.00", "0.70", "715.33", "7.2038")
    assert [f["amount"] for f in q["fee_breakdown"]] == ["0.50", "0.20"]
    assert q["expires_ms"] == clock.now + fx.QUOTE_TTL_MS and q["status"] == "open"
    assert client.get(f"/v1/quotes/{q['id']}", headers=customer.headers).json() == q
    assert client.get(f"/v1/quotes/{q['id']}", headers=other_customer.headers
                      ).status_code == 404
    clock.advance(fx.QUOTE_TTL_MS)
    assert client.get(f"/v1/quotes/{q['id']}", headers=customer.headers
                      ).json()["status"] == "expired"


def test_buy_amount_quote(client: TestClient, customer: Actor) -> None:
    r = client.post("/v1/quotes", headers=customer.creating,
                    json={"sell_asset": "EUR", "buy_asset": "SGD", "buy_amount": "50"})
    assert r.status_code == 201, r.text
    assert r.json()["buy_amount"] == "50.00"


@pytest.mark.parametrize("body, code, field", [
    ({"sell_asset": "USD", "buy_asset": "CNY"}, "INVALID_FIELDS", "sell_amount"),
    ({"sell_asset": "USD", "buy_asset": "CNY", "sell_amount": "1", "buy_amount": "1"},
     "INVALID_FIELDS", "sell_amount"),
    ({"sell_asset": "XXX", "buy_asset": "YYY", "sell_amount": "1"}, "INVALID_FIELDS",
     "buy_asset"),
    ({"sell_asset": "USD", "buy_asset": "CNY", "sell_amount": "1.001"}, "INVALID_FIELDS",
     "sell_amount"),
    ({"sell_asset": "USD", "buy_asset": "CNY", "sell_amount": "-5"}, "INVALID_FIELDS",
     "sell_amount"),
    ({"sell_asset": "USD", "buy_asset": "CNY", "sell_amount": "NaN"}, "INVALID_FIELDS",
     "sell_amount"),
    ({"sell_asset": "USD", "buy_asset": "CNY", "sell_amount": "0.10"}, "AMOUNT_TOO_SMALL",
     "sell_amount"),
    ({"sell_asset": "USD", "buy_asset": "USD", "sell_amount": "10"}, "SAME_CURRENCY",
     "buy_asset"),
    ({"sell_asset": "USD", "buy_asset": "CNY", "sell_amount": "1", "extra": 1},
     "INVALID_REQUEST", "extra"),
])
def test_bad_quote_requests(client: TestClient, platform: bootstrap.Platform,
                            customer: Actor, body: dict[str, object], code: str,
                            field: str) -> None:
    r = client.post("/v1/quotes", headers=customer.creating, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code and field in r.json()["error"]["fields"]
    assert quote_count(platform) == 0


def test_quote_authorisation(client: TestClient, platform: bootstrap.Platform,
                             customer: Actor) -> None:
    body = {"sell_asset": "USD", "buy_asset": "EUR", "sell_amount": "10"}
    assert client.post("/v1/quotes", json=body).status_code == 401
    assert client.get("/v1/quotes/x").status_code == 401
    staff = make_staff(platform, "support_agent")
    assert client.post("/v1/quotes", headers=staff.creating, json=body).status_code == 403
    r = client.post("/v1/quotes", headers=customer.creating, json={**body, "org_id": "nope"})
    assert r.status_code == 404
    assert client.get("/v1/quotes/" + "x" * 65, headers=customer.headers).status_code == 422
    assert quote_count(platform) == 0
