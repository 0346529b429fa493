"""Refund use cases (requirement P3; the cases and the amount policy are in
domain/refunds.py).

Customers (the payment's sender side only: its owner, or an organisation member who may
initiate payments) upload evidence and ask for a refund; staff holding `Perm.REFUND_REVIEW`
(support agents and compliance officers) work the queue and approve or reject, audited
with the state before and after. An approval queues a new on-chain transfer linked to the
refund, once the compliance monitors have seen it as a movement (held for a case, or
declined: services/movements.py); the outbox worker's outcome closes it through
`on_transfer`. Payments that failed or expired are released automatically by
`release_not_included`, which the payments area calls in the unit of work that fails the
payment (and `sweep_not_included` catches any it missed). A credited payment whose bank
payout failed or was returned is released the same way by `release_failed_payout`, which
the rails area calls. Those automatic releases give the sender back their own money from
a payment that did not complete; they are not screened again (the payment was).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

from corridor.platform.domain import idempotency
from corridor.platform.domain import refunds as dom
from corridor.platform.domain.errors import Err, Kind, PlatformError, Problems, not_found
from corridor.platform.domain.idempotency import IdempotentRequest
from corridor.platform.domain.kyc import FILE_KINDS, file_kind
from corridor.platform.domain.monitoring import Movement, MovementKind
from corridor.platform.domain.monitoring import Outcome as MonitorOutcome
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.payments import Payment, PaymentStatus, moved
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import Withdrawal
from corridor.platform.domain.refunds import (
    Decision,
    Outcome,
    Refund,
    RefundFile,
    RefundKind,
    RefundStatus,
)
from corridor.platform.domain.roles import MONEY_PERMS, Perm
from corridor.platform.domain.transfers import (
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import OwnerType, Wallet
from corridor.platform.services import idempotency as replay
from corridor.platform.services import movements, settlement
from corridor.platform.services import notifications as inbox
from corridor.platform.services.access import acting_owner, require_org, require_staff
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

SWEEP_BATCH_MAX = 500
SUPERSEDED = "superseded: the bank payout failed, the payment is refunded automatically"

@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RefundView:
    """A refund with its payment and, for staff, the evidence records."""

    refund: Refund
    payment: Payment
    files: tuple[RefundFile, ...] = ()


# --- who may act on a payment ------------------------------------------------------------


def _payment(uow: UnitOfWork, payment_id: str, *, for_update: bool = False) -> Payment:
    p = uow.repo(Payment).get(payment_id[:64], for_update=for_update)
    if p is None:
        raise not_found("payment")
    return p


def _sender_side(uow: UnitOfWork, who: Principal, p: Payment, perm: Perm) -> None:
    """The caller is the payment's owner, or a member of the owning organisation whose
    role grants `perm`. Anyone else (the recipient included) learns nothing: NOT_FOUND."""
    if p.owner_type == "org":
        try:
            require_org(uow, who, p.owner_id, perm)
        except PlatformError as exc:
            if exc.kind is Kind.NOT_FOUND:
                raise not_found("payment") from None
            raise
        return
    if p.owner_id != who.user_id:
        raise not_found("payment")
    if perm in MONEY_PERMS:
        acting_owner(uow, who, None, perm)  # the customer is in good standing


def _file_context(owner_type: str, owner_id: str, file_id: str) -> str:
    return f"refund-file:{owner_type}:{owner_id}:{file_id}"


def _audit(uow: UnitOfWork, who: Principal | None, action: str, r: Refund,
           before: Refund | None = None, **extra: object) -> None:
    uow.audit(actor_id=who.user_id if who else None,
              actor_kind=who.kind.value if who else "system", action=action,
              object_type="refund", object_id=r.id,
              before=dom.summary(before) if before else None,
              after={**dom.summary(r), **extra}, ip=who.ip if who else "")


# --- customer side -----------------------------------------------------------------------


def upload_evidence(deps: Deps, who: Principal, data: bytes, content_type: str,
                    org_id: str | None = None) -> RefundFile:
    """Stores an evidence file (JPEG, PNG or PDF, checked by its bytes) encrypted for the
    caller or their organisation; a refund request then cites it by the returned id."""
    now = deps.clock.now_ms()
    size_max: int = deps.settings.upload_bytes_max
    with deps.uow() as uow:
        owner_type, owner_id = acting_owner(uow, who, org_id, Perm.PAY_INITIATE)
        if not data:
            raise Err.FILE_EMPTY.error("the file is empty",
                                       {"file": "empty"})
        if len(data) > size_max:
            raise Err.FILE_TOO_LARGE.error(
                f"files may be at most {size_max} bytes")
        kind = file_kind(data, content_type)
        if uow.repo(RefundFile).count(owner_type=owner_type, owner_id=owner_id) \
                >= dom.FILES_PER_OWNER_MAX:
            raise Err.REFUND_FILES_LIMIT.error(
                f"at most {dom.FILES_PER_OWNER_MAX} evidence files")
        file_id = deps.rand.new_id()
        ref = deps.files.put(data, context=_file_context(owner_type, owner_id, file_id))
        rec = RefundFile(id=file_id, owner_type=OwnerType(owner_type), owner_id=owner_id,
                         refund_id=None,
                         kind=kind, content_type=FILE_KINDS[kind][1], size=len(data),
                         sha256=hashlib.sha256(data).hexdigest(), ref=ref,
                         uploaded_by=who.user_id, created_ms=now)
        uow.repo(RefundFile).add(rec)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="refund.file.upload", object_type="refund_file", object_id=file_id,
                  after={"owner_type": owner_type, "owner_id": owner_id, "kind": kind,
                         "size": len(data), "sha256": rec.sha256}, ip=who.ip)
        uow.commit()
        return rec


def request(deps: Deps, who: Principal, payment_id: str, *, kind: str, reason: str,
            evidence: list[str], idempotency_key: str | None) -> Refund:
    """Asks for a refund of a credited payment (wrong payee, or revocation after
    finality), citing evidence uploaded before. A failed or expired payment needs no
    request: its automatic release is returned instead. A retry under the same
    Idempotency-Key returns the first answer."""
    key = idempotency.check_key(idempotency_key)
    asked = {"payment_id": payment_id, "kind": kind, "reason": reason,
             "evidence": list(evidence)}
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        p = _payment(uow, payment_id, for_update=True)
        _sender_side(uow, who, p, Perm.PAY_INITIATE)
        first = replay.prior(uow, who.user_id, key, "refund.request", asked)
        if first is not None:
            before = uow.repo(Refund).get(first)
            assert before is not None, "a remembered refund is never deleted"
            return before
        if p.status in dom.NOT_INCLUDED_STATES:
            r = release_not_included(deps, uow, p)
            replay.remember(deps, uow, who.user_id, key, "refund.request", asked, r.id)
            uow.commit()
            return r
        dom.check_request(kind, reason, evidence)
        dom.check_requestable(p)
        files = _cited(uow, p, evidence)
        # Provisional amounts (the policy's default: no platform error); the decision
        # sets the final ones.
        back, recover = dom.refund_amounts(p, platform_error=False, recoverable=True)
        r = dom.new_refund(id=deps.rand.new_id(), payment=p, kind=RefundKind(kind),
                           status=RefundStatus.REQUESTED, requested_by=who.user_id,
                           reason=reason.strip(), evidence=evidence, now_ms=now,
                           amount_minor=back, recover_minor=recover)
        uow.repo(Refund).add(r)
        for f in files:
            uow.repo(RefundFile).update(dataclasses.replace(f, refund_id=r.id))
        uow.repo(Payment).update(moved(p, PaymentStatus.REFUND_REQUESTED, now))
        _audit(uow, who, "refund.request", r, evidence=len(files))
        replay.remember(deps, uow, who.user_id, key, "refund.request", asked, r.id)
        uow.commit()
        return r


def request_with_evidence(deps: Deps, who: Principal, payment_id: str, *, kind: str,
                          reason: str, files: Sequence[tuple[bytes, str]],
                          idempotency_key: str | None) -> Refund:
    """The web form's one step: uploads the evidence sent with the request (each file
    through `upload_evidence`, so the API's size and type checks) and asks for the refund.
    Everything the request can be refused for is checked before the first file is stored
    (no orphan upload behind a refused form), and a retry under the same Idempotency-Key
    returns the first refund before any file is stored again. Two retries racing past that
    look both reach `request`: the second gets the first answer, its files stay unused
    (bounded by FILES_PER_OWNER_MAX)."""
    key = idempotency.check_key(idempotency_key)
    first = _prior_request(deps, who, key, payment_id)
    if first is not None:
        return first
    with deps.reader() as uow:
        p = _payment(uow, payment_id)
        _sender_side(uow, who, p, Perm.PAY_INITIATE)
        if p.status not in dom.NOT_INCLUDED_STATES:
            dom.check_request(kind, reason, [str(i) for i in range(len(files))])
            dom.check_requestable(p)
    ids = [upload_evidence(deps, who, data, content_type).id for data, content_type in files]
    try:
        return request(deps, who, payment_id, kind=kind, reason=reason, evidence=ids,
                       idempotency_key=key)
    except PlatformError as exc:
        again = _prior_request(deps, who, key, payment_id)
        if exc.err is Err.IDEMPOTENCY_KEY_REUSED and again is not None:
            return again
        raise


def _prior_request(deps: Deps, who: Principal, key: str, payment_id: str) -> Refund | None:
    """The refund an earlier request under `key` made for this payment; a key used for
    anything else is refused as reused."""
    with deps.reader() as uow:
        seen = uow.repo(IdempotentRequest).one(actor_id=who.user_id, key=key)
        if seen is None:
            return None
        r = uow.repo(Refund).get(seen.result_id) if seen.operation == "refund.request" \
            else None
        if r is None or r.payment_id != payment_id:
            raise idempotency.reused()
        return r


def mine(deps: Deps, who: Principal, limit: int, offset: int) -> tuple[list[Refund], int]:
    """The caller's own refunds (requested by them or released automatically for their
    payments), newest first, and how many there are."""
    limit, offset = page_bounds(limit, offset, dom.QUEUE_PAGE_MAX)
    with deps.reader() as uow:
        repo = uow.repo(Refund)
        return (repo.many(owner_type=OwnerType.USER, owner_id=who.user_id,
                          order_by="created_ms", descending=True, limit=limit, offset=offset),
                repo.count(owner_type=OwnerType.USER, owner_id=who.user_id))


def _cited(uow: UnitOfWork, p: Payment, evidence: list[str]) -> list[RefundFile]:
    """The evidence records, each the payment owner's and not cited before."""
    problems = Problems()
    files = []
    for i, file_id in enumerate(evidence):
        f = uow.repo(RefundFile).get(file_id[:64])
        if f is None or (f.owner_type, f.owner_id) != (p.owner_type, p.owner_id):
            problems.add(f"evidence.{i}", "no such file")
        elif f.refund_id is not None:
            problems.add(f"evidence.{i}", "already cited by another request")
        else:
            files.append(f)
    problems.raise_if_any()
    return files


