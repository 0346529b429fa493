"""Cross-border payments (requirements P1, P7; shared/ARCHITECTURE.md "Payment life cycle").

A payment is created and confirmed in one request carrying an `Idempotency-Key`: in one
unit of work it is priced (a firm quote, or the fee alone in one currency), checked
against the sender's KYC tier and available balance, recorded `draft -> ready ->
submitted`, and its on-chain transfer is queued in the settlement outbox:

    leg 1  sender wallet -> TREASURY   sell_code, sell amount (fee included)
    leg 2  TREASURY -> recipient       buy_code, buy amount     (none for a bank payout)

The settlement worker reports the outcome through `_on_transfer` (registered by
`register_hooks`): committed -> included -> final -> credited, or failed with the
ledger's reject code. A bank payout (external recipient) is handed to the rails through
the `payout_requested` hooks once its money has reached the treasury.

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
import re
from collections.abc import Callable
from typing import Any

from corridor.ledger import keys, merkle
from corridor.ledger.block import BlockHeader, tx_leaf
from corridor.ledger.errors import DecodeError
from corridor.ledger.tx import decode_transaction
from corridor.platform.domain import fx, money
from corridor.platform.domain import kyc as kyc_domain
from corridor.platform.domain.errors import (
    Kind,
    PlatformError,
    Problems,
    conflict,
    invalid,
    not_found,
)
from corridor.platform.domain.identity import User, UserStatus, normalise_email, normalise_phone
from corridor.platform.domain.payments import (
    Payment,
    PaymentKind,
    PaymentStatus,
    Quote,
    RecipientType,
    moved,
)
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.transfers import (
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import OwnerType, Wallet, WalletStatus
from corridor.platform.services import (
    bank_details,
    funds,
    kyc,
    quotes,
    rates,
    settlement,
    wallets,
    webhooks,
)
from corridor.platform.services.ledger_port import ChainAccount
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

S = PaymentStatus
IDEMPOTENCY_KEY_LEN_MAX = 64  # the column's width
MEMO_LEN_MAX = 140
PAGE_MAX = 100
EXPECTED_ONCHAIN_MS = 30_000  # a few blocks and the worker's round
EXPECTED_PAYOUT_MS = 24 * 3_600_000  # a bank rail: next business day at worst in the demo
DAY_MS = 86_400_000
REFERENCE = kyc_domain.REFERENCE_CURRENCY
# Payments that moved no money (or whose money came back) do not use up a daily limit.
NOT_COUNTED = frozenset({S.FAILED, S.REJECTED, S.CANCELLED, S.EXPIRED, S.REFUNDED})
CANCELLABLE = frozenset({S.DRAFT, S.PENDING_APPROVAL, S.ON_HOLD, S.READY})

_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_ACCOUNT = re.compile(r"^[0-9A-Z]{4,34}$")
_BANK_CODE = re.compile(r"^[A-Z0-9]{3,20}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
NAME_LEN_MAX = 140

PayoutHook = Callable[[Deps, UnitOfWork, Payment], None]
_PAYOUT_HOOKS: list[PayoutHook] = []


def on_payout_requested(hook: PayoutHook) -> None:
    """The rails area registers here: called, in the unit of work that credits an external
    payment (its money now sits in the treasury), to pay `recipient_bank` out through a
    rail. The hook must be idempotent (an outcome may be replayed after a crash)."""
    if hook not in _PAYOUT_HOOKS:
        _PAYOUT_HOOKS.append(hook)


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

    def digest(self) -> str:
        """The request's hash (idempotency). An account number or IBAN enters it masked:
        a plain hash of a short number can be searched; `account()` is compared apart."""
        doc = {**dataclasses.asdict(self), "recipient": bank_details.masked(self.recipient)}
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def account(self) -> str | None:
        """An external recipient's account number or IBAN, as stored (None: another kind)."""
        if self.recipient.get("type") != RecipientType.EXTERNAL:
            return None
        given = self.recipient.get("iban") or self.recipient.get("account_number") or ""
        return given.strip().replace(" ", "").upper()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    type: str  # RecipientType
    name: str
    destination: str | None  # the second leg's destination; None for a bank payout
    user_id: str | None = None
    wallet_id: str | None = None
    address: str | None = None
    bank: dict[str, str] | None = None
    owner: tuple[str, str] | None = None  # (owner_type, owner_id) of a platform wallet
    # False: a preview for a customer the details do not match (it looks the same as one
    # that does; the payment's creation refuses it)
    found: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """What the customer sees before confirming."""

    kind: str
    sell_code: str
    sell_amount_minor: int  # total cost, fee included
    fee_minor: int
    buy_code: str
    buy_amount_minor: int
    price: str
    quote_id: str | None
    quote_expires_ms: int | None
    recipient: Recipient
    expected_arrival_ms: int


