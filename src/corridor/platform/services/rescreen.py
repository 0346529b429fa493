"""A list import re-screens every customer (issue 16): each import is a versioned snapshot
(services/screening); the entries it added or changed are screened against every
customer's and organisation's name, and the hits become alerts in their compliance cases
like those at KYC submission (monitoring.raise_alerts, honouring cleared pairs)."""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import SubjectType
from corridor.platform.domain.monitoring import Finding
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import UserKind
from corridor.platform.domain.screening.entries import EntityKind, ListFormat
from corridor.platform.domain.screening.index import ScreeningIndex
from corridor.platform.domain.screening.matcher import Query
from corridor.platform.services import kyc, monitoring, screening
from corridor.platform.services.monitoring import ScreeningMonitor
from corridor.platform.services.ports import Deps, UnitOfWork
from corridor.platform.services.screening import ImportOutcome, ListFiles

BATCH = 200  # customers read (and their alerts written) per transaction


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Rescreened:
    """What re-screening after an import did: the customers and organisations screened
    against the changed entries, and the alerts raised."""

    screened: int = 0
    alerts: int = 0


def import_list(deps: Deps, who: Principal | None, files: ListFiles, fmt: ListFormat,
                list_name: str | None = None) -> tuple[ImportOutcome, Rescreened]:
    """Imports a list (screening.import_list), then re-screens every customer against the
    entries it added or changed. The same content again re-screens nothing."""
    out = screening.import_list(deps, who, files, fmt, list_name)
    return out, rescreen(deps, out)


def rescreen(deps: Deps, out: ImportOutcome) -> Rescreened:
    """Every customer's name (their KYC record's, else their registered one) and every
    organisation's against the added and changed entries of an import only, through a
    small index of those entries; hits not cleared for the party and name become alerts
    with source ("list", snapshot id). Removed entries raise nothing. Customers are read
    BATCH at a time, each batch's alerts written in one transaction. The screening
    monitors' cached indexes are refreshed first, so this process screens payments against
    the new lists at once."""
    screeners = [m for m in deps.monitors if isinstance(m, ScreeningMonitor)]
    for monitor in screeners:
        monitor.refresh()
    entries = (*out.delta.added, *out.delta.changed)
    if not out.new or not entries or not screeners:
        return Rescreened()
    index = ScreeningIndex(entries)
    threshold = min(m.threshold for m in screeners)
    source = ("list", out.snapshot.id)
    screened = alerts = 0
    kinds: tuple[tuple[str, EntityKind, type[Any], dict[str, Any]], ...] = (
        (SubjectType.USER, EntityKind.PERSON, User, {"kind": UserKind.CUSTOMER}),
        (SubjectType.ORG, EntityKind.ORG, Organisation, {}))
    for subject_type, kind, model, eq in kinds:
        last: str | None = None
        while True:
            with deps.reader() as uow:
                batch = uow.repo(model).many(order_by="id", limit=BATCH,
                                             above=None if last is None else {"id": last},
                                             **eq)
                names = kyc.screening_names(deps, uow, subject_type,
                                            {r.id: r.name for r in batch})
            if not batch:
                break
            last = batch[-1].id
            found: list[tuple[str, Finding]] = []
            for party, name in names.items():
                screened += 1
                hits = index.screen(Query(name=name, kind=kind), threshold=threshold)
                if hits:
                    found.append((party, monitoring.screening_finding(name, party, hits)))
            if found:
                alerts += deps.write(_alerts(deps, subject_type, found, source))
            if len(batch) < BATCH:
                break
    return Rescreened(screened=screened, alerts=alerts)


def _alerts(deps: Deps, subject_type: str, found: list[tuple[str, Finding]],
            source: tuple[str, str]) -> Any:
    def work(uow: UnitOfWork) -> int:
        return sum(len(monitoring.raise_alerts(deps, uow, monitoring.acting(uow, [f]),
                                               subject=(subject_type, party), source=source))
                   for party, f in found)
    return work
