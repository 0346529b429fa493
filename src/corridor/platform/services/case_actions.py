"""Decisions on a compliance case that reach beyond its payments (issue 16): freeze the
customer's holdings on chain, lift that freeze, end the relationship (exit), and ask the
customer for information by a deadline. Each runs inside `compliance.decide`'s unit of
work (the case locked, the decision recorded and audited there), listed in its `_ACT`.

Freezes go through services/freezes.py (the issuer's FREEZE / UNFREEZE through the ledger
jobs' outbox) and carry the case's id. Releasing the held payments of a frozen customer
lifts the freeze as part of the decision: a frozen sender's transfer would only be
refused by the chain (FROZEN), so the payments stay on hold, the case marked
`pending_release_by` the releasing officer, until the chain has carried out the unfreeze
(`unfrozen`, called when the freeze's last unfreeze job is done); then they go on as any
release does. Four eyes hold as for any freeze: the officer who froze does not lift it.

Exit: the customer's account is disabled (sessions revoked) or the organisation
suspended, through the existing status mechanisms; the holdings are frozen on chain (the
case's freeze, or a new one) and stay frozen until support returns them to an account in
the customer's name (README "Compliance workflow": a second officer unfreezes with the
reason, and an operator redeems the balance to the verified bank account); the customer
is told by e-mail/SMS and in their inbox. Not while payments are on hold."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from corridor.platform.domain import cases as cdom
from corridor.platform.domain import compliance as dom
from corridor.platform.domain import freezes as fdom
from corridor.platform.domain.compliance import Case, CaseState
from corridor.platform.domain.errors import Err, forbidden
from corridor.platform.domain.freezes import Freeze, FreezeStatus, Phase
from corridor.platform.domain.identity import User, UserStatus
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.orgs import Organisation, OrgStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, UserKind
from corridor.platform.services import codes, freezes, sessions
from corridor.platform.services import notifications as inbox
from corridor.platform.services.mail_text import Mail
from corridor.platform.services.ports import Deps, UnitOfWork

if TYPE_CHECKING:
    from corridor.platform.services.compliance import Acted, CaseView, DecisionRequest

# services/compliance.py lists these decisions in its table, so this module imports it
# where it is used, not when it is loaded (either module may be imported first).


def policy(deps: Deps) -> cdom.SlaPolicy:
    """The SLA policy of the settings (CORRIDOR_CASE_SLA; bootstrap checked it parses)."""
    return cdom.parse_policy(str(getattr(deps.settings, "case_sla", "") or ""))


def _freezer(who: Principal) -> None:
    if not who.staff_can(Perm.ACCOUNT_FREEZE):
        raise forbidden()


def _reason(note: str) -> str:
    if len(note) > fdom.REASON_LEN_MAX:
        raise Err.INVALID_FIELDS.error(
            fields={"note": f"at most {fdom.REASON_LEN_MAX} characters for a freeze"})
    return note


def _lock_owner(uow: UnitOfWork, case: Case) -> None:
    freezes.check_owner(uow, case.subject_type, case.subject_id, lock=True)


def freeze(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
           req: DecisionRequest, note: str) -> Acted:
    """Freezes the case's customer on chain; the freeze carries the case's id."""
    _freezer(who)
    reason = _reason(note)
    c = view.case
    _lock_owner(uow, c)
    freezes.freeze_in(deps, uow, who, c.subject_type, c.subject_id, reason=reason,
                      reference=f"case {c.id}"[:fdom.REFERENCE_LEN_MAX], case_id=c.id)
    return c, ()


def unfreeze(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
             req: DecisionRequest, note: str) -> Acted:
    """Lifts the customer's freeze (another officer than the one who froze)."""
    _freezer(who)
    reason = _reason(note)
    c = view.case
    _lock_owner(uow, c)
    f = freezes.unfreeze_in(deps, uow, who, c.subject_type, c.subject_id, reason=reason)
    if f.status == FreezeStatus.RELEASED and c.pending_release_by is not None:
        return _complete_release(deps, uow, view), tuple(p.id for p in view.held)
    return c, ()


def release(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
            req: DecisionRequest, note: str) -> Acted:
    """Releases the held payments; on a frozen customer, lifts the freeze first and the
    payments go on once the chain has (see the module's docstring)."""
    from corridor.platform.services import compliance as cmp

    c = view.case
    active = freezes.active_of(uow, c.subject_type, c.subject_id)
    if active is None:
        return cmp._release(deps, uow, who, view, req, note)
    _freezer(who)
    held = cmp._held(view)
    _lock_owner(uow, c)
    if active.phase is Phase.FREEZE:
        active = freezes.unfreeze_in(deps, uow, who, c.subject_type, c.subject_id,
                                     reason=_reason(note))
    if active.status == FreezeStatus.RELEASED:  # nothing was held on chain: at once
        return cmp._release(deps, uow, who, view, req, note)
    return dataclasses.replace(c, pending_release_by=who.user_id), tuple(p.id for p in held)


def unfrozen(deps: Deps, uow: UnitOfWork, f: Freeze) -> None:
    """The chain lifted `f`: the release waiting for it in the owner's open case (if any)
    goes on now, as the officer who decided it."""
    from corridor.platform.services import compliance as cmp

    found = uow.repo(Case).one(subject_type=f.owner_type.value, subject_id=f.owner_id,
                               state=CaseState.OPEN.value)
    if found is None or found.pending_release_by is None:
        return
    locked = uow.repo(Case).get(found.id, for_update=True)
    assert locked is not None
    if locked.pending_release_by is None:
        return
    done = _complete_release(deps, uow, cmp._view(uow, locked))
    uow.repo(Case).update(dataclasses.replace(done, updated_ms=deps.clock.now_ms()))