def _check_bank(bank: dict[str, str], problems: Problems) -> dict[str, str]:
    def text(name: str) -> str:
        return str(bank.get(name) or "").strip()

    name, country = text("name"), text("country").upper()
    iban = text("iban").replace(" ", "").upper()
    account = text("account_number").replace(" ", "").upper()
    bank_code = text("bank_code").replace(" ", "").upper()
    if not name or len(name) > NAME_LEN_MAX or not name.isprintable():
        problems.add("recipient.name", f"1-{NAME_LEN_MAX} printable characters")
    if not _COUNTRY.match(country):
        problems.add("recipient.country", "an ISO 3166 two-letter country code")
    if bool(iban) == bool(account):
        problems.add("recipient.iban", "give exactly one of iban and account_number")
    elif iban and not _iban_ok(iban):
        problems.add("recipient.iban", "not a valid IBAN")
    elif account and not _ACCOUNT.match(account):
        problems.add("recipient.account_number", "4-34 letters or digits")
    if not _BANK_CODE.match(bank_code):
        problems.add("recipient.bank_code", "3-20 letters or digits (BIC, sort code, ...)")
    out = {"name": name, "country": country, "bank_code": bank_code}
    out.update({"iban": iban} if iban else {"account_number": account})
    return out


def _iban_ok(iban: str) -> bool:
    """ISO 13616: the shape, then mod 97 of the rearranged digits is 1."""
    if not _IBAN.match(iban):
        return False
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def _recipient_shape(raw: dict[str, str], problems: Problems) -> dict[str, str]:
    """The recipient's fields checked for shape (no lookups): every problem collected."""
    kind = raw.get("type", "")
    if kind == RecipientType.USER:
        if bool(raw.get("email")) == bool(raw.get("phone")):
            problems.add("recipient.email", "give exactly one of email and phone")
        return {"type": kind, **{k: raw[k] for k in ("email", "phone") if raw.get(k)}}
    if kind == RecipientType.ADDRESS:
        address = str(raw.get("address") or "").strip()
        if not keys.is_valid_address(address):
            problems.add("recipient.address", "not a ledger address (c...)")
        return {"type": kind, "address": address}
    if kind == RecipientType.EXTERNAL:
        return {"type": kind, **_check_bank(raw, problems)}
    problems.add("recipient.type", "one of user, address, external")
    return {}


def _find_user(uow: UnitOfWork, spec: dict[str, str]) -> User | None:
    try:
        if "email" in spec:
            return uow.repo(User).one(email=normalise_email(spec["email"]))
        return uow.repo(User).one(phone=normalise_phone(spec["phone"]), phone_verified=True)
    except PlatformError:
        return None


def _open_wallet(uow: UnitOfWork, owner_type: str, owner_id: str, *,
                 for_update: bool = False) -> Wallet | None:
    for wlt in uow.repo(Wallet).many(owner_type=owner_type, owner_id=owner_id, custodial=True,
                                     status=WalletStatus.OPEN, order_by="created_ms", limit=1,
                                     for_update=for_update):
        return wlt
    return None


def _recipient(uow: UnitOfWork, spec: dict[str, str], *, preview: bool = False) -> Recipient:
    kind = spec["type"]
    if kind == RecipientType.EXTERNAL:
        return Recipient(type=kind, name=spec["name"], destination=None, bank=spec)
    if kind == RecipientType.ADDRESS:
        wlt = uow.repo(Wallet).one(address=spec["address"])
        user_id = wlt.owner_id if wlt and wlt.owner_type == OwnerType.USER else None
        user = uow.repo(User).get(user_id) if user_id else None
        return Recipient(type=kind, name=user.name if user else "", address=spec["address"],
                         destination=spec["address"], wallet_id=wlt.id if wlt else None,
                         user_id=user_id,
                         owner=(wlt.owner_type, wlt.owner_id) if wlt else None)
    user = _find_user(uow, spec)
    wlt = (_open_wallet(uow, OwnerType.USER, user.id)
           if user is not None and user.kind == "customer" and user.status == UserStatus.ACTIVE
           else None)
    if user is None or wlt is None:
        if preview:  # no answer that tells who is a customer (issue 14, item 8)
            return Recipient(type=kind, name="", destination=None, found=False)
        raise PlatformError(Kind.NOT_FOUND, "RECIPIENT_NOT_FOUND",
                            "no customer with an open wallet has these details")
    return Recipient(type=kind, name=user.name, user_id=user.id, wallet_id=wlt.id,
                     address=wlt.address, destination=wallet_ref(wlt.id),
                     owner=(OwnerType.USER, user.id))


