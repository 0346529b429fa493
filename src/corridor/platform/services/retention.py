"""Retention enforced (issue 16; the rules are domain/retention.py): the guard every
deletion of an in-scope record goes through, the report of what may be purged and why,
and the purge itself, an operator's explicit act, audited.

The guard: `delete(deps, uow, record_type, id)` refuses (RETENTION_HELD) unless the
record's customer ended the relationship at least the period ago; the database adapter
refuses a plain `Repo.delete` of an in-scope record type outside this guard
(`check_permitted`), so no other code path can delete one early.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

from corridor.platform.domain import retention as dom
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.compliance import Alert, Case
from corridor.platform.domain.errors import Err, forbidden, not_found
from corridor.platform.domain.identity import User, UserStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.retention import Link, ScopeItem
from corridor.platform.domain.roles import Perm, UserKind
from corridor.platform.services.ports import Deps, Repo, UnitOfWork

log = logging.getLogger("corridor.platform.retention")

# The one deletion the guard allowed, for the adapter's check (this thread or task only).
_PERMIT: contextvars.ContextVar[tuple[type, str] | None] = contextvars.ContextVar(
    "retention_permit", default=None)


def check_permitted(record_type: type, record_id: str) -> None:
    """Called by the adapter before any delete: an in-scope record is deleted only
    inside `delete`, after the guard allowed it."""
    if record_type in dom.GUARDED and _PERMIT.get() != (record_type, record_id):
        raise Err.RETENTION_HELD.error(
            f"{record_type.__name__} {record_id} is kept for the retention period: "
            "only the retention purge deletes it")


@contextlib.contextmanager
def _permit(record_type: type, record_id: str) -> Iterator[None]:
    token = _PERMIT.set((record_type, record_id))
    try:
        yield
    finally:
        _PERMIT.reset(token)


def years(deps: Deps) -> int:
    return max(dom.YEARS_MIN, int(getattr(deps.settings, "retention_years", dom.YEARS_MIN)))


def _item(record_type: type) -> ScopeItem:
    return next(i for i in dom.SCOPE if i.record is record_type)


def _customer_of(uow: UnitOfWork, record_type: type, record: Any) -> tuple[str, str] | None:
    """(type, id) of the customer whose relationship governs `record`."""
    link = _item(record_type).link
    if link is Link.SUBJECT:
        return str(record.subject_type), str(record.subject_id)
    if link is Link.OWNER:
        return str(record.owner_type), str(record.owner_id)
    if link is Link.CASE:
        case = uow.repo(Case).get(record.case_id)
        return None if case is None else (case.subject_type, case.subject_id)
    if link is Link.ALERT:
        alert = uow.repo(Alert).get(record.alert_id)
        return None if alert is None else (alert.subject_type, alert.subject_id)
    for served in dom.REFERRED:
        found = uow.repo(served).get(record.ref_id)
        if found is not None:
            return _customer_of(uow, served, found)
    return None


def end_of(uow: UnitOfWork, customer: tuple[str, str] | None) -> int | None:
    """When the customer's relationship ended (None: it goes on, or nobody is named)."""
    if customer is None or customer[0] != "user":
        return None  # organisations have no closed state: retained indefinitely
    user = uow.repo(User).get(customer[1])
    return None if user is None else dom.relationship_end_ms(user)


def delete(deps: Deps, uow: UnitOfWork, record_type: type, record_id: str) -> None:
    """Deletes one record in scope, refusing (RETENTION_HELD) while its customer's
    relationship goes on or ended less than the period ago. Records out of scope are
    deleted as asked."""
    if record_type in dom.GUARDED:
        record = uow.repo(record_type).get(record_id)
        if record is None:
            raise not_found(record_type.__name__)
        end = end_of(uow, _customer_of(uow, record_type, record))
        if not dom.may_purge(end, years(deps), deps.clock.now_ms()):
            until = "the relationship goes on" if end is None else \
                f"kept until {dom.retain_until_ms(end, years(deps))} ms"
            raise Err.RETENTION_HELD.error(
                f"{record_type.__name__} {record_id} is within its retention period "
                f"({until})")
    with _permit(record_type, record_id):
        uow.repo(record_type).delete(record_id)


