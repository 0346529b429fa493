"""Who a payment goes to: the recipient's details checked for shape (a customer by e-mail
or phone, a chain address, or a bank account: domain/bank.py), found on the platform,
able to receive the asset now, and what a preview may show of them (issue 14, items 8
and 15: nothing that tells who is a customer)."""

from __future__ import annotations

import dataclasses

from corridor.ledger import keys
from corridor.platform.domain import bank
from corridor.platform.domain.errors import (
    Err,
    PlatformError,
    Problems,
)
from corridor.platform.domain.identity import User, UserStatus, normalise_email, normalise_phone
from corridor.platform.domain.payments import (
    RecipientType,
)
from corridor.platform.domain.transfers import (
    wallet_ref,
)
from corridor.platform.domain.wallets import OwnerType, Wallet, WalletStatus
from corridor.platform.services import (
    funds,
    wallets,
)
from corridor.platform.services.ledger_port import ChainAccount
from corridor.platform.services.ports import Deps, UnitOfWork

NAME_LEN_MAX = bank.NAME_LEN_MAX


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    type: RecipientType
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


def check_bank(raw: dict[str, str], problems: Problems) -> dict[str, str]:
    """An external recipient's bank details (domain/bank.py, the one check of bank details):
    exactly one of `iban` and `account_number`; an `iban` must be an IBAN."""
    iban, account = bank.compact(raw.get("iban")), bank.compact(raw.get("account_number"))
    field = "recipient.iban" if iban else "recipient.account_number"
    if bool(iban) == bool(account):
        problems.add("recipient.iban", "give exactly one of iban and account_number")
    out = bank.check(raw.get("name"), raw.get("country"), iban or account,
                     raw.get("bank_code"), problems,
                     {"name": "recipient.name", "country": "recipient.country",
                      "account": field, "bank_code": "recipient.bank_code"})
    if iban and not out.is_iban:
        problems.add("recipient.iban", "not a valid IBAN")
    checked = {"name": out.name, "country": out.country, "bank_code": out.bank_code}
    checked.update({"iban": out.account} if iban else {"account_number": out.account})
    return checked


def recipient_shape(raw: dict[str, str], problems: Problems) -> dict[str, str]:
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
        return {"type": kind, **check_bank(raw, problems)}
    problems.add("recipient.type", "one of user, address, external")
    return {}


def find_user(uow: UnitOfWork, spec: dict[str, str]) -> User | None:
    try:
        if "email" in spec:
            return uow.repo(User).one(email=normalise_email(spec["email"]))
        return uow.repo(User).one(phone=normalise_phone(spec["phone"]), phone_verified=True)
    except PlatformError:
        return None


def open_wallet(uow: UnitOfWork, owner_type: str, owner_id: str, *,
                 for_update: bool = False) -> Wallet | None:
    for wlt in uow.repo(Wallet).many(owner_type=owner_type, owner_id=owner_id, custodial=True,
                                     status=WalletStatus.OPEN, order_by="created_ms", limit=1,
                                     for_update=for_update):
        return wlt
    return None


def resolve(uow: UnitOfWork, spec: dict[str, str], *, preview: bool = False) -> Recipient:
    kind = RecipientType(spec["type"])  # recipient_shape let only a known type through
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
    user = find_user(uow, spec)
    wlt = (open_wallet(uow, OwnerType.USER, user.id)
           if user is not None and user.kind == "customer" and user.status == UserStatus.ACTIVE
           else None)
    if user is None or wlt is None:
        if preview:  # no answer that tells who is a customer (issue 14, item 8)
            return Recipient(type=kind, name="", destination=None, found=False)
        raise Err.RECIPIENT_NOT_FOUND.error()
    return Recipient(type=kind, name=user.name, user_id=user.id, wallet_id=wlt.id,
                     address=wlt.address, destination=wallet_ref(wlt.id),
                     owner=(OwnerType.USER, user.id))


def check_can_receive(deps: Deps, uow: UnitOfWork, r: Recipient, code: str) -> None:
    """The recipient can be credited `code` now (issue 14, item 15): a platform wallet is
    open, its owner's tier allows the asset and the issuer authorised it for the asset; on
    chain (as recently read) its holding is neither frozen nor unauthorised. Else refused
    before anything moves, instead of failing on chain (NOT_AUTHORISED) and refunded."""
    if r.type == RecipientType.EXTERNAL or not r.found:
        return
    wlt = uow.repo(Wallet).get(r.wallet_id) if r.wallet_id is not None else None
    problem = funds.receive_problem(uow, wlt, code, arriving_now=True) if wlt else None
    if problem is None and r.address is not None and wallets.ledger_node(deps) is not None:
        issuer = deps.issuer_address
        problem = (funds.holding_problem(chain_account(deps, r.address), code, issuer)
                   if wlt is not None else off_platform_problem(deps, r.address, code, issuer))
    if problem is not None:
        raise Err.RECIPIENT_CANNOT_RECEIVE.error(f"the recipient cannot receive {code}: "
                                                 f"{problem}", {"recipient": problem})


def off_platform_problem(deps: Deps, address: str, code: str,
                         issuer: str | None) -> str | None:
    """Why the chain would refuse to credit `code` to an address the platform keeps no
    wallet for (issue 15): it has no account there, or the account holds no `code` - the
    platform issues its assets auth_required, and a holding is how the chain records the
    issuer's authorisation. None: no objection, or the node cannot tell (the chain
    decides then)."""
    try:
        account = funds.account_snapshot(deps, address)
    except PlatformError:
        return None
    if account is None:
        return "no account on the chain has this address"
    if not any(h.code == code and (issuer is None or h.issuer == issuer)
               for h in account.holdings):
        return f"the account is not authorised for {code}"
    return funds.holding_problem(account, code, issuer)


def chain_account(deps: Deps, address: str) -> ChainAccount | None:
    """The account as the chain held it a moment ago (funds.Snapshots), else as it holds
    it now; None when the node cannot tell (the chain decides then)."""
    snapshots = deps.snapshots
    now = deps.clock.now_ms()
    if snapshots is not None:
        recent = snapshots.get(address, now)
        if recent is not None:
            return recent
    try:
        account = funds.account_snapshot(deps, address)
    except PlatformError:
        return None
    if account is not None and snapshots is not None:
        snapshots.put(account, now)
    return account


def masked_contact(spec: dict[str, str]) -> str:
    """The recipient's e-mail or phone as the sender typed it, masked: 'd***@example.com',
    '***0958'. Nothing in it comes from the platform's records."""
    if "email" in spec:
        local, _, domain = spec["email"].strip().lower().partition("@")
        return f"{local[:1]}***@{domain}"[:NAME_LEN_MAX]
    digits = "".join(c for c in spec.get("phone", "") if c.isdigit())
    return f"***{digits[-4:]}"


def as_previewed(r: Recipient, spec: dict[str, str]) -> Recipient:
    """What a preview shows of the recipient (issue 14, item 8): of a customer found by
    e-mail or phone, only the details the sender typed, masked - never the registered
    name or the chain address, and the same whether or not the details match a customer
    (any function of the registered name would tell one who knows it); of a chain
    address, the address alone. The registered name is shown once the payment is made."""
    if r.type == RecipientType.USER:
        return Recipient(type=r.type, name=masked_contact(spec), destination=None)
    if r.type == RecipientType.ADDRESS:
        return Recipient(type=r.type, name="", destination=None, address=r.address)
    return r