def _check_can_receive(deps: Deps, uow: UnitOfWork, r: Recipient, code: str) -> None:
    """The recipient can be credited `code` now (issue 14, item 15): a platform wallet is
    open, its owner's tier allows the asset and the issuer authorised it for the asset; on
    chain (as recently read) its holding is neither frozen nor unauthorised. Else refused
    before anything moves, instead of failing on chain (NOT_AUTHORISED) and refunded."""
    if r.type == RecipientType.EXTERNAL or not r.found:
        return
    wlt = uow.repo(Wallet).get(r.wallet_id) if r.wallet_id is not None else None
    problem = funds.receive_problem(uow, wlt, code, arriving_now=True) if wlt else None
    if problem is None and r.address is not None and wallets.ledger_node(deps) is not None:
        problem = funds.holding_problem(_account(deps, r.address), code,
                                        deps.extras.get("issuer_address"))
    if problem is not None:
        raise invalid("RECIPIENT_CANNOT_RECEIVE", f"the recipient cannot receive {code}: "
                      f"{problem}", {"recipient": problem})


def _account(deps: Deps, address: str) -> ChainAccount | None:
    """The account as the chain held it a moment ago (funds.Snapshots), else as it holds
    it now; None when the node cannot tell (the chain decides then)."""
    snapshots = deps.extras.get("snapshots")
    now = deps.clock.now_ms()
    if isinstance(snapshots, funds.Snapshots):
        recent = snapshots.get(address, now)
        if recent is not None:
            return recent
    try:
        account = funds.account_snapshot(deps, address)
    except PlatformError:
        return None
    if account is not None and isinstance(snapshots, funds.Snapshots):
        snapshots.put(account, now)
    return account


def _masked_contact(spec: dict[str, str]) -> str:
    """The recipient's e-mail or phone as the sender typed it, masked: 'd***@example.com',
    '***0958'. Nothing in it comes from the platform's records."""
    if "email" in spec:
        local, _, domain = spec["email"].strip().lower().partition("@")
        return f"{local[:1]}***@{domain}"[:NAME_LEN_MAX]
    digits = "".join(c for c in spec.get("phone", "") if c.isdigit())
    return f"***{digits[-4:]}"


def _as_previewed(r: Recipient, spec: dict[str, str]) -> Recipient:
    """What a preview shows of the recipient (issue 14, item 8): of a customer found by
    e-mail or phone, only the details the sender typed, masked - never the registered
    name or the chain address, and the same whether or not the details match a customer
    (any function of the registered name would tell one who knows it); of a chain
    address, the address alone. The registered name is shown once the payment is made."""
    if r.type == RecipientType.USER:
        return Recipient(type=r.type, name=_masked_contact(spec), destination=None)
    if r.type == RecipientType.ADDRESS:
        return Recipient(type=r.type, name="", destination=None, address=r.address)
    return r


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


