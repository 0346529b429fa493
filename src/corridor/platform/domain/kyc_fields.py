"""KYC fields (SEP-9 names) and the checker of each: what a customer may submit, in what
shape, for a person and for an organisation (its beneficial owners included). Pure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.orgs import COUNTRIES
from corridor.platform.domain.text import unsafe_characters

TEXT_LEN_MAX = 200  # names, city, occupation
ADDRESS_LEN_MAX = 500
POSTAL_CODE_LEN_MAX = 16
ID_NUMBER_LEN_MAX = 64
OWNERS_MAX = 25  # beneficial owners of one organisation
ADULT_AGE_YEARS = 18
AGE_YEARS_MAX = 130  # an older birth date is a typo
COUNTRY_CODES = COUNTRIES  # one list of ISO 3166-1 alpha-2 codes for the platform


# --- fields ---------------------------------------------------------------------------

PHOTO_FIELDS = frozenset({
    "photo_id_front", "photo_id_back", "photo_proof_residence",
    "organization.photo_incorporation_doc", "organization.photo_proof_address",
})
ID_TYPES = ("passport", "id_card", "drivers_license")
OWNERS_FIELD = "organization.beneficial_owners"
OWNER_KEYS = frozenset({"name", "birth_date", "nationality", "ownership_percent"})

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_POSTAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]*")
_ID_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 /-]*")

Checker = Callable[[object, dt.date], object]


def _text(limit: int) -> Checker:
    def check(value: object, _today: dt.date) -> object:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        clean = " ".join(value.split())
        if not 1 <= len(clean) <= limit or unsafe_characters(value):
            raise ValueError(f"1 to {limit} printable characters")
        return clean

    return check


def _pattern(pattern: re.Pattern[str], limit: int, what: str) -> Checker:
    def check(value: object, today: dt.date) -> object:
        text = _text(limit)(value, today)
        assert isinstance(text, str)
        if not pattern.fullmatch(text):
            raise ValueError(f"not a valid {what}")
        return text

    return check


def _country(value: object, _today: dt.date) -> object:
    if not isinstance(value, str) or value.upper() not in COUNTRY_CODES:
        raise ValueError("an ISO 3166-1 alpha-2 country code, e.g. GB")
    return value.upper()


def parse_date(value: object) -> dt.date:
    """A strict YYYY-MM-DD date (Python 3.11's `fromisoformat` also takes other forms)."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("a date as YYYY-MM-DD") from None


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _past_date(value: object, today: dt.date) -> object:
    day = parse_date(value)
    if day > today:
        raise ValueError("must not be in the future")
    return day.isoformat()


def _birth_date(value: object, today: dt.date) -> object:
    day = parse_date(value)
    if day > years_before(today, ADULT_AGE_YEARS):
        raise ValueError(f"must be at least {ADULT_AGE_YEARS} years old")
    if day < years_before(today, AGE_YEARS_MAX):
        raise ValueError("not a plausible birth date")
    return day.isoformat()


def _future_date(value: object, today: dt.date) -> object:
    day = parse_date(value)
    if day <= today:
        raise ValueError("must be in the future (the document has expired)")
    return day.isoformat()


def _email(value: object, _today: dt.date) -> object:
    if not isinstance(value, str) or len(value) > 320:
        raise ValueError("an e-mail address")
    try:
        return idn.normalise_email(value)
    except PlatformError as exc:
        raise ValueError(exc.message) from None


def _phone(value: object, _today: dt.date) -> object:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("a phone number in international form")
    try:
        return idn.normalise_phone(value)
    except PlatformError as exc:
        raise ValueError(exc.message) from None


def _id_type(value: object, _today: dt.date) -> object:
    if value not in ID_TYPES:
        raise ValueError(f"one of {', '.join(ID_TYPES)}")
    return value


def _file_id(value: object, _today: dt.date) -> object:
    # Ownership of the file is checked by `normalise`, which knows the owner's files.
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ValueError("the id of an uploaded file")
    return value


def _percent(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("ownership_percent: a number")
    try:
        p = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("ownership_percent: a number") from None
    if not p.is_finite() or not Decimal(0) < p <= Decimal(100) or p != round(p, 2):
        raise ValueError("ownership_percent: more than 0, at most 100, 2 decimals at most")
    return p


def _owner(value: object, today: dt.date) -> dict[str, object]:
    if not isinstance(value, dict) or set(value) != OWNER_KEYS:
        raise ValueError(f"each owner has exactly: {', '.join(sorted(OWNER_KEYS))}")
    try:
        name = _text(TEXT_LEN_MAX)(value["name"], today)
        born = _past_date(value["birth_date"], today)
        nationality = _country(value["nationality"], today)
    except ValueError as exc:
        raise ValueError(f"owner: {exc}") from None
    percent = _percent(value["ownership_percent"])
    return {"name": name, "birth_date": born, "nationality": nationality,
            "ownership_percent": format(percent.normalize(), "f")}


def _owners(value: object, today: dt.date) -> object:
    if not isinstance(value, list) or not 1 <= len(value) <= OWNERS_MAX:
        raise ValueError(f"a list of 1 to {OWNERS_MAX} owners")
    owners = [_owner(v, today) for v in value]
    if sum(Decimal(str(o["ownership_percent"])) for o in owners) > 100:
        raise ValueError("ownership adds up to more than 100 percent")
    return owners


PERSON_FIELDS: dict[str, Checker] = {
    "first_name": _text(TEXT_LEN_MAX),
    "last_name": _text(TEXT_LEN_MAX),
    "additional_name": _text(TEXT_LEN_MAX),
    "birth_date": _birth_date,
    "birth_country_code": _country,
    "address": _text(ADDRESS_LEN_MAX),
    "city": _text(TEXT_LEN_MAX),
    "postal_code": _pattern(_POSTAL, POSTAL_CODE_LEN_MAX, "postal code"),
    "state_or_province": _text(TEXT_LEN_MAX),
    "address_country_code": _country,
    "mobile_number": _phone,
    "email_address": _email,
    "occupation": _text(TEXT_LEN_MAX),
    "id_type": _id_type,
    "id_country_code": _country,
    "id_number": _pattern(_ID_NUMBER, ID_NUMBER_LEN_MAX, "document number"),
    "id_issue_date": _past_date,
    "id_expiration_date": _future_date,
    "photo_id_front": _file_id,
    "photo_id_back": _file_id,
    "photo_proof_residence": _file_id,
}

ORG_FIELDS: dict[str, Checker] = {
    "organization.name": _text(TEXT_LEN_MAX),
    "organization.registration_number": _pattern(_ID_NUMBER, ID_NUMBER_LEN_MAX,
                                                 "registration number"),
    "organization.registration_date": _past_date,
    "organization.registered_address": _text(ADDRESS_LEN_MAX),
    "organization.address_country_code": _country,
    "organization.VAT_number": _pattern(_ID_NUMBER, ID_NUMBER_LEN_MAX, "VAT number"),
    "organization.director_name": _text(TEXT_LEN_MAX),
    "organization.email": _email,
    "organization.phone": _phone,
    "organization.photo_incorporation_doc": _file_id,
    "organization.photo_proof_address": _file_id,
    OWNERS_FIELD: _owners,
}
