"""Approval policies and the approval flow (issue 17; the rules are domain/approvals.py).

An organisation saves its policy here (validated, versioned). A use case that moves an
organisation's money asks `route` what the policy says of its subject; for APPROVE it
calls `open_approval` in the same unit of work, which records an `Approval` keyed by
(subject_kind, subject_id) and tells the first level's approvers (inbox, e-mail outbox,
webhook `<kind>.approval_required`). What an outcome means for the subject is the
subject kind's entry in `deps.handlers.approval_subjects` (listed once in
bootstrap.HANDLERS): payments in services/payment_approvals.py; a batch registers one
entry the same way.

Decisions (`decide`): maker != checker, one decision per person, N distinct approvers per
level in sequence, every decision audited and idempotent under its Idempotency-Key. At
the last level a subject with a price (a payment) is re-checked: a rate that moved more
than the policy's tolerance waits for the payer's consent (`consent`). An approval past
its time expires (`expire_due`, or the first decision that finds it late), and the subject
releases what it reserved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from corridor.platform.domain import approvals as dom
from corridor.platform.domain import idempotency
from corridor.platform.domain.approvals import (
    Approval,
    ApprovalState,
    Decision,
    Policy,
    Route,
    Vote,
)
from corridor.platform.domain.errors import Err, PlatformError, Problems, not_found
from corridor.platform.domain.identity import User
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.orgs import Department, Membership
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import codes, mail_text, webhooks
from corridor.platform.services import idempotency as replay
from corridor.platform.services import notifications as inbox
from corridor.platform.services.access import require_org
from corridor.platform.services.handlers import ApprovalSubject
from corridor.platform.services.ports import Deps, UnitOfWork

EXPIRE_BATCH_MAX = 100  # approvals one sweep expires (the next sweep takes the rest)
VERSIONS_MAX = 1_000_000  # saved versions of one organisation's policy


# --- policies ------------------------------------------------------------------------------


def current_policy(uow: UnitOfWork, org_id: str) -> Policy:
    """The organisation's newest policy, or the default one (everything allowed)."""
    found = uow.repo(Policy).many(org_id=org_id, order_by="version", descending=True, limit=1)
    return found[0] if found else dom.default_policy(org_id)


def policy_version(uow: UnitOfWork, org_id: str, version: int) -> Policy:
    if version == 0:
        return dom.default_policy(org_id)
    p = uow.repo(Policy).one(org_id=org_id, version=version)
    assert p is not None, f"policy {org_id} v{version} routed an approval and was lost"
    return p


def role_members(uow: UnitOfWork, org_id: str) -> dict[str, list[str]]:
    """Organisation role -> its members' user ids."""
    out: dict[str, list[str]] = {}
    for m in uow.repo(Membership).many(org_id=org_id):
        out.setdefault(str(m.role), []).append(m.user_id)
    return out


def get_policy(deps: Deps, who: Principal, org_id: str) -> Policy:
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_READ)
        return current_policy(uow, org_id)


def check_policy(deps: Deps, who: Principal, org_id: str,
                 doc: Mapping[str, Any]) -> dict[str, str]:
    """Every problem `doc` has (field -> message), nothing saved: a page adds these to
    the problems of its own fields (Perm.ORG_MANAGE)."""
    try:
        set_policy(deps, who, org_id, doc, save=False)
    except PlatformError as exc:
        if exc.err is not Err.POLICY_INVALID:
            raise
        return exc.fields
    return {}


