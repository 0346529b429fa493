"""Deposits ("recharge", requirement F1): the customer is told where to send money and
which reference to quote; when the rail reports the funds, the issuer mints what arrived
to the customer's wallet through the settlement outbox; the mint's outcome credits (or
fails) the deposit. Idempotent creation; KYC tier currency, per-transaction limit and
balance cap checked before any instructions are given, and again on what actually
arrives: money over the limits is held for staff (services/holds.py), who credit it once
it fits or return it to the sender through the rail. Before that, the arrival is a
movement the compliance monitors evaluate (services/movements.py): held for its case,
or declined and returned at once."""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain import idempotency, money
from corridor.platform.domain import rails as r
from corridor.platform.domain.errors import (
    Err,
    PlatformError,
    Problems,
    not_found,
)
from corridor.platform.domain.holds import Hold
from corridor.platform.domain.monitoring import Movement, MovementKind, Outcome
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import Deposit, DepositStatus, DepositStep
from corridor.platform.domain.transfers import ISSUER, Leg, Purpose, Transfer, TransferStatus
from corridor.platform.domain.transfers import wallet_ref as party
from corridor.platform.domain.wallets import Authorisation, OwnerType, Wallet
from corridor.platform.services import funds, holds, movements, settlement, wallets
from corridor.platform.services import notifications as inbox
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds
from corridor.platform.services.rail_port import DEFAULT_RAIL, PayoutRefused, rail_of

REFERENCE_TRIES_MAX = 4
DAY_MS = 86_400_000


def create(deps: Deps, who: Principal, *, currency: str, amount: str,
           idempotency_key: str | None, org_id: str | None = None) -> Deposit:
    """A deposit awaiting the customer's bank transfer, with its instructions. The same
    key with the same request returns the same deposit; with another request, 409."""
    problems = Problems()
    amount_minor = funds.parse_amount(amount, currency, problems)
    key = funds.check_key(idempotency_key, problems)
    with deps.uow() as uow:
        owner_type, owner_id = funds.owner_for_write(uow, who, org_id)  # access first
        idempotency.raise_if_any(problems)
        hashed = funds.request_hash({"kind": "deposit", "currency": currency,
                                     "amount_minor": amount_minor})
        wallet = funds.owner_wallet(deps, uow, owner_type, owner_id, create=True)
        assert wallet is not None
        existing = funds.replayed(uow.repo(Deposit).one(
            owner_type=owner_type, owner_id=owner_id, idempotency_key=key), hashed)
        if existing is not None:
            return existing
        now = deps.clock.now_ms()
        limits = funds.limits_of(uow, owner_type, owner_id)
        funds.check_limits(limits, currency, amount_minor)
        held = (funds.chain_balance(deps, uow, wallet, currency)
                + funds.open_deposits_minor(uow, wallet.id, currency, now))
        if held + amount_minor > limits.balance_cap_minor:
            room = max(0, limits.balance_cap_minor - held)
            raise Err.LIMIT_EXCEEDED.error(
                "this deposit would take your balance above your "
                f"tier's cap; at most {money.format_minor(room, currency)} "
                f"{currency} more", {"amount": "above the balance cap"})
        _check_receivable(deps, uow, who, wallet, currency)
        rail = rail_of(deps, DEFAULT_RAIL)
        account = rail.collection_account(currency)
        deposit = Deposit(
            id=deps.rand.new_id(), uetr=deps.rand.new_id(), owner_type=OwnerType(owner_type),
            owner_id=owner_id, created_by=who.user_id, idempotency_key=key,
            request_hash=hashed, wallet_id=wallet.id, rail=rail.name, currency=currency,
            amount_minor=amount_minor, received_minor=None,
            reference=_new_reference(deps, uow), instructions=dataclasses.asdict(account),
            status=DepositStatus.AWAITING_FUNDS,
            history=(DepositStep(status=DepositStatus.AWAITING_FUNDS, at_ms=now),),
            rail_ref=None, transfer_id=None, tx_id=None, height=None, reason_code=None,
            reason_message=None, note=None, flagged=False, expires_ms=now + r.DEPOSIT_TTL_MS,
            created_ms=now, updated_ms=now,
        )
        uow.repo(Deposit).add(deposit)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="deposit.create",
                  object_type="deposit", object_id=deposit.id, ip=who.ip,
                  after={"owner_type": owner_type, "owner_id": owner_id, "currency": currency,
                         "amount_minor": amount_minor, "reference": deposit.reference})
        uow.commit()
    return deposit


