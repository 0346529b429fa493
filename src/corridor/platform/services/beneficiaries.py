"""An organisation's beneficiary book (issue 17): saved recipients, checked as a payment's
recipient is (a customer found by e-mail or phone, a ledger address, or bank details
verified by domain/bank.py: IBAN and BIC through schwifty), with a cooling-off period.

Cooling-off (the choice, documented in docs/architecture.md): a beneficiary added (or
whose bank details changed) less than the policy's `cooling_off_ms` ago counts as a NEW
beneficiary for the approval policy, as one not in the book at all does; a rule on
`beneficiary: new` then sends such payments to approval (or blocks them). The book does
not refuse on its own: the organisation's policy says what "new" costs.

A change of a bank beneficiary's details needs a second member: it is proposed (kept
sealed beside the current details) and opens an approval of kind `beneficiary_change`
(services/approvals.py; 1 of the members holding pay.approve, the proposer excluded).
Approved: the new details replace the old and cooling-off starts again; rejected or
expired: the proposal is dropped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain import approvals as dom
from corridor.platform.domain import idempotency
from corridor.platform.domain.approvals import BeneficiaryStatus, SavedBeneficiary
from corridor.platform.domain.errors import Err, Problems, not_found
from corridor.platform.domain.orgs import Membership
from corridor.platform.domain.payments import RecipientType
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import OrgRole, Perm, org_allows
from corridor.platform.domain.text import check_display_name
from corridor.platform.services import approvals, bank_details, payment_recipients, payments
from corridor.platform.services import idempotency as replay
from corridor.platform.services.access import require_org
from corridor.platform.services.handlers import ApprovalSubject
from corridor.platform.services.ports import Deps, UnitOfWork

KIND = dom.SubjectKind.BENEFICIARY_CHANGE
BOOK_MAX = 1000  # beneficiaries of one organisation
NAME_LEN_MAX = 200


def _context(beneficiary_id: str, pending: bool = False) -> str:
    return f"beneficiary-account:{beneficiary_id}{':pending' if pending else ''}"


def _details(r: payment_recipients.Recipient, spec: dict[str, str]) -> dict[str, str]:
    if r.bank is not None:
        return {k: str(v) for k, v in bank_details.masked(r.bank).items() if k != "type"}
    if r.type == RecipientType.ADDRESS:
        return {"address": r.address or ""}
    return {"contact": payment_recipients.masked_contact(spec)}


def add(deps: Deps, who: Principal, org_id: str, *, name: str, recipient: dict[str, str],
        idempotency_key: str | None) -> SavedBeneficiary:
    """Saves a beneficiary (Perm.PAY_INITIATE); every problem with it reported at once.
    It counts as new until the policy's cooling-off period has passed."""
    with deps.reader() as uow:  # who may, before what they sent is judged
        require_org(uow, who, org_id, Perm.PAY_INITIATE)
    key = idempotency.check_key(idempotency_key)
    problems = Problems()
    label = check_display_name(name, problems, "name", NAME_LEN_MAX)
    spec = payment_recipients.recipient_shape(recipient, problems)
    problems.raise_if_any()
    asked = {"org_id": org_id, "name": label, "recipient": bank_details.masked(spec)}
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.PAY_INITIATE)
        first = replay.prior(uow, who.user_id, key, "beneficiary.add", asked)
        if first is not None:
            found = uow.repo(SavedBeneficiary).get(first)
            assert found is not None
            return found
        r = payment_recipients.resolve(uow, spec)
        party = payments.party_of(deps, r)
        if uow.repo(SavedBeneficiary).one(org_id=org_id, party=party) is not None:
            raise Err.BENEFICIARY_EXISTS.error()
        if uow.repo(SavedBeneficiary).count(org_id=org_id) >= BOOK_MAX:
            raise Err.INVALID_FIELDS.error(fields={"name": f"at most {BOOK_MAX} beneficiaries"})
        now = deps.clock.now_ms()
        policy = approvals.current_policy(uow, org_id)
        b_id = deps.rand.new_id()
        sealed = (None if r.bank is None else bank_details.seal(
            deps, bank_details.account_in(r.bank), _context(b_id)))
        b = SavedBeneficiary(
            id=b_id, org_id=org_id, name=label, recipient_type=str(r.type), party=party,
            details=_details(r, spec), account_sealed=sealed, status=BeneficiaryStatus.ACTIVE,
            pending_details=None, pending_sealed=None, pending_by=None, pending_change_id=None,
            cooling_until_ms=now + policy.cooling_off_ms, created_by=who.user_id,
            created_ms=now, updated_ms=now)
        uow.repo(SavedBeneficiary).add(b)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="beneficiary.add",
                  object_type="beneficiary", object_id=b.id,
                  after={"org_id": org_id, "name": label, "type": b.recipient_type,
                         "details": b.details, "cooling_until_ms": b.cooling_until_ms})
        replay.remember(deps, uow, who.user_id, key, "beneficiary.add", asked, b.id)
        uow.commit()
    return b


def book(deps: Deps, who: Principal, org_id: str) -> list[SavedBeneficiary]:
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_READ)
        return uow.repo(SavedBeneficiary).many(org_id=org_id, order_by="name",
                                               limit=BOOK_MAX)


def _mine(uow: UnitOfWork, org_id: str, beneficiary_id: str) -> SavedBeneficiary:
    b = uow.repo(SavedBeneficiary).get(beneficiary_id[:64], for_update=True)
    if b is None or b.org_id != org_id:
        raise not_found("beneficiary")
    return b