def set_policy(deps: Deps, who: Principal, org_id: str, doc: Mapping[str, Any], *,
               save: bool = True) -> Policy:
    """Saves `doc` (rules, groups, approval_ttl_ms, tolerance_bp, cooling_off_ms) as the
    organisation's next policy version; every problem is reported at once
    (POLICY_INVALID, field -> message). Owners and admins (Perm.ORG_MANAGE). Without
    `save`, only checks (and writes nothing)."""
    problems = Problems()
    rules = dom.parse_rules(doc.get("rules"), problems)
    groups = dom.parse_groups(doc.get("groups", []), problems)
    numbers = {}
    for name, default in (("approval_ttl_ms", dom.APPROVAL_TTL_MS_DEFAULT),
                          ("tolerance_bp", dom.TOLERANCE_BP_DEFAULT),
                          ("cooling_off_ms", dom.COOLING_OFF_MS_DEFAULT)):
        value = doc.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(name, dom.M_WHOLE)
            value = default
        numbers[name] = value
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        departments = frozenset(d.id for d in uow.repo(Department).many(org_id=org_id))
        if not problems:
            dom.check_policy(rules, groups, role_members=role_members(uow, org_id),
                             department_ids=departments, problems=problems, **numbers)
        problems.raise_if_any(Err.POLICY_INVALID)
        before = current_policy(uow, org_id)
        assert before.version < VERSIONS_MAX
        p = Policy(id=deps.rand.new_id(), org_id=org_id, version=before.version + 1,
                   rules=rules, groups=groups, created_by=who.user_id,
                   created_ms=deps.clock.now_ms(), **numbers)
        if not save:
            return p
        uow.repo(Policy).add(p)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="approval_policy.set", object_type="organisation", object_id=org_id,
                  before={"version": before.version}, after=policy_json(p))
        uow.commit()
    return p


def policy_json(p: Policy) -> dict[str, Any]:
    return {"org_id": p.org_id, "version": p.version,
            "rules": [dom.rule_json(r) for r in p.rules],
            "groups": [dom.group_json(g) for g in p.groups],
            "approval_ttl_ms": p.approval_ttl_ms, "tolerance_bp": p.tolerance_bp,
            "cooling_off_ms": p.cooling_off_ms, "created_ms": p.created_ms}


# --- routing and opening -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """Something an organisation's policy decides on: a payment, a batch, ..."""

    kind: str  # a key of deps.handlers.approval_subjects
    id: str
    org_id: str
    initiator_id: str
    usd_minor: int
    amount_minor: int
    currency: str
    recipient_type: str | None  # None: several recipients (a batch)
    party: str | None  # the beneficiary as the book knows it (None: several)
    summary: str


def facts(deps: Deps, uow: UnitOfWork, s: Subject, policy: Policy) -> dom.Facts:
    member = uow.repo(Membership).one(org_id=s.org_id, user_id=s.initiator_id)
    book = (uow.repo(dom.SavedBeneficiary).many(org_id=s.org_id, party=s.party)
            if s.party is not None else [])
    beneficiary = (dom.beneficiary_of(book, s.party, deps.clock.now_ms())
                   if s.party is not None else dom.Beneficiary.KNOWN)
    return dom.Facts(usd_minor=s.usd_minor, currency=s.currency,
                     recipient_type=s.recipient_type, beneficiary=beneficiary,
                     department_id=member.department_id if member else None,
                     initiator_id=s.initiator_id)


def route(deps: Deps, uow: UnitOfWork, s: Subject) -> Route:
    """What the organisation's current policy says of `s`: ALLOW, BLOCK, or APPROVE with
    its levels' approvers fixed now. Refuses a route no one could ever approve
    (APPROVERS_TOO_FEW: the initiator never counts)."""
    policy = current_policy(uow, s.org_id)
    r = dom.route(policy, facts(deps, uow, s, policy), role_members(uow, s.org_id))
    if r.action is dom.Action.APPROVE:
        short = dom.short_of_approvers(r, s.initiator_id)
        if short is not None:
            raise Err.APPROVERS_TOO_FEW.error(
                fields={"group": f"{short}: too few approvers besides the initiator"})
    return r


