"""One parser for amounts and currencies from outside (issue 14, item 6): ASCII digits with
one optional decimal point, no sign, exponent, NaN or other scripts' digits, at most the
currency's decimals; currencies exactly as upper-case ISO 4217 codes. Every amount-taking
endpoint refuses the nasty inputs with 422 and a stable code (before: `sNaN` and
`1e999999` were 500s; `usd` and `USD ` were accepted by deposits only)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain import money
from corridor.platform.domain.errors import PlatformError
from tests.platform.conftest import Actor
from tests.platform.rails_fakes import (
    grant_tier,
    key,
    open_wallet,
    rails_platform,  # noqa: F401  (the `platform` fixture: no node, deterministic keys)
)

NASTY_AMOUNTS = ["sNaN", "NaN", "-NaN", "Infinity", "-Infinity", "1e999999", "1E+999998",
                 "1e2", "-1", "+1", "0", "0.00", "1.001", "12.", ".5", " 12", "12 ",
                 "1_000", "1,000", "0x10", "１２", "١٢", "१२", "1.2.3", "9" * 40]
NASTY_CURRENCIES = ["usd", "USD ", " USD", "Usd", "ＵＳＤ", "XXX", "USD\n"]
ASCII_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


@given(st.text(max_size=50))
@example("sNaN")
@example("1e999999")
@example("1E+999998")
@example("١٢")
@example("１２.５")
@example("12.34")
def test_any_text_is_an_amount_or_a_clean_invalid_amount(text: str) -> None:
    try:
        minor = money.parse_major(text, "USD")
    except PlatformError as exc:
        assert exc.code == "INVALID_AMOUNT"
        assert exc.fields and set(exc.fields) == {"amount"}
        return
    assert ASCII_AMOUNT.fullmatch(text), text
    assert 0 < minor <= money.AMOUNT_MINOR_MAX
    whole, _, frac = text.partition(".")
    assert minor == int(whole) * 100 + int(frac.ljust(2, "0"))


@given(st.integers(min_value=1, max_value=money.AMOUNT_MINOR_MAX))
def test_every_formatted_amount_parses_back(minor: int) -> None:
    assert money.parse_major(money.format_minor(minor, "EUR"), "EUR") == minor


@given(st.one_of(st.text(max_size=8), st.sampled_from(NASTY_CURRENCIES + list(money.CURRENCIES))))
def test_any_text_is_a_currency_or_a_clean_unknown_currency(text: str) -> None:
    try:
        code = money.currency(text)
    except PlatformError as exc:
        assert exc.code == "UNKNOWN_CURRENCY"
        assert text not in money.CURRENCIES
        return
    assert code == text and code in money.CURRENCIES


def test_non_text_is_refused_too() -> None:
    for value in (None, 12, 12.5, b"12"):
        with pytest.raises(PlatformError) as info:
            money.parse_major(value, "USD")
        assert info.value.code == "INVALID_AMOUNT"


# --- every amount-taking endpoint ------------------------------------------------------------

BANK = {"name": "Carol Customer", "country": "DE", "account": "DE89370400440532013000",
        "bank_code": "COBADEFFXXX"}


def _amount_requests(amount: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, body or query, expected stable code) for each endpoint."""
    return [
        ("POST", "/v1/quotes", {"sell_asset": "USD", "buy_asset": "EUR", "sell_amount": amount},
         "INVALID_FIELDS"),
        ("POST", "/v1/quotes", {"sell_asset": "USD", "buy_asset": "EUR", "buy_amount": amount},
         "INVALID_FIELDS"),
        ("POST", "/v1/payments/preview", {"recipient": {"type": "user",
                                                        "email": "dave@example.com"},
                                          "asset": "USD", "amount": amount}, "INVALID_FIELDS"),
        ("POST", "/v1/payments", {"recipient": {"type": "user", "email": "dave@example.com"},
                                  "asset": "USD", "amount": amount}, "INVALID_FIELDS"),
        ("POST", "/v1/deposits", {"currency": "USD", "amount": amount}, "INVALID_FIELDS"),
        ("POST", "/v1/withdrawals", {"currency": "USD", "amount": amount, "bank": BANK},
         "INVALID_FIELDS"),
        ("POST", "/v1/dev/sim-bank/transfers", {"reference": "R1", "amount": amount,
                                                "currency": "USD"}, "INVALID_AMOUNT"),
        ("GET", "/v1/history", {"currency": "USD", "min_amount": amount}, "INVALID_FILTERS"),
        ("GET", "/v1/history", {"currency": "USD", "max_amount": amount}, "INVALID_FILTERS"),
    ]


def _currency_requests(code: str) -> list[tuple[str, str, dict[str, Any], str]]:
    return [
        ("POST", "/v1/quotes", {"sell_asset": code, "buy_asset": "EUR", "sell_amount": "10"},
         "INVALID_FIELDS"),
        ("POST", "/v1/quotes", {"sell_asset": "EUR", "buy_asset": code, "sell_amount": "10"},
         "INVALID_FIELDS"),
        ("POST", "/v1/payments/preview", {"recipient": {"type": "user",
                                                        "email": "dave@example.com"},
                                          "asset": code, "amount": "10"}, "INVALID_FIELDS"),
        ("POST", "/v1/deposits", {"currency": code, "amount": "10"}, "INVALID_FIELDS"),
        ("POST", "/v1/withdrawals", {"currency": code, "amount": "10", "bank": BANK},
         "INVALID_FIELDS"),
        ("POST", "/v1/dev/sim-bank/transfers", {"reference": "R1", "amount": "10",
                                                "currency": code}, "UNKNOWN_CURRENCY"),
        ("GET", "/v1/history", {"currency": code}, "INVALID_FILTERS"),
    ]


def _send(client: TestClient, who: Actor, method: str, path: str,
          data: dict[str, Any]) -> Any:
    headers = {**who.headers, **key()}
    if method == "GET":
        return client.get(path, params=data, headers=headers)
    return client.post(path, json=data, headers=headers)


def test_every_amount_endpoint_refuses_nasty_amounts_with_a_stable_code(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    open_wallet(platform, customer.user.id)
    for amount in NASTY_AMOUNTS:
        for method, path, data, code in _amount_requests(amount):
            r = _send(client, customer, method, path, data)
            assert r.status_code == 422, (path, amount, r.text)
            assert r.json()["error"]["code"] == code, (path, amount, r.text)


def test_every_currency_endpoint_wants_an_exact_upper_case_code(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    open_wallet(platform, customer.user.id)
    for code in NASTY_CURRENCIES:
        for method, path, data, expected in _currency_requests(code):
            r = _send(client, customer, method, path, data)
            assert r.status_code == 422, (path, code, r.text)
            assert r.json()["error"]["code"] == expected, (path, code, r.text)