def _check_receivable(deps: Deps, uow: UnitOfWork, who: Principal, wallet: Wallet,
                      currency: str) -> None:
    """No instructions for money the wallet could never be credited (issue 14, item 15):
    a failed wallet or authorisation, a frozen holding. A wallet made after its owner was
    verified has never been authorised for the tier's assets: it is asked for now, long
    before the money arrives (the tier allows the currency: checked before)."""
    if uow.repo(Authorisation).one(wallet_id=wallet.id, asset_code=currency) is None:
        wallets.request_authorisation(deps, uow, owner_type=wallet.owner_type,
                                      owner_id=wallet.owner_id, asset_codes=(currency,),
                                      actor_id=who.user_id)
    problem = (funds.receive_problem(uow, wallet, currency, arriving_now=False)
               or funds.holding_problem(funds.account_snapshot(deps, wallet.address),
                                        currency, deps.issuer_address))
    if problem is not None:
        raise Err.WALLET_CANNOT_RECEIVE.error(f"your wallet cannot receive {currency}: "
                                              f"{problem}", {"currency": problem})


def _new_reference(deps: Deps, uow: UnitOfWork) -> str:
    for _ in range(REFERENCE_TRIES_MAX):
        ref = r.rf_reference(deps.rand.digits(r.REFERENCE_DIGITS))
        if uow.repo(Deposit).one(reference=ref) is None:
            return ref
    raise AssertionError("no free deposit reference: the reference space is exhausted")


def get(deps: Deps, who: Principal, deposit_id: str) -> Deposit:
    with deps.uow() as uow:
        d = uow.repo(Deposit).get(deposit_id) if len(deposit_id) <= 64 else None
        if d is None or not funds.may_read(uow, who, d.owner_type, d.owner_id):
            raise not_found("deposit")
        return d


