"""Cross-border payments (requirements P1, P7; shared/ARCHITECTURE.md "Payment life cycle").

A payment is created and confirmed in one request carrying an `Idempotency-Key`: in one
unit of work it is priced (a firm quote, or the fee alone in one currency), checked
against the sender's KYC tier and available balance, screened by the compliance monitors
(`draft -> screening`; services/monitoring.py), recorded `ready -> submitted` (or held
`on_hold`, its transfer `held` until an officer decides: services/compliance.py), and its
on-chain transfer is queued in the settlement outbox:

    leg 1  sender wallet -> TREASURY   sell_code, sell amount (fee included)
    leg 2  TREASURY -> recipient       buy_code, buy amount     (none for a bank payout)

The outbox worker reports the outcome to `on_transfer` (listed for Purpose.PAYMENT in
bootstrap.HANDLERS): committed -> included -> final -> credited, or failed with the
ledger's reject code. A bank payout (external recipient) is handed to the rails through
the table's `payout_requested` handlers once its money has reached the treasury.

Balance safety: the sender's wallet row is locked (FOR UPDATE) for the whole creation, so
creations from one account serialise; the available amount is the on-chain balance less
what the owner's payments (and withdrawals) in flight will take. The chain refuses any
overdraft regardless: this check keeps the platform's promises honest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

from corridor.platform.domain import bank, fx, idempotency, money
from corridor.platform.domain import kyc as kyc_domain
from corridor.platform.domain.approvals import Action, Route
from corridor.platform.domain.authenticity import Purpose as PaymentPurpose
from corridor.platform.domain.errors import (
    Err,
    PlatformError,
    Problems,
)
from corridor.platform.domain.monitoring import Finding, Movement, MovementKind, Outcome, outcome_of
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.payments import (
    Payment,
    PaymentKind,
    PaymentStatus,
    PaymentStep,
    Quote,
    RecipientType,
    moved,
)
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.steps import steps_json
from corridor.platform.domain.transfers import (
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import OwnerType, Wallet
from corridor.platform.services import (
    aml_window,
    approvals,
    authenticity,
    bank_details,
    freezes,
    funds,
    kyc,
    monitoring,
    payment_recipients,
    quotes,
    rates,
    reviews,
    settlement,
    travel_rule,
    wallets,
    webhooks,
)
from corridor.platform.services import notifications as inbox
from corridor.platform.services.ledger_port import ChainAccount
from corridor.platform.services.ports import Deps, UnitOfWork

S = PaymentStatus
MEMO_LEN_MAX = 140
PAGE_MAX = 100
EXPECTED_ONCHAIN_MS = 30_000  # a few blocks and the worker's round
EXPECTED_PAYOUT_MS = 24 * 3_600_000  # a bank rail: next business day at worst in the demo
DAY_MS = 86_400_000
REFERENCE = kyc_domain.REFERENCE_CURRENCY
# Payments that moved no money (or whose money came back) do not use up a daily limit.
NOT_COUNTED = frozenset({S.FAILED, S.REJECTED, S.CANCELLED, S.EXPIRED, S.REFUNDED})

NAME_LEN_MAX = bank.NAME_LEN_MAX

# --- requests ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PaymentRequest:
    """What the customer asks for. Cross-currency: `quote_id`; one currency: `asset` and
    `amount` (what the recipient receives, major units; the fee comes on top)."""

    recipient: dict[str, str]  # {"type": user|address|external, ...}
    quote_id: str | None = None
    asset: str | None = None
    amount: str | None = None
    memo: str = ""
    org_id: str | None = None
    purpose: str | None = None  # ISO 20022 purpose code (domain/authenticity.Purpose)

    def digest(self) -> str:
        """The request's hash (idempotency). An account number or IBAN enters it masked:
        a plain hash of a short number can be searched; `account()` is compared apart. An
        unstated purpose leaves the hash as it was before purposes were asked."""
        doc = {**dataclasses.asdict(self), "recipient": bank_details.masked(self.recipient)}
        if doc["purpose"] is None:
            del doc["purpose"]
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def account(self) -> str | None:
        """An external recipient's account number or IBAN, as stored (None: another kind)."""
        if self.recipient.get("type") != RecipientType.EXTERNAL:
            return None
        given = self.recipient.get("iban") or self.recipient.get("account_number") or ""
        return given.strip().replace(" ", "").upper()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """What the customer sees before confirming."""

    kind: PaymentKind
    sell_code: str
    sell_amount_minor: int  # total cost, fee included
    fee_minor: int
    buy_code: str
    buy_amount_minor: int
    price: str
    quote_id: str | None
    quote_expires_ms: int | None
    recipient: payment_recipients.Recipient
    expected_arrival_ms: int