def get(deps: Deps, who: Principal, refund_id: str) -> RefundView:
    """A refund of one of the caller's payments (or their organisation's)."""
    with deps.uow() as uow:
        r = uow.repo(Refund).get(refund_id[:64])
        if r is None:
            raise not_found("refund")
        p = _payment(uow, r.payment_id)
        try:
            _sender_side(uow, who, p, Perm.ORG_READ)
        except PlatformError as exc:
            if exc.kind is Kind.NOT_FOUND:
                raise not_found("refund") from None
            raise
        return RefundView(refund=r, payment=p)


def of_payment(deps: Deps, who: Principal, payment_id: str) -> list[Refund]:
    """Every refund of a payment, newest first (bounded: one open at a time)."""
    with deps.uow() as uow:
        p = _payment(uow, payment_id)
        _sender_side(uow, who, p, Perm.ORG_READ)
        return uow.repo(Refund).many(payment_id=p.id, order_by="created_ms", descending=True,
                                     limit=dom.QUEUE_PAGE_MAX)


# --- case 1: not included ----------------------------------------------------------------


def release_not_included(deps: Deps, uow: UnitOfWork, p: Payment, *,
                         reason: str | None = None) -> Refund:
    """The automatic release of a failed or expired payment, inside the caller's unit of
    work (the caller holds the payment row). Idempotent: a payment gets one such record.
    Nothing moved: the record is closed at once. The sender's leg moved: the sell amount
    is returned from the treasury by a new transfer."""
    assert p.status in dom.NOT_INCLUDED_STATES or p.status in (
        PaymentStatus.REFUND_REQUESTED, PaymentStatus.REFUNDED), p.status
    done = uow.repo(Refund).many(payment_id=p.id, kind=RefundKind.NOT_INCLUDED, limit=1)
    if done:
        return done[0]
    now = deps.clock.now_ms()
    t = uow.repo(Transfer).get(p.transfer_id) if p.transfer_id else None
    sender_moved = t is not None and t.status == TransferStatus.COMMITTED
    r = dom.new_refund(
        id=deps.rand.new_id(), payment=p, kind=RefundKind.NOT_INCLUDED,
        status=RefundStatus.PROCESSING if sender_moved else RefundStatus.REFUNDED,
        requested_by=None,
        reason=reason or f"payment {p.status}: funds released automatically",
        evidence=[], now_ms=now, amount_minor=p.sell_amount_minor,
    )
    if sender_moved:
        back = settlement.queue(
            deps, uow, purpose=Purpose.REFUND, ref_id=r.id, source=TREASURY,
            legs=[Leg(source=TREASURY, destination=wallet_ref(p.sender_wallet_id),
                      code=p.sell_code, amount_minor=p.sell_amount_minor)],
            memo=f"refund {p.uetr}")
        r = dataclasses.replace(r, transfer_id=back.id)
    uow.repo(Refund).add(r)
    if p.status == PaymentStatus.FAILED:  # expired is terminal: the record says it all
        p = moved(p, PaymentStatus.REFUND_REQUESTED, now)
        if not sender_moved:
            p = moved(p, PaymentStatus.REFUNDED, now)
        uow.repo(Payment).update(p)
    _audit(uow, None, "refund.release", r, sender_moved=sender_moved)
    return r