def open_approval(deps: Deps, uow: UnitOfWork, s: Subject, r: Route) -> Approval:
    """Records the approval `r` asks for and tells the first level; the caller's unit of
    work writes the subject beside it."""
    assert r.action is dom.Action.APPROVE and r.stages, r
    assert s.kind in deps.handlers.approval_subjects, f"no approval subject {s.kind}"
    policy = policy_version(uow, s.org_id, r.policy_version)
    now = deps.clock.now_ms()
    a = Approval(id=deps.rand.new_id(), subject_kind=s.kind, subject_id=s.id,
                 org_id=s.org_id, initiator_id=s.initiator_id,
                 policy_version=r.policy_version, rule_index=r.rule_index, stages=r.stages,
                 level=0, state=ApprovalState.PENDING, amount_minor=s.amount_minor,
                 currency=s.currency, summary=s.summary[:200],
                 expires_ms=now + policy.approval_ttl_ms, decided_ms=None, created_ms=now,
                 updated_ms=now)
    uow.repo(Approval).add(a)
    uow.audit(actor_id=s.initiator_id, actor_kind="customer", action="approval.open",
              object_type=s.kind, object_id=s.id,
              after={"approval_id": a.id, "policy_version": r.policy_version,
                     "rule": r.rule_index + 1,
                     "levels": [f"{st.required} of {len(st.approvers)} {st.group}"
                                for st in r.stages]})
    _tell_level(deps, uow, a)
    return a


def _tell_level(deps: Deps, uow: UnitOfWork, a: Approval) -> None:
    """The approvers of the level now deciding (the initiator excepted) are told."""
    for user_id in a.stages[a.level].approvers:
        if user_id == a.initiator_id:
            continue
        inbox.record(deps, uow, user_id=user_id, topic=Topic.APPROVAL_REQUIRED,
                     subject_type=SubjectType.APPROVAL, subject_id=a.id,
                     event=f"{a.id}:{a.level}",
                     params={"amount_minor": a.amount_minor, "currency": a.currency,
                             "summary": a.summary, "level": a.level + 1})
        user = uow.repo(User).get(user_id)
        if user is not None:
            codes.notify_user(deps, uow, user, mail_text.Mail.APPROVAL_REQUIRED,
                              summary=a.summary, level=a.level + 1)
    _event(deps, uow, a, "approval_required")


def _event(deps: Deps, uow: UnitOfWork, a: Approval, what: str) -> None:
    webhooks.enqueue(deps, uow, a.org_id, f"{a.subject_kind}.{what}",
                     {"event": f"{a.subject_kind}.{what}", "at_ms": deps.clock.now_ms(),
                      "approval": approval_json(a)})


def _tell_initiator(deps: Deps, uow: UnitOfWork, a: Approval, outcome: str) -> None:
    inbox.record(deps, uow, user_id=a.initiator_id, topic=Topic.APPROVAL_DECIDED,
                 subject_type=SubjectType.APPROVAL, subject_id=a.id,
                 event=f"{a.id}:{outcome}",
                 params={"amount_minor": a.amount_minor, "currency": a.currency,
                         "summary": a.summary, "outcome": outcome})


def approval_json(a: Approval) -> dict[str, Any]:
    return {"id": a.id, "subject_kind": a.subject_kind, "subject_id": a.subject_id,
            "org_id": a.org_id, "initiator_id": a.initiator_id,
            "policy_version": a.policy_version, "rule": a.rule_index + 1,
            "levels": [{"group": s.group, "required": s.required,
                        "approvers": list(s.approvers)} for s in a.stages],
            "level": a.level + 1, "state": a.state, "amount_minor": a.amount_minor,
            "currency": a.currency, "summary": a.summary, "expires_ms": a.expires_ms,
            "decided_ms": a.decided_ms, "created_ms": a.created_ms}


# --- deciding ------------------------------------------------------------------------------


def _kind(deps: Deps, a: Approval) -> ApprovalSubject:
    kind = deps.handlers.approval_subjects.get(a.subject_kind)
    assert kind is not None, f"approval {a.id}: no handler for {a.subject_kind}"
    return kind


