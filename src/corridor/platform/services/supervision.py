"""Supervision (issue 16): the regulator's read-only window on payments, alerts, cases,
suspicious-transaction reports and the audit trail, and the live feed of alerts and holds.

Every read needs `Perm.SUPERVISE` and is written to the audit log before anything is
read (who, which resource, which filters or id), in a transaction of its own, so a read
leaves its trace even when it then fails; list reads too. Nothing here writes anything
else: the role holds no other permission, so every staff write refuses it.

What can be read is one table, `RESOURCES`: a resource names its record type, its time
column, the filters it accepts (query name -> column) and how a record is shown; its
detail view may add related records. Adding a resource is one
`Listing` in that table; the API takes it from there. A regulator reads filed reports
only (`Listing.fixed`).

The feed is read from the audit trail, not from memory, so any API process serves it and a
client resumes where it left off: an event's id is its audit entry's `seq`. The audit
head is locked by every audited transaction until it commits, so sequence numbers become
visible in order, without gaps filled in later; reading `seq > last id` loses nothing and
repeats nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from corridor.platform.domain import money
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.compliance import Alert, AlertState, Case, CaseState
from corridor.platform.domain.errors import Problems, forbidden, not_found
from corridor.platform.domain.payments import Payment, PaymentStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.reports import Report, ReportKind, ReportState
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.transfers import Transfer
from corridor.platform.services import audit, compliance, payments, report_export
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

PAGE_MAX = 100
ID_LEN_MAX = 64
FILTER_LEN_MAX = 64
FEED_BATCH_MAX = 200  # audit entries read per poll of the feed


def _supervisor(who: Principal | None) -> None:
    """A supervisor, or None: the operator's own shell on the platform's database (the
    CLI's feed), which the API and the pages never pass."""
    if who is not None and not who.staff_can(Perm.SUPERVISE):
        raise forbidden()


def _traced(deps: Deps, who: Principal | None, what: str, object_id: str,
            asked: Mapping[str, Any]) -> None:
    """The read, in the audit log, committed before anything is read."""
    _supervisor(who)

    def write(uow: UnitOfWork) -> None:
        uow.audit(actor_id=who.user_id if who else None,
                  actor_kind=who.kind.value if who else "system", action="supervise.read",
                  object_type=what, object_id=object_id[:ID_LEN_MAX],
                  ip=who.ip if who else "",
                  after={k: v for k, v in asked.items() if v is not None})

    deps.write(write)


# --- the resources ---------------------------------------------------------------------------


def _amount(minor: int, code: str) -> str:
    return money.format_minor(minor, code)


def _payment_row(p: Payment) -> dict[str, Any]:
    return payments.event_view(p)


def _payment_detail(deps: Deps, uow: UnitOfWork, p: Payment) -> dict[str, Any]:
    t = uow.repo(Transfer).get(p.transfer_id) if p.transfer_id else None
    raised = uow.repo(Alert).many(source_type="payment", source_id=p.id, order_by="created_ms")
    return {
        **payments.event_view(p),  # its `history` is the timeline, a UETR step per state
        "transfer": None if t is None else {
            "id": t.id, "status": t.status, "tx_id": t.tx_id, "height": t.height,
            "result_code": t.result_code, "attempts": t.attempts,
            "legs": [{"source": leg.source, "destination": leg.destination,
                      "code": leg.code,
                      "amount": _amount(leg.amount_minor, leg.code)}
                     for leg in t.legs]},
        "proof": None if not p.tx_id else {
            # what the observer checks on its own node (docs/regulator-observer.md)
            "tx_id": p.tx_id, "height": p.height,
            "verify": f"corridor light verify-tx {p.tx_id} --genesis GENESIS --rpc NODE"},
        "alerts": [alert_row(a) for a in raised],
    }


def alert_row(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "case_id": a.case_id, "monitor": a.monitor, "typology": a.typology,
            "outcome": a.outcome, "score": a.score, "explanation": a.explanation,
            "movement_ids": list(a.movement_ids), "parties": list(a.parties),
            "subject_type": a.subject_type, "subject_id": a.subject_id,
            "source_type": a.source_type, "source_id": a.source_id, "state": a.state,
            "created_ms": a.created_ms, "updated_ms": a.updated_ms}


def case_row(c: Case) -> dict[str, Any]:
    return {"id": c.id, "subject_type": c.subject_type, "subject_id": c.subject_id,
            "state": c.state, "assigned_to": c.assigned_to, "released_by": c.released_by,
            "opened_ms": c.opened_ms, "closed_ms": c.closed_ms, "closed_by": c.closed_by,
            "updated_ms": c.updated_ms}


def case_json(v: compliance.CaseView) -> dict[str, Any]:
    """A case with its evidence, as the regulator reads it."""
    return {"case": case_row(v.case), "customer_name": v.customer_name, "kyc": v.kyc,
            "alerts": [alert_row(a) for a in v.alerts],
            "payments": [payments.event_view(p) for p in v.payments],
            "notes": [{"id": n.id, "author_id": n.author_id, "text": n.text,
                       "created_ms": n.created_ms} for n in v.notes],
            "decisions": [{"id": d.id, "kind": d.kind, "officer_id": d.officer_id,
                           "alert_id": d.alert_id, "payment_ids": list(d.payment_ids),
                           "note": d.note, "created_ms": d.created_ms} for d in v.decisions]}


def _case_detail(deps: Deps, uow: UnitOfWork, c: Case) -> dict[str, Any]:
    # the officer's own view of the case (the operator's reading, who=None: the
    # supervision permission was checked and the read audited before this)
    return case_json(compliance.case(deps, None, c.id))


def _alert_detail(deps: Deps, uow: UnitOfWork, a: Alert) -> dict[str, Any]:
    return alert_row(a)


def report_row(r: Report) -> dict[str, Any]:
    return {"id": r.id, "number": r.number, "kind": r.kind, "state": r.state,
            "case_id": r.case_id, "subject_type": r.subject_type, "subject_id": r.subject_id,
            "subject_name": r.subject_name, "filed_ms": r.filed_ms,
            "content_hash": r.content_hash}


def _report_detail(deps: Deps, uow: UnitOfWork, r: Report) -> dict[str, Any]:
    # the filed document as the FIU received it (schema corridor.str/1)
    return {**report_row(r), "document": report_export.json_document(r)}


def report(deps: Deps, who: Principal, report_id: str) -> Report:
    """A filed report (for the pages, which render its document); the read is audited."""
    _supervisor(who)
    _traced(deps, who, "reports", report_id, {"id": report_id[:ID_LEN_MAX]})
    with deps.reader() as uow:
        found = uow.repo(Report).get(report_id[:ID_LEN_MAX])
    if found is None or found.state != ReportState.FILED:
        raise not_found("report")
    return found


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    """A resource the regulator reads: its records, newest first by `time_column`, the
    filters it accepts (query name -> column; values are compared for equality, and
    `choices` bounds a filter to its enum), one record as a list row, and one with what
    belongs to it."""

    record: type[Any]
    time_column: str
    filters: Mapping[str, str]
    choices: Mapping[str, tuple[str, ...]]
    row: Callable[[Any], dict[str, Any]]
    detail: Callable[[Deps, UnitOfWork, Any], dict[str, Any]]
    # columns every read of the resource is bound to (a regulator receives filed reports
    # only: a draft is the institution's work in progress)
    fixed: Mapping[str, str] = dataclasses.field(default_factory=dict)


RESOURCES: dict[str, Listing] = {
    "payments": Listing(
        record=Payment, time_column="created_ms",
        filters={"status": "status", "currency": "sell_code", "customer": "owner_id"},
        choices={"status": tuple(PaymentStatus)}, row=_payment_row, detail=_payment_detail),
    "alerts": Listing(
        record=Alert, time_column="created_ms",
        filters={"state": "state", "typology": "typology", "customer": "subject_id",
                 "case": "case_id"},
        choices={"state": tuple(AlertState)}, row=alert_row, detail=_alert_detail),
    "cases": Listing(
        record=Case, time_column="opened_ms",
        filters={"state": "state", "customer": "subject_id"},
        choices={"state": tuple(CaseState)}, row=case_row, detail=_case_detail),
    "reports": Listing(
        record=Report, time_column="filed_ms",
        filters={"kind": "kind", "customer": "subject_id", "case": "case_id"},
        choices={"kind": tuple(ReportKind)}, row=report_row, detail=_report_detail,
        fixed={"state": ReportState.FILED}),
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """A list read: filters by name, the period [since_ms, until_ms), a page."""

    filters: Mapping[str, str | None] = dataclasses.field(default_factory=dict)
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 50
    offset: int = 0

    def asked(self) -> dict[str, Any]:
        return {"filters": {k: v for k, v in self.filters.items() if v},
                "since_ms": self.since_ms, "until_ms": self.until_ms, "limit": self.limit,
                "offset": self.offset}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """One page of a list read; `more`: another page follows."""

    resource: str
    items: tuple[Any, ...]
    limit: int
    offset: int
    more: bool

    def rows(self) -> list[dict[str, Any]]:
        return [RESOURCES[self.resource].row(r) for r in self.items]


def _listing(resource: str) -> Listing:
    spec = RESOURCES.get(resource)
    if spec is None:
        raise not_found("resource")
    return spec


def _checked(spec: Listing, q: Query) -> dict[str, Any]:
    problems = Problems()
    eq: dict[str, Any] = {}
    for name, value in q.filters.items():
        if not value:
            continue
        if name not in spec.filters:
            problems.add(name, f"not a filter here: one of {', '.join(spec.filters)}")
        elif len(value) > FILTER_LEN_MAX:
            problems.add(name, f"at most {FILTER_LEN_MAX} characters")
        elif name in spec.choices and value not in spec.choices[name]:
            problems.add(name, f"one of {', '.join(spec.choices[name])}")
        else:
            eq[spec.filters[name]] = value
    if (q.since_ms is not None and q.until_ms is not None and q.until_ms <= q.since_ms):
        problems.add("until_ms", "after since_ms")
    problems.raise_if_any()
    return eq


def records(deps: Deps, who: Principal, resource: str, q: Query) -> Found:
    """One page of a resource's records, newest first, filtered; the read is audited."""
    _supervisor(who)
    spec = _listing(resource)
    eq: dict[str, Any] = {**_checked(spec, q), **spec.fixed}
    limit, offset = page_bounds(q.limit, q.offset, PAGE_MAX)
    _traced(deps, who, resource, "*", q.asked())
    above = {spec.time_column: q.since_ms - 1} if q.since_ms is not None else None
    below = {spec.time_column: q.until_ms} if q.until_ms is not None else None
    with deps.reader() as uow:
        found = uow.repo(spec.record).many(order_by=spec.time_column, descending=True,
                                           limit=limit + 1, offset=offset, above=above,
                                           below=below, **eq)
    return Found(resource=resource, items=tuple(found[:limit]), limit=limit, offset=offset,
                 more=len(found) > limit)


def record(deps: Deps, who: Principal, resource: str, record_id: str) -> dict[str, Any]:
    """One record with what belongs to it (a payment's timeline, transfer and proof
    reference; a case's evidence); the read is audited, found or not."""
    _supervisor(who)
    spec = _listing(resource)
    _traced(deps, who, resource, record_id, {"id": record_id[:ID_LEN_MAX]})
    with deps.reader() as uow:
        found = uow.repo(spec.record).get(record_id[:ID_LEN_MAX])
        if found is None or any(getattr(found, k) != v for k, v in spec.fixed.items()):
            raise not_found(resource.rstrip("s"))
        return spec.detail(deps, uow, found)


def case(deps: Deps, who: Principal, case_id: str) -> compliance.CaseView:
    """A case with its evidence, as the officer's page has it (the pages render it)."""
    _supervisor(who)
    _traced(deps, who, "cases", case_id, {"id": case_id[:ID_LEN_MAX]})
    return compliance.case(deps, None, case_id)


def payment(deps: Deps, who: Principal, payment_id: str) -> tuple[Payment, dict[str, Any]]:
    """A payment and its detail (for the pages, which show the record's own fields)."""
    _supervisor(who)
    _traced(deps, who, "payments", payment_id, {"id": payment_id[:ID_LEN_MAX]})
    with deps.reader() as uow:
        p = uow.repo(Payment).get(payment_id[:ID_LEN_MAX])
        if p is None:
            raise not_found("payment")
        return p, _payment_detail(deps, uow, p)


# --- the audit trail --------------------------------------------------------------------------


def audit_entries(deps: Deps, who: Principal, q: Query) -> Found:
    """The audit trail, newest first, filtered by actor, action, object and period; the
    read is itself an entry (it appears at the head of the next read)."""
    _supervisor(who)
    problems = Problems()
    for name, value in q.filters.items():
        if name not in audit.FILTERS:
            problems.add(name, f"not a filter here: one of {', '.join(audit.FILTERS)}")
        elif value and len(value) > FILTER_LEN_MAX:
            problems.add(name, f"at most {FILTER_LEN_MAX} characters")
    problems.raise_if_any()
    limit, offset = page_bounds(q.limit, q.offset, audit.PAGE_MAX)
    _traced(deps, who, "audit", "*", q.asked())
    eq: dict[str, Any] = {k: v for k, v in q.filters.items() if v}
    above = {"at_ms": q.since_ms - 1} if q.since_ms is not None else None
    below = {"at_ms": q.until_ms} if q.until_ms is not None else None
    with deps.reader() as uow:
        found = uow.repo(AuditEntry).many(order_by="seq", descending=True, limit=limit + 1,
                                          offset=offset, above=above, below=below, **eq)
    return Found(resource="audit", items=tuple(found[:limit]), limit=limit, offset=offset,
                 more=len(found) > limit)


def audit_verify(deps: Deps, who: Principal) -> audit.ChainReport:
    """The whole chain re-computed (audit.verify); audited first, so the check covers its
    own trace."""
    _traced(deps, who, "audit", "chain", {"verify": True})
    return audit.verify(deps)


def entry_json(e: AuditEntry) -> dict[str, Any]:
    return {"seq": e.seq, "at_ms": e.at_ms, "actor_id": e.actor_id,
            "actor_kind": e.actor_kind, "action": e.action, "object_type": e.object_type,
            "object_id": e.object_id, "before": e.before, "after": e.after, "ip": e.ip,
            "prev_hash": e.prev_hash, "hash": e.hash}


# --- the overview -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    """What is under review now: open cases, open alerts, payments on hold, and the
    newest audit entry (where the feed stands)."""

    open_cases: int
    open_alerts: int
    payments_on_hold: int
    audit_head: int


def overview(deps: Deps, who: Principal) -> Overview:
    _supervisor(who)
    _traced(deps, who, "overview", "*", {})
    with deps.reader() as uow:
        return Overview(open_cases=uow.repo(Case).count(state=CaseState.OPEN),
                        open_alerts=uow.repo(Alert).count(state=AlertState.OPEN),
                        payments_on_hold=uow.repo(Payment).count(status=PaymentStatus.ON_HOLD),
                        audit_head=uow.audit_head()[0])


# --- the live feed ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FeedEvent:
    """One event of the feed: `id` is the audit entry's seq (the resume point), `kind`
    what happened (alert, hold, release, return, freeze, unfreeze), about which object."""

    id: int
    kind: str
    at_ms: int
    object_type: str
    object_id: str
    data: dict[str, Any]

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "at_ms": self.at_ms,
                "object_type": self.object_type, "object_id": self.object_id,
                "data": self.data}


def _alert_event(e: AuditEntry) -> str | None:
    return None if (e.after or {}).get("shadow") else "alert"


def _held(e: AuditEntry) -> str | None:
    return "hold" if (e.after or {}).get("status") == PaymentStatus.ON_HOLD else None


def _held_status(status: str, reason_code: str | None = None
                 ) -> Callable[[AuditEntry], str | None]:
    """A record entering `status` (with `reason_code`, when given) is a hold."""
    def kind(e: AuditEntry) -> str | None:
        after = e.after or {}
        held = after.get("status") == status and (
            reason_code is None or after.get("reason_code") == reason_code)
        return "hold" if held else None
    return kind


def _always(kind: str) -> Callable[[AuditEntry], str | None]:
    return lambda e: kind


# Audit actions that are feed events, and what each becomes (None: not an event: a
# payment created without a hold, an alert of a rule on trial). A new kind of hold (a
# deposit or withdrawal held by the monitors) is one line here.
FEED_ACTIONS: dict[str, Callable[[AuditEntry], str | None]] = {
    "compliance.alert": _alert_event,
    "payment.create": _held,
    "payment.released": _always("release"),
    "payment.returned": _always("return"),
    # deposits, withdrawals and refunds held by the monitors (services/movements.py); a
    # deposit held over its owner's limits is the `hold.open` below
    "deposit.held": _held_status("held", "COMPLIANCE_HOLD"),
    "withdrawal.create": _held_status("held"),
    "refund.decide": _held_status("held"),
    **{f"{kind}.{done}": _always(event) for kind in ("deposit", "withdrawal", "refund")
       for done, event in (("released", "release"), ("returned", "return"))},
    "hold.open": _always("hold"),  # inbound money held over the customer's limits
    "hold.release": _always("release"),
    "hold.return": _always("return"),
    "freeze.request": _always("freeze"),
    "freeze.release": _always("unfreeze"),
}
FEED_KINDS = ("alert", "hold", "release", "return", "freeze", "unfreeze")


def feed_start(deps: Deps, who: Principal | None, after: int | None) -> int:
    """A feed connection opens (audited once): the cursor it starts from. None: from now
    on (the audit head), so a new client does not replay history; a `Last-Event-ID`
    resumes after that event."""
    _supervisor(who)
    _traced(deps, who, "feed", "*", {"last_event_id": after})
    if after is not None:
        return max(0, after)
    with deps.reader() as uow:
        return uow.audit_head()[0]


def feed_after(deps: Deps, who: Principal | None, cursor: int, limit: int = FEED_BATCH_MAX
               ) -> tuple[list[FeedEvent], int]:
    """The events after `cursor` (at most `limit` audit entries looked at) and the cursor
    to ask from next. Not audited per poll: the connection was (feed_start)."""
    _supervisor(who)
    limit = max(1, min(limit, FEED_BATCH_MAX))
    with deps.reader() as uow:
        found = uow.repo(AuditEntry).many(order_by="seq", limit=limit,
                                          above={"seq": cursor}, action=tuple(FEED_ACTIONS))
    return _events(found), (found[-1].seq if found else cursor)


def _events(found: list[AuditEntry]) -> list[FeedEvent]:
    out = []
    for e in found:
        kind = FEED_ACTIONS[e.action](e)
        if kind is not None:
            out.append(FeedEvent(id=e.seq, kind=kind, at_ms=e.at_ms,
                                 object_type=e.object_type, object_id=e.object_id,
                                 data=dict(e.after or {})))
    return out


def feed_recent(deps: Deps, who: Principal | None, limit: int = 20) -> tuple[list[FeedEvent], int]:
    """The newest events, newest first (the feed page before its stream connects), and
    the audit head, where the stream then starts. Audited as a read of the feed."""
    _supervisor(who)
    _traced(deps, who, "feed", "recent", {"limit": limit})
    limit = max(1, min(limit, FEED_BATCH_MAX))
    with deps.reader() as uow:
        head = uow.audit_head()[0]
        found = uow.repo(AuditEntry).many(order_by="seq", descending=True, limit=limit * 2,
                                          below={"seq": head + 1},
                                          action=tuple(FEED_ACTIONS))
    return _events(found)[:limit], head
