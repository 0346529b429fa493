"""Amounts in US dollars for the AML thresholds (issue 16): exact `Decimal` arithmetic over
a reference-rate table.

Real traffic carries currencies Corridor does not issue, so the thresholds (10,000 USD for a
large amount, 1,000 USD for the travel rule, ...) need a USD equivalent for any ISO 4217
code. The order of preference, documented in docs/compliance-aml.md:

1. the movement's own `usd_minor` (the rate of the quote it was priced at), when known;
2. `REFERENCE_USD_PER_UNIT`: mid rates, USD per one major unit, rounded to 3-4 significant
   digits (late 2025). A rate off by a few percent moves a threshold by a few percent, which
   monitoring tolerates; a deployment replaces the table with its treasury's daily rates
   (`UsdRates(table)`);
3. a valid ISO 4217 code with no rate in the table is *unrated*: `usd_minor` returns None
   and the rules that need a USD amount take their conservative branch (the travel rule
   asks for the parties' data, the amount rules do not guess), and the explanation says
   `"rate": "none"`.

Validity of a code is ISO 4217's own list (pycountry); minor-unit exponents are ISO 4217's
(`EXPONENT_NOT_2`, every other code has 2)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal

# ISO 4217 minor units that are not 2 (ISO's table; CLDR differs for a few, e.g. IRR).
EXPONENT_NOT_2: Mapping[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}

# USD per one major unit of the currency: reference mid rates (late 2025), 3-4 digits.
REFERENCE_USD_PER_UNIT: Mapping[str, Decimal] = {code: Decimal(text) for code, text in {
    "USD": "1", "EUR": "1.16", "GBP": "1.33", "CHF": "1.25", "JPY": "0.0065",
    "CNY": "0.141", "HKD": "0.1285", "SGD": "0.77", "TWD": "0.032", "KRW": "0.00068",
    "CAD": "0.72", "AUD": "0.65", "NZD": "0.57", "SEK": "0.105", "NOK": "0.099",
    "DKK": "0.155", "PLN": "0.273", "CZK": "0.048", "HUF": "0.003", "RON": "0.228",
    "BGN": "0.593", "TRY": "0.0236", "RUB": "0.0125", "UAH": "0.024", "INR": "0.0113",
    "PKR": "0.00355", "BDT": "0.0082", "LKR": "0.0033", "NPR": "0.0071", "PHP": "0.017",
    "IDR": "0.00006", "MYR": "0.24", "THB": "0.031", "VND": "0.000038", "MXN": "0.054",
    "BRL": "0.185", "ARS": "0.0007", "CLP": "0.00106", "COP": "0.00026", "PEN": "0.295",
    "ZAR": "0.057", "NGN": "0.00069", "KES": "0.0077", "GHS": "0.09", "EGP": "0.021",
    "MAD": "0.108", "AED": "0.2723", "SAR": "0.2667", "QAR": "0.2747", "KWD": "3.26",
    "BHD": "2.659", "OMR": "2.6", "JOD": "1.41", "ILS": "0.30", "IRR": "0.0000238",
    "XOF": "0.00177", "XAF": "0.00177", "MMK": "0.00048", "KPW": "0.0011",
    "LAK": "0.000046", "KHR": "0.00025", "MNT": "0.00029", "KZT": "0.0019",
    "UZS": "0.000083", "GEL": "0.37", "AMD": "0.0026", "AZN": "0.588", "LBP": "0.0000112",
    "SYP": "0.000077", "YER": "0.0042", "VES": "0.0045", "HTG": "0.0076", "BOB": "0.145",
    "DZD": "0.0077", "AOA": "0.0011", "CDF": "0.00035", "NAD": "0.057", "SSP": "0.00022",
}.items()}


@functools.cache
def is_iso4217(code: str) -> bool:
    """Whether `code` is a current ISO 4217 code (upper case, exactly as written)."""
    import pycountry  # ISO 4217's own list; imported on first use (it loads a JSON table)

    return len(code) == 3 and code.isupper() and pycountry.currencies.get(
        alpha_3=code) is not None


@functools.cache
def is_iso3166(country: str) -> bool:
    """Whether `country` is an ISO 3166 alpha-2 code (upper case)."""
    import pycountry

    return len(country) == 2 and country.isupper() and pycountry.countries.get(
        alpha_2=country) is not None


def exponent(code: str) -> int:
    """ISO 4217 minor-unit digits of `code`."""
    return EXPONENT_NOT_2.get(code, 2)


@dataclasses.dataclass(frozen=True, slots=True)
class UsdRates:
    """USD equivalents by a table of USD-per-unit rates (the reference table by default)."""

    table: Mapping[str, Decimal] = dataclasses.field(
        default_factory=lambda: REFERENCE_USD_PER_UNIT)

    def usd_minor(self, amount_minor: int, currency: str) -> int | None:
        """US cents for `amount_minor` of `currency`, rounded down; None when unrated."""
        if currency == "USD":
            return amount_minor
        rate = self.table.get(currency)
        if rate is None:
            return None
        cents = Decimal(amount_minor).scaleb(2 - exponent(currency)) * rate
        return int(cents.to_integral_value(rounding=ROUND_FLOOR))

    def minor_of_usd(self, usd_minor: int, currency: str) -> int | None:
        """The amount of `currency` (minor units, rounded down) worth `usd_minor` cents."""
        if currency == "USD":
            return usd_minor
        rate = self.table.get(currency)
        if rate is None:
            return None
        minor = (Decimal(usd_minor) / rate).scaleb(exponent(currency) - 2)
        return int(minor.to_integral_value(rounding=ROUND_FLOOR))