def _complete_release(deps: Deps, uow: UnitOfWork, view: CaseView) -> Case:
    """The pending release carried out: its officer releases what is still held."""
    from corridor.platform.services import compliance as cmp

    c = view.case
    assert c.pending_release_by is not None
    officer = uow.repo(User).get(c.pending_release_by)
    assert officer is not None
    who = Principal(user_id=officer.id, kind=UserKind.STAFF, staff_role=officer.staff_role,
                    session_id="")
    if not view.held:  # returned meanwhile: nothing left to release
        return dataclasses.replace(c, pending_release_by=None)
    done, _ = cmp._release(deps, uow, who, view, cmp.DecisionRequest(kind="release"), "")
    uow.audit(actor_id=None, actor_kind="system", action="compliance.release.completed",
              object_type="compliance_case", object_id=c.id,
              after={"officer_id": officer.id, "payment_ids": [p.id for p in view.held]})
    return dataclasses.replace(done, pending_release_by=None)


def request_info(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
                 req: DecisionRequest, note: str) -> Acted:
    """The message to the customer's inbox (compliance's own decision), and the
    deadline for their answer on the case: `respond_days`, or the policy's default."""
    from corridor.platform.services import compliance as cmp

    days = req.respond_days if req.respond_days is not None else policy(deps).info_days
    if not cdom.INFO_DAYS_MIN <= days <= cdom.INFO_DAYS_MAX:
        raise Err.INVALID_FIELDS.error(fields={
            "respond_days": f"{cdom.INFO_DAYS_MIN}-{cdom.INFO_DAYS_MAX} days"})
    # the customer's message says how long they have (notices.py)
    c, touched = cmp._request_info(deps, uow, who, view,
                                   dataclasses.replace(req, respond_days=days), note)
    due = deps.clock.now_ms() + days * cdom.DAY_MS
    return dataclasses.replace(c, info_due_ms=due), touched


def exit_relationship(deps: Deps, uow: UnitOfWork, who: Principal, view: CaseView,
                      req: DecisionRequest, note: str) -> Acted:
    """Ends the relationship: account disabled or organisation suspended, holdings frozen
    (the active freeze, or a new one of this case), the customer told."""
    _freezer(who)
    c = view.case
    if view.held:
        raise Err.CASE_HOLDS_PAYMENTS.error()
    reason = _reason(note)
    _lock_owner(uow, c)
    active = freezes.active_of(uow, c.subject_type, c.subject_id)
    if active is None or active.phase is Phase.UNFREEZE:
        if active is not None:  # being lifted: frozen again once the chain has answered
            raise Err.FREEZE_PENDING.error()
        active = freezes.freeze_in(deps, uow, who, c.subject_type, c.subject_id,
                                   reason=reason, reference=f"case {c.id} exit", case_id=c.id)
    now = deps.clock.now_ms()
    told = _close_account(deps, uow, who, c, now)
    if told is not None:
        inbox.record(deps, uow, user_id=told.id, topic=Topic.RELATIONSHIP_ENDED,
                     subject_type=SubjectType.SECURITY, subject_id=c.id, event=f"exit:{c.id}")
        codes.notify_user(deps, uow, told, Mail.RELATIONSHIP_ENDED)
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="customer.exit",
              object_type=c.subject_type, object_id=c.subject_id, ip=who.ip,
              after={"case_id": c.id, "freeze_id": active.id, "reason": reason,
                     "told": told.id if told else None})
    return c, ()


def _close_account(deps: Deps, uow: UnitOfWork, who: Principal, c: Case,
                   now: int) -> User | None:
    """The customer's account disabled (sessions revoked), or the organisation suspended;
    returns whom to tell (the customer, or the organisation's creator)."""
    if c.subject_type == "org":
        org = uow.repo(Organisation).get(c.subject_id)
        assert org is not None  # locked by _lock_owner
        if org.status != OrgStatus.SUSPENDED:
            uow.repo(Organisation).update(dataclasses.replace(
                org, status=OrgStatus.SUSPENDED, updated_ms=now))
            uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="org.suspend",
                      object_type="org", object_id=org.id, ip=who.ip,
                      before={"status": org.status}, after={"status": OrgStatus.SUSPENDED})
        return uow.repo(User).get(org.created_by)
    user = uow.repo(User).get(c.subject_id)
    assert user is not None  # locked by _lock_owner
    if user.status != UserStatus.DISABLED:
        uow.repo(User).update(dataclasses.replace(user, status=UserStatus.DISABLED,
                                                  updated_ms=now))
        revoked = sessions.revoke_all(uow, user.id, now)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="customer.disable",
                  object_type="user", object_id=user.id, ip=who.ip,
                  before={"status": user.status},
                  after={"status": UserStatus.DISABLED, "sessions_revoked": revoked})
    return user


def freeze_of(deps: Deps, case: Case) -> Freeze | None:
    """The freeze the case shows: the newest of its customer's freezes decided in this
    case, or the customer's active one (decided elsewhere)."""
    with deps.reader() as uow:
        linked = uow.repo(Freeze).many(owner_type=case.subject_type,
                                       owner_id=case.subject_id, case_id=case.id,
                                       order_by="created_ms", descending=True, limit=1)
        return linked[0] if linked else freezes.active_of(uow, case.subject_type,
                                                          case.subject_id)


ACTIONS = {
    dom.DecisionKind.FREEZE: freeze, dom.DecisionKind.UNFREEZE: unfreeze,
    dom.DecisionKind.EXIT: exit_relationship, dom.DecisionKind.REQUEST_INFO: request_info,
    dom.DecisionKind.RELEASE: release,
}
