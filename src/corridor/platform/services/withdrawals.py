"""Withdrawals (requirement F3): the customer's tokens are burned first (wallet -> issuer,
through the settlement outbox); only a committed burn is paid out by the rail. A payout
the rail refuses, fails or later returns is undone by a fresh REVERSAL mint back to the
wallet (the burn is never edited). The available balance is the wallet's on-chain balance
less withdrawals whose burn is still on its way, read under a lock on the wallet.
Before its burn is queued a withdrawal is a movement the compliance monitors evaluate
(services/movements.py): held (its burn waits unsigned, the amount reserved, until its case
releases or returns it) or, declined, rejected at once.

A payment to an external bank recipient is paid out by the same machinery: once its money
reaches the treasury (the payment credited), `payout_payment` records a withdrawal linked
to it, already `burned`; it is dispatched and confirmed like any other. If the payout
fails or is returned, the payment is refunded from the treasury (refunds'
`release_failed_payout`, a REFUND transfer) instead of a reversal mint, and the payout is
`reversed` when that refund commits. Such payouts are not listed as withdrawals: the
payment shows them."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from corridor.platform.domain import idempotency, money
from corridor.platform.domain import rails as r
from corridor.platform.domain.errors import Err, Kind, PlatformError, Problems, not_found
from corridor.platform.domain.monitoring import Movement, MovementKind, Outcome
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import EventType, Withdrawal, WithdrawalStatus, WithdrawalStep
from corridor.platform.domain.refunds import Refund, RefundStatus
from corridor.platform.domain.transfers import ISSUER, Leg, Purpose, Transfer, TransferStatus
from corridor.platform.domain.transfers import wallet_ref as party
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services import (
    bank_details,
    freezes,
    funds,
    movements,
    refunds,
    reviews,
    settlement,
)
from corridor.platform.services import notifications as inbox
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds
from corridor.platform.services.rail_port import DEFAULT_RAIL, PayoutAccepted, rail_of

log = logging.getLogger("corridor.platform.withdrawals")

PAYOUTS_PER_PASS_MAX = 50
S = WithdrawalStatus


def create(deps: Deps, who: Principal, *, currency: str, amount: str, bank: dict[str, str],
           idempotency_key: str | None, org_id: str | None = None) -> Withdrawal:
    """Queues the burn of `amount` and records the withdrawal (status `requested`). The
    same key with the same request returns the same withdrawal; with another, 409."""
    problems = Problems()
    amount_minor = funds.parse_amount(amount, currency, problems)
    bank = r.check_bank(bank, problems)
    key = funds.check_key(idempotency_key, problems)
    with deps.uow() as uow:
        owner_type, owner_id = funds.owner_for_write(uow, who, org_id)  # access first
        idempotency.raise_if_any(problems)
        hashed = funds.request_hash({"kind": "withdrawal", "currency": currency,
                                     "amount_minor": amount_minor,
                                     "bank": bank_details.masked(bank)})
        wallet = funds.owner_wallet(deps, uow, owner_type, owner_id, create=False)
        if wallet is None:
            raise Err.NO_WALLET.error()
        existing = funds.replayed(uow.repo(Withdrawal).one(
            owner_type=owner_type, owner_id=owner_id, idempotency_key=key), hashed)
        if existing is not None:
            if bank_details.withdrawal_account(deps, existing) != bank["account"]:
                # the hash saw only the masked account: another account, same last four
                raise Err.IDEMPOTENCY_KEY_REUSED.error()
            return existing
        freezes.check_not_frozen(uow, owner_type, owner_id)
        reviews.check_not_limited(uow, owner_type, owner_id)
        funds.check_limits(funds.limits_of(uow, owner_type, owner_id), currency, amount_minor,
                           _withdrawn_today_minor(deps, uow, owner_type, owner_id))
        available = funds.available_minor(deps, uow, wallet, currency)
        if amount_minor > available:
            raise Err.INSUFFICIENT_FUNDS.error(
                "the amount is above your available balance "
                f"of {money.format_minor(max(0, available), currency)} {currency}")
        now = deps.clock.now_ms()
        withdrawal_id = deps.rand.new_id()
        outcome = movements.judge(deps, uow, _movement(deps, withdrawal_id, owner_id, bank,
                                                       currency, amount_minor),
                                  subject=(owner_type, owner_id))
        burn = settlement.queue(
            deps, uow, purpose=Purpose.WITHDRAWAL, ref_id=withdrawal_id,
            source=party(wallet.id),
            legs=[Leg(source=party(wallet.id), destination=ISSUER, code=currency,
                      amount_minor=amount_minor)],
            memo=f"withdrawal {withdrawal_id[:8]}", held=outcome is not Outcome.APPROVE)
        first, why = _screened(deps, uow, burn, outcome)
        w = Withdrawal(
            id=withdrawal_id, uetr=deps.rand.new_id(), owner_type=OwnerType(owner_type),
            owner_id=owner_id, created_by=who.user_id, idempotency_key=key,
            request_hash=hashed, wallet_id=wallet.id, rail=DEFAULT_RAIL, currency=currency,
            amount_minor=amount_minor, bank=bank_details.masked(bank), status=first,
            history=(WithdrawalStep(status=first, at_ms=now),), transfer_id=burn.id,
            tx_id=None, height=None, rail_ref=None, reversal_transfer_id=None,
            reversal_tx_id=None, reason_code=why[0] if why else None,
            reason_message=why[1] if why else None, flagged=False,
            created_ms=now, updated_ms=now, account_sealed=bank_details.seal(
                deps, bank["account"], bank_details.withdrawal_context(withdrawal_id)),
        )
        uow.repo(Withdrawal).add(w)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="withdrawal.create",
                  object_type="withdrawal", object_id=w.id, ip=who.ip,
                  after={"owner_type": owner_type, "owner_id": owner_id, "currency": currency,
                         "amount_minor": amount_minor, "status": w.status,
                         "bank": bank_details.masked(bank)})
        if w.status == S.REJECTED:
            _inbox(deps, uow, w, Topic.WITHDRAWAL_FAILED, "compliance")
        uow.commit()
    return w


def _movement(deps: Deps, withdrawal_id: str, owner_id: str, bank: dict[str, str],
              currency: str, amount_minor: int) -> Movement:
    """A withdrawal as the monitors see it: the customer sends to the bank beneficiary,
    whose name is screened."""
    return Movement(id=withdrawal_id, kind=MovementKind.WITHDRAWAL, at_ms=deps.clock.now_ms(),
                    sender=owner_id, sender_country=None,
                    receiver=movements.bank_party(deps, bank["account"]),
                    receiver_country=bank.get("country") or None,
                    receiver_name=bank.get("name") or None, amount_minor=amount_minor,
                    currency=currency,
                    usd_minor=movements.usd_minor(deps, amount_minor, currency))


def _screened(deps: Deps, uow: UnitOfWork, burn: Transfer, outcome: Outcome
              ) -> tuple[WithdrawalStatus, tuple[str, str] | None]:
    """The new withdrawal's first state and reason: requested (approved), held (its burn
    held, the debit reserved, until a case decides), or rejected (declined: the burn is
    refused before it was ever signed, so nothing is reserved)."""
    if outcome is Outcome.APPROVE:
        return S.REQUESTED, None
    if outcome is not Outcome.DECLINE:
        return S.HELD, (movements.COMPLIANCE_HOLD, movements.HELD_MESSAGE)
    uow.repo(Transfer).update(dataclasses.replace(
        burn, status=TransferStatus.REJECTED, result_code=movements.DECLINED,
        result_message=movements.DECLINED_MESSAGE, updated_ms=deps.clock.now_ms()))
    return S.REJECTED, (movements.DECLINED, movements.DECLINED_MESSAGE)


# --- a compliance case's decisions (services/case_holds.py) ---------------------------------


def _held(uow: UnitOfWork, withdrawal_id: str) -> tuple[Withdrawal, Transfer]:
    w = uow.repo(Withdrawal).get(withdrawal_id, for_update=True)
    assert w is not None and w.status == S.HELD, f"withdrawal {withdrawal_id}: {w}"
    t = uow.repo(Transfer).get(w.transfer_id, for_update=True)
    assert t is not None and t.status == TransferStatus.HELD, f"withdrawal {w.id}: {t}"
    return w, t


def release_held(deps: Deps, uow: UnitOfWork, withdrawal_id: str) -> Withdrawal:
    """An officer released a held withdrawal: its burn joins the outbox (requested), and
    it goes on as any other. Inside the case's unit of work (it audits the decision)."""
    w, t = _held(uow, withdrawal_id)
    now = deps.clock.now_ms()
    uow.repo(Transfer).update(dataclasses.replace(t, status=TransferStatus.QUEUED,
                                                  updated_ms=now))
    w = r.moved_withdrawal(w, S.REQUESTED, now, reason_code=None, reason_message=None)
    uow.repo(Withdrawal).update(w)
    return w