# --- the job: what may be purged, and the purge -------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """A customer whose relationship ended: since when, kept until when, whether their
    records may be purged now, and how many of each kind there are."""

    subject_type: str
    subject_id: str
    name: str
    ended_ms: int
    until_ms: int
    purgeable: bool
    counts: dict[str, int]

    @property
    def records(self) -> int:
        return sum(self.counts.values())


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetentionReport:
    at_ms: int
    years: int
    scope: tuple[str, ...]
    subjects: tuple[Subject, ...]  # ended relationships, oldest end first

    @property
    def purgeable(self) -> tuple[Subject, ...]:
        return tuple(s for s in self.subjects if s.purgeable)

    def summary(self) -> dict[str, Any]:
        return {"years": self.years, "ended": len(self.subjects),
                "purgeable_subjects": len(self.purgeable),
                "purgeable_records": sum(s.records for s in self.purgeable)}


def _ids(uow: UnitOfWork, item: ScopeItem, user_id: str) -> list[str]:
    """The ids of one customer's records of one kind."""
    repo: Repo[Any] = uow.repo(item.record)
    if item.link is Link.SUBJECT:
        return [r.id for r in repo.many(subject_type="user", subject_id=user_id)]
    if item.link is Link.OWNER:
        return [r.id for r in repo.many(owner_type="user", owner_id=user_id)]
    if item.link is Link.CASE:
        cases = tuple(c.id for c in uow.repo(Case).many(subject_type="user",
                                                        subject_id=user_id))
        return [r.id for r in repo.many(case_id=cases)] if cases else []
    if item.link is Link.ALERT:
        alerts = tuple(a.id for a in uow.repo(Alert).many(subject_type="user",
                                                          subject_id=user_id))
        return [r.id for r in repo.many(alert_id=alerts)] if alerts else []
    served: list[str] = []
    for kind in dom.REFERRED:
        of_kind: Repo[Any] = uow.repo(kind)
        served += [r.id for r in of_kind.many(owner_type="user", owner_id=user_id)]
    return [r.id for r in repo.many(ref_id=tuple(served))] if served else []


def _subject(uow: UnitOfWork, user: User, n_years: int, now_ms: int) -> Subject:
    end = dom.relationship_end_ms(user)
    assert end is not None
    counts = {i.name: len(_ids(uow, i, user.id)) for i in dom.SCOPE}
    return Subject(subject_type="user", subject_id=user.id, name=user.name, ended_ms=end,
                   until_ms=dom.retain_until_ms(end, n_years),
                   purgeable=dom.may_purge(end, n_years, now_ms) and any(counts.values()),
                   counts=counts)


def _operator(who: Principal | None) -> None:
    if who is not None and not who.staff_can(Perm.OPERATE):
        raise forbidden()


def report(deps: Deps, who: Principal | None) -> RetentionReport:
    """Every ended relationship with its period and records: what may be purged now and
    why (the period is over), and what is still kept until when."""
    _operator(who)
    n_years, now = years(deps), deps.clock.now_ms()
    with deps.reader() as uow:
        ended = uow.repo(User).many(kind=UserKind.CUSTOMER, status=UserStatus.DISABLED,
                                    order_by="updated_ms", limit=dom.SUBJECTS_MAX)
        subjects = tuple(_subject(uow, u, n_years, now) for u in ended)
    return RetentionReport(at_ms=now, years=n_years, scope=tuple(i.name for i in dom.SCOPE),
                           subjects=subjects)


def record_report(deps: Deps, fresh_ms: int = 0) -> RetentionReport | None:
    """The periodic run: the report, written to the audit trail (it purges nothing).
    None when one was written less than `fresh_ms` ago (another process's round)."""
    with deps.reader() as uow:
        last = uow.repo(AuditEntry).many(action="retention.report", order_by="seq",
                                         descending=True, limit=1)
    if last and deps.clock.now_ms() - last[0].at_ms < fresh_ms:
        return None
    out = report(deps, None)
    with deps.uow() as uow:
        uow.audit(actor_id=None, actor_kind="system", action="retention.report",
                  object_type="retention", object_id="records",
                  after={**out.summary(),
                         "purgeable": [{"subject_id": s.subject_id, "records": s.records}
                                       for s in out.purgeable[:100]]})
        uow.commit()
    return out


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Purged:
    subject_id: str
    counts: dict[str, int]


def purge(deps: Deps, who: Principal) -> list[Purged]:
    """Deletes the records of every customer whose period is over, one customer per unit
    of work, each deletion through the guard; audited per customer with the counts. Only
    an operator (Perm.OPERATE) purges."""
    if not who.staff_can(Perm.OPERATE):
        raise forbidden()
    done: list[Purged] = []
    for s in report(deps, who).purgeable:
        files: list[str] = []
        with deps.uow() as uow:
            user = uow.repo(User).get(s.subject_id, for_update=True)
            assert user is not None
            counts: dict[str, int] = {}
            for item in dom.SCOPE:
                ids = _ids(uow, item, user.id)
                if item.record in dom.WITH_FILES:
                    with_files: Repo[Any] = uow.repo(item.record)
                    files += [r.ref for r in (with_files.get(i) for i in ids) if r is not None]
                for record_id in ids:
                    delete(deps, uow, item.record, record_id)
                counts[item.name] = len(ids)
            uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="retention.purge",
                      object_type="user", object_id=user.id, ip=who.ip,
                      after={"ended_ms": s.ended_ms, "until_ms": s.until_ms,
                             "years": years(deps), "counts": counts})
            uow.commit()
        for ref in files:  # after the rows are gone: a failure leaves a sealed orphan only
            try:
                deps.files.delete(ref)
            except Exception:  # the rows are purged; the blob is unreadable without them
                log.warning("purged file %s not deleted from the store", ref, exc_info=True)
        done.append(Purged(subject_id=s.subject_id, counts=counts))
    return done