def _today_minor(deps: Deps, uow: UnitOfWork, owner: tuple[str, str]) -> int:
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
        raise PlatformError(Kind.FORBIDDEN, "KYC_REQUIRED",
                            "complete identity verification before sending money")
    limits = kyc_domain.limits_for(tier)
    codes = {priced.sell_code} | ({priced.buy_code} if kind == PaymentKind.EXCHANGE else set())
    refused = sorted(codes - set(limits.asset_codes))
    if refused:
        raise invalid("CURRENCY_NOT_ALLOWED",
                      f"your verification tier ({tier}) does not allow {', '.join(refused)}",
                      {"currency": f"allowed: {', '.join(limits.asset_codes)}"})
    usd = _in_usd(deps, priced.sell_minor, priced.sell_code)
    if usd > limits.per_tx_minor:
        raise invalid("LIMIT_EXCEEDED", f"above your per-transaction limit of "
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
    today = _today_minor(deps, uow, owner)
    if today + usd > limits.per_day_minor:
        raise invalid("LIMIT_EXCEEDED", f"above your daily limit of "
                      f"{_usd_shown(limits.per_day_minor)}",
                      {"limit": "per_day", "limit_amount": _usd_shown(limits.per_day_minor),
                       "amount": _usd_shown(usd), "used_today": _usd_shown(today)})


def _sender_snapshot(deps: Deps, wallet: Wallet) -> tuple[ChainAccount | None, bool]:
    """The sender's account on chain, read before the wallet lock so a slow node does not
    stall every payment of that sender, and whether it came from the recent snapshots
    (funds.Snapshots) rather than the node; None when it cannot be told yet (the locked
    pass then asks the node itself and reports any problem properly)."""
    snapshots = deps.extras.get("snapshots")
    now = deps.clock.now_ms()
    if isinstance(snapshots, funds.Snapshots):
        recent = snapshots.get(wallet.address, now)
        if recent is not None:
            return recent, True
    try:
        account = funds.account_snapshot(deps, wallet.address)
    except PlatformError:
        return None, False
    if account is not None and isinstance(snapshots, funds.Snapshots):
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
        raise PlatformError(Kind.CONFLICT, "INSUFFICIENT_FUNDS", "not enough money available",
                            {"available": money.format_minor(max(available, 0), code),
                             "needed": money.format_minor(need, code), "currency": code})


# --- preview and create ----------------------------------------------------------------


def _sender_wallet(uow: UnitOfWork, owner: tuple[str, str]) -> Wallet:
    """The owner's open wallet, locked, in one statement: PostgreSQL re-checks the filter
    (still open) once it holds the row lock; SQLite's writer already holds the file lock."""
    locked = _open_wallet(uow, *owner, for_update=True)
    if locked is None:
        raise conflict("NO_OPEN_WALLET", "there is no open wallet to pay from")
    return locked


def _prepare(deps: Deps, uow: UnitOfWork, who: Principal, req: PaymentRequest,
             owner: tuple[str, str], wallet: Wallet, problems: Problems, *,
             preview: bool = False) -> tuple[Preview, Quote | None, kyc_domain.Limits]:
    """Everything about a payment that needs no lock: its shape, price, recipient (able to
    receive), kind and tier (every problem with the request reported at once). A
    `preview` shows the recipient masked, and a customer named by e-mail or phone alike
    whether they exist or can receive (their creation refuses them)."""
    spec = _recipient_shape(req.recipient, problems)
    if len(req.memo) > MEMO_LEN_MAX or not req.memo.isprintable():
        problems.add("memo", f"at most {MEMO_LEN_MAX} printable characters")
    priced, quote = _priced(deps, uow, req, owner, problems)
    problems.raise_if_any()
    assert priced is not None
    recipient = _recipient(uow, spec, preview=preview)
    if not (preview and recipient.type == RecipientType.USER):
        _check_can_receive(deps, uow, recipient, priced.buy_code)
    if recipient.wallet_id == wallet.id and priced.sell_code == priced.buy_code:
        raise invalid("SAME_WALLET", "a payment to the same wallet in the same currency",
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
        recipient=_as_previewed(recipient, spec) if preview else recipient,
        expected_arrival_ms=now + eta), quote, limits


def preview(deps: Deps, who: Principal, req: PaymentRequest) -> Preview:
    """Everything the customer will pay and get, checked as a creation would be, with
    nothing written; the recipient masked (see `_as_previewed`)."""
    with deps.uow() as uow:
        owner = quotes.owner_of(uow, who, req.org_id, Perm.PAY_INITIATE)
        wallet = _sender_wallet(uow, owner)
        shown, _, limits = _prepare(deps, uow, who, req, owner, wallet, Problems(),
                                    preview=True)
        _check_daily(deps, uow, owner, limits, shown)
        _check_balance(deps, uow, wallet, shown.sell_code, shown.sell_amount_minor)
    return shown


def _new_id(deps: Deps) -> str:
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
    key = (idempotency_key or "").strip()
    if not key or len(key) > IDEMPOTENCY_KEY_LEN_MAX or not key.isprintable():
        problems.add("Idempotency-Key",
                     f"a header of 1-{IDEMPOTENCY_KEY_LEN_MAX} printable characters")
    digest = req.digest()
    with deps.reader() as uow:
        owner = quotes.owner_of(uow, who, req.org_id, Perm.PAY_INITIATE)
        wallet = _open_wallet(uow, *owner)
        if wallet is None:
            raise conflict("NO_OPEN_WALLET", "there is no open wallet to pay from")
        existing = None if problems else _replayed(deps, uow, owner, key, digest, req.account())
        if existing is not None:
            return existing, False
        shown, _, limits = _prepare(deps, uow, who, req, owner, wallet, problems)
        sender_name = kyc.verified_name(deps, uow, *owner)  # what the recipient sees
    snapshot, recent = _sender_snapshot(deps, wallet)  # before taking the lock

    def locked(uow: UnitOfWork) -> tuple[Payment, bool]:
        sender = _sender_wallet(uow, owner)  # locked: this owner's creations queue here
        existing = _replayed(deps, uow, owner, key, digest, req.account())
        if existing is not None:
            return existing, False
        if shown.recipient.wallet_id == sender.id and shown.sell_code == shown.buy_code:
            raise invalid("SAME_WALLET", "a payment to the same wallet in the same currency",
                          {"recipient": "is the paying wallet"})
        quote = quotes.take(deps, uow, req.quote_id, *owner) if req.quote_id else None
        _check_daily(deps, uow, owner, limits, shown)
        _check_balance(deps, uow, sender, shown.sell_code, shown.sell_amount_minor, snapshot,
                       recent=recent)
        p = _submit(deps, uow, who, req, owner, sender, shown, key, digest, sender_name)
        if quote is not None:
            quotes.use(uow, quote, p.id)
        return p, True

    # On SQLite this transaction may be shared with other creations (group commit): the
    # write lock is taken once for all of them; a refusal undoes this one's writes only.
    return deps.write(locked)


def _replayed(deps: Deps, uow: UnitOfWork, owner: tuple[str, str], key: str, digest: str,
              account: str | None) -> Payment | None:
    """The payment an earlier request with this key made (None: a new request); another
    request under the same key is refused."""
    existing = uow.repo(Payment).one(owner_type=owner[0], owner_id=owner[1],
                                     idempotency_key=key)
    if existing is not None and (existing.request_hash != digest
                                 or bank_details.payment_account(deps, existing) != account):
        raise conflict("IDEMPOTENCY_KEY_REUSED",
                       "this Idempotency-Key was used for a different request")
    return existing


def _submit(deps: Deps, uow: UnitOfWork, who: Principal, req: PaymentRequest,
            owner: tuple[str, str], wallet: Wallet, shown: Preview, key: str,
            digest: str, sender_name: str | None) -> Payment:
    now = deps.clock.now_ms()
    r = shown.recipient
    payment_id = _new_id(deps)
    sealed = (None if r.bank is None else bank_details.seal(
        deps, bank_details.account_in(r.bank), bank_details.payment_context(payment_id)))
    p = Payment(
        id=payment_id, uetr=deps.rand.new_id(), kind=shown.kind, owner_type=owner[0],
        owner_id=owner[1], created_by=who.user_id, idempotency_key=key, request_hash=digest,
        sender_wallet_id=wallet.id, recipient_type=r.type, recipient_user_id=r.user_id,
        recipient_wallet_id=r.wallet_id, recipient_address=r.address,
        recipient_bank=None if r.bank is None else bank_details.masked(r.bank),
        recipient_account_sealed=sealed, recipient_name=r.name, quote_id=shown.quote_id,
        sell_code=shown.sell_code,
        sell_amount_minor=shown.sell_amount_minor, fee_minor=shown.fee_minor,
        buy_code=shown.buy_code, buy_amount_minor=shown.buy_amount_minor, price=shown.price,
        memo=req.memo, status=S.DRAFT, history=[{"status": S.DRAFT.value, "at_ms": now}],
        transfer_id=None, tx_id=None, height=None, reason_code=None, reason_message=None,
        expected_arrival_ms=shown.expected_arrival_ms, created_ms=now, updated_ms=now,
        sender_name=sender_name,
    )
    legs = [Leg(source=wallet_ref(wallet.id), destination=TREASURY, code=p.sell_code,
                amount_minor=p.sell_amount_minor)]
    if r.destination is not None:
        legs.append(Leg(source=TREASURY, destination=r.destination, code=p.buy_code,
                        amount_minor=p.buy_amount_minor))
    t = settlement.queue(deps, uow, purpose=Purpose.PAYMENT, ref_id=p.id,
                         source=wallet_ref(wallet.id), legs=legs, memo=p.uetr)
    ready = moved(p, S.READY, now)
    submitted = moved(ready, S.SUBMITTED, now, transfer_id=t.id)
    uow.repo(Payment).add(submitted)
    _notify(deps, uow, submitted, (S.DRAFT, S.READY, S.SUBMITTED))
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="payment.create",
              object_type="payment", object_id=p.id,
              after={"uetr": p.uetr, "owner_type": p.owner_type, "owner_id": p.owner_id,
                     "sell": f"{money.format_minor(p.sell_amount_minor, p.sell_code)} "
                             f"{p.sell_code}",
                     "buy": f"{money.format_minor(p.buy_amount_minor, p.buy_code)} "
                            f"{p.buy_code}",
                     "recipient_type": r.type, "transfer_id": t.id})
    return submitted


