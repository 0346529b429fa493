"""Money: integer minor units everywhere, `Decimal` rates built in one place, and the
rounding rules (the customer is never charged more than shown, never credited more than
the treasury paid). Requirement F2; STYLE 3."""

from __future__ import annotations

import decimal
import re
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from corridor.platform.domain.errors import Err

# The demo network's currencies and their decimals (they equal the chain's asset decimals).
CURRENCIES: dict[str, int] = {"USD": 2, "EUR": 2, "CNY": 2, "HKD": 2, "SGD": 2}
AMOUNT_MINOR_MAX = 10**15  # far above any tier limit; bounds arithmetic and storage
RATE_DIGITS = 12  # significant digits kept in a rate
AMOUNT_TEXT_LEN_MAX = 40  # characters of an amount's text; AMOUNT_MINOR_MAX needs fewer
# The one amount syntax of the platform: ASCII digits and at most one decimal point with
# digits on both sides. No sign, exponent, spaces, NaN/Infinity or other scripts' digits
# (`[0-9]` is the ASCII range; `\d`, `int()` and `Decimal()` all accept e.g. '١٢' or '１２').
_AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")

_CTX = decimal.Context(prec=34, traps=[decimal.InvalidOperation, decimal.Overflow,
                                       decimal.DivisionByZero])


def decimals(code: str) -> int:
    try:
        return CURRENCIES[code]
    except KeyError:
        raise Err.UNKNOWN_CURRENCY.error(f"{code!r} is not a supported currency",
                                         {"currency": f"one of {', '.join(CURRENCIES)}"}) from None


def currency(text: object, field: str = "currency") -> str:
    """A currency code from outside: exactly an upper-case ISO 4217 code the platform
    supports ('usd', ' USD' and 'ＵＳＤ' are refused, not repaired), else UNKNOWN_CURRENCY."""
    if not isinstance(text, str) or text not in CURRENCIES:
        raise Err.UNKNOWN_CURRENCY.error(f"{str(text)[:20]!r} is not a supported currency "
                                         "(an upper-case ISO 4217 code)",
                                         {field: f"one of {', '.join(CURRENCIES)}"})
    return text


def is_currency(text: object) -> bool:
    return isinstance(text, str) and text in CURRENCIES


def rate(text: str | Decimal) -> Decimal:
    """A positive rate, exact, from text (never from a float)."""
    try:
        value = _CTX.create_decimal(str(text))
    except decimal.DecimalException:
        raise Err.INVALID_RATE.error(f"{text!r} is not a rate") from None
    if not value.is_finite() or value <= 0:
        raise Err.INVALID_RATE.error(f"{text!r} is not a positive rate")
    return value


def to_major(amount_minor: int, code: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-decimals(code))


def format_minor(amount_minor: int, code: str) -> str:
    """'1234' USD -> '12.34'."""
    return f"{to_major(amount_minor, code):.{decimals(code)}f}"


def amount_parts(text: object) -> tuple[str, str] | None:
    """The whole and fraction digits of an amount written in the one syntax of
    `_AMOUNT_RE` (at most AMOUNT_TEXT_LEN_MAX characters); None for anything else."""
    if (not isinstance(text, str) or len(text) > AMOUNT_TEXT_LEN_MAX
            or not _AMOUNT_RE.fullmatch(text)):
        return None
    whole, _, frac = text.partition(".")
    return whole, frac


def parse_minor(text: object, places: int, field: str = "amount", unit: str = "") -> int:
    """Minor units (10**-places) of an amount in the one syntax, exactly: more decimals
    than `places` is an error, not rounding. No range check (zero passes)."""
    parts = amount_parts(text)
    if parts is None:
        raise Err.INVALID_AMOUNT.error(f"{str(text)[:AMOUNT_TEXT_LEN_MAX]!r} is not an "
                                       "amount: digits with an optional decimal point, like 12.50",
                                       {field: "digits with an optional decimal point, like 12.50"})
    whole, frac = parts
    if len(frac) > places:
        raise Err.INVALID_AMOUNT.error(f"{unit or 'the amount'} has {places} decimals",
                                       {field: f"at most {places} decimals"})
    return int(whole + frac.ljust(places, "0"))  # ASCII digits only: int() is exact


def parse_major(text: object, code: str, field: str = "amount") -> int:
    """The one parser of amounts from outside (API, simulated bank, filters): '12.34' USD
    -> 1234, checked by `check_amount`. Whatever the text, the only failure is
    INVALID_AMOUNT (or UNKNOWN_CURRENCY for `code`), never another exception."""
    return check_amount(parse_minor(text, decimals(code), field, code), field)


def check_amount(amount_minor: int, field: str = "amount") -> int:
    if not 0 < amount_minor <= AMOUNT_MINOR_MAX:
        raise Err.INVALID_AMOUNT.error(f"{field} must be positive and at most "
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
