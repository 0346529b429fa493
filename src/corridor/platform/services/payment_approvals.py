"""What an approval means for a payment (issue 17): the payment kind's entry in
bootstrap.HANDLERS.approval_subjects (services/approvals.py decides; this acts).

A payment routed to approval waits `pending_approval` with its transfer `held`, so its
money stays reserved (funds.available_minor counts held debits) and nothing is signed.

    approved   -> screening, then as the monitors found at creation: an open alert of
                  theirs on it holds it (on_hold: compliance decides, as today), else
                  ready -> submitted (its transfer queued)
    rejected   -> rejected, its transfer refused: the reservation ends
    expired    -> expired, likewise
    re-quote   at the last approval a cross-currency payment is priced again for the
               same debit; beyond the policy's tolerance the payer consents first, and
               the payment then carries the new price and amount received

The monitors screen a payment when it is created (services/payments.py), so compliance
sees it at once; their outcome applies when it leaves approval. A refusal by the monitors
(decline) rejects it at creation, before anyone is asked to approve it.
"""

from __future__ import annotations

import dataclasses

from corridor.platform.domain import approvals as dom
from corridor.platform.domain import fx, money
from corridor.platform.domain.compliance import Alert, AlertState
from corridor.platform.domain.payments import Payment, PaymentStatus, moved
from corridor.platform.domain.transfers import Transfer, TransferStatus
from corridor.platform.services import payments, quotes
from corridor.platform.services.handlers import ApprovalSubject
from corridor.platform.services.ports import Deps, UnitOfWork

S = PaymentStatus
KIND = dom.SubjectKind.PAYMENT
HOLDING_OUTCOMES = frozenset({"review", "block"})  # domain/monitoring.Outcome, as stored
REFUSED_CODES = {dom.ApprovalState.REJECTED: "APPROVAL_REJECTED",
                 dom.ApprovalState.EXPIRED: "APPROVAL_EXPIRED"}
REFUSED_MESSAGES = {dom.ApprovalState.REJECTED: "rejected by an approver",
                    dom.ApprovalState.EXPIRED: "not approved in time"}


def _waiting(uow: UnitOfWork, a: dom.Approval) -> tuple[Payment, Transfer]:
    p = uow.repo(Payment).get(a.subject_id, for_update=True)
    assert p is not None and p.status == S.PENDING_APPROVAL, f"approval {a.id}: {p}"
    assert p.transfer_id is not None, f"payment {p.id} waits without a transfer"
    t = uow.repo(Transfer).get(p.transfer_id, for_update=True)
    assert t is not None and t.status == TransferStatus.HELD, f"payment {p.id}: {t}"
    return p, t


def _held_by_monitors(uow: UnitOfWork, payment_id: str) -> bool:
    return any(al.state == AlertState.OPEN and al.outcome in HOLDING_OUTCOMES
               for al in uow.repo(Alert).many(source_type="payment", source_id=payment_id))


def approved(deps: Deps, uow: UnitOfWork, a: dom.Approval) -> None:
    p, t = _waiting(uow, a)
    now = deps.clock.now_ms()
    screening = moved(p, S.SCREENING, now)
    if _held_by_monitors(uow, p.id):
        done = moved(screening, S.ON_HOLD, now)
        steps: tuple[PaymentStatus, ...] = (S.SCREENING, S.ON_HOLD)
    else:
        uow.repo(Transfer).update(dataclasses.replace(t, status=TransferStatus.QUEUED,
                                                      updated_ms=now))
        done = moved(moved(screening, S.READY, now), S.SUBMITTED, now)
        steps = (S.SCREENING, S.READY, S.SUBMITTED)
    uow.repo(Payment).update(done)
    payments.notify(deps, uow, done, steps)


def refused(deps: Deps, uow: UnitOfWork, a: dom.Approval) -> None:
    p, t = _waiting(uow, a)
    now = deps.clock.now_ms()
    code, message = REFUSED_CODES[a.state], REFUSED_MESSAGES[a.state]
    uow.repo(Transfer).update(dataclasses.replace(
        t, status=TransferStatus.REJECTED, result_code=code, result_message=message,
        updated_ms=now))
    state = S.EXPIRED if a.state is dom.ApprovalState.EXPIRED else S.REJECTED
    done = moved(p, state, now, reason_code=code, reason_message=message)
    uow.repo(Payment).update(done)
    payments.notify(deps, uow, done, (state,))


def _repriced(deps: Deps, p: Payment) -> fx.Priced:
    return quotes.price(deps, sell_asset=p.sell_code, buy_asset=p.buy_code,
                        sell_amount=money.format_minor(p.sell_amount_minor, p.sell_code),
                        buy_amount=None)


def price_moved(deps: Deps, uow: UnitOfWork, a: dom.Approval, tolerance_bp: int) -> bool:
    """Whether the payment's price moved beyond the tolerance since it was quoted (a
    same-currency payment has no rate to move)."""
    p = uow.repo(Payment).get(a.subject_id)
    assert p is not None
    if p.sell_code == p.buy_code:
        return False
    return dom.moved_beyond(p.price, str(_repriced(deps, p).price), tolerance_bp)


def requote(deps: Deps, uow: UnitOfWork, a: dom.Approval) -> None:
    """The payer consented: the same debit at the price of now; the recipient's leg of
    the held transfer carries the new amount."""
    p, t = _waiting(uow, a)
    priced = _repriced(deps, p)
    assert priced.sell_minor == p.sell_amount_minor, (priced, p.sell_amount_minor)
    now = deps.clock.now_ms()
    legs = tuple(dataclasses.replace(leg, amount_minor=priced.buy_minor)
                 if i == 1 else leg for i, leg in enumerate(t.legs))
    uow.repo(Transfer).update(dataclasses.replace(t, legs=legs, updated_ms=now))
    uow.repo(Payment).update(dataclasses.replace(
        p, price=str(priced.price), buy_amount_minor=priced.buy_minor,
        fee_minor=priced.fee_minor, updated_ms=now))
    uow.audit(actor_id=a.initiator_id, actor_kind="customer", action="payment.requoted",
              object_type="payment", object_id=p.id,
              before={"price": p.price, "buy_minor": p.buy_amount_minor},
              after={"price": str(priced.price), "buy_minor": priced.buy_minor})


SUBJECT = ApprovalSubject(approved=approved, refused=refused, price_moved=price_moved,
                          requote=requote)
