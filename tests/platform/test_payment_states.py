"""What a payment's state allows is derived from the transition table alone: cancelling is
possible exactly where the table has an edge to `cancelled`, and a refund is refused as
"cancel instead" exactly where the payment can still become ready for submission."""

from __future__ import annotations

import dataclasses

import pytest

from corridor.platform import bootstrap
from corridor.platform.domain import refunds as refunds_domain
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.payments import TRANSITIONS, Payment, PaymentStatus
from corridor.platform.domain.transfers import (
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import payment_reads, settlement
from tests.platform.conftest import Actor
from tests.platform.payment_fakes import open_wallet
from tests.platform.payment_records import make_payment
from tests.platform.test_standing import principal


@pytest.mark.parametrize("status", list(PaymentStatus), ids=lambda s: s.value)
def test_cancel_follows_the_transition_table(platform: bootstrap.Platform, customer: Actor,
                                             status: PaymentStatus) -> None:
    wallet = open_wallet(platform, customer.user.id)
    p = make_payment(platform, wallet, status=status.value)
    if status is PaymentStatus.PENDING_APPROVAL:  # it waits with its debit held, as made
        p = _with_held_transfer(platform, p, wallet)
    allowed = PaymentStatus.CANCELLED in TRANSITIONS[status]
    if allowed:
        cancelled = payment_reads.cancel(platform.deps, principal(customer), p.id)
        assert cancelled.status == PaymentStatus.CANCELLED
    else:
        with pytest.raises(PlatformError) as refused:
            payment_reads.cancel(platform.deps, principal(customer), p.id)
        assert refused.value.code == "NOT_CANCELLABLE"
    if status is PaymentStatus.PENDING_APPROVAL:  # and cancelled, it reserves nothing
        with platform.deps.uow() as uow:
            t = uow.repo(Transfer).get(str(p.transfer_id))
        assert t is not None and t.status == TransferStatus.REJECTED


def _with_held_transfer(platform: bootstrap.Platform, p: Payment, wallet: Wallet) -> Payment:
    with platform.deps.uow() as uow:
        t = settlement.queue(platform.deps, uow, purpose=Purpose.PAYMENT, ref_id=p.id,
                             source=wallet_ref(wallet.id), held=True,
                             legs=[Leg(source=wallet_ref(wallet.id), destination=TREASURY,
                                       code=p.sell_code, amount_minor=p.sell_amount_minor)])
        p = dataclasses.replace(p, transfer_id=t.id)
        uow.repo(Payment).update(p)
        uow.commit()
    return p


def test_a_refund_is_refused_as_cancel_instead_exactly_before_submission(
        platform: bootstrap.Platform, customer: Actor) -> None:
    wallet = open_wallet(platform, customer.user.id)
    # A state can still reach `ready` by the table: nothing is on chain yet.
    for status in PaymentStatus:
        reaches_ready = status is PaymentStatus.READY or _reaches(status, PaymentStatus.READY)
        p = make_payment(platform, wallet, status=status.value)
        try:
            refunds_domain.check_requestable(p)
            code = None
        except PlatformError as exc:
            code = exc.code
        assert (code == "USE_CANCEL") == reaches_ready, status


def _reaches(start: PaymentStatus, target: PaymentStatus) -> bool:
    seen, todo = set(), [start]
    while todo:
        s = todo.pop()
        for nxt in TRANSITIONS[s]:
            if nxt is target:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False
