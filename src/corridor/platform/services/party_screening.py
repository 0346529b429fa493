"""Screening of parties that are not the customer themselves (issue 16): an organisation's
members, and the counterparties a customer stored (bank beneficiaries of their payments,
the accounts their withdrawals were paid to). A hit becomes an alert in the customer's
(the organisation's) case, naming the party, so a clearance holds for that party and name
like any other (monitoring.acting)."""

from __future__ import annotations

from collections.abc import Sequence

from corridor.platform.domain.compliance import Alert
from corridor.platform.domain.monitoring import Finding
from corridor.platform.domain.screening.entries import EntityKind
from corridor.platform.domain.screening.matcher import Hit
from corridor.platform.services import monitoring
from corridor.platform.services.monitoring import ScreeningMonitor
from corridor.platform.services.ports import Deps, UnitOfWork

MEMBER = "member"  # an alert's source_type: a member added (source_id: the membership)


def hits_of(deps: Deps, name: str, kind: EntityKind | None) -> list[Hit]:
    """`name` through every screening monitor of the platform (the current lists)."""
    out: list[Hit] = []
    for monitor in deps.monitors:
        if isinstance(monitor, ScreeningMonitor):
            out.extend(monitor.screen(name, kind))
    return out


def alert_party(deps: Deps, uow: UnitOfWork, *, subject: tuple[str, str], party: str,
                name: str, hits: Sequence[Hit], source: tuple[str, str]) -> list[Alert]:
    """Alerts on `subject`'s case for `party`'s hits under `name`, less cleared pairs."""
    if not hits:
        return []
    finding: Finding = monitoring.screening_finding(" ".join(name.split()), party, hits)
    return monitoring.raise_alerts(deps, uow, monitoring.acting(uow, [finding]),
                                   subject=subject, source=source)


def screen_member(deps: Deps, uow: UnitOfWork, *, org_id: str, user_id: str, name: str,
                  membership_id: str) -> list[Alert]:
    """A member added to an organisation, screened by name: a hit is an alert on the
    organisation's case (the member is the party)."""
    return alert_party(deps, uow, subject=("org", org_id), party=user_id, name=name,
                       hits=hits_of(deps, name, EntityKind.PERSON),
                       source=(MEMBER, membership_id))
