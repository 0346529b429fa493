"""Institutions as organisations with departments and members (requirement A6)."""

from __future__ import annotations

import dataclasses
import enum

import phonenumbers

from corridor.platform.domain.errors import Problems
from corridor.platform.domain.roles import OrgRole
from corridor.platform.domain.text import check_display_name

ORG_NAME_LEN_MAX = 200
DEPARTMENTS_MAX = 100
MEMBERS_MAX = 1000
DEPARTMENT_NAME_LEN_MAX = 100
ORGS_PER_USER_MAX = 50  # memberships of one user: bounds "my organisations" and sign-up spam
MEMBERS_PAGE_MAX = 200
ORGS_PAGE_MAX = 200  # staff listing
AUDIT_PAGE_MAX = 200
PAGE_OFFSET_MAX = 1_000_000

assert DEPARTMENT_NAME_LEN_MAX <= ORG_NAME_LEN_MAX <= 200  # both columns are String(200)
assert MEMBERS_PAGE_MAX <= MEMBERS_MAX

# ISO 3166-1 alpha-2 codes, taken from libphonenumber's regions (a maintained list we
# already depend on). AC and TA are ITU regions with only *reserved* ISO codes, so they
# are removed; XK (Kosovo) is user-assigned but used by banks and SWIFT, so it stays.
COUNTRIES: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS) - {"AC", "TA"}


class OrgStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # by staff: no new members, departments or renames


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Organisation:
    id: str
    name: str
    country: str  # ISO 3166-1 alpha-2
    status: OrgStatus
    created_by: str
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Department:
    id: str
    org_id: str
    name: str
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Membership:
    id: str
    org_id: str
    user_id: str
    role: OrgRole
    department_id: str | None
    created_ms: int
    updated_ms: int


def check_org_name(name: str, problems: Problems, field: str = "name") -> str:
    """The name with runs of white space collapsed; adds a problem if empty, too long or
    holding control or invisible characters (domain/text.py)."""
    return check_display_name(name, problems, field, ORG_NAME_LEN_MAX)


def check_department_name(name: str, problems: Problems, field: str = "name") -> str:
    return check_display_name(name, problems, field, DEPARTMENT_NAME_LEN_MAX)


def check_country(country: str, problems: Problems, field: str = "country") -> str:
    code = country.strip().upper()
    if code not in COUNTRIES:
        problems.add(field, "an ISO 3166-1 alpha-2 country code, e.g. GB")
    return code
