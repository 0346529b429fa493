"""Bank details are checked once (domain/bank.py) for withdrawals and payments to a bank:
IBANs and BICs by schwifty, domestic formats per country, a generic shape elsewhere."""

from __future__ import annotations

import pytest

from corridor.platform.domain import bank
from corridor.platform.domain import rails as rails_domain
from corridor.platform.domain.errors import Problems
from corridor.platform.services import payment_recipients

FIELDS = {part: part for part in bank.PARTS}


def problems_of(name: str, country: str, account: str, code: str) -> dict[str, str]:
    problems = Problems()
    bank.check(name, country, account, code, problems, FIELDS)
    return problems.fields


@pytest.mark.parametrize(("country", "account", "code"), [
    ("GB", "GB82 WEST 1234 5698 7654 32", "WESTGB2L"),  # IBAN with spaces, BIC
    ("DE", "DE89370400440532013000", "COBADEFFXXX"),
    ("GB", "12345678", "400515"),  # domestic account and sort code
    ("US", "000123456789", "021000021"),  # ABA routing number (check digit OK)
    ("CN", "6222020200112233", "102100099996"),  # CNAPS code
    ("NG", "0123456789", "058"),  # generic shape elsewhere
])
def test_valid_details_pass_in_canonical_form(country: str, account: str, code: str) -> None:
    problems = Problems()
    out = bank.check(" Ann  Example ", country.lower(), account.lower(), code.lower(), problems,
                     FIELDS)
    assert not problems.fields
    assert out.name == "Ann Example" and out.country == country
    assert out.account == account.replace(" ", "").upper()
    assert out.is_iban == account[:2].isalpha()


@pytest.mark.parametrize(("country", "account", "code", "field"), [
    ("GB", "GB83WEST12345698765432", "WESTGB2L", "account"),  # check digits
    ("DE", "GB82WEST12345698765432", "COBADEFF", "account"),  # an IBAN of another country
    ("DE", "DE8937040044053201300", "COBADEFF", "account"),  # too short for DE
    ("GB", "1234567", "400515", "account"),  # GB accounts have 8 digits
    ("US", "12345678", "021000022", "bank_code"),  # ABA check digit wrong
    ("GB", "12345678", "40051", "bank_code"),  # sort codes have 6 digits
    ("GB", "12345678", "WESTZZ2L", "bank_code"),  # a BIC of no country
    ("ZZ", "12345678", "WESTGB2L", "country"),
    ("NG", "12", "058", "account"),
])
def test_invalid_details_name_the_field(country: str, account: str, code: str,
                                        field: str) -> None:
    assert field in problems_of("Ann", country, account, code)


def test_names_are_checked_like_every_display_name() -> None:
    assert "name" in problems_of("Ann\u202egnp", "GB", "12345678", "400515")
    assert "name" in problems_of("", "GB", "12345678", "400515")


def test_withdrawals_and_payments_give_the_same_verdict() -> None:
    for account, ok in (("GB82WEST12345698765432", True), ("GB83WEST12345698765432", False),
                        ("12345678", True), ("1234567", False)):
        withdrawal = Problems()
        rails_domain.check_bank({"name": "Ann", "country": "GB", "account": account,
                                 "bank_code": "WESTGB2L"}, withdrawal)
        payment = Problems()
        field = "iban" if account.startswith("GB") else "account_number"
        payment_recipients.check_bank({"name": "Ann", "country": "GB", field: account,
                              "bank_code": "WESTGB2L"}, payment)
        assert (not withdrawal.fields) == ok and (not payment.fields) == ok, account