def return_held(deps: Deps, uow: UnitOfWork, withdrawal_id: str) -> Withdrawal:
    """An officer returned a held withdrawal's funds: the burn is refused unsigned, so the
    reservation on the balance ends and nothing reached the chain (rejected)."""
    w, t = _held(uow, withdrawal_id)
    now = deps.clock.now_ms()
    uow.repo(Transfer).update(dataclasses.replace(
        t, status=TransferStatus.REJECTED, result_code=movements.RETURNED,
        result_message=movements.RETURNED_MESSAGE, updated_ms=now))
    w = r.moved_withdrawal(w, S.REJECTED, now, reason_code=movements.RETURNED,
                           reason_message=movements.RETURNED_MESSAGE)
    uow.repo(Withdrawal).update(w)
    _inbox(deps, uow, w, Topic.WITHDRAWAL_FAILED, "compliance")
    return w


def get(deps: Deps, who: Principal, withdrawal_id: str) -> Withdrawal:
    with deps.uow() as uow:
        w = uow.repo(Withdrawal).get(withdrawal_id) if len(withdrawal_id) <= 64 else None
        if w is None or w.payment_id is not None \
                or not funds.may_read(uow, who, w.owner_type, w.owner_id):
            raise not_found("withdrawal")
        return w


def list_withdrawals(deps: Deps, who: Principal, *, org_id: str | None = None,
                     limit: int = 50, offset: int = 0) -> tuple[list[Withdrawal], int]:
    limit, offset = page_bounds(limit, offset, r.PAGE_MAX)
    with deps.uow() as uow:
        owner_type, owner_id = funds.owner_for_read(uow, who, org_id)
        repo = uow.repo(Withdrawal)
        items = repo.many(owner_type=owner_type, owner_id=owner_id, payment_id=None,
                          order_by="created_ms", descending=True, limit=limit, offset=offset)
        return items, repo.count(owner_type=owner_type, owner_id=owner_id, payment_id=None)