# --- the chain's outcome -------------------------------------------------------------------


def register_hooks() -> None:
    """Wires the payment outcome hook into settlement (the composition root calls it)."""
    settlement.on_outcome(Purpose.PAYMENT, _on_transfer)


def _on_transfer(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    p = uow.repo(Payment).get(t.ref_id, for_update=True)
    assert p is not None, f"transfer {t.id} serves no payment {t.ref_id}"
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
    _notify(deps, uow, p, steps)
    uow.audit(actor_id=None, actor_kind="system", action=f"payment.{p.status}",
              object_type="payment", object_id=p.id,
              after={"tx_id": p.tx_id, "height": p.height, "reason_code": p.reason_code})
    if p.status == S.CREDITED and p.recipient_type == RecipientType.EXTERNAL:
        uow.audit(actor_id=None, actor_kind="system", action="payment.payout_requested",
                  object_type="payment", object_id=p.id, after={"uetr": p.uetr})
        for hook in _PAYOUT_HOOKS:
            hook(deps, uow, p)


def _notify(deps: Deps, uow: UnitOfWork, p: Payment, steps: tuple[PaymentStatus, ...]) -> None:
    """A webhook event per state change of an organisation's payment."""
    if p.owner_type != OwnerType.ORG:
        return
    for status in steps:
        at = next((h["at_ms"] for h in reversed(p.history) if h["status"] == status), None)
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
        "price": p.price, "recipient_type": p.recipient_type, "recipient_name": p.recipient_name,
        "recipient_address": p.recipient_address, "memo": p.memo, "quote_id": p.quote_id,
        "history": p.history, "tx_id": p.tx_id, "height": p.height,
        "reason_code": p.reason_code, "reason_message": p.reason_message,
        "expected_arrival_ms": p.expected_arrival_ms, "created_ms": p.created_ms,
        "updated_ms": p.updated_ms,
    }


