"""What deposits and withdrawals share: whose money a request moves, who may see it, the
idempotency of their creation, the customer's KYC limits and the wallet's balance."""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeVar

from corridor.platform.domain import idempotency, money
from corridor.platform.domain import kyc as kyc_domain
from corridor.platform.domain.errors import Err, PlatformError, Problems
from corridor.platform.domain.kyc import Limits
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import (
    DEPOSITS_OPEN,
    Deposit,
    DepositStatus,
    Withdrawal,
    WithdrawalStatus,
)
from corridor.platform.domain.roles import Perm, org_allows
from corridor.platform.domain.transfers import Transfer, TransferStatus, wallet_ref
from corridor.platform.domain.wallets import (
    Authorisation,
    AuthStatus,
    OwnerType,
    Wallet,
    WalletStatus,
)
from corridor.platform.services import kyc, wallets
from corridor.platform.services.access import acting_owner, member_role, require_org
from corridor.platform.services.ledger_port import ChainAccount
from corridor.platform.services.ports import Deps, UnitOfWork


def owner_for_write(uow: UnitOfWork, who: Principal, org_id: str | None) -> tuple[str, str]:
    """Whose money the caller moves: their own, or an organisation's (Perm.PAY_INITIATE),
    in good standing (access.acting_owner)."""
    return acting_owner(uow, who, org_id, Perm.PAY_INITIATE)


def owner_for_read(uow: UnitOfWork, who: Principal, org_id: str | None) -> tuple[str, str]:
    if org_id is not None:
        require_org(uow, who, org_id, Perm.ORG_READ)
        return OwnerType.ORG, org_id
    return OwnerType.USER, who.user_id


def may_read(uow: UnitOfWork, who: Principal, owner_type: str, owner_id: str) -> bool:
    """Whether the caller may see a record of this owner (if not: NOT_FOUND, learn nothing)."""
    if owner_type == OwnerType.USER:
        return owner_id == who.user_id
    role = member_role(uow, owner_id, who.user_id)
    return role is not None and org_allows(role, Perm.ORG_READ)


def check_key(key: str | None, problems: Problems) -> str:
    """The request's Idempotency-Key, its mistake added to `problems` (refuse them with
    domain/idempotency.py's `raise_if_any`: missing and invalid have their own codes)."""
    return idempotency.check_key(key, problems)


def request_hash(request: dict[str, Any]) -> str:
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


R = TypeVar("R", Deposit, Withdrawal)


def replayed(existing: R | None, hashed: str) -> R | None:
    """The record made by an earlier request with the same key (None: a new request)."""
    if existing is not None and existing.request_hash != hashed:
        raise Err.IDEMPOTENCY_KEY_REUSED.error()
    return existing


def parse_amount(text: str, currency: str, problems: Problems) -> int:
    """Minor units of a major-unit amount ('12.34'); 0 with a problem recorded when bad."""
    if not money.is_currency(currency):
        problems.add("currency", f"one of {', '.join(money.CURRENCIES)}")
        return 0
    try:
        return money.parse_major(text, currency)
    except PlatformError as exc:
        problems.add("amount", exc.message)
        return 0


def limits_of(uow: UnitOfWork, owner_type: str, owner_id: str) -> Limits:
    return kyc_domain.limits_for(kyc.tier_of(uow, owner_type, owner_id))


def check_limits(limits: Limits, currency: str, amount_minor: int,
                 used_today_minor: int = 0) -> None:
    """The tier allows this currency, this single amount, and this amount on top of what
    was already used today (`used_today_minor`). Limits are in the reference currency
    (USD); without a rate source in this area, other currencies are compared at face value
    (every demo currency has 2 decimals)."""
    if currency not in limits.asset_codes:
        raise Err.CURRENCY_NOT_ALLOWED.error(
            f"your verification tier ({limits.tier}) does not allow {currency}",
            {"currency": f"allowed: {', '.join(limits.asset_codes) or 'none'}"})
    if amount_minor > limits.per_tx_minor:
        raise Err.LIMIT_EXCEEDED.error(
            "the amount is above your per-transaction limit of "
            f"{money.format_minor(limits.per_tx_minor, limits.currency)} "
            f"{limits.currency}", {"amount": "above the per-transaction limit"})
    if used_today_minor + amount_minor > limits.per_day_minor:
        shown = money.format_minor(limits.per_day_minor, limits.currency)
        used = money.format_minor(used_today_minor, limits.currency)
        raise Err.LIMIT_EXCEEDED.error(f"the amount is above your daily limit of {shown} "
                                       f"{limits.currency} ({used} used today)",
                                       {"amount": "above the daily limit"})