# --- the chain's outcomes -------------------------------------------------------------------


def on_burn_outcome(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """Settlement hook (Purpose.WITHDRAWAL): a committed burn is ready for its payout; a
    refused one fails the withdrawal (no money moved)."""
    w = uow.repo(Withdrawal).get(t.ref_id, for_update=True)
    assert w is not None, f"burn {t.id} for no withdrawal {t.ref_id}"
    if w.status != S.REQUESTED or w.transfer_id != t.id:
        return  # a replayed outcome
    now = deps.clock.now_ms()
    if t.status == TransferStatus.COMMITTED:
        w = r.moved_withdrawal(w, S.BURNED, now, tx_id=t.tx_id, height=t.height)
    else:
        w = r.moved_withdrawal(w, S.FAILED, now, reason_code=t.result_code or "BURN_REJECTED",
                               reason_message=t.result_message)
        _inbox(deps, uow, w, Topic.WITHDRAWAL_FAILED, "burn")
    uow.repo(Withdrawal).update(w)
    _audit(uow, f"withdrawal.{w.status}", w)


def on_reversal_outcome(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """Settlement hook (Purpose.REVERSAL): the customer has the money back (reversed). A
    refused reversal leaves the withdrawal `reversing`, flagged: the customer is owed the
    money and operations must act."""
    w = uow.repo(Withdrawal).get(t.ref_id, for_update=True)
    assert w is not None, f"reversal {t.id} for no withdrawal {t.ref_id}"
    if w.status != S.REVERSING or w.reversal_transfer_id != t.id:
        return
    now = deps.clock.now_ms()
    if t.status == TransferStatus.COMMITTED:
        w = r.moved_withdrawal(w, S.REVERSED, now, reversal_tx_id=t.tx_id)
        uow.repo(Withdrawal).update(w)
        _audit(uow, "withdrawal.reversed", w)
    else:
        uow.repo(Withdrawal).update(dataclasses.replace(w, flagged=True, updated_ms=now))
        uow.audit(actor_id=None, actor_kind="system", action="withdrawal.reversal_rejected",
                  object_type="withdrawal", object_id=w.id,
                  after={"flagged": True, "code": t.result_code, "transfer_id": t.id})


def _reverse(deps: Deps, uow: UnitOfWork, w: Withdrawal, code: str, message: str) -> Withdrawal:
    """Queues the mint that gives the burned amount back (a payment's payout: the
    payment's refund), and records why."""
    if w.payment_id is not None:
        return _refund_payment(deps, uow, w, code, message)
    t = settlement.queue(
        deps, uow, purpose=Purpose.REVERSAL, ref_id=w.id, source=ISSUER,
        legs=[Leg(source=ISSUER, destination=party(w.wallet_id), code=w.currency,
                  amount_minor=w.amount_minor)],
        memo=f"reversal {w.id[:8]}")
    w = r.moved_withdrawal(w, S.REVERSING, deps.clock.now_ms(), reversal_transfer_id=t.id,
                           reason_code=code[:64], reason_message=message[:r.REASON_LEN_MAX])
    uow.repo(Withdrawal).update(w)
    _inbox(deps, uow, w, Topic.WITHDRAWAL_FAILED, "payout")
    _audit(uow, "withdrawal.reversing", w)
    return w


def _inbox(deps: Deps, uow: UnitOfWork, w: Withdrawal, topic: Topic, stage: str) -> None:
    """The owner's notification of a withdrawal's fate (a payment's payout is the
    payment's own story: its sender hears of the payment's refund instead)."""
    if w.payment_id is not None:
        return
    inbox.record(deps, uow, user_id=inbox.user_of(w.owner_type, w.owner_id, w.created_by),
                 topic=topic, subject_type=SubjectType.WITHDRAWAL, subject_id=w.id,
                 event=f"{w.id}:{stage}",
                 params={"amount_minor": w.amount_minor, "currency": w.currency,
                         "reason_code": w.reason_code})


# --- payments to an external bank recipient --------------------------------------------------


def payout_payment(deps: Deps, uow: UnitOfWork, p: Payment) -> None:
    """Listed in bootstrap.HANDLERS.payout_requested, in the unit of work that credits an
    external payment: records its payout, `burned` (the money is in the treasury), for
    `dispatch_payouts`. Idempotent: one payout per payment."""
    if uow.repo(Withdrawal).one(payment_id=p.id) is not None:
        return  # a replayed outcome
    assert p.recipient_bank is not None and p.transfer_id is not None, p.id
    now = deps.clock.now_ms()
    given = p.recipient_bank
    account = bank_details.payment_account(deps, p)
    assert account is not None, p.id
    bank = {"name": given["name"], "account": r.masked_account(account),
            "country": given["country"], "bank_code": given["bank_code"]}
    payout_id = deps.rand.new_id()
    w = Withdrawal(
        id=payout_id, uetr=p.uetr, owner_type=p.owner_type, owner_id=p.owner_id,
        created_by=p.created_by, idempotency_key=payout_id, request_hash=p.request_hash,
        wallet_id=p.sender_wallet_id, rail=DEFAULT_RAIL, currency=p.buy_code,
        amount_minor=p.buy_amount_minor, bank=bank, status=S.BURNED,
        history=(WithdrawalStep(status=S.BURNED, at_ms=now),), transfer_id=p.transfer_id,
        tx_id=p.tx_id, height=p.height, rail_ref=None, reversal_transfer_id=None,
        reversal_tx_id=None, reason_code=None, reason_message=None, flagged=False,
        created_ms=now, updated_ms=now, payment_id=p.id, account_sealed=bank_details.seal(
            deps, account, bank_details.withdrawal_context(payout_id)),
    )
    uow.repo(Withdrawal).add(w)
    _audit(uow, "withdrawal.payout_of_payment", w)


# Withdrawals that moved no money, or whose money came back, use up no daily limit.
_NOT_COUNTED = frozenset({S.FAILED, S.REVERSED, S.REJECTED})
DAY_MS = 86_400_000
DAY_SCAN_PAGE = 200


def _withdrawn_today_minor(deps: Deps, uow: UnitOfWork, owner_type: str, owner_id: str) -> int:
    """The owner's withdrawals since 00:00 UTC, at face value (as `funds.check_limits`
    compares). Payouts of payments are not counted here: the payment was."""
    start = deps.clock.now_ms() // DAY_MS * DAY_MS
    total, offset = 0, 0
    while True:
        page = uow.repo(Withdrawal).many(owner_type=owner_type, owner_id=owner_id,
                                         order_by="created_ms", descending=True,
                                         limit=DAY_SCAN_PAGE, offset=offset)
        for w in page:
            if w.created_ms < start:
                return total
            if w.payment_id is None and w.status not in _NOT_COUNTED:
                total += w.amount_minor
        if len(page) < DAY_SCAN_PAGE:
            return total
        offset += DAY_SCAN_PAGE


def payout_of_payment(deps: Deps, payment_id: str) -> Withdrawal | None:
    """The payout of a payment to an external bank recipient (the caller has checked that
    the payment may be read)."""
    with deps.uow() as uow:
        return uow.repo(Withdrawal).one(payment_id=payment_id[:64])


def _refund_payment(deps: Deps, uow: UnitOfWork, w: Withdrawal, code: str,
                    message: str) -> Withdrawal:
    """A payment's payout failed or was returned: the payment is refunded to the sender
    from the treasury. Should the money already be on its way back another way (a refund
    staff approved), the payout is flagged for operations instead."""
    assert w.payment_id is not None
    p = uow.repo(Payment).get(w.payment_id, for_update=True)
    assert p is not None, f"payout {w.id} of no payment {w.payment_id}"
    refund = refunds.release_failed_payout(
        deps, uow, p, reason=f"bank payout {code[:64]}: {message}"[:500])
    flagged = refund is None or refund.transfer_id is None
    w = r.moved_withdrawal(w, S.REVERSING, deps.clock.now_ms(),
                           reversal_transfer_id=refund.transfer_id if refund else None,
                           reason_code=code[:64], reason_message=message[:r.REASON_LEN_MAX],
                           flagged=w.flagged or flagged)
    uow.repo(Withdrawal).update(w)
    _audit(uow, "withdrawal.reversing", w)
    return w


def on_payment_refund_settled(deps: Deps, uow: UnitOfWork, refund: Refund) -> None:
    """Listed in bootstrap.HANDLERS.refund_settled: the refund that undoes a payment's failed
    payout committed (the payout is `reversed`) or was refused (it stays `reversing`,
    flagged: the customer is owed the money and operations must act)."""
    seen = uow.repo(Withdrawal).one(payment_id=refund.payment_id)
    if seen is None or seen.status != S.REVERSING or seen.reversal_transfer_id is None \
            or seen.reversal_transfer_id != refund.transfer_id:
        return  # not this payout's refund, or already recorded
    w = uow.repo(Withdrawal).get(seen.id, for_update=True)
    assert w is not None
    if w.status != S.REVERSING:
        return
    now = deps.clock.now_ms()
    if refund.status == RefundStatus.REFUNDED:
        w = r.moved_withdrawal(w, S.REVERSED, now, reversal_tx_id=refund.tx_id)
        uow.repo(Withdrawal).update(w)
        _audit(uow, "withdrawal.reversed", w)
    else:
        uow.repo(Withdrawal).update(dataclasses.replace(w, flagged=True, updated_ms=now))
        uow.audit(actor_id=None, actor_kind="system", action="withdrawal.reversal_rejected",
                  object_type="withdrawal", object_id=w.id,
                  after={"flagged": True, "refund_id": refund.id,
                         "code": refund.failure_code})


# --- payouts --------------------------------------------------------------------------------


def dispatch_payouts(deps: Deps) -> int:
    """Asks the rail to pay out every burned withdrawal (a worker calls this; tests too).
    The rail is asked outside any database transaction and is idempotent on the payout id
    (the withdrawal id), so a crash before the answer is recorded asks again, pays once.
    Returns how many withdrawals moved on."""
    with deps.reader() as uow:  # polled every round: no write lock
        burned = uow.repo(Withdrawal).many(status=S.BURNED, order_by="updated_ms",
                                           limit=PAYOUTS_PER_PASS_MAX)
    moved = 0
    for w in burned:
        try:
            answer = rail_of(deps, w.rail).request_payout(
                payout_id=w.id, currency=w.currency, amount_minor=w.amount_minor,
                bank={**w.bank, "account": bank_details.withdrawal_account(deps, w)},
                reference=w.uetr)
        except PlatformError as exc:
            if exc.kind is not Kind.UNAVAILABLE:
                raise
            log.warning("payout of withdrawal %s not asked for: %s", w.id, exc.message)
            continue
        with deps.uow() as uow:
            current = uow.repo(Withdrawal).get(w.id, for_update=True)
            if current is None or current.status != S.BURNED:
                continue  # the rail's event got here first
            if isinstance(answer, PayoutAccepted):
                current = r.moved_withdrawal(current, S.PAYOUT_REQUESTED, deps.clock.now_ms(),
                                             rail_ref=answer.rail_ref)
                uow.repo(Withdrawal).update(current)
                _audit(uow, "withdrawal.payout_requested", current)
            else:
                _reverse(deps, uow, current, answer.code, answer.message)
            uow.commit()
        moved += 1
    return moved


def payout_event(deps: Deps, uow: UnitOfWork, rail: str, kind: EventType,
                 data: dict[str, Any]) -> str:
    """The rail reports a payout's fate: paid, failed, or returned after being paid."""
    w = uow.repo(Withdrawal).get(data["payout_id"], for_update=True)
    if w is None or w.rail != rail or (w.rail_ref not in (None, data["rail_ref"])):
        uow.audit(actor_id=None, actor_kind="system", action="rail.payout.unmatched",
                  object_type="rail_event", object_id=data["rail_ref"],
                  after={"flagged": True, "type": kind.value, **data})
        return "unmatched: flagged for operations"
    now = deps.clock.now_ms()
    if w.status == S.BURNED:  # the event overtook the recording of the rail's acceptance
        w = r.moved_withdrawal(w, S.PAYOUT_REQUESTED, now, rail_ref=data["rail_ref"])
        uow.repo(Withdrawal).update(w)
    if kind is EventType.PAYOUT_PAID and w.status == S.PAYOUT_REQUESTED:
        w = r.moved_withdrawal(w, S.PAID, now)
        uow.repo(Withdrawal).update(w)
        _inbox(deps, uow, w, Topic.WITHDRAWAL_PAID, "paid")
        _audit(uow, "withdrawal.paid", w)
        return "withdrawal paid"
    failed = kind is EventType.PAYOUT_FAILED and w.status == S.PAYOUT_REQUESTED
    returned = kind is EventType.PAYOUT_RETURNED and w.status in (S.PAID, S.PAYOUT_REQUESTED)
    if failed or returned:
        code = data.get("code") or ("PAYOUT_RETURNED" if returned else "PAYOUT_FAILED")
        _reverse(deps, uow, w, str(code), str(data.get("message") or ""))
        return "withdrawal reversing"
    uow.audit(actor_id=None, actor_kind="system", action="rail.payout.out_of_order",
              object_type="withdrawal", object_id=w.id,
              after={"flagged": True, "type": kind.value, "status": w.status})
    return f"ignored: {kind.value} for a {w.status} withdrawal (flagged)"


def _audit(uow: UnitOfWork, action: str, w: Withdrawal) -> None:
    uow.audit(actor_id=None, actor_kind="system", action=action, object_type="withdrawal",
              object_id=w.id, after={"status": w.status, "tx_id": w.tx_id,
                                     "rail_ref": w.rail_ref, "reason_code": w.reason_code})
