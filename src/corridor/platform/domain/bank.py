"""Bank details, checked once for every place that takes them (withdrawals, payments to a
bank account): the holder's name, the country, the account (an IBAN, or a domestic account
number in the country's format) and the bank's code (a BIC, or the country's domestic
routing code). IBANs and BICs are checked by schwifty (the IBAN registry's length and
structure per country, the ISO 7064 check digits, the national check digits where the
registry has them; BIC structure and country); domestic formats where this module knows
them, a generic shape elsewhere."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from corridor.platform.domain.errors import Problems
from corridor.platform.domain.orgs import COUNTRIES
from corridor.platform.domain.text import check_display_name

NAME_LEN_MAX = 140
PARTS = ("name", "country", "account", "bank_code")
_IBAN_LIKE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")
_GENERIC_ACCOUNT = re.compile(r"[A-Z0-9]{4,34}")
_GENERIC_BANK_CODE = re.compile(r"[A-Z0-9]{2,20}")
_BIC_LIKE = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")


def _aba_ok(code: str) -> bool:
    """A US routing number: nine digits whose 3-7-1 weighted sum is a multiple of 10."""
    if not re.fullmatch(r"[0-9]{9}", code):
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(code, weights, strict=True)) % 10 == 0


# country -> (domestic account pattern, what it is; routing code check, what it is)
_DOMESTIC: Mapping[str, tuple[re.Pattern[str], str, Callable[[str], bool], str]] = {
    "US": (re.compile(r"[0-9]{4,17}"), "4-17 digits",
           _aba_ok, "a BIC or a nine-digit ABA routing number"),
    "GB": (re.compile(r"[0-9]{8}"), "8 digits (or an IBAN)",
           lambda c: re.fullmatch(r"[0-9]{6}", c) is not None, "a BIC or a six-digit sort code"),
    "CN": (re.compile(r"[0-9]{8,30}"), "8-30 digits",
           lambda c: re.fullmatch(r"[0-9]{12}", c) is not None,
           "a BIC or a twelve-digit CNAPS code"),
}


@dataclass(frozen=True, slots=True)
class BankAccount:
    name: str
    country: str
    account: str  # canonical: upper case, no spaces; an IBAN in its compact form
    bank_code: str
    is_iban: bool


def compact(text: object) -> str:
    return str(text or "").replace(" ", "").upper()


def check(name: object, country: object, account: object, bank_code: object,
          problems: Problems, fields: Mapping[str, str]) -> BankAccount:
    """The details in canonical form; every problem added under `fields[part]` (parts:
    name, country, account, bank_code), so each API keeps its own field names."""
    holder = check_display_name(str(name or ""), problems, fields["name"], NAME_LEN_MAX)
    land = str(country or "").strip().upper()
    if land not in COUNTRIES:
        problems.add(fields["country"], "an ISO 3166-1 alpha-2 country code")
    number = compact(account)
    is_iban = _IBAN_LIKE.fullmatch(number) is not None and len(number) >= 15
    if is_iban:
        problem = _iban_problem(number, land)
        if problem:
            problems.add(fields["account"], problem)
    else:
        problem = _account_problem(number, land)
        if problem:
            problems.add(fields["account"], problem)
    code = compact(bank_code)
    problem = _bank_code_problem(code, land)
    if problem:
        problems.add(fields["bank_code"], problem)
    return BankAccount(name=holder, country=land, account=number, bank_code=code,
                       is_iban=is_iban)


def _iban_problem(number: str, country: str) -> str | None:
    try:
        iban = IBAN(number, validate_bban=True)
    except SchwiftyException as exc:
        return f"not a valid IBAN ({exc})"
    if country in COUNTRIES and iban.country_code != country:
        return f"an IBAN of {iban.country_code}, but the country is {country}"
    return None


def _account_problem(number: str, country: str) -> str | None:
    domestic = _DOMESTIC.get(country)
    if domestic is not None:
        pattern, what, _, _ = domestic
        return None if pattern.fullmatch(number) else f"an account number of {what}"
    if not _GENERIC_ACCOUNT.fullmatch(number):
        return "an account number or IBAN: 4-34 letters or digits"
    return None


def _bank_code_problem(code: str, country: str) -> str | None:
    if _BIC_LIKE.fullmatch(code):
        try:
            BIC(code)
        except SchwiftyException as exc:
            return f"not a valid BIC ({exc})"
        return None
    domestic = _DOMESTIC.get(country)
    if domestic is not None:
        _, _, routing_ok, what = domestic
        return None if routing_ok(code) else what
    if not _GENERIC_BANK_CODE.fullmatch(code):
        return "2-20 letters or digits (a BIC or the country's bank code)"
    return None
