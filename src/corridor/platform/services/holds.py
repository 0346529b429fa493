"""Holds of inbound money (issue 14, item 1): opened by the area whose money arrived over
its owner's limits (deposits today), decided by staff holding Perm.FUNDS_REVIEW
(compliance officers). A decision is made once, audited with the reviewer, and carried
out by the subject's own area through its handlers in `deps.handlers` (bootstrap), in the
same unit of work as the hold's new state: released money is credited, returned money
is sent back through the rail; a handler that refuses (the money would still break the
limits, the rail refused the return) changes nothing."""

from __future__ import annotations

from corridor.platform.domain import holds as dom
from corridor.platform.domain import idempotency
from corridor.platform.domain.errors import Err, Problems, forbidden, not_found
from corridor.platform.domain.holds import Decision, Hold, HoldStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services import idempotency as replay
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds


def open_hold(deps: Deps, uow: UnitOfWork, *, subject_type: str, subject_id: str,
              owner_type: str, owner_id: str, currency: str, amount_minor: int,
              reason_code: str, reason_message: str) -> Hold:
    """Puts money in front of staff, inside the caller's unit of work."""
    assert subject_type in deps.handlers.hold_decision, f"no decision handlers for {subject_type}"
    now = deps.clock.now_ms()
    hold = Hold(id=deps.rand.new_id(), subject_type=subject_type, subject_id=subject_id,
                owner_type=OwnerType(owner_type), owner_id=owner_id, currency=currency,
                amount_minor=amount_minor, reason_code=reason_code,
                reason_message=reason_message[:dom.REASON_LEN_MAX],
                status=HoldStatus.OPEN, decided_by=None, decided_ms=None, decision_note=None,
                return_ref=None, created_ms=now, updated_ms=now)
    uow.repo(Hold).add(hold)
    uow.audit(actor_id=None, actor_kind="system", action="hold.open", object_type="hold",
              object_id=hold.id, after={"subject_type": subject_type, "subject_id": subject_id,
                                        "currency": currency, "amount_minor": amount_minor,
                                        "reason_code": reason_code})
    return hold


def _reviewer(who: Principal) -> None:
    if not who.staff_can(Perm.FUNDS_REVIEW):
        raise forbidden()


def queue(deps: Deps, who: Principal, *, status: str = HoldStatus.OPEN, limit: int = 50,
          offset: int = 0) -> tuple[list[Hold], int]:
    """Holds in one state, oldest first (the queue is worked in arrival order)."""
    _reviewer(who)
    limit, offset = page_bounds(limit, offset, dom.QUEUE_PAGE_MAX)
    if status not in tuple(HoldStatus):
        problems = Problems()
        problems.add("status", f"one of {', '.join(HoldStatus)}")
        problems.raise_if_any()
    with deps.reader() as uow:
        repo = uow.repo(Hold)
        return (repo.many(status=status, order_by="created_ms", limit=limit, offset=offset),
                repo.count(status=status))


def get(deps: Deps, who: Principal, hold_id: str) -> Hold:
    _reviewer(who)
    with deps.reader() as uow:
        hold = uow.repo(Hold).get(hold_id[:64])
    if hold is None:
        raise not_found("hold")
    return hold


def decide(deps: Deps, who: Principal, hold_id: str, decision: str, note: str,
           idempotency_key: str | None) -> Hold:
    """Releases or returns held money, once. A retry under the same Idempotency-Key
    returns the hold as it stands."""
    _reviewer(who)
    key = idempotency.check_key(idempotency_key)
    asked = {"hold_id": hold_id, "decision": decision, "note": note}
    problems = Problems()
    note = " ".join(note.split())
    if decision not in tuple(Decision):
        problems.add("decision", f"one of {', '.join(Decision)}")
    if not note or len(note) > dom.NOTE_LEN_MAX or not note.isprintable():
        problems.add("note", f"why, in 1-{dom.NOTE_LEN_MAX} printable characters")
    problems.raise_if_any()
    with deps.uow() as uow:
        hold = uow.repo(Hold).get(hold_id[:64], for_update=True)
        if hold is None:
            raise not_found("hold")
        if replay.prior(uow, who.user_id, key, "hold.decide", asked) is not None:
            return hold
        if hold.status != HoldStatus.OPEN:
            raise Err.HOLD_DECIDED.error(f"this hold was already {hold.status}")
        handlers = deps.handlers.hold_decision[hold.subject_type]
        now = deps.clock.now_ms()
        if decision == Decision.RELEASE:
            handlers.release(deps, uow, hold, who)
            done = dom.decided(hold, Decision.RELEASE, staff_id=who.user_id, note=note,
                               now_ms=now)
        else:
            ref = handlers.give_back(deps, uow, hold, who)
            done = dom.decided(hold, Decision.RETURN, staff_id=who.user_id, note=note,
                               now_ms=now, return_ref=ref)
        uow.repo(Hold).update(done)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action=f"hold.{decision}",
                  object_type="hold", object_id=hold.id, ip=who.ip,
                  before={"status": hold.status},
                  after={"status": done.status, "note": note, "return_ref": done.return_ref,
                         "subject_type": hold.subject_type, "subject_id": hold.subject_id})
        replay.remember(deps, uow, who.user_id, key, "hold.decide", asked, hold.id)
        uow.commit()
    return done