# --- pricing, limits, balance --------------------------------------------------------------


def _priced(deps: Deps, uow: UnitOfWork, req: PaymentRequest, owner: tuple[str, str],
            problems: Problems) -> tuple[fx.Priced | None, Quote | None]:
    if req.quote_id is not None:
        if req.asset is not None or req.amount is not None:
            problems.add("quote_id", "give a quote, or asset and amount, not both")
            return None, None
        q = quotes.take(deps, uow, req.quote_id, *owner)
        return fx.Priced(sell_code=q.sell_code, buy_code=q.buy_code,
                         sell_minor=q.sell_amount_minor, fee_minor=q.fee_minor,
                         principal_minor=q.sell_amount_minor - q.fee_minor,
                         buy_minor=q.buy_amount_minor, price=money.rate(q.price),
                         mid=money.rate(q.price)), q
    if req.asset is None or not money.is_currency(req.asset):
        problems.add("asset", f"one of {', '.join(money.CURRENCIES)} (or give a quote_id)")
        return None, None
    try:
        amount = money.parse_major(req.amount, req.asset)
    except PlatformError as exc:
        problems.add("amount", exc.message)
        return None, None
    return fx.for_buy(amount, req.asset, req.asset, money.rate("1"), rates.terms(deps)), None


def _in_usd(deps: Deps, amount_minor: int, code: str) -> int:
    return money.convert(amount_minor, code, REFERENCE, rates.mid(deps, code, REFERENCE), up=True)


def today_minor(deps: Deps, uow: UnitOfWork, owner: tuple[str, str]) -> int:
    """What the owner's payments since 00:00 UTC count against the daily limit, in USD:
    each payment converted on its own (rounded up, as a single payment is), counted per
    distinct (status, currency, amount) by the database instead of loading every row."""
    start = deps.clock.now_ms() // DAY_MS * DAY_MS
    groups = uow.repo(Payment).tally(("status", "sell_code", "sell_amount_minor"),
                                     owner_type=owner[0], owner_id=owner[1],
                                     above={"created_ms": start - 1})
    return sum(n * _in_usd(deps, amount, code) for (status, code, amount), n in groups
               if status not in NOT_COUNTED)


def _usd_shown(minor: int) -> str:
    return f"{money.format_minor(minor, REFERENCE)} {REFERENCE}"


def _check_kyc(deps: Deps, uow: UnitOfWork, owner: tuple[str, str], priced: fx.Priced,
               kind: str) -> kyc_domain.Limits:
    """The tier allows these currencies and this single amount; returns its limits (the
    daily one is `_check_daily`'s, under the wallet lock)."""
    tier = kyc.tier_of(uow, *owner)
    if tier < 1:
        raise Err.KYC_REQUIRED.error(
            "complete identity verification before sending money")
    reviews.check_not_limited(uow, *owner)  # a due re-review stops outbound money
    limits = kyc_domain.limits_for(tier)
    codes = {priced.sell_code} | ({priced.buy_code} if kind == PaymentKind.EXCHANGE else set())
    refused = sorted(codes - set(limits.asset_codes))
    if refused:
        raise Err.CURRENCY_NOT_ALLOWED.error(
            f"your verification tier ({tier}) does not allow {', '.join(refused)}",
            {"currency": f"allowed: {', '.join(limits.asset_codes)}"})
    usd = _in_usd(deps, priced.sell_minor, priced.sell_code)
    if usd > limits.per_tx_minor:
        raise Err.LIMIT_EXCEEDED.error(f"above your per-transaction limit of "
                                       f"{_usd_shown(limits.per_tx_minor)}",
                                       {"limit": "per_transaction",
                                        "limit_amount": _usd_shown(limits.per_tx_minor),
                                        "amount": _usd_shown(usd)})
    return limits