def _checkers(uow: UnitOfWork, org_id: str, maker_id: str) -> tuple[str, ...]:
    """Members who may approve (pay.approve), the proposer excepted."""
    return tuple(sorted(m.user_id for m in uow.repo(Membership).many(org_id=org_id)
                        if m.user_id != maker_id and org_allows(OrgRole(m.role),
                                                                Perm.PAY_APPROVE)))


def propose_change(deps: Deps, who: Principal, org_id: str, beneficiary_id: str,
                   bank: dict[str, str], *, idempotency_key: str | None) -> SavedBeneficiary:
    """Proposes new bank details for a bank beneficiary; they apply once a second member
    approves (an approval of kind `beneficiary_change`)."""
    with deps.reader() as uow:  # who may, before what they sent is judged
        require_org(uow, who, org_id, Perm.PAY_INITIATE)
    key = idempotency.check_key(idempotency_key)
    problems = Problems()
    checked = payment_recipients.check_bank(bank, problems)
    problems.raise_if_any()
    asked = {"beneficiary_id": beneficiary_id, "bank": bank_details.masked(checked)}
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.PAY_INITIATE)
        b = _mine(uow, org_id, beneficiary_id)
        if replay.prior(uow, who.user_id, key, "beneficiary.change", asked) is not None:
            return b
        if b.recipient_type != RecipientType.EXTERNAL:
            raise Err.INVALID_FIELDS.error(fields={"recipient": "only a bank beneficiary "
                                                                "has bank details"})
        if b.status is BeneficiaryStatus.CHANGE_PENDING:
            raise Err.CHANGE_PENDING.error()
        account = bank_details.account_in(checked)
        party = bank_details.beneficiary_party(deps, account)
        if party != b.party and uow.repo(SavedBeneficiary).one(org_id=org_id,
                                                                party=party) is not None:
            raise Err.BENEFICIARY_EXISTS.error()
        checkers = _checkers(uow, org_id, who.user_id)
        if not checkers:
            raise Err.APPROVERS_TOO_FEW.error()
        change_id = deps.rand.new_id()
        now = deps.clock.now_ms()
        proposed = dataclasses.replace(
            b, status=BeneficiaryStatus.CHANGE_PENDING,
            pending_details={k: str(v) for k, v in bank_details.masked(checked).items()},
            pending_sealed=bank_details.seal(deps, account, _context(b.id, pending=True)),
            pending_by=who.user_id, pending_change_id=change_id, updated_ms=now)
        uow.repo(SavedBeneficiary).update(proposed)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="beneficiary.change_proposed", object_type="beneficiary",
                  object_id=b.id, before=b.details, after=proposed.pending_details)
        policy = approvals.current_policy(uow, org_id)
        approvals.open_approval(
            deps, uow,
            approvals.Subject(kind=KIND, id=change_id, org_id=org_id,
                              initiator_id=who.user_id, usd_minor=0, amount_minor=0,
                              currency="", recipient_type=None, party=None,
                              summary=f"{b.name}: new bank details"),
            dom.Route(action=dom.Action.APPROVE, rule_index=-1,
                      policy_version=policy.version,
                      stages=(dom.StageSpec(group="pay.approve", required=1,
                                            approvers=checkers),)))
        replay.remember(deps, uow, who.user_id, key, "beneficiary.change", asked, b.id)
        uow.commit()
    return proposed


def _proposed(uow: UnitOfWork, a: dom.Approval) -> SavedBeneficiary:
    found = uow.repo(SavedBeneficiary).one(org_id=a.org_id, pending_change_id=a.subject_id)
    assert found is not None and found.status is BeneficiaryStatus.CHANGE_PENDING, a.id
    locked = uow.repo(SavedBeneficiary).get(found.id, for_update=True)
    assert locked is not None
    return locked


def _applied(deps: Deps, uow: UnitOfWork, a: dom.Approval) -> None:
    b = _proposed(uow, a)
    assert b.pending_sealed is not None and b.pending_details is not None
    account = deps.sealer.open(b.pending_sealed, _context(b.id, pending=True)).decode()
    now = deps.clock.now_ms()
    policy = approvals.current_policy(uow, b.org_id)
    done = dataclasses.replace(
        b, details=b.pending_details, account_sealed=bank_details.seal(deps, account,
                                                                       _context(b.id)),
        party=bank_details.beneficiary_party(deps, account), status=BeneficiaryStatus.ACTIVE,
        pending_details=None, pending_sealed=None, pending_by=None, pending_change_id=None,
        cooling_until_ms=now + policy.cooling_off_ms, updated_ms=now)
    uow.repo(SavedBeneficiary).update(done)
    uow.audit(actor_id=None, actor_kind="system", action="beneficiary.changed",
              object_type="beneficiary", object_id=b.id, before=b.details, after=done.details)


def _dropped(deps: Deps, uow: UnitOfWork, a: dom.Approval) -> None:
    b = _proposed(uow, a)
    uow.repo(SavedBeneficiary).update(dataclasses.replace(
        b, status=BeneficiaryStatus.ACTIVE, pending_details=None, pending_sealed=None,
        pending_by=None, pending_change_id=None, updated_ms=deps.clock.now_ms()))
    uow.audit(actor_id=None, actor_kind="system", action="beneficiary.change_dropped",
              object_type="beneficiary", object_id=b.id, after={"approval": a.state})


SUBJECT = ApprovalSubject(approved=_applied, refused=_dropped)


def as_json(b: SavedBeneficiary, now_ms: int) -> dict[str, Any]:
    return {"id": b.id, "org_id": b.org_id, "name": b.name, "type": b.recipient_type,
            "details": b.details, "status": b.status,
            "pending_details": b.pending_details, "pending_change_id": b.pending_change_id,
            "cooling_until_ms": b.cooling_until_ms, "cooling_off": now_ms < b.cooling_until_ms,
            "created_ms": b.created_ms}