def receive_problem(uow: UnitOfWork, wallet: Wallet, code: str, *,
                    arriving_now: bool) -> str | None:
    """Why `wallet` cannot be credited `code` (None: it can), from the platform's records:
    the wallet failed to open (or, for money `arriving_now`, is not open yet), its owner's
    verification tier does not allow the asset, or the issuer's authorisation of the
    wallet for the asset failed (or, `arriving_now`, is still on its way). The chain would
    refuse such a credit later (NOT_AUTHORISED): it is refused before anything moves."""
    if wallet.status == WalletStatus.FAILED:
        return "the wallet could not be opened"
    if arriving_now and wallet.status != WalletStatus.OPEN:
        return "the wallet is not open yet"
    if code not in limits_of(uow, wallet.owner_type, wallet.owner_id).asset_codes:
        return f"its verification tier does not allow {code}"
    auth = uow.repo(Authorisation).one(wallet_id=wallet.id, asset_code=code)
    if auth is not None and auth.status == AuthStatus.FAILED:
        return f"the wallet is not authorised for {code}"
    if arriving_now and (auth is None or auth.status != AuthStatus.AUTHORISED):
        return f"the wallet is not authorised for {code} yet"
    return None


def holding_problem(account: ChainAccount | None, code: str, issuer: str | None) -> str | None:
    """Why the chain would refuse to credit `code` to this account, as far as the account
    shows it: the holding is frozen, or present but not authorised (None: no objection)."""
    if account is None:
        return None
    for h in account.holdings:
        if h.code == code and (issuer is None or h.issuer == issuer):
            if h.frozen:
                return f"the wallet's {code} holding is frozen"
            if not h.authorised:
                return f"the wallet is not authorised for {code}"
    return None


def owner_wallet(deps: Deps, uow: UnitOfWork, owner_type: str, owner_id: str, *,
                 create: bool) -> Wallet | None:
    """The owner's custodial wallet, locked (FOR UPDATE): requests of one owner that touch
    money queue behind each other, so balance checks and idempotency lookups hold."""
    if create:
        wallet_id: str | None = wallets.ensure_wallet(deps, uow, owner_type=owner_type,
                                                      owner_id=owner_id)
    else:
        found = [x for x in uow.repo(Wallet).many(owner_type=owner_type, owner_id=owner_id,
                                                  custodial=True, order_by="created_ms")
                 if x.status == WalletStatus.OPEN]
        wallet_id = found[0].id if found else None
    return uow.repo(Wallet).get(wallet_id, for_update=True) if wallet_id else None


def chain_balance(deps: Deps, uow: UnitOfWork, wallet: Wallet, code: str) -> int:
    """The wallet's on-chain balance of `code`, from the node when one is wired.
    Without a node (development), an estimate from the rails' own records."""
    node = wallets.ledger_node(deps)
    if node is None:
        return _rails_estimate(uow, wallet.id, code)
    account = node.account(wallet.address)  # UNAVAILABLE propagates: we cannot check
    if account is None:
        return 0
    issuer = deps.issuer_address
    return sum(h.balance_minor for h in account.holdings
               if h.code == code and (issuer is None or h.issuer == issuer))


SNAPSHOT_TTL_MS = 5_000
SNAPSHOTS_MAX = 10_000


class Snapshots:
    """Accounts as the chain held them a moment ago, per address, for the balance check
    before the wallet lock: a snapshot of any age is safe there (see `available_minor`:
    debits applied since are subtracted by sequence), it only misses credits received
    since, so a refusal is re-checked on a fresh read. The age bound keeps debits the
    platform did not sign itself (an issuer's clawback) from being missed for long."""

    def __init__(self, ttl_ms: int = SNAPSHOT_TTL_MS) -> None:
        self.ttl_ms = ttl_ms
        self._by_address: dict[str, tuple[int, ChainAccount]] = {}

    def get(self, address: str, now_ms: int) -> ChainAccount | None:
        hit = self._by_address.get(address)
        return hit[1] if hit is not None and now_ms - hit[0] < self.ttl_ms else None

    def put(self, account: ChainAccount, now_ms: int) -> None:
        if len(self._by_address) >= SNAPSHOTS_MAX:
            self._by_address.clear()
        self._by_address[account.address] = (now_ms, account)