def _check_daily(deps: Deps, uow: UnitOfWork, owner: tuple[str, str],
                 limits: kyc_domain.Limits, shown: Preview) -> None:
    """This payment on top of today's stays within the daily limit. Call with the sender's
    wallet locked, so two creations of one owner cannot both pass on the same total."""
    usd = _in_usd(deps, shown.sell_amount_minor, shown.sell_code)
    today = today_minor(deps, uow, owner)
    if today + usd > limits.per_day_minor:
        raise Err.LIMIT_EXCEEDED.error(
            f"above your daily limit of "
            f"{_usd_shown(limits.per_day_minor)}",
            {"limit": "per_day", "limit_amount": _usd_shown(limits.per_day_minor),
             "amount": _usd_shown(usd), "used_today": _usd_shown(today)})


def _sender_snapshot(deps: Deps, wallet: Wallet) -> tuple[ChainAccount | None, bool]:
    """The sender's account on chain, read before the wallet lock so a slow node does not
    stall every payment of that sender, and whether it came from the recent snapshots
    (funds.Snapshots) rather than the node; None when it cannot be told yet (the locked
    pass then asks the node itself and reports any problem properly)."""
    snapshots = deps.snapshots
    now = deps.clock.now_ms()
    if snapshots is not None:
        recent = snapshots.get(wallet.address, now)
        if recent is not None:
            return recent, True
    try:
        account = funds.account_snapshot(deps, wallet.address)
    except PlatformError:
        return None, False
    if account is not None and snapshots is not None:
        snapshots.put(account, now)
    return account, False


def _check_balance(deps: Deps, uow: UnitOfWork, wallet: Wallet, code: str, need: int,
                   snapshot: ChainAccount | None = None, *, recent: bool = False) -> None:
    """Call with the wallet row locked. Without a node (development) the chain alone
    guards against an overdraft. A `recent` snapshot that would refuse is checked again
    on a fresh read: it may only be missing a credit."""
    if wallets.ledger_node(deps) is None:
        return
    available = funds.available_minor(deps, uow, wallet, code, snapshot)
    if need > available and recent:
        available = funds.available_minor(deps, uow, wallet, code)
    if need > available:
        raise Err.INSUFFICIENT_FUNDS.error(
            "not enough money available",
            {"available": money.format_minor(max(available, 0), code),
             "needed": money.format_minor(need, code), "currency": code})


# --- preview and create ----------------------------------------------------------------


def _sender_wallet(uow: UnitOfWork, owner: tuple[str, str]) -> Wallet:
    """The owner's open wallet, locked, in one statement: PostgreSQL re-checks the filter
    (still open) once it holds the row lock; SQLite's writer already holds the file lock."""
    locked = payment_recipients.open_wallet(uow, *owner, for_update=True)
    if locked is None:
        raise Err.NO_OPEN_WALLET.error()
    return locked