def list_deposits(deps: Deps, who: Principal, *, org_id: str | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[list[Deposit], int]:
    """The caller's (or an organisation's) deposits, newest first, and how many in all."""
    limit, offset = page_bounds(limit, offset, r.PAGE_MAX)
    with deps.uow() as uow:
        owner_type, owner_id = funds.owner_for_read(uow, who, org_id)
        repo = uow.repo(Deposit)
        items = repo.many(owner_type=owner_type, owner_id=owner_id, order_by="created_ms",
                          descending=True, limit=limit, offset=offset)
        return items, repo.count(owner_type=owner_type, owner_id=owner_id)


# --- the rail's report and the chain's outcome -------------------------------------------


def funds_received(deps: Deps, uow: UnitOfWork, rail: str, data: dict[str, Any]) -> str:
    """The rail received a transfer quoting `data["reference"]`: mint what arrived, if it
    fits the owner's limits now (`over_limits`); otherwise hold it for review (a Hold:
    staff credit it later or return it through the rail), never credit it. Another
    amount than instructed is flagged. Money that matches no deposit, or arrives for one
    already funded, is flagged for operations (it is the platform's to return; it is
    never minted twice). Returns what was done."""
    reference = r.normalise_reference(data["reference"])
    found = uow.repo(Deposit).one(reference=reference) if r.reference_ok(reference) else None
    if found is None or found.rail != rail:
        _flag(uow, "rail.funds.unmatched", "rail_event", data["rail_ref"], data)
        return "unmatched: flagged for operations"
    d = uow.repo(Deposit).get(found.id, for_update=True)
    assert d is not None
    if d.status != DepositStatus.AWAITING_FUNDS:
        _flag(uow, "deposit.funds.extra", "deposit", d.id, data)
        return f"extra funds for a {d.status} deposit: flagged for operations"
    now = deps.clock.now_ms()
    amount, currency = data["amount_minor"], data["currency"]
    d = r.moved_deposit(d, DepositStatus.RECEIVED, now, received_minor=amount,
                        rail_ref=data["rail_ref"])
    if currency != d.currency:
        d = r.moved_deposit(d, DepositStatus.FAILED, now, reason_code="CURRENCY_MISMATCH",
                            reason_message=f"{currency} received for a {d.currency} deposit",
                            flagged=True)
        uow.repo(Deposit).update(d)
        _audit(uow, "deposit.failed", d)
        return "deposit failed: currency mismatch"
    # Another amount than instructed is flagged for operations, whatever happens next.
    note = None if amount == d.amount_minor else (
        f"instructed {money.format_minor(d.amount_minor, currency)}, received "
        f"{money.format_minor(amount, currency)} {currency}")
    outcome = movements.judge(deps, uow, _movement(deps, d, amount, data),
                              subject=(d.owner_type, d.owner_id))
    if outcome is not Outcome.APPROVE:  # a case decides; the limits are checked on release
        return _screened(deps, uow, d, outcome, note)
    over = over_limits(deps, uow, d, amount)
    if over is not None:  # never credited as it stands: staff release it or return it
        code, why = over
        d = r.moved_deposit(d, DepositStatus.HELD, now, note=note, flagged=True,
                            reason_code=code, reason_message=f"held for review: {why}; it "
                            "will be credited, or returned to the bank account it came from")
        uow.repo(Deposit).update(d)
        holds.open_hold(deps, uow, subject_type=HOLD_SUBJECT, subject_id=d.id,
                        owner_type=d.owner_type, owner_id=d.owner_id, currency=currency,
                        amount_minor=amount, reason_code=code, reason_message=why)
        _audit(uow, "deposit.held", d)
        return f"deposit held for review: {code}"
    d = _mint(deps, uow, d, now, note=None if note is None else f"{note}: credited as received",
              flagged=note is not None)
    _audit(uow, "deposit.received", d)
    return "deposit minting"


def _movement(deps: Deps, d: Deposit, amount_minor: int, data: dict[str, Any]) -> Movement:
    """A deposit as the monitors see it: the bank party sends to the customer; the
    remitter's name, when the rail gives one, is screened."""
    name = data.get("remitter_name")
    return Movement(id=d.id, kind=MovementKind.DEPOSIT, at_ms=deps.clock.now_ms(),
                    sender=movements.remitter_party(deps, d.rail, name), sender_country=None,
                    receiver=d.owner_id, receiver_country=None, receiver_name=None,
                    amount_minor=amount_minor, currency=d.currency,
                    usd_minor=movements.usd_minor(deps, amount_minor, d.currency),
                    sender_name=name)


def _screened(deps: Deps, uow: UnitOfWork, d: Deposit, outcome: Outcome,
              note: str | None) -> str:
    """A deposit the monitors stopped: held for its case (never credited as it stands),
    or, declined, returned through the rail at once (held for the case if the rail
    refuses the return)."""
    now = deps.clock.now_ms()
    d = r.moved_deposit(d, DepositStatus.HELD, now, note=note, flagged=True,
                        reason_code=movements.COMPLIANCE_HOLD, reason_message=(
                            f"{movements.HELD_MESSAGE}; it will be credited, or returned "
                            "to the bank account it came from"))
    uow.repo(Deposit).update(d)
    _audit(uow, "deposit.held", d)
    if outcome is not Outcome.DECLINE:
        return "deposit held for compliance review"
    try:
        give_back_screened(deps, uow, d.id, code=movements.DECLINED,
                           message=movements.DECLINED_MESSAGE)
    except PlatformError as exc:
        return f"deposit declined by compliance, held: {exc.message}"[:200]
    return "deposit declined by compliance: returned"


def _held_screened(uow: UnitOfWork, deposit_id: str) -> Deposit:
    d = uow.repo(Deposit).get(deposit_id, for_update=True)
    assert d is not None and d.status == DepositStatus.HELD \
        and d.reason_code == movements.COMPLIANCE_HOLD, f"deposit {deposit_id}: {d}"
    assert d.received_minor is not None and d.rail_ref is not None
    return d


def release_screened(deps: Deps, uow: UnitOfWork, deposit_id: str) -> Deposit:
    """An officer released a deposit the monitors held: it is credited if it fits the
    owner's limits now; otherwise it stays held, now for the limits (a Hold, as on
    arrival), so one review at a time owns it. Inside the case's unit of work."""
    d = _held_screened(uow, deposit_id)
    amount = d.received_minor
    assert amount is not None
    now = deps.clock.now_ms()
    over = over_limits(deps, uow, d, amount)
    if over is None:
        return _mint(deps, uow, d, now, reason_code=None, reason_message=None)
    code, why = over
    d = dataclasses.replace(d, reason_code=code, updated_ms=now, reason_message=(
        f"held for review: {why}; it will be credited, or returned to the bank account it "
        "came from")[:r.REASON_LEN_MAX])
    uow.repo(Deposit).update(d)
    holds.open_hold(deps, uow, subject_type=HOLD_SUBJECT, subject_id=d.id,
                    owner_type=d.owner_type, owner_id=d.owner_id, currency=d.currency,
                    amount_minor=amount, reason_code=code, reason_message=why)
    return d


def give_back_screened(deps: Deps, uow: UnitOfWork, deposit_id: str, *,
                       code: str = movements.RETURNED,
                       message: str = movements.RETURNED_MESSAGE) -> Deposit:
    """Returns a deposit the monitors held to the bank account it came from, through its
    rail (idempotent there on the deposit's id); a rail that refuses changes nothing
    (RETURN_REFUSED). Inside the caller's unit of work."""
    d = _held_screened(uow, deposit_id)
    assert d.received_minor is not None and d.rail_ref is not None
    answer = rail_of(deps, d.rail).return_funds(
        return_id=d.id, rail_ref=d.rail_ref, currency=d.currency,
        amount_minor=d.received_minor, reason=f"deposit {d.reference}: {code}")
    if isinstance(answer, PayoutRefused):
        raise Err.RETURN_REFUSED.error(f"the rail refused the return: {answer.message}")
    d = r.moved_deposit(d, DepositStatus.RETURNED, deps.clock.now_ms(), reason_code=code,
                        reason_message=f"{message}: returned to the bank account it came "
                                       f"from (return {answer.rail_ref})"[:r.REASON_LEN_MAX])
    uow.repo(Deposit).update(d)
    return d


def _mint(deps: Deps, uow: UnitOfWork, d: Deposit, now: int, **changes: Any) -> Deposit:
    """Queues the mint of what arrived and records the deposit `minting`."""
    assert d.received_minor is not None
    t = settlement.queue(
        deps, uow, purpose=Purpose.DEPOSIT, ref_id=d.id, source=ISSUER,
        legs=[Leg(source=ISSUER, destination=party(d.wallet_id), code=d.currency,
                  amount_minor=d.received_minor)],
        memo=f"deposit {d.reference}")
    d = r.moved_deposit(d, DepositStatus.MINTING, now, transfer_id=t.id, **changes)
    uow.repo(Deposit).update(d)
    return d


# --- limits on arrival, and the hold's decisions -------------------------------------------

HOLD_SUBJECT = "deposit"


def over_limits(deps: Deps, uow: UnitOfWork, d: Deposit, amount_minor: int
                ) -> tuple[str, str] | None:
    """Why `amount_minor` arriving for `d` may not be credited now, as (code, message);
    None when it fits the owner's tier as it is now: the currency, the per-transaction
    limit, the day's deposits (received since 00:00 UTC and being or already credited),
    a wallet that cannot take the asset, and the balance cap (what the wallet holds, plus
    what is being minted to it)."""
    # Locked first: two deposits of one wallet arriving at once are judged one after the
    # other (its money-moving requests queue on this row too).
    wallet = uow.repo(Wallet).get(d.wallet_id, for_update=True)
    assert wallet is not None, f"deposit {d.id} to no wallet"
    limits = funds.limits_of(uow, d.owner_type, d.owner_id)
    try:
        funds.check_limits(limits, d.currency, amount_minor, _received_today(deps, uow, d))
    except PlatformError as exc:
        return exc.code, exc.message
    unusable = funds.receive_problem(uow, wallet, d.currency, arriving_now=False)
    if unusable is not None:  # e.g. its authorisation failed since the instructions
        return "WALLET_CANNOT_RECEIVE", unusable
    minting = sum(x.received_minor or 0 for x in uow.repo(Deposit).many(
        wallet_id=d.wallet_id, currency=d.currency, status=DepositStatus.MINTING)
        if x.id != d.id)
    held = funds.chain_balance(deps, uow, wallet, d.currency) + minting
    if held + amount_minor > limits.balance_cap_minor:
        cap = money.format_minor(limits.balance_cap_minor, limits.currency)
        return "LIMIT_EXCEEDED", (f"the amount would take the balance above the tier's cap "
                                  f"of {cap} {limits.currency}")
    return None


def _received_today(deps: Deps, uow: UnitOfWork, d: Deposit) -> int:
    """What the owner's other deposits received today (UTC) that is credited or on its way."""
    start = deps.clock.now_ms() // DAY_MS * DAY_MS
    total = 0
    for x in uow.repo(Deposit).many(owner_type=d.owner_type, owner_id=d.owner_id,
                                    status=(DepositStatus.MINTING, DepositStatus.CREDITED),
                                    above={"updated_ms": start - 1}):
        received_ms = next((h.at_ms for h in x.history
                            if h.status is DepositStatus.RECEIVED), 0)
        if x.id != d.id and received_ms >= start:
            total += x.received_minor or 0
    return total


def _held(uow: UnitOfWork, hold: Hold) -> Deposit:
    d = uow.repo(Deposit).get(hold.subject_id, for_update=True)
    assert d is not None and d.status == DepositStatus.HELD, f"hold {hold.id}: {d}"
    return d


def release_held(deps: Deps, uow: UnitOfWork, hold: Hold, who: Principal) -> None:
    """A reviewer releases held money: it is credited only if it now fits the limits
    (the customer's tier was raised, money left the wallet, a new day began)."""
    d = _held(uow, hold)
    assert d.received_minor is not None
    over = over_limits(deps, uow, d, d.received_minor)
    if over is not None:
        raise Err.STILL_ABOVE_LIMITS.error(f"cannot be credited yet: {over[1]}; "
                                           "return it instead, or wait until it fits")
    now = deps.clock.now_ms()
    d = _mint(deps, uow, d, now, reason_code=None, reason_message=None)
    _audit(uow, "deposit.released", d, who)


def return_held(deps: Deps, uow: UnitOfWork, hold: Hold, who: Principal) -> str:
    """A reviewer returns held money to the sender through the rail it came by; returns
    the rail's reference of the return. A rail that refuses changes nothing."""
    d = _held(uow, hold)
    assert d.received_minor is not None and d.rail_ref is not None
    answer = rail_of(deps, d.rail).return_funds(
        return_id=hold.id, rail_ref=d.rail_ref, currency=d.currency,
        amount_minor=d.received_minor, reason=f"deposit {d.reference}: {hold.reason_code}")
    if isinstance(answer, PayoutRefused):
        raise Err.RETURN_REFUSED.error(f"the rail refused the return: {answer.message}")
    now = deps.clock.now_ms()
    d = r.moved_deposit(d, DepositStatus.RETURNED, now, reason_message=(
        f"returned to the bank account it came from: {hold.reason_message}"[
            :r.REASON_LEN_MAX]))
    uow.repo(Deposit).update(d)
    _audit(uow, "deposit.returned", d, who)
    return answer.rail_ref


def on_mint_outcome(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """Settlement hook (Purpose.DEPOSIT): the mint committed (credited) or was refused
    (failed, flagged: the money is at the bank and must be credited or returned)."""
    d = uow.repo(Deposit).get(t.ref_id, for_update=True)
    assert d is not None, f"mint {t.id} for no deposit {t.ref_id}"
    if d.status != DepositStatus.MINTING or d.transfer_id != t.id:
        return  # a replayed outcome
    now = deps.clock.now_ms()
    if t.status == TransferStatus.COMMITTED:
        d = r.moved_deposit(d, DepositStatus.CREDITED, now, tx_id=t.tx_id, height=t.height)
        uow.repo(Deposit).update(d)
        inbox.record(deps, uow, user_id=inbox.user_of(d.owner_type, d.owner_id, d.created_by),
                     topic=Topic.DEPOSIT_CREDITED, subject_type=SubjectType.DEPOSIT,
                     subject_id=d.id, event=d.id,
                     params={"amount_minor": d.received_minor, "currency": d.currency,
                             "reference": d.reference})
        _audit(uow, "deposit.credited", d)
    else:
        d = r.moved_deposit(d, DepositStatus.FAILED, now,
                            reason_code=t.result_code or "MINT_REJECTED",
                            reason_message=t.result_message, flagged=True)
        uow.repo(Deposit).update(d)
        _audit(uow, "deposit.failed", d)


def _audit(uow: UnitOfWork, action: str, d: Deposit, who: Principal | None = None) -> None:
    uow.audit(actor_id=who.user_id if who else None,
              actor_kind=who.kind.value if who else "system", action=action,
              object_type="deposit", object_id=d.id,
              after={"status": d.status, "received_minor": d.received_minor, "tx_id": d.tx_id,
                     "reason_code": d.reason_code, "flagged": d.flagged})


def _flag(uow: UnitOfWork, action: str, object_type: str, object_id: str,
          data: dict[str, Any]) -> None:
    uow.audit(actor_id=None, actor_kind="system", action=action, object_type=object_type,
              object_id=object_id, after={"flagged": True, **data})
