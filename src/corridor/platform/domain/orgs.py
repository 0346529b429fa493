"""Institutions as organisations with departments and members (requirement A6)."""

from __future__ import annotations

import dataclasses

ORG_NAME_LEN_MAX = 200
DEPARTMENTS_MAX = 100
MEMBERS_MAX = 1000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Organisation:
    id: str
    name: str
    country: str  # ISO 3166-1 alpha-2
    status: str  # "active" | "suspended"
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
    role: str  # roles.OrgRole
    department_id: str | None
    created_ms: int
    updated_ms: int