def release_failed_payout(deps: Deps, uow: UnitOfWork, p: Payment, *,
                          reason: str) -> Refund | None:
    """The bank payout of a credited payment (external recipient) failed or was returned:
    its money is back in the treasury, so the sell amount, fee included, goes back to the
    sender by a new transfer (case 1: the payment did not complete). Inside the caller's
    unit of work, the payment row held; the payment moves credited -> refund_requested,
    and to refunded when the return commits. A refund the customer asked for and staff
    have not decided yet is closed as superseded. Idempotent: a payment gets one release.
    Returns None when the money is already being returned another way (a refund staff
    approved): nothing is done, operations must look."""
    released = uow.repo(Refund).many(payment_id=p.id, kind=RefundKind.NOT_INCLUDED, limit=1)
    if released:
        return released[0]
    now = deps.clock.now_ms()
    if p.status == PaymentStatus.REFUND_REQUESTED:
        open_ = uow.repo(Refund).one(open_payment_id=p.id)
        if open_ is None or open_.status != RefundStatus.REQUESTED:
            return None
        open_ = uow.repo(Refund).get(open_.id, for_update=True)
        assert open_ is not None
        closed = dom.with_status(open_, RefundStatus.REJECTED, now, decided_ms=now,
                                 decision_reason=SUPERSEDED)
        uow.repo(Refund).update(closed)
        _audit(uow, None, "refund.superseded", closed, before=open_)
    elif p.status == PaymentStatus.CREDITED:
        p = moved(p, PaymentStatus.REFUND_REQUESTED, now)
        uow.repo(Payment).update(p)
    else:
        return None
    return release_not_included(deps, uow, p, reason=reason)


