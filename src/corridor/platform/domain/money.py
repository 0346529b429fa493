"""Money: integer minor units everywhere, `Decimal` rates built in one place, and the
rounding rules (the customer is never charged more than shown, never credited more than
the treasury paid). Requirement F2; STYLE 3."""

from __future__ import annotations

import decimal
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from corridor.platform.domain.errors import invalid

# The demo network's currencies and their decimals (they equal the chain's asset decimals).
CURRENCIES: dict[str, int] = {"USD": 2, "EUR": 2, "CNY": 2, "HKD": 2, "SGD": 2}
AMOUNT_MINOR_MAX = 10**15  # far above any tier limit; bounds arithmetic and storage
RATE_DIGITS = 12  # significant digits kept in a rate

_CTX = decimal.Context(prec=34, traps=[decimal.InvalidOperation, decimal.Overflow,
                                       decimal.DivisionByZero])


def decimals(code: str) -> int:
    try:
        return CURRENCIES[code]
    except KeyError:
        raise invalid("UNKNOWN_CURRENCY", f"{code!r} is not a supported currency",
                      {"currency": f"one of {', '.join(CURRENCIES)}"}) from None


def rate(text: str | Decimal) -> Decimal:
    """A positive rate, exact, from text (never from a float)."""
    try:
        value = _CTX.create_decimal(str(text))
    except decimal.DecimalException:
        raise invalid("INVALID_RATE", f"{text!r} is not a rate") from None
    if not value.is_finite() or value <= 0:
        raise invalid("INVALID_RATE", f"{text!r} is not a positive rate")
    return value


def to_major(amount_minor: int, code: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-decimals(code))


def format_minor(amount_minor: int, code: str) -> str:
    """'1234' USD -> '12.34'."""
    return f"{to_major(amount_minor, code):.{decimals(code)}f}"


def parse_major(text: str, code: str) -> int:
    """'12.34' USD -> 1234; more decimals than the currency has is an error, not rounding."""
    try:
        value = _CTX.create_decimal(text.strip())
    except (decimal.DecimalException, AttributeError):
        raise invalid("INVALID_AMOUNT", f"{text!r} is not an amount") from None
    minor = value.scaleb(decimals(code))
    if not value.is_finite() or minor != minor.to_integral_value():
        raise invalid("INVALID_AMOUNT", f"{code} has {decimals(code)} decimals")
    return check_amount(int(minor))


def check_amount(amount_minor: int, field: str = "amount") -> int:
    if not 0 < amount_minor <= AMOUNT_MINOR_MAX:
        raise invalid("INVALID_AMOUNT", f"{field} must be positive and at most "
                      f"{AMOUNT_MINOR_MAX} minor units", {field: "out of range"})
    return amount_minor


def convert(amount_minor: int, from_code: str, to_code: str, price: Decimal, *,
            up: bool = False) -> int:
    """`amount_minor` of `from_code` at `price` (units of `to_code` per unit of
    `from_code`), in minor units of `to_code`; rounded down unless `up`."""
    major = to_major(amount_minor, from_code) * price
    minor = major.scaleb(decimals(to_code))
    return int(minor.to_integral_value(rounding=ROUND_UP if up else ROUND_DOWN))


def percent_of(amount_minor: int, bps: int) -> int:
    """A fee of `bps` basis points, rounded up to a whole minor unit."""
    return int((Decimal(amount_minor) * bps / 10_000).to_integral_value(rounding=ROUND_UP))
