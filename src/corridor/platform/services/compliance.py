"""Alerts and cases, staff side (issue 16): the queue, a case with its evidence, and the
decisions on it, each by a compliance officer (Perm.COMPLIANCE_REVIEW), audited, and
idempotent under its Idempotency-Key.

Release and return act on every record the case holds, whatever its kind (payment,
deposit, withdrawal, refund): what each means per kind is services/case_holds.py (e.g. a
payment released: its held transfer joins the outbox; returned: the payment is rejected
and its held transfer refused, so the sender's reservation ends and nothing reached the
chain). Either is done once: a record no longer held is not touched again."""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain import compliance as dom
from corridor.platform.domain import idempotency
from corridor.platform.domain.compliance import (
    Alert,
    AlertState,
    Case,
    CaseDecision,
    CaseNote,
    CaseState,
    Clearance,
    DecisionKind,
)
from corridor.platform.domain.errors import Err, Problems, forbidden, not_found
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.payments import Payment, PaymentStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import authenticity, case_actions, case_holds, movements, risk
from corridor.platform.services import idempotency as replay
from corridor.platform.services import notifications as inbox
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

S = PaymentStatus
RETURNED_CODE = movements.RETURNED


def _officer(who: Principal | None) -> None:
    """A compliance officer, or None: the operator's own shell (the CLI reads)."""
    if who is not None and not who.staff_can(Perm.COMPLIANCE_REVIEW):
        raise forbidden()


# --- reads ------------------------------------------------------------------------------------


def alerts(deps: Deps, who: Principal | None, *, state: str | None = None,
           typology: str | None = None, subject_id: str | None = None,
           limit: int = 50, offset: int = 0) -> tuple[list[Alert], int]:
    """Alerts, newest first, filtered by state, typology and customer."""
    _officer(who)
    problems = Problems()
    if state is not None and state not in tuple(AlertState):
        problems.add("state", f"one of {', '.join(AlertState)}")
    problems.raise_if_any()
    limit, offset = page_bounds(limit, offset, dom.PAGE_MAX)
    eq: dict[str, Any] = {k: v for k, v in (("state", state), ("typology", typology),
                                           ("subject_id", subject_id)) if v}
    with deps.reader() as uow:
        repo = uow.repo(Alert)
        return (repo.many(order_by="created_ms", descending=True, limit=limit,
                          offset=offset, **eq), repo.count(**eq))


def cases(deps: Deps, who: Principal | None, *, state: str = CaseState.OPEN, limit: int = 50,
          offset: int = 0) -> tuple[list[Case], int]:
    """Cases in one state, oldest first (the queue is worked in arrival order)."""
    _officer(who)
    if state not in tuple(CaseState):
        problems = Problems()
        problems.add("state", f"one of {', '.join(CaseState)}")
        problems.raise_if_any()
    limit, offset = page_bounds(limit, offset, dom.PAGE_MAX)
    with deps.reader() as uow:
        repo = uow.repo(Case)
        return (repo.many(state=state, order_by="opened_ms", limit=limit, offset=offset),
                repo.count(state=state))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CaseView:
    """A case with its evidence: the alerts (hits with their explanations), the payments
    they concern, the customer and their KYC summary, notes and decisions."""

    case: Case
    alerts: tuple[Alert, ...]
    payments: tuple[Payment, ...]
    movements: tuple[case_holds.Record, ...]  # every record the alerts concern, any kind
    customer_name: str
    kyc: dict[str, Any] | None
    notes: tuple[CaseNote, ...]
    decisions: tuple[CaseDecision, ...]

    @property
    def held(self) -> tuple[case_holds.Record, ...]:
        """The records waiting for this case's decision (payments, deposits, ...)."""
        return tuple(r for r in self.movements if r.held)


def _customer_name(uow: UnitOfWork, case: Case) -> str:
    if case.subject_type == "org":
        org = uow.repo(Organisation).get(case.subject_id)
        return org.name if org else case.subject_id
    user = uow.repo(User).get(case.subject_id)
    return user.name if user else case.subject_id


