"""A static table of mid rates for development and tests (implements `RateSource`):
units of each currency per US dollar, crossed through USD."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from corridor.platform.domain import fx, money
from corridor.platform.services.rates import rate_unavailable

# Indicative demo rates, as Decimal text (never floats): units per 1 USD.
DEMO_PER_USD: dict[str, str] = {
    "USD": "1", "EUR": "0.92", "CNY": "7.24", "HKD": "7.82", "SGD": "1.35",
}


class StaticRates:
    name = "static"

    def __init__(self, per_usd: Mapping[str, str] = DEMO_PER_USD) -> None:
        assert per_usd.get("USD") == "1", "the table is quoted against USD"
        self._per_usd = {code: money.rate(text) for code, text in per_usd.items()}

    def mid(self, sell_code: str, buy_code: str) -> Decimal:
        if sell_code not in self._per_usd or buy_code not in self._per_usd:
            raise rate_unavailable(sell_code, buy_code)
        return fx.cross(self._per_usd, sell_code, buy_code)