def _prepare(deps: Deps, uow: UnitOfWork, who: Principal, req: PaymentRequest,
             owner: tuple[str, str], wallet: Wallet, problems: Problems, *,
             preview: bool = False) -> tuple[Preview, Quote | None, kyc_domain.Limits]:
    """Everything about a payment that needs no lock: its shape, price, recipient (able to
    receive), kind and tier (every problem with the request reported at once). A
    `preview` shows the recipient masked, and a customer named by e-mail or phone alike
    whether they exist or can receive (their creation refuses them)."""
    spec = payment_recipients.recipient_shape(req.recipient, problems)
    if len(req.memo) > MEMO_LEN_MAX or not req.memo.isprintable():
        problems.add("memo", f"at most {MEMO_LEN_MAX} printable characters")
    if req.purpose is not None and req.purpose not in tuple(PaymentPurpose):
        problems.add("purpose", f"one of {', '.join(PaymentPurpose)}")
    priced, quote = _priced(deps, uow, req, owner, problems)
    idempotency.raise_if_any(problems)
    assert priced is not None
    recipient = payment_recipients.resolve(uow, spec, preview=preview)
    if not (preview and recipient.type == RecipientType.USER):
        payment_recipients.check_can_receive(deps, uow, recipient, priced.buy_code)
    if recipient.wallet_id == wallet.id and priced.sell_code == priced.buy_code:
        raise Err.SAME_WALLET.error("a payment to the same wallet in the same currency",
                                    {"recipient": "is the paying wallet"})
    if priced.sell_code == priced.buy_code:
        kind = PaymentKind.TRANSFER
    elif recipient.owner == owner:
        kind = PaymentKind.EXCHANGE
    else:
        kind = PaymentKind.REMITTANCE
    limits = _check_kyc(deps, uow, owner, priced, kind)
    now = deps.clock.now_ms()
    eta = EXPECTED_PAYOUT_MS if recipient.type == RecipientType.EXTERNAL else EXPECTED_ONCHAIN_MS
    return Preview(
        kind=kind, sell_code=priced.sell_code, sell_amount_minor=priced.sell_minor,
        fee_minor=priced.fee_minor, buy_code=priced.buy_code, buy_amount_minor=priced.buy_minor,
        price=str(priced.price), quote_id=quote.id if quote else None,
        quote_expires_ms=quote.expires_ms if quote else None,
        recipient=payment_recipients.as_previewed(recipient, spec) if preview else recipient,
        expected_arrival_ms=now + eta), quote, limits


def preview(deps: Deps, who: Principal, req: PaymentRequest) -> Preview:
    """Everything the customer will pay and get, checked as a creation would be, with
    nothing written; the recipient masked (see `_as_previewed`)."""
    with deps.uow() as uow:
        owner = quotes.owner_of(uow, who, req.org_id, Perm.PAY_INITIATE)
        wallet = _sender_wallet(uow, owner)
        freezes.check_not_frozen(uow, *owner)
        shown, _, limits = _prepare(deps, uow, who, req, owner, wallet, Problems(),
                                    preview=True)
        _check_daily(deps, uow, owner, limits, shown)
        _check_balance(deps, uow, wallet, shown.sell_code, shown.sell_amount_minor)
    return shown