def _kyc_summary(uow: UnitOfWork, case: Case) -> dict[str, Any] | None:
    rec = uow.repo(KycCustomer).one(subject_type=case.subject_type, subject_id=case.subject_id)
    if rec is None:
        return None
    return {"id": rec.id, "status": rec.status, "tier": rec.tier, "risk": rec.risk,
            "submitted_ms": rec.submitted_ms, "decided_ms": rec.decided_ms,
            "review_due_ms": rec.review_due_ms}


def _view(uow: UnitOfWork, case: Case) -> CaseView:
    found = uow.repo(Alert).many(case_id=case.id, order_by="created_ms")
    ids = sorted({a.source_id for a in found if a.source_type == "payment"})
    pays = [p for p in (uow.repo(Payment).get(i) for i in ids) if p is not None]
    return CaseView(
        case=case, alerts=tuple(found), payments=tuple(pays),
        movements=case_holds.records(uow, [(a.source_type, a.source_id) for a in found]),
        customer_name=_customer_name(uow, case), kyc=_kyc_summary(uow, case),
        notes=tuple(uow.repo(CaseNote).many(case_id=case.id, order_by="created_ms")),
        decisions=tuple(uow.repo(CaseDecision).many(case_id=case.id, order_by="created_ms")))


def case(deps: Deps, who: Principal | None, case_id: str) -> CaseView:
    _officer(who)
    with deps.reader() as uow:
        found = uow.repo(Case).get(case_id[:dom.ID_LEN_MAX])
        if found is None:
            raise not_found("case")
        return _view(uow, found)


def alert(deps: Deps, who: Principal | None, alert_id: str) -> Alert:
    _officer(who)
    with deps.reader() as uow:
        found = uow.repo(Alert).get(alert_id[:dom.ID_LEN_MAX])
    if found is None:
        raise not_found("alert")
    return found


# --- decisions -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRequest:
    """One decision on a case: `kind`, why (`note`), and what it needs: the alert to clear,
    the officer to assign, the message for the customer."""

    kind: str
    note: str = ""
    alert_id: str | None = None
    officer_id: str | None = None
    message: str | None = None
    respond_days: int | None = None  # request_info: the customer's deadline (default: SLA)

    def asked(self, case_id: str) -> dict[str, object]:
        return {"case_id": case_id, **dataclasses.asdict(self)}


def _checked(req: DecisionRequest) -> tuple[DecisionKind, str]:
    problems = Problems()
    kind = None
    if req.kind not in tuple(DecisionKind):
        problems.add("kind", f"one of {', '.join(DecisionKind)}")
    else:
        kind = DecisionKind(req.kind)
    note = dom.clean_text(req.note, dom.NOTE_LEN_MAX)
    if note is None:
        problems.add("note", f"why, in 1-{dom.NOTE_LEN_MAX} printable characters")
    if kind is DecisionKind.CLEAR and not req.alert_id:
        problems.add("alert_id", "the alert whose hit is a false positive")
    if kind is DecisionKind.ASSIGN and not req.officer_id:
        problems.add("officer_id", "the compliance officer to assign")
    if kind is DecisionKind.REQUEST_INFO and dom.clean_text(
            req.message or "", dom.MESSAGE_LEN_MAX) is None:
        problems.add("message", f"what the customer should send, in 1-{dom.MESSAGE_LEN_MAX} "
                                "printable characters")
    problems.raise_if_any()
    assert kind is not None and note is not None
    return kind, note


