"""Compliance cases' SLA (issue 16): each open case's timers (domain/cases.py), the queue
with escalated cases first, and the escalation round a periodic job runs
(adapters/case_sla_worker.py): every due time passed is escalated once — recorded
(`CaseEscalation`, unique per case, breach and due time), the case flagged, every active
compliance officer told in their inbox, audited. A second round, or a second process,
finds the row and does nothing more."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from corridor.platform.domain import cases as cdom
from corridor.platform.domain import compliance as dom
from corridor.platform.domain.cases import CaseEscalation, Sla
from corridor.platform.domain.compliance import Alert, Case, CaseDecision, CaseState
from corridor.platform.domain.errors import forbidden
from corridor.platform.domain.identity import User, UserStatus
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, UserKind, staff_allows
from corridor.platform.services import case_actions
from corridor.platform.services import compliance as cmp
from corridor.platform.services import notifications as inbox
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds


def _officer(who: Principal | None) -> None:
    if who is not None and not who.staff_can(Perm.COMPLIANCE_REVIEW):
        raise forbidden()


def sla_in(uow: UnitOfWork, case: Case, policy: cdom.SlaPolicy, now_ms: int) -> Sla:
    alerts = uow.repo(Alert).many(case_id=case.id, order_by="created_ms")
    decisions = uow.repo(CaseDecision).many(case_id=case.id, order_by="created_ms")
    return cdom.sla(opened_ms=case.opened_ms, closed_ms=case.closed_ms,
                    info_due_ms=case.info_due_ms, alerts=alerts, decisions=decisions,
                    policy=policy, now_ms=now_ms)


def sla_of_view(deps: Deps, view: cmp.CaseView) -> Sla:
    """The timers of a case already read (its alerts and decisions in `view`)."""
    c = view.case
    return cdom.sla(opened_ms=c.opened_ms, closed_ms=c.closed_ms, info_due_ms=c.info_due_ms,
                    alerts=view.alerts, decisions=view.decisions,
                    policy=case_actions.policy(deps), now_ms=deps.clock.now_ms())


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """A case as the queue lists it: whose, its counts, and its timers."""

    case: Case
    customer_name: str
    alerts: int
    held: int
    sla: Sla


def _open_page(uow: UnitOfWork, limit: int, offset: int) -> tuple[list[Case], int]:
    """Open cases, escalated ones first (each part oldest first)."""
    repo = uow.repo(Case)
    total = repo.count(state=CaseState.OPEN.value)
    calm = repo.count(state=CaseState.OPEN.value, escalated_ms=None)
    flagged = total - calm
    out: list[Case] = []
    if offset < flagged:
        out = repo.many(state=CaseState.OPEN.value, above={"escalated_ms": 0},
                        order_by="opened_ms", limit=limit, offset=offset)
    if len(out) < limit:
        out += repo.many(state=CaseState.OPEN.value, escalated_ms=None, order_by="opened_ms",
                         limit=limit - len(out), offset=max(0, offset - flagged))
    return out, total


def queue(deps: Deps, who: Principal | None, *, limit: int = 50, offset: int = 0
          ) -> tuple[list[Row], int]:
    """The open cases, escalated first, then oldest first, with their timers."""
    _officer(who)
    limit, offset = page_bounds(limit, offset, dom.PAGE_MAX)
    policy, now = case_actions.policy(deps), deps.clock.now_ms()
    with deps.reader() as uow:
        found, total = _open_page(uow, limit, offset)
        rows = []
        for c in found:
            v = cmp._view(uow, c)
            rows.append(Row(case=c, customer_name=v.customer_name, alerts=len(v.alerts),
                            held=len(v.held), sla=cdom.sla(
                                opened_ms=c.opened_ms, closed_ms=c.closed_ms,
                                info_due_ms=c.info_due_ms, alerts=v.alerts,
                                decisions=v.decisions, policy=policy, now_ms=now)))
    return rows, total


def overdue(deps: Deps, who: Principal | None, *, limit: int = dom.PAGE_MAX) -> list[Row]:
    """Open cases past a due time now, escalated or not yet (oldest first)."""
    _officer(who)
    policy, now = case_actions.policy(deps), deps.clock.now_ms()
    out: list[Row] = []
    with deps.reader() as uow:
        for c in _scan(uow):
            s = sla_in(uow, c, policy, now)
            if s.overdue:
                v = cmp._view(uow, c)
                out.append(Row(case=c, customer_name=v.customer_name, alerts=len(v.alerts),
                               held=len(v.held), sla=s))
                if len(out) >= limit:
                    break
    return out


def overdue_count(uow: UnitOfWork) -> int:
    """Open cases flagged as escalated (the staff dashboard's figure)."""
    repo = uow.repo(Case)
    return (repo.count(state=CaseState.OPEN.value)
            - repo.count(state=CaseState.OPEN.value, escalated_ms=None))


def _scan(uow: UnitOfWork) -> list[Case]:
    return uow.repo(Case).many(state=CaseState.OPEN.value, order_by="opened_ms",
                               limit=cdom.ESCALATION_SCAN_MAX)


def _officers(uow: UnitOfWork) -> list[User]:
    staff = uow.repo(User).many(kind=UserKind.STAFF.value, status=UserStatus.ACTIVE.value,
                                order_by="created_ms", limit=cdom.OFFICERS_NOTIFIED_MAX)
    return [u for u in staff if staff_allows(u.staff_role, Perm.COMPLIANCE_REVIEW)]


def escalate_due(deps: Deps) -> int:
    """One round: every breach of an open case not yet escalated is escalated now.
    Returns how many were. Read first; only a case with a new breach is locked and
    written, so a quiet round writes nothing."""
    policy, now = case_actions.policy(deps), deps.clock.now_ms()
    with deps.reader() as uow:
        due = [c.id for c in _scan(uow) if _new_breaches(uow, c, policy, now)]
    return sum(_escalate_case(deps, case_id, policy) for case_id in due)


def _new_breaches(uow: UnitOfWork, c: Case, policy: cdom.SlaPolicy,
                  now: int) -> list[cdom.Breach]:
    breaches = sla_in(uow, c, policy, now).breaches
    if not breaches:
        return []
    done = {(e.breach, e.due_ms) for e in uow.repo(CaseEscalation).many(case_id=c.id)}
    return [b for b in breaches if (b.kind, b.due_ms) not in done]


def _escalate_case(deps: Deps, case_id: str, policy: cdom.SlaPolicy) -> int:
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        c = uow.repo(Case).get(case_id, for_update=True)
        if c is None or c.state != CaseState.OPEN:
            return 0
        new = _new_breaches(uow, c, policy, now)  # again, under the lock
        if not new:
            return 0
        name = cmp._customer_name(uow, c)
        officers = _officers(uow)
        for b in new:
            _escalate(deps, uow, c, b, name, officers, now)
        if c.escalated_ms is None:
            uow.repo(Case).update(dataclasses.replace(c, escalated_ms=now, updated_ms=now))
        uow.commit()
    return len(new)


def _escalate(deps: Deps, uow: UnitOfWork, c: Case, b: cdom.Breach, name: str,
              officers: Sequence[User], now: int) -> None:
    uow.repo(CaseEscalation).add(CaseEscalation(
        id=deps.rand.new_id(), case_id=c.id, breach=b.kind, due_ms=b.due_ms,
        escalated_ms=now))
    for officer in officers:
        inbox.record(deps, uow, user_id=officer.id, topic=Topic.CASE_ESCALATED,
                     subject_type=SubjectType.CASE, subject_id=c.id,
                     event=f"escalated:{c.id}:{b.kind}:{b.due_ms}",
                     params={"outcome": b.kind.value, "customer": name})
    uow.audit(actor_id=None, actor_kind="system", action="compliance.escalate",
              object_type="compliance_case", object_id=c.id,
              after={"breach": b.kind.value, "due_ms": b.due_ms,
                     "officers": len(officers)})


def escalations(deps: Deps, case_id: str) -> list[CaseEscalation]:
    with deps.reader() as uow:
        return uow.repo(CaseEscalation).many(case_id=case_id, order_by="escalated_ms")