def new_id(deps: Deps) -> str:
    """A new payment's id: PMT, the UTC day and 12 random digits."""
    day = dt.datetime.fromtimestamp(deps.clock.now_ms() // 1000, dt.UTC).strftime("%Y%m%d")
    return f"PMT{day}{deps.rand.digits(12)}"


def create(deps: Deps, who: Principal, req: PaymentRequest,
           idempotency_key: str | None) -> tuple[Payment, bool]:
    """Creates, confirms and submits a payment; returns it and whether it is new. A retry
    with the same key and request returns the first payment; another request under the
    same key is refused (IDEMPOTENCY_KEY_REUSED).

    Two passes. The first only reads (no write lock): the request is checked, priced, its
    recipient found and the tier's limits applied, and the node is asked for the sender's
    balance. The second holds the sender's wallet lock (on SQLite: the database's one
    writer) only for what must not race: the idempotency key, the quote still open, the
    daily limit, the balance, and the records written. A recipient or tier that changes
    between the passes (milliseconds) is as if the request had come a moment earlier."""
    problems = Problems()
    key = funds.check_key(idempotency_key, problems)
    digest = req.digest()
    with deps.reader() as uow:
        owner = quotes.owner_of(uow, who, req.org_id, Perm.PAY_INITIATE)
        wallet = payment_recipients.open_wallet(uow, *owner)
        if wallet is None:
            raise Err.NO_OPEN_WALLET.error()
        existing = None if problems else _replayed(deps, uow, owner, key, digest, req.account())
        if existing is not None:
            return existing, False
        freezes.check_not_frozen(uow, *owner)
        shown, _, limits = _prepare(deps, uow, who, req, owner, wallet, problems)
        sender_name = kyc.verified_name(deps, uow, *owner)  # what the recipient sees
        usd = _in_usd(deps, shown.sell_amount_minor, shown.sell_code)
        # countries and travel-rule data, read when the monitors look at every payment's
        # countries (the AML engine) or its size or purpose needs them (travel_rule.py)
        parties = travel_rule.capture(deps, uow, owner=owner, wallet=wallet,
                                      recipient=shown.recipient, usd_minor=usd,
                                      purpose=req.purpose, sender_name=sender_name,
                                      countries=bool(deps.monitors))
    snapshot, recent = _sender_snapshot(deps, wallet)  # before taking the lock
    # The monitors look at it before the lock too (screening costs an index lookup): a
    # payment refused afterwards (balance, limit) was an attempt they saw.
    payment_id = new_id(deps)
    movement = _movement(deps, payment_id, owner, shown, usd, req.purpose, parties)
    findings = monitoring.evaluate(deps, movement) if deps.monitors else ()

    def locked(uow: UnitOfWork) -> tuple[Payment, bool]:
        sender = _sender_wallet(uow, owner)  # locked: this owner's creations queue here
        existing = _replayed(deps, uow, owner, key, digest, req.account())
        if existing is not None:
            return existing, False
        freezes.check_not_frozen(uow, *owner)  # a freeze between the passes counts
        if shown.recipient.wallet_id == sender.id and shown.sell_code == shown.buy_code:
            raise Err.SAME_WALLET.error("a payment to the same wallet in the same currency",
                                        {"recipient": "is the paying wallet"})
        quote = quotes.take(deps, uow, req.quote_id, *owner) if req.quote_id else None
        _check_daily(deps, uow, owner, limits, shown)
        _check_balance(deps, uow, sender, shown.sell_code, shown.sell_amount_minor, snapshot,
                       recent=recent)
        routed = _route(deps, uow, who, owner, shown, usd, payment_id)
        p = _submit(deps, uow, who, req, owner, sender, shown, key, digest, sender_name,
                    payment_id, findings, parties, routed, movement)
        if quote is not None:
            quotes.use(uow, quote, p.id)
        return p, True

    # On SQLite this transaction may be shared with other creations (group commit): the
    # write lock is taken once for all of them; a refusal undoes this one's writes only.
    return deps.write(locked)


def _route(deps: Deps, uow: UnitOfWork, who: Principal, owner: tuple[str, str],
           shown: Preview, usd: int,
           payment_id: str) -> tuple[approvals.Subject, Route] | None:
    """What the organisation's approval policy says of the payment (issue 17): None to
    go on as today (a customer's own payment, or allowed), the subject to open an
    approval for, or a refusal (PAYMENT_BLOCKED; APPROVERS_TOO_FEW)."""
    if owner[0] != OwnerType.ORG:
        return None
    r = shown.recipient
    subject = approvals.Subject(
        kind="payment", id=payment_id, org_id=owner[1], initiator_id=who.user_id,
        usd_minor=usd, amount_minor=shown.sell_amount_minor, currency=shown.sell_code,
        recipient_type=str(r.type), party=party_of(deps, r), summary=r.name)
    routed = approvals.route(deps, uow, subject)
    if routed.action is Action.BLOCK:
        raise Err.PAYMENT_BLOCKED.error(
            f"the organisation's approval policy (rule {routed.rule_index + 1}) blocks it")
    if routed.action is Action.ALLOW:
        return None
    return subject, routed


def _replayed(deps: Deps, uow: UnitOfWork, owner: tuple[str, str], key: str, digest: str,
              account: str | None) -> Payment | None:
    """The payment an earlier request with this key made (None: a new request); another
    request under the same key is refused."""
    existing = uow.repo(Payment).one(owner_type=owner[0], owner_id=owner[1],
                                     idempotency_key=key)
    if existing is not None and (existing.request_hash != digest
                                 or bank_details.payment_account(deps, existing) != account):
        raise Err.IDEMPOTENCY_KEY_REUSED.error()
    return existing


def party_of(deps: Deps, r: payment_recipients.Recipient) -> str:
    """The recipient as monitors know parties: its owner's id, or for a bank beneficiary
    `ext:` and a keyed hash of the account (the same account, the same party; a copy of the
    database cannot be searched for an account number)."""
    if r.owner is not None:
        return r.owner[1]
    if r.bank is not None:
        return bank_details.beneficiary_party(deps, bank_details.account_in(r.bank))
    return f"addr:{r.address}"


def _movement(deps: Deps, payment_id: str, owner: tuple[str, str], shown: Preview,
              usd: int, purpose: str | None, parties: travel_rule.Parties) -> Movement:
    r = shown.recipient
    record = parties.record
    return Movement(id=payment_id, kind=MovementKind.PAYMENT, at_ms=deps.clock.now_ms(),
                    sender=owner[1], sender_country=parties.sender_country,
                    receiver=party_of(deps, r), receiver_country=parties.receiver_country,
                    receiver_name=r.name if r.type != RecipientType.ADDRESS else None,
                    amount_minor=shown.sell_amount_minor, currency=shown.sell_code,
                    usd_minor=usd, purpose=purpose,
                    originator=record.originator.as_json() if record else None,
                    beneficiary=record.beneficiary.as_json() if record else None)


def _submit(deps: Deps, uow: UnitOfWork, who: Principal, req: PaymentRequest,
            owner: tuple[str, str], wallet: Wallet, shown: Preview, key: str,
            digest: str, sender_name: str | None, payment_id: str,
            findings: tuple[Finding, ...], parties: travel_rule.Parties,
            routed: tuple[approvals.Subject, Route] | None = None,
            movement: Movement | None = None) -> Payment:
    now = deps.clock.now_ms()
    r = shown.recipient
    sealed = (None if r.bank is None else bank_details.seal(
        deps, bank_details.account_in(r.bank), bank_details.payment_context(payment_id)))
    p = Payment(
        id=payment_id, uetr=deps.rand.new_id(), kind=shown.kind, owner_type=OwnerType(owner[0]),
        owner_id=owner[1], created_by=who.user_id, idempotency_key=key, request_hash=digest,
        sender_wallet_id=wallet.id, recipient_type=r.type, recipient_user_id=r.user_id,
        recipient_wallet_id=r.wallet_id, recipient_address=r.address,
        recipient_bank=None if r.bank is None else bank_details.masked(r.bank),
        recipient_account_sealed=sealed, recipient_name=r.name, quote_id=shown.quote_id,
        sell_code=shown.sell_code,
        sell_amount_minor=shown.sell_amount_minor, fee_minor=shown.fee_minor,
        buy_code=shown.buy_code, buy_amount_minor=shown.buy_amount_minor, price=shown.price,
        memo=req.memo, status=S.DRAFT, history=(PaymentStep(status=S.DRAFT, at_ms=now),),
        transfer_id=None, tx_id=None, height=None, reason_code=None, reason_message=None,
        expected_arrival_ms=shown.expected_arrival_ms, created_ms=now, updated_ms=now,
        sender_name=sender_name, purpose=req.purpose,
        travel_rule_sealed=travel_rule.seal(deps, payment_id, parties.record),
    )
    legs = [Leg(source=wallet_ref(wallet.id), destination=TREASURY, code=p.sell_code,
                amount_minor=p.sell_amount_minor)]
    if r.destination is not None:
        legs.append(Leg(source=TREASURY, destination=r.destination, code=p.buy_code,
                        amount_minor=p.buy_amount_minor))
    screening = moved(p, S.SCREENING, now)
    acting = monitoring.acting(uow, findings) if findings else []
    outcome = outcome_of(acting)
    held = outcome is not Outcome.APPROVE
    if outcome is Outcome.DECLINE:  # refused at once: nothing queued, nothing reserved
        done = moved(screening, S.REJECTED, now, reason_code="COMPLIANCE_DECLINED",
                     reason_message="refused by compliance")
        steps: tuple[PaymentStatus, ...] = (S.DRAFT, S.SCREENING, S.REJECTED)
        t = None
    else:  # held: the transfer waits unsigned, its debit reserved, until a decision
        if movement is not None and deps.monitors:  # for every process's AML window
            aml_window.remember(uow, movement)
        t = settlement.queue(deps, uow, purpose=Purpose.PAYMENT, ref_id=p.id,
                             source=wallet_ref(wallet.id), legs=legs, memo=p.uetr,
                             held=held or routed is not None)
        if routed is not None:  # approvers first; the monitors' outcome applies after
            done = moved(p, S.PENDING_APPROVAL, now, transfer_id=t.id)
            steps = (S.DRAFT, S.PENDING_APPROVAL)
        elif held:
            done = moved(screening, S.ON_HOLD, now, transfer_id=t.id)
            steps = (S.DRAFT, S.SCREENING, S.ON_HOLD)
        else:
            done = moved(moved(screening, S.READY, now), S.SUBMITTED, now, transfer_id=t.id)
            steps = (S.DRAFT, S.SCREENING, S.READY, S.SUBMITTED)
    uow.repo(Payment).add(done)
    notify(deps, uow, done, steps)
    if routed is not None and done.status == S.PENDING_APPROVAL:
        approvals.open_approval(deps, uow, *routed)
    if acting:
        monitoring.raise_alerts(deps, uow, acting, subject=owner, source=("payment", p.id))
        # a payment the monitors hold asks for its documents now, approvals or not
        as_held = (dataclasses.replace(done, status=S.ON_HOLD)
                   if done.status == S.PENDING_APPROVAL and held else done)
        authenticity.on_created(deps, uow, as_held, acting, parties)
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="payment.create",
              object_type="payment", object_id=p.id,
              after={"uetr": p.uetr, "owner_type": p.owner_type, "owner_id": p.owner_id,
                     "sell": f"{money.format_minor(p.sell_amount_minor, p.sell_code)} "
                             f"{p.sell_code}",
                     "buy": f"{money.format_minor(p.buy_amount_minor, p.buy_code)} "
                            f"{p.buy_code}",
                     "recipient_type": r.type, "transfer_id": t.id if t else None,
                     "status": done.status})
    return done


