"""Compliance, staff side (issue 16): alerts (list, filter), cases (the queue, one case
with its evidence) and the decisions on a case. Everything here needs compliance.review
(compliance officers); every decision is audited and idempotent (Idempotency-Key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.deps import DepsDep, IdempotencyKey
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.api.routers.staff_freezes import FreezeOut
from corridor.platform.domain import compliance as dom
from corridor.platform.domain import money
from corridor.platform.domain.cases import Graph, Sla
from corridor.platform.domain.compliance import Alert, Case, CaseState
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import (
    case_actions,
    case_graph,
    case_holds,
    case_sla,
    compliance,
    payments,
)

router = APIRouter(route_class=JsonRoute, prefix="/staff/compliance", tags=["staff"])

Id = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=dom.PAGE_MAX)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Officer = Annotated[Principal, Depends(staff_only(Perm.COMPLIANCE_REVIEW))]


class AlertOut(BaseModel):
    id: str
    case_id: str
    monitor: str
    typology: str
    outcome: str
    score: float
    explanation: dict[str, Any]
    movement_ids: list[str]
    parties: list[str]
    subject_type: str
    subject_id: str
    source_type: str
    source_id: str
    state: str
    created_ms: int
    updated_ms: int

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        return cls(id=a.id, case_id=a.case_id, monitor=a.monitor, typology=a.typology,
                   outcome=a.outcome, score=a.score, explanation=a.explanation,
                   movement_ids=list(a.movement_ids), parties=list(a.parties),
                   subject_type=a.subject_type, subject_id=a.subject_id,
                   source_type=a.source_type, source_id=a.source_id, state=a.state,
                   created_ms=a.created_ms, updated_ms=a.updated_ms)


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    limit: int
    offset: int


class CaseOut(BaseModel):
    id: str
    subject_type: str
    subject_id: str
    state: str
    assigned_to: str | None
    released_by: str | None
    opened_ms: int
    closed_ms: int | None
    closed_by: str | None
    updated_ms: int
    escalated_ms: int | None = Field(None, description="First escalated (a due time passed).")
    info_due_ms: int | None = Field(None, description="The customer's deadline to answer.")
    pending_release_by: str | None = Field(
        None, description="A release waiting for the freeze to be lifted on chain.")

    @classmethod
    def of(cls, c: Case) -> CaseOut:
        return cls(id=c.id, subject_type=c.subject_type, subject_id=c.subject_id,
                   state=c.state, assigned_to=c.assigned_to, released_by=c.released_by,
                   opened_ms=c.opened_ms, closed_ms=c.closed_ms, closed_by=c.closed_by,
                   updated_ms=c.updated_ms, escalated_ms=c.escalated_ms,
                   info_due_ms=c.info_due_ms, pending_release_by=c.pending_release_by)


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    limit: int
    offset: int


class MovementOut(BaseModel):
    """A record a case's alerts concern, whatever its kind; `held`: waiting for the
    case's release or return."""

    kind: str = Field(description="payment | deposit | withdrawal | refund")
    id: str
    status: str
    held: bool
    amount: str
    currency: str
    counterparty: str | None
    created_ms: int

    @classmethod
    def of(cls, r: case_holds.Record) -> MovementOut:
        return cls(kind=r.kind, id=r.id, status=r.status, held=r.held,
                   amount=money.format_minor(r.amount_minor, r.currency),
                   currency=r.currency, counterparty=r.counterparty,
                   created_ms=r.created_ms)


class SlaOut(BaseModel):
    severity: str = Field(description="high (block/decline alerts) | normal")
    first_action_due_ms: int
    first_action_ms: int | None
    resolution_due_ms: int
    info_due_ms: int | None
    overdue: bool
    breaches: list[dict[str, Any]] = Field(description="[{kind, due_ms}]: due times passed")

    @classmethod
    def of(cls, s: Sla) -> SlaOut:
        return cls(severity=s.severity, first_action_due_ms=s.first_action_due_ms,
                   first_action_ms=s.first_action_ms, resolution_due_ms=s.resolution_due_ms,
                   info_due_ms=s.info_due_ms, overdue=s.overdue,
                   breaches=[{"kind": b.kind.value, "due_ms": b.due_ms} for b in s.breaches])


class CaseDetail(BaseModel):
    case: CaseOut
    customer_name: str
    kyc: dict[str, Any] | None
    alerts: list[AlertOut]
    payments: list[dict[str, Any]]
    movements: list[MovementOut]
    held: list[MovementOut]
    notes: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    sla: SlaOut | None = None
    freeze: FreezeOut | None = Field(None, description="The freeze decided in this case, "
                                     "or the customer's active one; its on-chain state.")

    @classmethod
    def of(cls, v: compliance.CaseView, deps: Any = None) -> CaseDetail:
        extra: dict[str, Any] = {}
        if deps is not None:
            f = case_actions.freeze_of(deps, v.case)
            extra = {"sla": SlaOut.of(case_sla.sla_of_view(deps, v)),
                     "freeze": FreezeOut.of(f) if f else None}
        return cls(**extra, case=CaseOut.of(v.case), customer_name=v.customer_name, kyc=v.kyc,
                   alerts=[AlertOut.of(a) for a in v.alerts],
                   payments=[payments.event_view(p) for p in v.payments],
                   movements=[MovementOut.of(r) for r in v.movements],
                   held=[MovementOut.of(r) for r in v.held],
                   notes=[{"id": n.id, "author_id": n.author_id, "text": n.text,
                           "created_ms": n.created_ms} for n in v.notes],
                   decisions=[{"id": d.id, "kind": d.kind, "officer_id": d.officer_id,
                               "alert_id": d.alert_id, "payment_ids": list(d.payment_ids),
                               "note": d.note, "created_ms": d.created_ms}
                              for d in v.decisions])


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=16, description="assign | note | release | return | clear "
                                                 "| request_info | freeze | unfreeze | exit "
                                                 "| close")
    note: str = Field(max_length=dom.NOTE_LEN_MAX, description="Why (audited).")
    alert_id: str | None = Field(None, max_length=64, description="clear: the alert")
    officer_id: str | None = Field(None, max_length=64, description="assign: the officer")
    message: str | None = Field(None, max_length=dom.MESSAGE_LEN_MAX,
                                description="request_info: what the customer should send")
    respond_days: int | None = Field(None, description="request_info: days the customer "
                                     "has to answer (1-30; default: the SLA's)")