def sweep_not_included(deps: Deps, limit: int = SWEEP_BATCH_MAX) -> int:
    """Releases failed or expired payments that have no release record yet (a safety net
    for the worker); returns how many it released."""
    count = 0
    with deps.uow() as uow:
        for status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED):
            for p in uow.repo(Payment).many(status=status, order_by="updated_ms", limit=limit):
                if uow.repo(Refund).count(payment_id=p.id, kind=RefundKind.NOT_INCLUDED):
                    continue
                locked = uow.repo(Payment).get(p.id, for_update=True)
                assert locked is not None
                release_not_included(deps, uow, locked)
                count += 1
        uow.commit()
    return count


# --- staff side --------------------------------------------------------------------------


def review_queue(deps: Deps, who: Principal, limit: int,
                 offset: int) -> tuple[list[Refund], int]:
    """Requests waiting for a decision, oldest first, and how many there are."""
    require_staff(who, Perm.REFUND_REVIEW)
    limit, offset = page_bounds(limit, offset, dom.QUEUE_PAGE_MAX)
    with deps.uow() as uow:
        repo = uow.repo(Refund)
        return (repo.many(status=RefundStatus.REQUESTED, order_by="created_ms", limit=limit,
                          offset=offset),
                repo.count(status=RefundStatus.REQUESTED))