# --- the chain's outcome -------------------------------------------------------------------


def on_transfer(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """The chain decided the payment's transfer. A credited payment to a bank recipient is
    handed to the table's `payout_requested` handlers (its money now sits in the treasury)."""
    p = uow.repo(Payment).get(t.ref_id, for_update=True)
    assert p is not None, f"transfer {t.id} serves no payment {t.ref_id}"
    settle(deps, uow, p, t)


def settle(deps: Deps, uow: UnitOfWork, p: Payment, t: Transfer, *,
           tell_sender: bool = True, webhooks_on: bool = True) -> None:
    """Records the chain's decision on `p` (locked by the caller), whose money `t` moved:
    its own transfer, or a batch's chunk shared with other items (services/batches.py,
    which follows its items on the batch's page instead of telling the sender per item
    (`tell_sender`), and says once per chunk whether the organisation has webhooks)."""
    if p.status != S.SUBMITTED or p.transfer_id != t.id:
        return  # a replayed outcome: already recorded
    now = deps.clock.now_ms()
    if t.status == TransferStatus.COMMITTED:
        p = moved(p, S.INCLUDED, now, tx_id=t.tx_id, height=t.height)
        p = moved(p, S.FINAL, now)  # the chain's blocks are final once committed
        p = moved(p, S.CREDITED, now)
        steps: tuple[PaymentStatus, ...] = (S.INCLUDED, S.FINAL, S.CREDITED)
    else:
        assert t.status == TransferStatus.REJECTED, t.status
        p = moved(p, S.FAILED, now, tx_id=t.tx_id, reason_code=t.result_code or "REJECTED",
                  reason_message=t.result_message)
        steps = (S.FAILED,)
    uow.repo(Payment).update(p)
    if webhooks_on:
        notify(deps, uow, p, steps)
    _inbox(deps, uow, p, tell_sender=tell_sender)
    uow.audit(actor_id=None, actor_kind="system", action=f"payment.{p.status}",
              object_type="payment", object_id=p.id,
              after={"tx_id": p.tx_id, "height": p.height, "reason_code": p.reason_code})
    if p.status == S.CREDITED and p.recipient_type == RecipientType.EXTERNAL:
        uow.audit(actor_id=None, actor_kind="system", action="payment.payout_requested",
                  object_type="payment", object_id=p.id, after={"uetr": p.uetr})
        for handler in deps.handlers.payout_requested:
            handler(deps, uow, p)


def _inbox(deps: Deps, uow: UnitOfWork, p: Payment, *, tell_sender: bool = True) -> None:
    """The sender's (and a customer recipient's) notification of the chain's outcome."""
    sender = inbox.user_of(p.owner_type, p.owner_id, p.created_by) if tell_sender else None
    sent = {"amount_minor": p.sell_amount_minor, "currency": p.sell_code}
    if p.status == S.CREDITED:
        inbox.record(deps, uow, user_id=sender, topic=Topic.PAYMENT_SETTLED,
                     subject_type=SubjectType.PAYMENT, subject_id=p.id, event=p.id,
                     params={**sent, "received_minor": p.buy_amount_minor,
                             "received_currency": p.buy_code})
        inbox.record(deps, uow, user_id=p.recipient_user_id, topic=Topic.PAYMENT_RECEIVED,
                     subject_type=SubjectType.PAYMENT, subject_id=p.id, event=p.id,
                     params={"amount_minor": p.buy_amount_minor, "currency": p.buy_code})
    elif p.status == S.FAILED:
        inbox.record(deps, uow, user_id=sender, topic=Topic.PAYMENT_FAILED,
                     subject_type=SubjectType.PAYMENT, subject_id=p.id, event=p.id,
                     params={**sent, "reason_code": p.reason_code})


def notify(deps: Deps, uow: UnitOfWork, p: Payment, steps: tuple[PaymentStatus, ...]) -> None:
    """A webhook event per state change of an organisation's payment."""
    if p.owner_type != OwnerType.ORG:
        return
    for status in steps:
        at = next((h.at_ms for h in reversed(p.history) if h.status is status), None)
        webhooks.enqueue(deps, uow, p.owner_id, f"payment.{status.value}",
                         {"event": f"payment.{status.value}", "at_ms": at,
                          "payment": event_view(p)})


def event_view(p: Payment) -> dict[str, Any]:
    """A payment as the API and webhooks show it: amounts as exact decimal text."""
    return {
        "id": p.id, "uetr": p.uetr, "kind": p.kind, "status": p.status,
        "owner_type": p.owner_type, "owner_id": p.owner_id,
        "sell_asset": p.sell_code, "sell_amount": money.format_minor(p.sell_amount_minor,
                                                                     p.sell_code),
        "fee": money.format_minor(p.fee_minor, p.sell_code),
        "buy_asset": p.buy_code, "buy_amount": money.format_minor(p.buy_amount_minor, p.buy_code),
        "price": p.price, "purpose": p.purpose,
        "recipient_type": p.recipient_type, "recipient_name": p.recipient_name,
        "recipient_address": p.recipient_address, "memo": p.memo, "quote_id": p.quote_id,
        "history": steps_json(p.history), "tx_id": p.tx_id, "height": p.height,
        "reason_code": p.reason_code, "reason_message": p.reason_message,
        "expected_arrival_ms": p.expected_arrival_ms, "created_ms": p.created_ms,
        "updated_ms": p.updated_ms,
    }