@router.get("/alerts", response_model=AlertPage)
def list_alerts(who: Officer, deps: DepsDep,
                state: Annotated[str | None, Query(max_length=16)] = None,
                typology: Annotated[str | None, Query(max_length=64)] = None,
                customer: Annotated[str | None, Query(max_length=64)] = None,
                limit: Limit = 50, offset: Offset = 0) -> AlertPage:
    """Alerts, newest first; filter by state, typology, customer (the subject's id)."""
    items, total = compliance.alerts(deps, who, state=state, typology=typology,
                                     subject_id=customer, limit=limit, offset=offset)
    return AlertPage(items=[AlertOut.of(a) for a in items], total=total, limit=limit,
                     offset=offset)


@router.get("/cases", response_model=CasePage)
def list_cases(who: Officer, deps: DepsDep,
               state: Annotated[str, Query(max_length=16)] = CaseState.OPEN.value,
               overdue: bool = False, limit: Limit = 50, offset: Offset = 0) -> CasePage:
    """Cases in one state (default open): open ones escalated first, then oldest first;
    closed ones oldest first. `overdue=true`: the open cases past a due time now."""
    if overdue:
        rows = case_sla.overdue(deps, who, limit=limit)
        return CasePage(items=[CaseOut.of(r.case) for r in rows], total=len(rows),
                        limit=limit, offset=0)
    if state == CaseState.OPEN:
        found, total = case_sla.queue(deps, who, limit=limit, offset=offset)
        return CasePage(items=[CaseOut.of(r.case) for r in found], total=total, limit=limit,
                        offset=offset)
    items, total = compliance.cases(deps, who, state=state, limit=limit, offset=offset)
    return CasePage(items=[CaseOut.of(c) for c in items], total=total, limit=limit,
                    offset=offset)


@router.get("/cases/{case_id}", response_model=CaseDetail)
def view_case(case_id: Id, who: Officer, deps: DepsDep) -> CaseDetail:
    """A case with its evidence: alerts with their explanations, the payments they hold,
    the customer's KYC summary, notes and decisions."""
    return CaseDetail.of(compliance.case(deps, who, case_id), deps)


class NodeOut(BaseModel):
    key: str = Field(description="user:<id> | org:<id> | bank:<name> | address:<address>")
    label: str
    hop: int = Field(description="0: the case's customer; 1: its counterparties; 2: theirs")


class EdgeOut(BaseModel):
    source: str
    target: str
    currency: str
    count: int
    amount_minor: int
    held: int = Field(description="Payments on hold among them.")


class GraphOut(BaseModel):
    subject: str
    since_ms: int
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    truncated: bool = Field(description="Parties or flows were left out to keep it bounded.")

    @classmethod
    def of(cls, g: Graph) -> GraphOut:
        return cls(subject=g.subject, since_ms=g.since_ms,
                   nodes=[NodeOut(key=n.key, label=n.label, hop=n.hop) for n in g.nodes],
                   edges=[EdgeOut(source=e.source, target=e.target, currency=e.code,
                                  count=e.count, amount_minor=e.amount_minor, held=e.held)
                          for e in g.edges], truncated=g.truncated)


@router.get("/cases/{case_id}/graph", response_model=GraphOut)
def case_graph_(case_id: Id, who: Officer, deps: DepsDep) -> GraphOut:
    """The flows around the case's customer: its payments out and in over the last 90
    days and its platform counterparties' (second hop), one edge per (from, to,
    currency) with the count and the sum; bounded (40 parties, 80 edges)."""
    return GraphOut.of(case_graph.graph(deps, who, case_id))


@router.post("/cases/{case_id}/decisions", response_model=CaseDetail)
def decide(case_id: Id, body: DecisionIn, who: Officer, deps: DepsDep,
           idempotency_key: IdempotencyKey = None) -> CaseDetail:
    """One decision on an open case. release: its held payments go on; return: they are
    rejected and their reservations end (409 NOTHING_HELD when none is held); clear: the
    alert's screening hits are false positives for this party and name; request_info: a
    message in the customer's inbox, answered within `respond_days` (the case escalates
    after); freeze / unfreeze: the customer's holdings on chain (another officer lifts a
    freeze; 409 FREEZE_PENDING until the chain answered it); release on a frozen customer
    lifts the freeze and the payments go on once the chain has; exit: the account
    disabled (an organisation suspended), the holdings frozen, the customer told (409
    CASE_HOLDS_PAYMENTS while payments are held); close: 409 CASE_HOLDS_PAYMENTS while
    payments are held, 403 FOUR_EYES for the officer who released one. `Idempotency-Key`
    is required: a retry with the same key returns the case."""
    req = compliance.DecisionRequest(kind=body.kind, note=body.note, alert_id=body.alert_id,
                                     officer_id=body.officer_id, message=body.message,
                                     respond_days=body.respond_days)
    return CaseDetail.of(compliance.decide(deps, who, case_id, req, idempotency_key), deps)