def _staff_refund(uow: UnitOfWork, refund_id: str, *, for_update: bool = False) -> Refund:
    r = uow.repo(Refund).get(refund_id[:64], for_update=for_update)
    if r is None:
        raise not_found("refund")
    return r


def staff_view(deps: Deps, who: Principal, refund_id: str) -> RefundView:
    """A refund, its payment and its evidence records (audited)."""
    require_staff(who, Perm.REFUND_REVIEW)
    with deps.uow() as uow:
        r = _staff_refund(uow, refund_id)
        files = tuple(uow.repo(RefundFile).many(refund_id=r.id, order_by="created_ms",
                                                limit=dom.EVIDENCE_FILES_MAX))
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="refund.view",
                  object_type="refund", object_id=r.id, ip=who.ip)
        uow.commit()
        return RefundView(refund=r, payment=_payment(uow, r.payment_id), files=files)


def staff_file(deps: Deps, who: Principal, refund_id: str,
               file_id: str) -> tuple[RefundFile, bytes]:
    """One evidence file of a refund, decrypted (audited)."""
    require_staff(who, Perm.REFUND_REVIEW)
    with deps.uow() as uow:
        r = _staff_refund(uow, refund_id)
        f = uow.repo(RefundFile).get(file_id[:64])
        if f is None or f.refund_id != r.id:
            raise not_found("file")
        data = deps.files.get(f.ref, context=_file_context(f.owner_type, f.owner_id, f.id))
        assert hashlib.sha256(data).hexdigest() == f.sha256, f"file {f.id} does not match"
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="refund.file.download", object_type="refund_file", object_id=f.id,
                  after={"refund_id": r.id}, ip=who.ip)
        uow.commit()
        return f, data


def decide(deps: Deps, who: Principal, refund_id: str, decision: Decision,
           idempotency_key: str | None) -> RefundView:
    """Approves (queueing the return transfer) or rejects (the payment is credited again)
    a requested refund; the reason and the state before and after go to the audit trail.
    A retry under the same Idempotency-Key returns the refund as it stands."""
    require_staff(who, Perm.REFUND_REVIEW)
    key = idempotency.check_key(idempotency_key)
    asked = {"refund_id": refund_id, **dataclasses.asdict(decision)}
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        r = _staff_refund(uow, refund_id, for_update=True)
        if replay.prior(uow, who.user_id, key, "refund.decide", asked) is not None:
            return RefundView(refund=r, payment=_payment(uow, r.payment_id))
        dom.check_decision(r, decision)
        p = _payment(uow, r.payment_id, for_update=True)
        common = dict(decided_by=who.user_id, decided_ms=now,
                      decision_reason=decision.reason.strip())
        if decision.outcome == Outcome.REJECT:
            new = dom.with_status(r, RefundStatus.REJECTED, now, **common)
            p = moved(p, PaymentStatus.CREDITED, now)
        else:
            payout = uow.repo(Withdrawal).one(payment_id=p.id)
            dom.check_approvable(None if payout is None else payout.status)
            new = _approved(deps, uow, r, p, decision.platform_error, now, common)
            if new.status == RefundStatus.REJECTED:  # declined by compliance
                p = moved(p, PaymentStatus.CREDITED, now)
        uow.repo(Refund).update(new)
        uow.repo(Payment).update(p)
        if new.status != RefundStatus.HELD:  # a held refund's customer hears of its case
            _decided(deps, uow, new, p)
        _audit(uow, who, "refund.decide", new, before=r, decision=decision.outcome,
               reason=new.decision_reason)
        replay.remember(deps, uow, who.user_id, key, "refund.decide", asked, r.id)
        uow.commit()
        return RefundView(refund=new, payment=p)