def decide(deps: Deps, who: Principal, case_id: str, req: DecisionRequest,
           idempotency_key: str | None) -> CaseView:
    """Makes one decision on an open case. A retry under the same Idempotency-Key returns
    the case as it stands (the decision is not made twice)."""
    if not who.staff_can(Perm.COMPLIANCE_REVIEW):
        raise forbidden()
    key = idempotency.check_key(idempotency_key)
    kind, note = _checked(req)
    asked = req.asked(case_id)
    with deps.uow() as uow:
        found = uow.repo(Case).get(case_id[:dom.ID_LEN_MAX], for_update=True)
        if found is None:
            raise not_found("case")
        if replay.prior(uow, who.user_id, key, "compliance.decide", asked) is not None:
            return _view(uow, found)
        if found.state != CaseState.OPEN:
            raise Err.CASE_CLOSED.error()
        view = _view(uow, found)
        now = deps.clock.now_ms()
        done, touched = _ACT[kind](deps, uow, who, view, req, note)
        done = dataclasses.replace(done, updated_ms=now)
        uow.repo(Case).update(done)
        decision = CaseDecision(id=deps.rand.new_id(), case_id=found.id, kind=kind,
                                officer_id=who.user_id, alert_id=req.alert_id,
                                payment_ids=touched, note=note, created_ms=now)
        uow.repo(CaseDecision).add(decision)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action=f"compliance.{kind}", object_type="compliance_case",
                  object_id=found.id, ip=who.ip,
                  before={"state": found.state, "assigned_to": found.assigned_to},
                  after={"state": done.state, "assigned_to": done.assigned_to, "note": note,
                         "alert_id": req.alert_id, "payment_ids": list(touched)})
        replay.remember(deps, uow, who.user_id, key, "compliance.decide", asked, found.id)
        if kind in (DecisionKind.CLEAR, DecisionKind.CLOSE):  # inputs of the risk rating
            risk.recompute(deps, uow, found.subject_type, found.subject_id, f"case_{kind}")
        result = _view(uow, done)
        uow.commit()
    return result


Acted = tuple[Case, tuple[str, ...]]


def _assign(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
            req: DecisionRequest, note: str) -> Acted:
    officer = uow.repo(User).get((req.officer_id or "")[:dom.ID_LEN_MAX])
    if officer is None or not Principal(user_id=officer.id, kind=officer.kind,
                                        staff_role=officer.staff_role,
                                        session_id="").staff_can(Perm.COMPLIANCE_REVIEW):
        raise Err.INVALID_FIELDS.error(fields={"officer_id": "not a compliance officer"})
    return dataclasses.replace(view.case, assigned_to=officer.id), ()


def _note(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
          req: DecisionRequest, note: str) -> Acted:
    uow.repo(CaseNote).add(CaseNote(id=deps.rand.new_id(), case_id=view.case.id,
                                    author_id=who.user_id, text=note,
                                    created_ms=deps.clock.now_ms()))
    return view.case, ()


def _held(view: CaseView) -> tuple[case_holds.Record, ...]:
    if not view.held:
        raise Err.NOTHING_HELD.error()
    return view.held


def _alerts_of(uow: UnitOfWork, view: CaseView, records: tuple[case_holds.Record, ...],
               state: AlertState, now: int) -> None:
    sources = {(str(r.kind), r.id) for r in records}
    for a in view.alerts:
        if (a.source_type, a.source_id) in sources and a.state in (
                AlertState.OPEN, AlertState.CLEARED):
            uow.repo(Alert).update(dataclasses.replace(a, state=state, updated_ms=now))


def _settle_held(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView, *,
                 release: bool) -> tuple[str, ...]:
    """Releases (or returns) every record the case holds, each by its kind's action."""
    held = _held(view)
    for record in held:
        case_holds.act(deps, uow, who, view.case.id, record, release=release)
    _alerts_of(uow, view, held, AlertState.RELEASED if release else AlertState.RETURNED,
               deps.clock.now_ms())
    return tuple(r.id for r in held)


def _release(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
             req: DecisionRequest, note: str) -> Acted:
    # a payment held for supporting documents goes on once an officer found them agreeing
    authenticity.check_releasable(uow, [r.id for r in view.held if r.kind == "payment"])
    ids = _settle_held(deps, uow, who, view, release=True)
    return dataclasses.replace(view.case, released_by=who.user_id), ids