def _locked(uow: UnitOfWork, kind: str, subject_id: str) -> Approval:
    found = uow.repo(Approval).one(subject_kind=kind, subject_id=subject_id[:64])
    if found is None:
        raise not_found("approval")
    a = uow.repo(Approval).get(found.id, for_update=True)
    assert a is not None
    return a


def _close(deps: Deps, uow: UnitOfWork, a: Approval, state: ApprovalState) -> Approval:
    now = deps.clock.now_ms()
    done = dataclasses.replace(a, state=state, decided_ms=now, updated_ms=now)
    uow.repo(Approval).update(done)
    kind = _kind(deps, a)
    # the approval's event first, then whatever the subject does next (its own events)
    if state is ApprovalState.APPROVED:
        _event(deps, uow, done, "approved")
        kind.approved(deps, uow, done)
    else:
        # `<kind>.approval_rejected|approval_expired`: a payment's own state event
        # (`payment.rejected`, `payment.expired`) follows from its handler
        _event(deps, uow, done, f"approval_{state}")
        kind.refused(deps, uow, done)
    _tell_initiator(deps, uow, done, str(state))
    return done


def _expire(deps: Deps, uow: UnitOfWork, a: Approval) -> Approval:
    uow.audit(actor_id=None, actor_kind="system", action="approval.expired",
              object_type=a.subject_kind, object_id=a.subject_id,
              after={"approval_id": a.id, "level": a.level + 1})
    return _close(deps, uow, a, ApprovalState.EXPIRED)


def decide(deps: Deps, who: Principal, kind: str, subject_id: str, decision: str, *,
           note: str = "", idempotency_key: str | None) -> Approval:
    """One approver's decision on a subject's approval. A retry under the same
    Idempotency-Key returns the approval as it stands; a second decision by the same person
    is refused (ALREADY_DECIDED). Approvers need Perm.PAY_APPROVE in the organisation."""
    key = idempotency.check_key(idempotency_key)
    problems = Problems()
    if decision not in tuple(Decision):
        problems.add("decision", "approve or reject")
    if len(note) > dom.NOTE_LEN_MAX or not note.isprintable():
        problems.add("note", f"at most {dom.NOTE_LEN_MAX} printable characters")
    problems.raise_if_any()
    asked = {"kind": kind, "subject_id": subject_id, "decision": decision, "note": note}
    with deps.uow() as uow:
        a = _locked(uow, kind, subject_id)
        require_org(uow, who, a.org_id, Perm.PAY_APPROVE)
        if replay.prior(uow, who.user_id, key, "approval.decide", asked) is not None:
            return a
        now = deps.clock.now_ms()
        if a.state in dom.OPEN_STATES and now >= a.expires_ms:
            _expire(deps, uow, a)
            uow.commit()  # the expiry stands; this decision came too late
            raise Err.APPROVAL_EXPIRED.error()
        votes = uow.repo(Vote).many(approval_id=a.id)
        state = dom.vote(a, votes, who.user_id, Decision(decision), now)
        v = Vote(id=deps.rand.new_id(), approval_id=a.id, level=a.level, user_id=who.user_id,
                 decision=Decision(decision), note=note, created_ms=now)
        uow.repo(Vote).add(v)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action=f"approval.{decision}", object_type=a.subject_kind,
                  object_id=a.subject_id,
                  after={"approval_id": a.id, "level": a.level + 1, "note": note})
        a = _after_vote(deps, uow, a, [*votes, v], state)
        replay.remember(deps, uow, who.user_id, key, "approval.decide", asked, a.id)
        uow.commit()
    return a


