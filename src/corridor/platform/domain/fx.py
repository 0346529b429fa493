"""FX quote arithmetic (requirement F2, SEP-38 semantics): pure functions over minor units
and `Decimal` prices. No clock, no I/O.

A quote splits what leaves the customer (`sell_minor`) into a fee and a principal that is
converted at the price after the spread:

    sell_minor = fee_minor + principal_minor
    buy_minor  = floor(principal_minor * price)        (sell amount given)
    buy_minor  = the amount asked for, principal the least that buys it   (buy amount given)

Every rounding favours the customer's promise: the fee is the one shown, the sell amount is
never more than shown, and the recipient never receives more than the principal is worth at
the price (the treasury never pays out more than it was paid at mid).
"""

from __future__ import annotations

import dataclasses
import decimal
from decimal import ROUND_DOWN, Decimal

from corridor.platform.domain import money
from corridor.platform.domain.errors import Err

BPS = 10_000
QUOTE_TTL_MS = 60_000  # a firm quote holds for one minute (SEP-38 `expires_at`)
SPREAD_BPS = 50  # the platform's margin on the mid rate
FEE_FIXED_MINOR = 50  # 0.50 of the sell currency (every demo currency has 2 decimals)
FEE_BPS = 20  # plus 0.20 % of the principal, rounded up
SPREAD_BPS_MAX = 1_000
FEE_BPS_MAX = 1_000
_PRINCIPAL_STEPS_MAX = 4  # corrections after the closed-form estimate (it is off by <= 1)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Terms:
    """The commercial terms quotes are made on (configurable through the composition root)."""

    spread_bps: int = SPREAD_BPS
    fee_fixed_minor: int = FEE_FIXED_MINOR
    fee_bps: int = FEE_BPS
    quote_ttl_ms: int = QUOTE_TTL_MS

    def __post_init__(self) -> None:
        assert 0 <= self.spread_bps <= SPREAD_BPS_MAX, self.spread_bps
        assert 0 <= self.fee_bps <= FEE_BPS_MAX, self.fee_bps
        assert self.fee_fixed_minor >= 0 and self.quote_ttl_ms > 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FeeLine:
    """One part of a quote's fee, in the sell currency's minor units."""

    name: str
    amount_minor: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Priced:
    """The outcome of pricing: the amounts a quote (or a same-currency transfer) carries."""

    sell_code: str
    buy_code: str
    sell_minor: int  # fee included
    fee_minor: int
    principal_minor: int  # converted part of sell_minor
    buy_minor: int
    price: Decimal  # buy units per sell unit, after the spread
    mid: Decimal

    def fee_breakdown(self, terms: Terms) -> tuple[FeeLine, ...]:
        fixed = min(terms.fee_fixed_minor, self.fee_minor)
        return (FeeLine(name="fixed", amount_minor=fixed),
                FeeLine(name=f"{terms.fee_bps} bps", amount_minor=self.fee_minor - fixed))


def _digits(value: Decimal) -> Decimal:
    """`value` rounded down to RATE_DIGITS significant digits."""
    ctx = decimal.Context(prec=money.RATE_DIGITS, rounding=ROUND_DOWN)
    return ctx.plus(value).normalize(ctx)


def cross(per_usd: dict[str, Decimal], sell_code: str, buy_code: str) -> Decimal:
    """The mid rate sell -> buy from units-per-USD quotes (a USD cross)."""
    if sell_code == buy_code:
        return Decimal(1)
    return _digits(per_usd[buy_code] / per_usd[sell_code])


def price_after_spread(mid: Decimal, spread_bps: int) -> Decimal:
    """The customer's price: `spread_bps` below mid, rounded down (never above mid)."""
    price = _digits(mid * (BPS - spread_bps) / BPS)
    assert 0 < price <= mid, (mid, spread_bps)
    return price


def fee_of(principal_minor: int, terms: Terms) -> int:
    return terms.fee_fixed_minor + money.percent_of(principal_minor, terms.fee_bps)


def _too_small(field: str) -> Exception:
    return Err.AMOUNT_TOO_SMALL.error("the amount does not cover the fee",
                                      {field: "too small to cover the fee"})


def for_sell(sell_minor: int, sell_code: str, buy_code: str, mid: Decimal,
             terms: Terms) -> Priced:
    """Pricing when the customer fixes what leaves their wallet (fee included)."""
    price = Decimal(1) if sell_code == buy_code else price_after_spread(mid, terms.spread_bps)
    # the largest principal p with p + fee_of(p) <= sell
    estimate = (sell_minor - terms.fee_fixed_minor) * BPS // (BPS + terms.fee_bps)
    p = max(estimate, 0) + 1
    for _ in range(_PRINCIPAL_STEPS_MAX):
        if p > 0 and p + fee_of(p, terms) > sell_minor:
            p -= 1
    assert p <= 0 or p + fee_of(p, terms) <= sell_minor < p + 1 + fee_of(p + 1, terms)
    if p <= 0:
        raise _too_small("sell_amount")
    buy = money.convert(p, sell_code, buy_code, price)
    if buy <= 0:
        raise _too_small("sell_amount")
    money.check_amount(buy, "buy_amount")
    fee = sell_minor - p  # the whole remainder: the customer pays exactly sell_minor
    return Priced(sell_code=sell_code, buy_code=buy_code, sell_minor=sell_minor, fee_minor=fee,
                  principal_minor=p, buy_minor=buy, price=price, mid=mid)


def for_buy(buy_minor: int, sell_code: str, buy_code: str, mid: Decimal,
            terms: Terms) -> Priced:
    """Pricing when the customer fixes what the recipient receives."""
    price = Decimal(1) if sell_code == buy_code else price_after_spread(mid, terms.spread_bps)
    # the least principal p with floor(p * price) >= buy
    p = max(money.convert(buy_minor, buy_code, sell_code, 1 / price, up=True), 1)
    while p > 1 and money.convert(p - 1, sell_code, buy_code, price) >= buy_minor:
        p -= 1
    while money.convert(p, sell_code, buy_code, price) < buy_minor:
        p += 1
    fee = fee_of(p, terms)
    sell = money.check_amount(p + fee, "sell_amount")
    return Priced(sell_code=sell_code, buy_code=buy_code, sell_minor=sell, fee_minor=fee,
                  principal_minor=p, buy_minor=buy_minor, price=price, mid=mid)
