"""A list import re-screens every customer (issue 16): each import is a versioned snapshot
(services/screening); the entries it added or changed are screened against every
customer's and organisation's name, every organisation's members and every stored
counterparty (the bank beneficiaries of payments, the accounts withdrawals were paid to),
and the hits become alerts in their compliance cases like those at KYC submission
(monitoring.raise_alerts, honouring cleared pairs)."""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import SubjectType
from corridor.platform.domain.monitoring import Finding
from corridor.platform.domain.orgs import Membership, Organisation
from corridor.platform.domain.payments import Payment, RecipientType
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import Withdrawal
from corridor.platform.domain.roles import UserKind
from corridor.platform.domain.screening.entries import EntityKind, ListFormat
from corridor.platform.domain.screening.index import ScreeningIndex
from corridor.platform.domain.screening.matcher import Hit, Query
from corridor.platform.services import bank_details, kyc, monitoring, party_screening, screening
from corridor.platform.services.monitoring import ScreeningMonitor
from corridor.platform.services.ports import Deps, UnitOfWork
from corridor.platform.services.screening import ImportOutcome, ListFiles

BATCH = 200  # customers read (and their alerts written) per transaction
# Distinct counterparties one re-screen remembers (to screen each once): bounds its memory.
COUNTERPARTIES_MAX = 1_000_000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Rescreened:
    """What re-screening after an import did: the customers and organisations screened
    against the changed entries, the organisations' members and the stored counterparties
    screened, and the alerts raised."""

    screened: int = 0
    alerts: int = 0
    members: int = 0
    counterparties: int = 0


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
    members, member_alerts = _members(deps, index, threshold, source)
    parties, party_alerts = _counterparties(deps, index, threshold, source)
    return Rescreened(screened=screened, alerts=alerts + member_alerts + party_alerts,
                      members=members, counterparties=parties)


# (subject, party, name, hits): a hit on a party other than the subject itself
PartyHit = tuple[tuple[str, str], str, str, list[Hit]]


def _members(deps: Deps, index: ScreeningIndex, threshold: float,
             source: tuple[str, str]) -> tuple[int, int]:
    """Every organisation's members (their screening names), alerts on the organisation's
    case. Returns (members screened, alerts)."""
    screened = alerts = 0
    last: str | None = None
    while True:
        with deps.reader() as uow:
            batch = uow.repo(Membership).many(order_by="id", limit=BATCH,
                                              above=None if last is None else {"id": last})
            users = uow.repo(User).many(id=tuple({m.user_id for m in batch})) if batch else []
            names = kyc.screening_names(deps, uow, SubjectType.USER,
                                        {u.id: u.name for u in users})
        if not batch:
            break
        last = batch[-1].id
        found: list[PartyHit] = []
        for m in batch:
            name = names.get(m.user_id)
            if not name:
                continue
            screened += 1
            hits = index.screen(Query(name=name, kind=EntityKind.PERSON), threshold=threshold)
            if hits:
                found.append(((SubjectType.ORG, m.org_id), m.user_id, name, hits))
        if found:
            alerts += deps.write(_party_alerts(deps, found, source))
        if len(batch) < BATCH:
            break
    return screened, alerts


def _counterparties(deps: Deps, index: ScreeningIndex, threshold: float,
                    source: tuple[str, str]) -> tuple[int, int]:
    """Every stored counterparty: the bank beneficiary of each external payment and the
    account holder of each withdrawal, once per (customer, account, name); alerts on the
    customer's case with the beneficiary as the party (as the payment path names it).
    Returns (counterparties screened, alerts)."""
    seen: set[tuple[str, str, str, str]] = set()
    screened = alerts = 0
    models: tuple[type[Any], ...] = (Payment, Withdrawal)
    for model in models:
        last: str | None = None
        while True:
            eq: dict[str, Any] = ({"recipient_type": RecipientType.EXTERNAL}
                                  if model is Payment else {})
            with deps.reader() as uow:
                rows: list[Payment | Withdrawal] = uow.repo(model).many(
                    order_by="id", limit=BATCH, above=None if last is None else {"id": last},
                    **eq)
            if not rows:
                break
            last = rows[-1].id
            found: list[PartyHit] = []
            for row in rows:
                stored = _stored(deps, row)
                if stored is None:
                    continue
                party, name = stored
                key = (row.owner_type, row.owner_id, party, name)
                if key in seen or len(seen) >= COUNTERPARTIES_MAX:
                    continue
                seen.add(key)
                screened += 1
                hits = index.screen(Query(name=name), threshold=threshold)
                if hits:
                    found.append(((row.owner_type, row.owner_id), party, name, hits))
            if found:
                alerts += deps.write(_party_alerts(deps, found, source))
            if len(rows) < BATCH:
                break
    return screened, alerts


def _stored(deps: Deps, row: Payment | Withdrawal) -> tuple[str, str] | None:
    """(party, name) of the counterparty a payment or withdrawal stored."""
    if isinstance(row, Payment):
        account = bank_details.payment_account(deps, row)
        name = row.recipient_name
    else:
        if row.payment_id is not None:
            return None  # the payout of an external payment: screened as that payment
        account = bank_details.withdrawal_account(deps, row)
        name = str(row.bank.get("name") or "")
    name = " ".join(name.split())
    if not account or not name:
        return None
    return bank_details.beneficiary_party(deps, account), name


def _party_alerts(deps: Deps, found: list[PartyHit], source: tuple[str, str]) -> Any:
    def work(uow: UnitOfWork) -> int:
        return sum(len(party_screening.alert_party(deps, uow, subject=subject, party=party,
                                                   name=name, hits=hits, source=source))
                   for subject, party, name, hits in found)
    return work


def _alerts(deps: Deps, subject_type: str, found: list[tuple[str, Finding]],
            source: tuple[str, str]) -> Any:
    def work(uow: UnitOfWork) -> int:
        return sum(len(monitoring.raise_alerts(deps, uow, monitoring.acting(uow, [f]),
                                               subject=(subject_type, party), source=source))
                   for party, f in found)
    return work