def decide_by_id(deps: Deps, who: Principal, approval_id: str, decision: str, *,
                 note: str = "", idempotency_key: str | None) -> Approval:
    """`decide` on the approval `approval_id`, whatever its subject's kind."""
    with deps.reader() as uow:
        a = uow.repo(Approval).get(approval_id[:64])
        if a is None:
            raise not_found("approval")
    return decide(deps, who, a.subject_kind, a.subject_id, decision, note=note,
                  idempotency_key=idempotency_key)


def _after_vote(deps: Deps, uow: UnitOfWork, a: Approval, votes: list[Vote],
                state: ApprovalState) -> Approval:
    now = deps.clock.now_ms()
    if state is ApprovalState.REJECTED:
        return _close(deps, uow, a, state)
    if state is ApprovalState.APPROVED:
        kind = _kind(deps, a)
        policy = policy_version(uow, a.org_id, a.policy_version)
        if kind.price_moved is not None and kind.price_moved(deps, uow, a, policy.tolerance_bp):
            waiting = dataclasses.replace(a, state=ApprovalState.AWAITING_CONSENT,
                                          level=len(a.stages) - 1, updated_ms=now)
            uow.repo(Approval).update(waiting)
            _tell_initiator(deps, uow, waiting, "consent")
            _event(deps, uow, waiting, "consent_required")
            return waiting
        return _close(deps, uow, a, state)
    level = dom.next_level(a, votes)
    moved = dataclasses.replace(a, level=level, updated_ms=now)
    uow.repo(Approval).update(moved)
    if level != a.level:
        _tell_level(deps, uow, moved)
    return moved


def consent(deps: Deps, who: Principal, kind: str, subject_id: str, *, accept: bool,
            idempotency_key: str | None) -> Approval:
    """The payer's answer to a re-quote after the last approval: accept the price of now
    (the subject goes on), or decline (rejected, its reservation released). The initiator
    answers: they made the payment and its terms."""
    key = idempotency.check_key(idempotency_key)
    asked = {"kind": kind, "subject_id": subject_id, "accept": accept}
    with deps.uow() as uow:
        a = _locked(uow, kind, subject_id)
        require_org(uow, who, a.org_id, Perm.PAY_INITIATE)
        if replay.prior(uow, who.user_id, key, "approval.consent", asked) is not None:
            return a
        if a.state is not ApprovalState.AWAITING_CONSENT:
            raise Err.CONSENT_NOT_NEEDED.error()
        if who.user_id != a.initiator_id:
            raise Err.FORBIDDEN.error("the payment's initiator consents to its new price")
        if deps.clock.now_ms() >= a.expires_ms:
            _expire(deps, uow, a)
            uow.commit()
            raise Err.APPROVAL_EXPIRED.error()
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="approval.consent" if accept else "approval.consent_declined",
                  object_type=a.subject_kind, object_id=a.subject_id,
                  after={"approval_id": a.id})
        handler = _kind(deps, a)
        if accept:
            assert handler.requote is not None, a.subject_kind
            handler.requote(deps, uow, a)
        a = _close(deps, uow, a, ApprovalState.APPROVED if accept else ApprovalState.REJECTED)
        replay.remember(deps, uow, who.user_id, key, "approval.consent", asked, a.id)
        uow.commit()
    return a


def withdrawn(deps: Deps, uow: UnitOfWork, kind: str, subject_id: str,
              who: Principal) -> None:
    """The subject was withdrawn by its side (a payment cancelled while it waited): its
    open approval ends (rejected, no more decisions) in the caller's unit of work; the
    caller releases what the subject reserved. Nothing to do without an open approval."""
    found = uow.repo(Approval).one(subject_kind=kind, subject_id=subject_id[:64])
    if found is None:
        return
    a = uow.repo(Approval).get(found.id, for_update=True)
    assert a is not None
    if a.state not in dom.OPEN_STATES:
        return
    now = deps.clock.now_ms()
    done = dataclasses.replace(a, state=ApprovalState.REJECTED, decided_ms=now, updated_ms=now)
    uow.repo(Approval).update(done)
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="approval.withdrawn",
              object_type=kind, object_id=subject_id, after={"approval_id": a.id})
    _event(deps, uow, done, "approval_withdrawn")