# --- reading, cancelling, the receipt -------------------------------------------------------


def _visible(uow: UnitOfWork, who: Principal, p: Payment) -> bool:
    if quotes.may_read(uow, who, p.owner_type, p.owner_id):
        return True
    if p.recipient_user_id is not None and p.recipient_user_id == who.user_id:
        return True
    if p.recipient_wallet_id is not None:
        wlt = uow.repo(Wallet).get(p.recipient_wallet_id)
        # Only the wallet's proven owner (issue 14/5): a key claimed without proof does not
        # make its payments the claimant's to read.
        return (wlt is not None and wlt.proven
                and quotes.may_read(uow, who, wlt.owner_type, wlt.owner_id))
    return False


def get(deps: Deps, who: Principal, payment_id: str) -> Payment:
    """A payment the caller sent (or their organisation did) or receives; else NOT_FOUND."""
    with deps.uow() as uow:
        p = uow.repo(Payment).get(payment_id[:64])
        if p is None or not _visible(uow, who, p):
            raise not_found("payment")
    return p


def list_sent(deps: Deps, who: Principal, *, org_id: str | None = None, limit: int = 50,
              offset: int = 0) -> list[Payment]:
    """The caller's (or their organisation's) payments, newest first."""
    limit, offset = page_bounds(limit, offset, PAGE_MAX)
    with deps.uow() as uow:
        owner = quotes.owner_of(uow, who, org_id, Perm.ORG_READ)
        return uow.repo(Payment).many(owner_type=owner[0], owner_id=owner[1],
                                      order_by="created_ms", descending=True, limit=limit,
                                      offset=offset)