def account_snapshot(deps: Deps, address: str) -> ChainAccount | None:
    """The account as the chain holds it now; None without a node. May be read before the
    wallet lock is taken (see `available_minor`), so a slow node never holds the lock."""
    node = wallets.ledger_node(deps)
    return None if node is None else node.account(address)


def available_minor(deps: Deps, uow: UnitOfWork, wallet: Wallet, code: str,
                    snapshot: ChainAccount | None = None) -> int:
    """What the wallet may still spend of `code`: its on-chain balance less every debit the
    platform has promised but the chain has not applied yet. Call with the wallet row
    locked, so concurrent spends from one wallet serialise.

    The account's balance and sequence come from one snapshot of the chain, and every
    transfer the wallet is the source of carries the sequence it was signed with: one with
    no sequence yet, or a sequence above the account's, is not in that balance; one at or
    below it is (so a debit is never counted twice while its outcome is being recorded).
    A `snapshot` read earlier (outside the lock) is as good as a fresh one: debits the
    chain applied after it (committed transfers with a higher sequence) are subtracted
    too, and credits that arrived since are merely not counted yet.
    Without a node (development): an estimate from the rails' records, less every debit
    not yet recorded as done."""
    node = wallets.ledger_node(deps)
    applied_up_to = -1  # without a node nothing signed is known to be applied
    if node is None:
        balance = _rails_estimate(uow, wallet.id, code)
    else:
        fresh = snapshot is None or snapshot.address != wallet.address
        account = node.account(wallet.address) if fresh else snapshot
        if account is None:  # UNAVAILABLE propagated above if the node did not answer
            return 0
        issuer = deps.issuer_address
        balance = sum(h.balance_minor for h in account.holdings
                      if h.code == code and (issuer is None or h.issuer == issuer))
        applied_up_to = account.sequence
    ref = wallet_ref(wallet.id)
    # Two reads, pending then applied: on PostgreSQL each statement sees its own moment, so
    # a transfer the chain commits in between is seen by both; counted once by its id.
    counted: dict[str, int] = {}
    for t in uow.repo(Transfer).many(source=ref, status=(TransferStatus.QUEUED,
                                                         TransferStatus.SUBMITTED,
                                                         TransferStatus.HELD)):
        if t.sequence is not None and t.sequence <= applied_up_to:
            continue
        counted[t.id] = _debit(t, ref, code)
    if applied_up_to >= 0:
        for t in _applied_since(uow, ref, applied_up_to):
            counted[t.id] = _debit(t, ref, code)
    return balance - sum(counted.values())


def _debit(t: Transfer, ref: str, code: str) -> int:
    return sum(leg.amount_minor for leg in t.legs if leg.source == ref and leg.code == code)


def _applied_since(uow: UnitOfWork, ref: str, sequence: int) -> list[Transfer]:
    """Debits of `ref` the chain applied after `sequence` and the platform has recorded
    (committed transfers signed with a higher sequence). Few: the snapshot is read just
    before, and at most the source's in-flight transactions commit in between."""
    return uow.repo(Transfer).many(source=ref, status=TransferStatus.COMMITTED,
                                   above={"sequence": sequence})


def _rails_estimate(uow: UnitOfWork, wallet_id: str, code: str) -> int:
    # Development only (no node): what came in by deposit less what went out by
    # withdrawal. Payments are not counted; the chain would refuse an overdraft anyway.
    credited = sum(d.received_minor or 0 for d in uow.repo(Deposit).many(
        wallet_id=wallet_id, currency=code, status=DepositStatus.CREDITED))
    out = sum(w.amount_minor for w in uow.repo(Withdrawal).many(wallet_id=wallet_id,
                                                                currency=code)
              if w.status not in (WithdrawalStatus.FAILED, WithdrawalStatus.REVERSED,
                                  WithdrawalStatus.REQUESTED, WithdrawalStatus.HELD,
                                  WithdrawalStatus.REJECTED))
    return credited - out


def open_deposits_minor(uow: UnitOfWork, wallet_id: str, code: str, now_ms: int) -> int:
    """Money announced by deposits not credited yet: it reserves room under the cap."""
    return sum(d.amount_minor for status in DEPOSITS_OPEN
               for d in uow.repo(Deposit).many(wallet_id=wallet_id, currency=code,
                                               status=status)
               if status != DepositStatus.AWAITING_FUNDS or d.expires_ms > now_ms)