def expire_due(deps: Deps) -> int:
    """Expires open approvals past their time (their subjects release what they hold);
    returns how many. Run periodically; idempotent."""
    done = 0
    with deps.uow() as uow:
        now = deps.clock.now_ms()
        for state in dom.OPEN_STATES:
            for a in uow.repo(Approval).many(state=state, below={"expires_ms": now + 1},
                                             limit=EXPIRE_BATCH_MAX):
                locked = uow.repo(Approval).get(a.id, for_update=True)
                if locked is not None and locked.state in dom.OPEN_STATES:
                    _expire(deps, uow, locked)
                    done += 1
        uow.commit()
    return done


# --- reading -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One decision as a timeline shows it."""

    level: int  # 1-based
    user_id: str
    name: str
    decision: Decision
    note: str
    at_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class View:
    approval: Approval
    steps: tuple[Step, ...]
    can_decide: bool  # the caller may approve or reject it now


def _view(uow: UnitOfWork, who: Principal, a: Approval, now_ms: int) -> View:
    votes = sorted(uow.repo(Vote).many(approval_id=a.id),
                   key=lambda v: (v.level, v.created_ms, v.id))
    names = {u.id: u.name for u in (uow.repo(User).get(v.user_id) for v in votes) if u}
    steps = tuple(Step(level=v.level + 1, user_id=v.user_id, name=names.get(v.user_id, ""),
                       decision=v.decision, note=v.note, at_ms=v.created_ms) for v in votes)
    can = (a.state is ApprovalState.PENDING and now_ms < a.expires_ms
           and who.user_id != a.initiator_id
           and who.user_id in a.stages[a.level].approvers
           and all(v.user_id != who.user_id for v in votes))
    return View(approval=a, steps=steps, can_decide=can)


def queue(deps: Deps, who: Principal, org_id: str, *, state: str | None = "pending",
          limit: int = dom.QUEUE_PAGE_MAX) -> list[View]:
    """The organisation's approvals (open ones by default), newest first, each saying
    whether the caller may decide it now."""
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_READ)
        if state is not None and state not in tuple(ApprovalState):
            raise Err.INVALID_FIELDS.error(fields={"state": f"one of {', '.join(ApprovalState)}"})
        eq: dict[str, Any] = {"org_id": org_id}
        if state is not None:
            eq["state"] = state
        rows = uow.repo(Approval).many(order_by="created_ms", descending=True,
                                       limit=max(1, min(limit, dom.QUEUE_PAGE_MAX)), **eq)
        now = deps.clock.now_ms()
        return [_view(uow, who, a, now) for a in rows]


def of_subject(deps: Deps, uow: UnitOfWork, who: Principal, kind: str,
               subject_id: str) -> View | None:
    """The subject's approval with its decisions (None: it needed none). The caller has
    already checked the reader may see the subject."""
    a = uow.repo(Approval).one(subject_kind=kind, subject_id=subject_id[:64])
    return None if a is None else _view(uow, who, a, deps.clock.now_ms())


def get(deps: Deps, who: Principal, approval_id: str) -> View:
    """One approval for a member of its organisation."""
    with deps.reader() as uow:
        a = uow.repo(Approval).get(approval_id[:64])
        if a is None:
            raise not_found("approval")
        require_org(uow, who, a.org_id, Perm.ORG_READ)
        return _view(uow, who, a, deps.clock.now_ms())


def of_payment(deps: Deps, who: Principal, payment_id: str) -> View:
    """A payment's approval (the caller has read the payment); NOT_FOUND: it needed none."""
    with deps.reader() as uow:
        view = of_subject(deps, uow, who, "payment", payment_id)
    if view is None:
        raise not_found("approval")
    return view