def _decided(deps: Deps, uow: UnitOfWork, r: Refund, p: Payment) -> None:
    """The requester's notification of the decision: approved (processing) or not."""
    outcome = Outcome.REJECT if r.status == RefundStatus.REJECTED else Outcome.APPROVE
    inbox.record(deps, uow, user_id=inbox.user_of(r.owner_type, r.owner_id, r.requested_by),
                 topic=Topic.REFUND_DECIDED, subject_type=SubjectType.PAYMENT,
                 subject_id=p.id, event=r.id,
                 params={"outcome": outcome, "amount_minor": r.amount_minor,
                         "currency": r.code})


def _approved(deps: Deps, uow: UnitOfWork, r: Refund, p: Payment, platform_error: bool,
              now: int, common: dict[str, object]) -> Refund:
    """The approved refund's return transfer, after the compliance monitors saw it as a
    movement (services/movements.py): queued (processing), held unsigned (held, for its
    case), or, declined, none at all (rejected: the payment stands as credited)."""
    recipient = (uow.repo(Wallet).get(p.recipient_wallet_id)
                 if p.recipient_wallet_id else None)
    # Money can be taken back only from a wallet whose key the platform holds.
    recoverable = recipient is not None and recipient.custodial
    back, recover = dom.refund_amounts(p, platform_error=platform_error,
                                       recoverable=recoverable)
    amounts = dict(amount_minor=back, recover_minor=recover, platform_error=platform_error)
    outcome = movements.judge(deps, uow, _movement(deps, r, p, back),
                              subject=(p.owner_type, p.owner_id))
    if outcome is MonitorOutcome.DECLINE:
        return dom.with_status(r, RefundStatus.REJECTED, now, failure_code=movements.DECLINED,
                               **amounts, **common)
    legs = [Leg(source=TREASURY, destination=wallet_ref(p.sender_wallet_id),
                code=p.sell_code, amount_minor=back)]
    if recover:
        assert recipient is not None
        legs.insert(0, Leg(source=wallet_ref(recipient.id), destination=TREASURY,
                           code=p.buy_code, amount_minor=recover))
    held = outcome is not MonitorOutcome.APPROVE
    t = settlement.queue(deps, uow, purpose=Purpose.REFUND, ref_id=r.id, source=TREASURY,
                         legs=legs, memo=f"refund {p.uetr}", held=held)
    return dom.with_status(r, RefundStatus.HELD if held else RefundStatus.PROCESSING, now,
                           transfer_id=t.id, **amounts, **common)


def _movement(deps: Deps, r: Refund, p: Payment, back_minor: int) -> Movement:
    """A refund as the monitors see it: the original payment reversed, its recipient's
    side sending and its sender (whose name is screened) receiving."""
    sender = p.recipient_user_id or (f"addr:{p.recipient_address}" if p.recipient_address
                                     else f"payee:{p.id}")
    return Movement(id=r.id, kind=MovementKind.REFUND, at_ms=deps.clock.now_ms(),
                    sender=sender, sender_country=None, receiver=p.owner_id,
                    receiver_country=None, receiver_name=p.sender_name,
                    amount_minor=back_minor, currency=p.sell_code,
                    usd_minor=movements.usd_minor(deps, back_minor, p.sell_code))


# --- a compliance case's decisions (services/case_holds.py) ------------------------------


def _held(uow: UnitOfWork, refund_id: str) -> tuple[Refund, Transfer]:
    r = uow.repo(Refund).get(refund_id, for_update=True)
    assert r is not None and r.status == RefundStatus.HELD and r.transfer_id, r
    t = uow.repo(Transfer).get(r.transfer_id, for_update=True)
    assert t is not None and t.status == TransferStatus.HELD, f"refund {r.id}: {t}"
    return r, t