def cancel(deps: Deps, who: Principal, payment_id: str) -> Payment:
    """Cancels a payment not yet submitted to the chain (the sender side, PAY_INITIATE)."""
    with deps.uow() as uow:
        p = uow.repo(Payment).get(payment_id[:64], for_update=True)
        if p is None or not _visible(uow, who, p):
            raise not_found("payment")
        if not quotes.may_read(uow, who, p.owner_type, p.owner_id):
            raise PlatformError(Kind.FORBIDDEN, "FORBIDDEN", "only the sender may cancel")
        quotes.owner_of(uow, who, p.owner_id if p.owner_type == OwnerType.ORG else None,
                        Perm.PAY_INITIATE)
        if p.status not in CANCELLABLE:
            raise conflict("NOT_CANCELLABLE", f"a {p.status} payment can no longer be cancelled")
        p = moved(p, S.CANCELLED, deps.clock.now_ms())
        uow.repo(Payment).update(p)
        _notify(deps, uow, p, (S.CANCELLED,))
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="payment.cancel",
                  object_type="payment", object_id=p.id)
        uow.commit()
    return p


def receipt(deps: Deps, who: Principal, payment_id: str) -> dict[str, Any]:
    """The payment's receipt: every amount formatted, the rate, fee, timestamps, and once
    it is on chain the transaction, its block and an inclusion proof checked here against
    the block header's transaction root. Stable shape: the printable page renders it."""
    p = get(deps, who, payment_id)
    out: dict[str, Any] = {
        "payment_id": p.id, "uetr": p.uetr, "status": p.status, "kind": p.kind,
        "sent": f"{money.format_minor(p.sell_amount_minor, p.sell_code)} {p.sell_code}",
        "fee": f"{money.format_minor(p.fee_minor, p.sell_code)} {p.sell_code}",
        "converted": f"{money.format_minor(p.sell_amount_minor - p.fee_minor, p.sell_code)} "
                     f"{p.sell_code}",
        "received": f"{money.format_minor(p.buy_amount_minor, p.buy_code)} {p.buy_code}",
        "rate": f"1 {p.sell_code} = {p.price} {p.buy_code}",
        "recipient_name": p.recipient_name, "recipient_type": p.recipient_type,
        "recipient_address": p.recipient_address, "memo": p.memo,
        "created_ms": p.created_ms, "history": p.history,
        "expected_arrival_ms": p.expected_arrival_ms,
        "reason_code": p.reason_code, "tx_id": p.tx_id, "height": p.height, "proof": None,
    }
    node = wallets.ledger_node(deps)
    if p.tx_id and node is not None and p.status != S.FAILED:
        try:
            inclusion = node.tx_proof(p.tx_id)
        except PlatformError:
            inclusion = None  # the node is away: the receipt still stands without it
        if inclusion is not None:
            out["proof"] = {"height": inclusion.height, "index": inclusion.index,
                            "tx": inclusion.tx_hex, "path": list(inclusion.path),
                            "header": inclusion.header,
                            "verified": proof_ok(p.tx_id, inclusion.height, inclusion.index,
                                                 inclusion.tx_hex, inclusion.path,
                                                 inclusion.header)}
    return out


def proof_ok(tx_id: str, height: int, index: int, tx_hex: str, path: tuple[str, ...],
             header: dict[str, Any]) -> bool:
    """Whether the proof shows transaction `tx_id` in the block whose header is given:
    the header decodes and hashes to its stated hash, and the Merkle path from the
    transaction's leaf reaches the header's tx root."""
    try:
        h = BlockHeader.decode(bytes.fromhex(str(header["encoded"])))
        stx = decode_transaction(bytes.fromhex(tx_hex))
        hashes = [bytes.fromhex(x) for x in path]
    except (DecodeError, KeyError, ValueError):
        return False
    return (h.hash().hex() == header.get("hash") and h.height == height
            and stx.tx_id.hex() == tx_id
            and merkle.verify_inclusion(h.tx_root, tx_leaf(stx), index, h.tx_count,
                                        tuple(hashes)))
