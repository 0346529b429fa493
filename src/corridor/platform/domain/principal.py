"""Who is calling: the authenticated principal every use case receives."""

from __future__ import annotations

import dataclasses

from corridor.platform.domain.roles import Perm, StaffRole, UserKind, staff_allows


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeyGrant:
    """What an organisation's API key (domain/apikeys.py) lets its holder do: one
    organisation, and at most its scopes' permissions (services/access.require_org also
    asks the creator's role, so a key never does more than its creator may now)."""

    key_id: str
    org_id: str
    perms: frozenset[Perm]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    user_id: str
    kind: UserKind
    staff_role: StaffRole | None
    session_id: str
    ip: str = ""
    # Set when the caller is an API key (acting for its creator, `user_id`), not a person.
    key: KeyGrant | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind is UserKind.STAFF

    def staff_can(self, perm: Perm) -> bool:
        return self.is_staff and self.key is None and staff_allows(self.staff_role, perm)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where an unauthenticated request came from (for audit and rate limits)."""

    ip: str = ""
    user_agent: str = ""