def release_held(deps: Deps, uow: UnitOfWork, refund_id: str) -> Refund:
    """An officer released a held refund: its return transfer joins the outbox
    (processing) and settles as any other. Inside the case's unit of work."""
    r, t = _held(uow, refund_id)
    now = deps.clock.now_ms()
    uow.repo(Transfer).update(dataclasses.replace(t, status=TransferStatus.QUEUED,
                                                  updated_ms=now))
    new = dom.with_status(r, RefundStatus.PROCESSING, now)
    uow.repo(Refund).update(new)
    _decided(deps, uow, new, _payment(uow, r.payment_id))
    return new


def return_held(deps: Deps, uow: UnitOfWork, refund_id: str) -> Refund:
    """An officer refused a held refund: its transfer is refused unsigned (nothing left
    the treasury or the recipient), the refund is rejected and the payment stands as
    credited again (it may be asked about anew)."""
    r, t = _held(uow, refund_id)
    now = deps.clock.now_ms()
    uow.repo(Transfer).update(dataclasses.replace(
        t, status=TransferStatus.REJECTED, result_code=movements.RETURNED,
        result_message=movements.RETURNED_MESSAGE, updated_ms=now))
    new = dom.with_status(r, RefundStatus.REJECTED, now, failure_code=movements.RETURNED)
    uow.repo(Refund).update(new)
    p = _payment(uow, r.payment_id, for_update=True)
    if p.status == PaymentStatus.REFUND_REQUESTED:
        p = moved(p, PaymentStatus.CREDITED, now)
        uow.repo(Payment).update(p)
    _decided(deps, uow, new, p)
    return new


# --- the chain's answer ------------------------------------------------------------------


def on_transfer(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """Closes the refund a REFUND transfer served, then runs the table's `refund_settled`
    handlers. Idempotent: a closed refund is left."""
    r = uow.repo(Refund).get(t.ref_id, for_update=True)
    if r is None or r.status != RefundStatus.PROCESSING or r.transfer_id != t.id:
        return
    now = deps.clock.now_ms()
    p = _payment(uow, r.payment_id, for_update=True)
    if t.status == TransferStatus.COMMITTED:
        new = dom.with_status(r, RefundStatus.REFUNDED, now, tx_id=t.tx_id, height=t.height)
        if p.status == PaymentStatus.REFUND_REQUESTED:
            uow.repo(Payment).update(moved(p, PaymentStatus.REFUNDED, now))
            inbox.record(deps, uow, user_id=inbox.user_of(p.owner_type, p.owner_id,
                                                          p.created_by),
                         topic=Topic.PAYMENT_REFUNDED, subject_type=SubjectType.PAYMENT,
                         subject_id=p.id, event=r.id,
                         params={"amount_minor": new.amount_minor, "currency": new.code})
    else:
        new = dom.with_status(r, RefundStatus.FAILED, now, failure_code=t.result_code)
        # A refused return of a requested refund: the payment stands as credited and may
        # be asked again. A refused automatic release stays refund_requested for
        # operations to resolve (the platform owes the money; nothing is guessed here).
        if p.status == PaymentStatus.REFUND_REQUESTED and r.kind != RefundKind.NOT_INCLUDED:
            uow.repo(Payment).update(moved(p, PaymentStatus.CREDITED, now))
    uow.repo(Refund).update(new)
    _audit(uow, None, "refund.settle", new, before=r, tx_id=t.tx_id,
           result_code=t.result_code)
    for handler in deps.handlers.refund_settled:
        handler(deps, uow, new)


def release_refused_payment(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """A payment's transfer the chain refused: its money goes back to the sender at once
    (listed after payments.on_transfer, in the unit of work that records the refusal)."""
    if t.status != TransferStatus.REJECTED:
        return
    p = uow.repo(Payment).get(t.ref_id, for_update=True)
    if p is not None and p.status in dom.NOT_INCLUDED_STATES:
        release_not_included(deps, uow, p)
