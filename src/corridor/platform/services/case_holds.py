"""What a compliance case's RELEASE and RETURN mean, record kind by record kind (issue 16).

A case's alerts name their source (`source_type`, `source_id`): a payment, deposit,
withdrawal or refund the monitors held. This module is the one table of those kinds: how
to read such records as the case shows them (`Record`), whether each is still held, and
what releasing or returning one does. services/compliance.py dispatches through it and
does nothing kind-specific itself.

                 release                           return
    payment      held transfer queued:             transfer refused, payment rejected:
                 ready -> submitted                the sender's reservation ends
    deposit      minted if it fits the limits      sent back through its rail
                 (else held for the limits)
    withdrawal   burn queued: requested            burn refused: rejected, reservation ends
    refund       return transfer queued:           transfer refused: rejected, the payment
                 processing                        credited again

Each action runs in the case decision's unit of work on a record it locks and checks is
still held, so a decision acts once: a record no longer held is not listed again."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from corridor.platform.domain.monitoring import MovementKind
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.payments import Payment, PaymentStatus, moved
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from corridor.platform.domain.refunds import Refund, RefundStatus
from corridor.platform.domain.transfers import Transfer, TransferStatus
from corridor.platform.services import deposits, movements, payments, refunds, withdrawals
from corridor.platform.services import notifications as inbox
from corridor.platform.services.ports import Deps, UnitOfWork

S = PaymentStatus
READ_MAX = 200  # records of one kind a case view reads (a case is one customer's)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """A movement a case's alerts concern, as the case shows it, whatever its kind."""

    kind: MovementKind
    id: str
    owner_type: str
    owner_id: str
    created_by: str | None  # the customer who asked for it (their inbox)
    currency: str
    amount_minor: int
    counterparty: str | None  # the recipient, beneficiary or remitter, when named
    status: str
    held: bool  # waiting for this case's decision
    created_ms: int


def _payment(p: Payment) -> Record:
    return Record(kind=MovementKind.PAYMENT, id=p.id, owner_type=p.owner_type,
                  owner_id=p.owner_id, created_by=p.created_by, currency=p.sell_code,
                  amount_minor=p.sell_amount_minor, counterparty=p.recipient_name,
                  status=p.status, held=p.status == S.ON_HOLD, created_ms=p.created_ms)


def _deposit(d: Deposit) -> Record:
    return Record(kind=MovementKind.DEPOSIT, id=d.id, owner_type=d.owner_type,
                  owner_id=d.owner_id, created_by=d.created_by, currency=d.currency,
                  amount_minor=d.received_minor or d.amount_minor, counterparty=None,
                  status=d.status, held=d.status == DepositStatus.HELD
                  and d.reason_code == movements.COMPLIANCE_HOLD, created_ms=d.created_ms)


def _withdrawal(w: Withdrawal) -> Record:
    return Record(kind=MovementKind.WITHDRAWAL, id=w.id, owner_type=w.owner_type,
                  owner_id=w.owner_id, created_by=w.created_by, currency=w.currency,
                  amount_minor=w.amount_minor, counterparty=w.bank.get("name"),
                  status=w.status, held=w.status == WithdrawalStatus.HELD,
                  created_ms=w.created_ms)


def _refund(r: Refund) -> Record:
    return Record(kind=MovementKind.REFUND, id=r.id, owner_type=r.owner_type,
                  owner_id=r.owner_id, created_by=r.requested_by, currency=r.code,
                  amount_minor=r.amount_minor, counterparty=None, status=r.status,
                  held=r.status == RefundStatus.HELD, created_ms=r.created_ms)


# --- payments: the held transfer -------------------------------------------------------------


def _held_transfer(uow: UnitOfWork, p: Payment) -> Transfer:
    assert p.transfer_id is not None, f"held payment {p.id} has no transfer"
    t = uow.repo(Transfer).get(p.transfer_id, for_update=True)
    assert t is not None and t.status == TransferStatus.HELD, f"payment {p.id}: {t}"
    return t


def _held_payment(uow: UnitOfWork, payment_id: str) -> Payment:
    p = uow.repo(Payment).get(payment_id, for_update=True)
    assert p is not None and p.status == S.ON_HOLD, f"payment {payment_id}: {p}"
    return p


def _release_payment(deps: Deps, uow: UnitOfWork, payment_id: str) -> str | None:
    p = _held_payment(uow, payment_id)
    t = _held_transfer(uow, p)
    now = deps.clock.now_ms()
    uow.repo(Transfer).update(dataclasses.replace(t, status=TransferStatus.QUEUED,
                                                  updated_ms=now))
    done = moved(moved(p, S.READY, now), S.SUBMITTED, now)
    uow.repo(Payment).update(done)
    payments.notify(deps, uow, done, (S.READY, S.SUBMITTED))
    return t.id