def _return(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
            req: DecisionRequest, note: str) -> Acted:
    return view.case, _settle_held(deps, uow, who, view, release=False)


def _clear(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
           req: DecisionRequest, note: str) -> Acted:
    alert = next((a for a in view.alerts if a.id == req.alert_id), None)
    if alert is None:
        raise not_found("alert")
    keys = dom.hit_keys(alert.explanation)
    if not keys or alert.state != AlertState.OPEN:
        raise Err.INVALID_FIELDS.error(fields={"alert_id": "an open screening alert"})
    party = str(alert.explanation.get("party", ""))
    name = dom.name_key(str(alert.explanation.get("screened_name", "")))
    now = deps.clock.now_ms()
    for list_name, source_id, fingerprint in keys:
        uow.repo(Clearance).add(Clearance(
            id=deps.rand.new_id(), list_name=list_name, source_id=source_id,
            entry_fingerprint=fingerprint, party=party[:128], party_name=name[:512],
            alert_id=alert.id, cleared_by=who.user_id, reason=note, created_ms=now))
    uow.repo(Alert).update(dataclasses.replace(alert, state=AlertState.CLEARED, updated_ms=now))
    return view.case, ()


def _request_info(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
                  req: DecisionRequest, note: str) -> Acted:
    message = dom.clean_text(req.message or "", dom.MESSAGE_LEN_MAX)
    assert message is not None  # checked with the request
    held = view.held
    subject = ((SubjectType(held[0].kind), held[0].id) if held
               else (SubjectType.KYC, view.case.id))
    recipient = (held[0].created_by if held else
                 view.case.subject_id if view.case.subject_type == "user" else None)
    inbox.record(deps, uow, user_id=recipient, topic=Topic.INFO_REQUESTED,
                 subject_type=subject[0], subject_id=subject[1],
                 event=f"{view.case.id}:{deps.rand.new_id()}",
                 params={"message": message, "respond_days": req.respond_days})
    return view.case, tuple(p.id for p in held)


def _close(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
           req: DecisionRequest, note: str) -> Acted:
    if view.held:
        raise Err.CASE_HOLDS_PAYMENTS.error()
    if not dom.may_close(view.case, who.user_id):
        raise Err.FOUR_EYES.error()
    now = deps.clock.now_ms()
    for a in view.alerts:
        if a.state == AlertState.OPEN:
            uow.repo(Alert).update(dataclasses.replace(a, state=AlertState.CLOSED,
                                                       updated_ms=now))
    return dataclasses.replace(view.case, state=CaseState.CLOSED, closed_ms=now,
                               closed_by=who.user_id), ()


_ACT = {
    DecisionKind.ASSIGN: _assign, DecisionKind.NOTE: _note, DecisionKind.RELEASE: _release,
    DecisionKind.RETURN: _return, DecisionKind.CLEAR: _clear,
    DecisionKind.REQUEST_INFO: _request_info, DecisionKind.CLOSE: _close,
    # freezes, exit, the information deadline; release on a frozen customer (cases)
    **case_actions.ACTIONS,
}
assert set(_ACT) == set(DecisionKind)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class QueueRow:
    """A case as the queue lists it: whose, how many alerts, how many payments held."""

    case: Case
    customer_name: str
    alerts: int
    held: int


def queue(deps: Deps, who: Principal | None, *, limit: int = 50, offset: int = 0
          ) -> tuple[list[QueueRow], int]:
    """The open cases, oldest first, with their customer's name and counts."""
    found, total = cases(deps, who, state=CaseState.OPEN, limit=limit, offset=offset)
    with deps.reader() as uow:
        rows = []
        for c in found:
            v = _view(uow, c)
            rows.append(QueueRow(case=c, customer_name=v.customer_name, alerts=len(v.alerts),
                                 held=len(v.held)))
    return rows, total