def _return_payment(deps: Deps, uow: UnitOfWork, payment_id: str) -> str | None:
    p = _held_payment(uow, payment_id)
    t = _held_transfer(uow, p)
    now = deps.clock.now_ms()
    uow.repo(Transfer).update(dataclasses.replace(
        t, status=TransferStatus.REJECTED, result_code=movements.RETURNED,
        result_message=movements.RETURNED_MESSAGE, updated_ms=now))
    done = moved(p, S.REJECTED, now, reason_code=movements.RETURNED,
                 reason_message=movements.RETURNED_MESSAGE)
    uow.repo(Payment).update(done)
    payments.notify(deps, uow, done, (S.REJECTED,))
    inbox.record(deps, uow, user_id=inbox.user_of(p.owner_type, p.owner_id, p.created_by),
                 topic=Topic.PAYMENT_FAILED, subject_type=SubjectType.PAYMENT,
                 subject_id=p.id, event=p.id,
                 params={"amount_minor": p.sell_amount_minor, "currency": p.sell_code,
                         "reason_code": movements.RETURNED})
    return t.id


# --- deposits, withdrawals, refunds: their own areas act -------------------------------------


def _release_deposit(deps: Deps, uow: UnitOfWork, deposit_id: str) -> str | None:
    return deposits.release_screened(deps, uow, deposit_id).transfer_id  # None: limits hold


def _return_deposit(deps: Deps, uow: UnitOfWork, deposit_id: str) -> str | None:
    deposits.give_back_screened(deps, uow, deposit_id)
    return None  # nothing was ever queued: the rail sends it back


def _release_withdrawal(deps: Deps, uow: UnitOfWork, withdrawal_id: str) -> str | None:
    return withdrawals.release_held(deps, uow, withdrawal_id).transfer_id


def _return_withdrawal(deps: Deps, uow: UnitOfWork, withdrawal_id: str) -> str | None:
    return withdrawals.return_held(deps, uow, withdrawal_id).transfer_id


def _release_refund(deps: Deps, uow: UnitOfWork, refund_id: str) -> str | None:
    return refunds.release_held(deps, uow, refund_id).transfer_id


def _return_refund(deps: Deps, uow: UnitOfWork, refund_id: str) -> str | None:
    return refunds.return_held(deps, uow, refund_id).transfer_id


# --- the table -----------------------------------------------------------------------------

# (deps, uow, record id) -> the id of the transfer it queued or refused, if any
Act = Callable[[Deps, UnitOfWork, str], str | None]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Kind:
    """One kind of held record: how a case reads it, and what release and return do to
    it (each given the id of a record the case lists as held)."""

    read: Callable[[UnitOfWork, str], Record | None]
    release: Act
    give_back: Act


def _reader(cls: type, as_record: Callable[..., Record]) -> Callable[[UnitOfWork, str],
                                                                       Record | None]:
    def read(uow: UnitOfWork, record_id: str) -> Record | None:
        found = uow.repo(cls).get(record_id)
        return None if found is None else as_record(found)
    return read


KINDS: dict[MovementKind, Kind] = {
    MovementKind.PAYMENT: Kind(read=_reader(Payment, _payment), release=_release_payment,
                               give_back=_return_payment),
    MovementKind.DEPOSIT: Kind(read=_reader(Deposit, _deposit), release=_release_deposit,
                               give_back=_return_deposit),
    MovementKind.WITHDRAWAL: Kind(read=_reader(Withdrawal, _withdrawal),
                                  release=_release_withdrawal, give_back=_return_withdrawal),
    MovementKind.REFUND: Kind(read=_reader(Refund, _refund), release=_release_refund,
                              give_back=_return_refund),
}
assert set(KINDS) == set(MovementKind)


def records(uow: UnitOfWork, sources: Sequence[tuple[str, str]]) -> tuple[Record, ...]:
    """The records the (source_type, source_id) pairs name, once each, oldest first; a
    source of another kind (a KYC submission) is no movement and is skipped."""
    seen: dict[tuple[str, str], Record] = {}
    for kind, record_id in sources:
        if (kind, record_id) in seen or kind not in tuple(MovementKind):
            continue
        found = KINDS[MovementKind(kind)].read(uow, record_id)
        if found is not None:
            seen[(kind, record_id)] = found
        if len(seen) >= READ_MAX:
            break
    return tuple(sorted(seen.values(), key=lambda r: (r.created_ms, r.id)))


def act(deps: Deps, uow: UnitOfWork, who: Principal, case_id: str, record: Record, *,
        release: bool) -> None:
    """Releases (or returns) one held record, audited as the officer's act on it."""
    assert record.held, f"{record.kind} {record.id} is not held"
    kind = KINDS[record.kind]
    transfer_id = (kind.release if release else kind.give_back)(deps, uow, record.id)
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
              action=f"{record.kind}.{'released' if release else 'returned'}",
              object_type=str(record.kind), object_id=record.id, ip=who.ip,
              after={"case_id": case_id, "transfer_id": transfer_id,
                     "amount_minor": record.amount_minor, "currency": record.currency})
