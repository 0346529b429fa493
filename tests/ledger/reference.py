"""A slow, obviously-correct reference ledger: the v1 rules written a second time (STYLE 10).

This module is a specification to read from top to bottom. It shares nothing with
`corridor.ledger.rules` or `corridor.ledger.state`: the state is plain mutable records in
plain dicts, a transaction works on a full `copy.deepcopy` of it and the copy is kept only if
every operation succeeds. An operation refuses by raising `Refused`; nothing is written in
place, so there is no undo to get wrong.

The records are mutable dataclasses, not frozen ones (a deliberate exception to STYLE 2): a
transaction edits its own deep copy in place, which is the simplest correct thing to write.

It borrows from the real ledger only what is not rules: the transaction and operation types
(the input), the record types (to compare output), key derivation and BIP-340 verification
(`keys.address_of`, `keys.verify`) and the text forms of keys in a genesis document.

Where several checks could fail at once, which code comes back depends on the order of the
checks. That order is part of the protocol (clients see the codes), so it is written here in
the same order as `rules/v1.py`, and each such place says so.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import RejectCode
from corridor.ledger.records import Account, AssetInfo, Escrow, Holding
from corridor.ledger.tx import (
    Clawback,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    HolderAction,
    IssueAsset,
    OpenAccount,
    Payment,
    SetHolder,
    SetSigners,
    SignedTransaction,
    Signer,
)

R = RejectCode

# Protocol limits, written out again (tests/ledger/test_model.py checks they match limits.py).
AMOUNT_MAX = 2**63 - 1
HOLDINGS_MAX = 64
SIGNERS_MAX = 20

# Domain tags of the two hashes the rules compute (part of the protocol).
TX_ID_DOMAIN = b"corridor:tx:v1"
ESCROW_ID_DOMAIN = b"corridor:escrow:"


# --- The state ------------------------------------------------------------------------------


@dataclass
class RefHolding:
    """One account's position in one asset."""

    balance: int
    authorised: bool
    frozen: bool


@dataclass
class RefAccount:
    """An account: who signs for it, its last sequence, its holdings."""

    sequence: int  # the last sequence used; the next transaction must carry sequence + 1
    threshold: int
    signers: dict[bytes, int]  # public key -> weight
    holdings: dict[Asset, RefHolding]  # holdings are never removed, only emptied


@dataclass
class RefAsset:
    """An asset's flags and its outstanding supply."""

    decimals: int
    auth_required: bool
    freezable: bool
    clawback: bool
    supply: int  # everything issued and not burned: all holdings plus all escrows


@dataclass
class RefEscrow:
    """Funds locked by `owner` for `destination` until its conditions are met."""

    owner: bytes
    destination: bytes
    asset: Asset
    amount: int
    hashlock: bytes | None
    finish_after_ms: int | None
    cancel_after_ms: int | None


@dataclass
class RefState:
    """The whole ledger: accounts by address, assets, open escrows by id."""

    accounts: dict[bytes, RefAccount]
    assets: dict[Asset, RefAsset]
    escrows: dict[bytes, RefEscrow]  # finished and cancelled escrows are deleted


# --- Outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    op_results: tuple[tuple[int, bytes], ...]  # per operation: (delivered, created_id)


@dataclass(frozen=True)
class Rejected:
    code: RejectCode
    op_index: int  # the failing operation, or -1 for the transaction as a whole


Outcome = Accepted | Rejected


class Refused(Exception):
    """Raised by an operation that cannot apply; the transaction's copy of the state is dropped."""

    def __init__(self, code: RejectCode) -> None:
        super().__init__(code.name)
        self.code = code


def require(condition: bool, code: RejectCode) -> None:
    if not condition:
        raise Refused(code)


# --- Moving value ---------------------------------------------------------------------------


def take(state: RefState, address: bytes, asset: Asset, amount: int) -> None:
    """Debits a holder (never the issuer). Check order is part of the spec."""
    holding = state.accounts[address].holdings.get(asset)
    require(holding is not None, R.INSUFFICIENT_BALANCE)
    assert holding is not None
    require(holding.authorised, R.NOT_AUTHORISED)
    require(not holding.frozen, R.FROZEN)
    require(holding.balance >= amount, R.INSUFFICIENT_BALANCE)
    holding.balance -= amount


def give(state: RefState, address: bytes, asset: Asset, amount: int) -> None:
    """Credits a holder (never the issuer). Check order is part of the spec."""
    account = state.accounts.get(address)
    require(account is not None, R.UNKNOWN_ACCOUNT)
    assert account is not None
    holding = account.holdings.get(asset)
    if holding is None:
        # A first credit opens the holding, unless the issuer must authorise holders first.
        require(not state.assets[asset].auth_required, R.NOT_AUTHORISED)
        require(len(account.holdings) < HOLDINGS_MAX, R.TOO_MANY_HOLDINGS)
        account.holdings[asset] = RefHolding(balance=amount, authorised=True, frozen=False)
        return
    require(holding.authorised, R.NOT_AUTHORISED)
    require(not holding.frozen, R.FROZEN)
    holding.balance += amount


def mint(state: RefState, asset: Asset, amount: int) -> None:
    info = state.assets[asset]
    require(info.supply + amount <= AMOUNT_MAX, R.LIMIT_EXCEEDED)
    info.supply += amount


def burn(state: RefState, asset: Asset, amount: int) -> None:
    state.assets[asset].supply -= amount


def transfer(state: RefState, src: bytes, dst: bytes, asset: Asset, amount: int) -> None:
    """Value leaves `src` and reaches `dst`; the issuer mints when it pays and burns when paid."""
    issuer = asset.issuer
    if src == issuer:
        mint(state, asset, amount)  # the supply limit is checked before the destination
        give(state, dst, asset, amount)
    else:
        take(state, src, asset, amount)
        if dst == issuer:
            burn(state, asset, amount)
        else:
            give(state, dst, asset, amount)


# --- The nine operations ----------------------------------------------------------------------
# Each takes the transaction's private copy of the state, the operation, its effective source
# account (the operation's own source, else the transaction's), the context, the transaction id
# and the operation's index; returns (delivered, created_id) or raises Refused.

OpResult = tuple[int, bytes]


def open_account(
    state: RefState, op: OpenAccount, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    address = keys.address_of(op.public_key)
    require(address not in state.accounts, R.ACCOUNT_EXISTS)
    state.accounts[address] = RefAccount(
        sequence=0, threshold=1, signers={op.public_key: 1}, holdings={}
    )
    return 0, address


def payment(
    state: RefState, op: Payment, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    # Check order is part of the spec.
    require(op.destination != src, R.SELF_PAYMENT)
    require(op.asset in state.assets, R.UNKNOWN_ASSET)
    require(op.destination in state.accounts, R.UNKNOWN_ACCOUNT)
    transfer(state, src, op.destination, op.asset, op.amount)
    return op.amount, b""


def set_signers(
    state: RefState, op: SetSigners, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    public_keys = [s.public_key for s in op.signers]
    require(1 <= len(public_keys) <= SIGNERS_MAX, R.BAD_SIGNERS)
    require(public_keys == sorted(set(public_keys)), R.BAD_SIGNERS)  # sorted, each key once
    require(all(len(pk) == keys.PUBLIC_KEY_LEN for pk in public_keys), R.BAD_SIGNERS)
    require(all(s.weight >= 1 for s in op.signers), R.BAD_SIGNERS)
    total_weight = sum(s.weight for s in op.signers)
    require(1 <= op.threshold <= total_weight, R.BAD_SIGNERS)  # the threshold must be reachable
    account = state.accounts[src]
    account.signers = {s.public_key: s.weight for s in op.signers}
    account.threshold = op.threshold
    return 0, b""


def issue_asset(
    state: RefState, op: IssueAsset, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    asset = Asset(op.code, src)
    require(asset not in state.assets, R.ASSET_EXISTS)
    state.assets[asset] = RefAsset(
        decimals=op.decimals,
        auth_required=op.auth_required,
        freezable=op.freezable,
        clawback=op.clawback,
        supply=0,
    )
    return 0, b""


def set_holder(
    state: RefState, op: SetHolder, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    asset = Asset(op.code, src)  # an issuer acts only on its own assets
    # Check order is part of the spec.
    require(asset in state.assets, R.UNKNOWN_ASSET)
    require(op.holder != src, R.ISSUER_HOLDING)
    require(op.holder in state.accounts, R.UNKNOWN_ACCOUNT)
    info = state.assets[asset]
    if op.action in (HolderAction.AUTHORISE, HolderAction.REVOKE):
        require(info.auth_required, R.FLAG_NOT_SET)
    else:
        require(info.freezable, R.FLAG_NOT_SET)
    account = state.accounts[op.holder]
    holding = account.holdings.get(asset)
    if holding is None:
        if op.action in (HolderAction.REVOKE, HolderAction.UNFREEZE):
            return 0, b""  # nothing to take away: succeeds and changes nothing
        require(len(account.holdings) < HOLDINGS_MAX, R.TOO_MANY_HOLDINGS)
        # An empty holding, authorised from the start unless the asset needs authorisation.
        holding = RefHolding(balance=0, authorised=not info.auth_required, frozen=False)
        account.holdings[asset] = holding
    if op.action is HolderAction.AUTHORISE:
        holding.authorised = True
    elif op.action is HolderAction.REVOKE:
        holding.authorised = False
    elif op.action is HolderAction.FREEZE:
        holding.frozen = True
    else:
        holding.frozen = False
    return 0, b""


def clawback(
    state: RefState, op: Clawback, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    asset = Asset(op.code, src)
    # Check order is part of the spec.
    require(asset in state.assets, R.UNKNOWN_ASSET)
    require(state.assets[asset].clawback, R.FLAG_NOT_SET)
    require(op.holder in state.accounts, R.UNKNOWN_ACCOUNT)
    holding = state.accounts[op.holder].holdings.get(asset)
    require(holding is not None and holding.balance >= op.amount, R.INSUFFICIENT_BALANCE)
    assert holding is not None
    # No authorised or frozen check: taking back from such holders is what clawback is for.
    holding.balance -= op.amount
    burn(state, asset, op.amount)
    return op.amount, b""


def escrow_id_of(tx_id: bytes, index: int) -> bytes:
    """Known before submission: a hash of the transaction id and the operation's index."""
    return hashlib.sha256(ESCROW_ID_DOMAIN + tx_id + index.to_bytes(2, "big")).digest()


def escrow_create(
    state: RefState, op: EscrowCreate, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    # Check order is part of the spec.
    has_condition = (
        op.hashlock is not None or op.finish_after_ms is not None or op.cancel_after_ms is not None
    )
    require(has_condition, R.BAD_ESCROW)
    if op.cancel_after_ms is not None:
        require(op.cancel_after_ms > ctx.time_ms, R.BAD_ESCROW)  # not already cancellable
        if op.finish_after_ms is not None:
            require(op.cancel_after_ms > op.finish_after_ms, R.BAD_ESCROW)  # a window to finish
    require(op.asset in state.assets, R.UNKNOWN_ASSET)
    require(op.destination in state.accounts, R.UNKNOWN_ACCOUNT)
    if src == op.asset.issuer:
        mint(state, op.asset, op.amount)  # the issuer mints straight into the escrow
    else:
        take(state, src, op.asset, op.amount)
    escrow_id = escrow_id_of(tx_id, index)
    state.escrows[escrow_id] = RefEscrow(
        owner=src,
        destination=op.destination,
        asset=op.asset,
        amount=op.amount,
        hashlock=op.hashlock,
        finish_after_ms=op.finish_after_ms,
        cancel_after_ms=op.cancel_after_ms,
    )
    return 0, escrow_id


def release(state: RefState, escrow_id: bytes, to: bytes) -> OpResult:
    """Pays out an escrow (burning it if `to` is the issuer) and deletes it."""
    escrow = state.escrows.pop(escrow_id)
    if to == escrow.asset.issuer:
        burn(state, escrow.asset, escrow.amount)
    else:
        give(state, to, escrow.asset, escrow.amount)
    return escrow.amount, b""


def escrow_finish(
    state: RefState, op: EscrowFinish, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    # Anyone may finish; the funds go to the destination. Check order is part of the spec.
    escrow = state.escrows.get(op.escrow_id)
    require(escrow is not None, R.UNKNOWN_ESCROW)
    assert escrow is not None
    if escrow.cancel_after_ms is not None:
        require(ctx.time_ms < escrow.cancel_after_ms, R.ESCROW_EXPIRED)
    if escrow.finish_after_ms is not None:
        require(ctx.time_ms >= escrow.finish_after_ms, R.ESCROW_NOT_FINISHABLE)
    if escrow.hashlock is None:
        require(op.preimage is None, R.WRONG_PREIMAGE)
    else:
        require(
            op.preimage is not None and hashlib.sha256(op.preimage).digest() == escrow.hashlock,
            R.WRONG_PREIMAGE,
        )
    return release(state, op.escrow_id, escrow.destination)


def escrow_cancel(
    state: RefState, op: EscrowCancel, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult:
    # Anyone may cancel once the time has come; the funds go back to the owner.
    escrow = state.escrows.get(op.escrow_id)
    require(escrow is not None, R.UNKNOWN_ESCROW)
    assert escrow is not None
    require(
        escrow.cancel_after_ms is not None and ctx.time_ms >= escrow.cancel_after_ms,
        R.ESCROW_NOT_CANCELLABLE,
    )
    return release(state, op.escrow_id, escrow.owner)


OPERATIONS: dict[type, Any] = {
    OpenAccount: open_account,
    Payment: payment,
    SetSigners: set_signers,
    IssueAsset: issue_asset,
    SetHolder: set_holder,
    Clawback: clawback,
    EscrowCreate: escrow_create,
    EscrowFinish: escrow_finish,
    EscrowCancel: escrow_cancel,
}


# --- A transaction --------------------------------------------------------------------------


def sources_of(stx: SignedTransaction) -> list[bytes]:
    """The transaction's source, then each operation's own source, each once, in first use."""
    found = [stx.tx.source]
    for op in stx.tx.operations:
        if op.source is not None and op.source not in found:
            found.append(op.source)
    return found


def authorisation(state: RefState, stx: SignedTransaction, tx_id: bytes) -> RejectCode | None:
    """Signature rules: all valid, every source reaches its threshold, none superfluous."""
    # Check order is part of the spec: signatures, then each source in turn, then extras.
    if not all(keys.verify(s.public_key, tx_id, s.signature) for s in stx.signatures):
        return R.BAD_SIGNATURE
    signed = {s.public_key for s in stx.signatures}
    signing_for_someone: set[bytes] = set()
    for address in sources_of(stx):
        account = state.accounts.get(address)
        if account is None:
            return R.UNKNOWN_ACCOUNT
        weight = sum(w for pk, w in account.signers.items() if pk in signed)
        signing_for_someone |= signed & account.signers.keys()
        if weight < account.threshold:
            return R.INSUFFICIENT_WEIGHT
    if signed - signing_for_someone:
        return R.EXTRA_SIGNATURE  # a key that signs for no source
    return None


def apply_tx(
    state: RefState, stx: SignedTransaction, ctx: ApplyContext
) -> tuple[RefState, Outcome]:
    """The state after `stx` and its outcome; `state` itself is never modified."""
    tx = stx.tx
    tx_id = hashlib.sha256(TX_ID_DOMAIN + tx.encode()).digest()

    # Checks of the transaction as a whole. Their order is part of the spec.
    if tx.chain_id != ctx.chain_id:
        return state, Rejected(R.WRONG_CHAIN, -1)
    if ctx.time_ms < tx.not_before_ms:
        return state, Rejected(R.NOT_YET_VALID, -1)
    if ctx.time_ms > tx.not_after_ms:
        return state, Rejected(R.EXPIRED, -1)
    source = state.accounts.get(tx.source)
    if source is None:
        return state, Rejected(R.UNKNOWN_ACCOUNT, -1)
    if tx.sequence <= source.sequence:
        return state, Rejected(R.BAD_SEQUENCE, -1)  # already used: can never apply
    if tx.sequence > source.sequence + 1:
        return state, Rejected(R.FUTURE_SEQUENCE, -1)  # a gap: may apply later
    refused = authorisation(state, stx, tx_id)
    if refused is not None:
        return state, Rejected(refused, -1)

    # The operations, all or nothing, on a private copy.
    work = copy.deepcopy(state)
    results = []
    for index, op in enumerate(tx.operations):
        src = op.source if op.source is not None else tx.source
        try:
            results.append(OPERATIONS[type(op)](work, op, src, ctx, tx_id, index))
        except Refused as refusal:
            return state, Rejected(refusal.code, index)
    work.accounts[tx.source].sequence = tx.sequence  # only the transaction's own source
    return work, Accepted(tuple(results))


class ReferenceLedger:
    """The reference state plus the one thing to do with it: apply a transaction."""

    def __init__(self, state: RefState) -> None:
        self.state = state

    def apply(self, stx: SignedTransaction, ctx: ApplyContext) -> Outcome:
        self.state, outcome = apply_tx(self.state, stx, ctx)
        return outcome

    @staticmethod
    def from_genesis_document(doc: dict[str, Any]) -> ReferenceLedger:
        """The state a (valid) genesis document describes, read straight from its JSON."""
        state = RefState(accounts={}, assets={}, escrows={})
        for entry in doc["accounts"]:
            own_key = keys.decode_public_key(entry["public_key"])
            signers = {own_key: 1}
            if "signers" in entry:
                signers = {
                    keys.decode_public_key(s["public_key"]): s["weight"] for s in entry["signers"]
                }
            state.accounts[keys.address_of(own_key)] = RefAccount(
                sequence=0, threshold=entry.get("threshold", 1), signers=signers, holdings={}
            )
        for entry in doc.get("assets", []):
            asset = Asset(entry["code"], keys.decode_address(entry["issuer"]))
            state.assets[asset] = RefAsset(
                decimals=entry["decimals"],
                auth_required=entry.get("auth_required", False),
                freezable=entry.get("freezable", False),
                clawback=entry.get("clawback", False),
                supply=0,
            )
        for entry in doc.get("balances", []):
            # A balance entry also authorises the holder (the amount may be 0).
            asset = Asset(entry["code"], keys.decode_address(entry["issuer"]))
            holder = state.accounts[keys.decode_address(entry["holder"])]
            holder.holdings[asset] = RefHolding(entry["amount"], authorised=True, frozen=False)
            state.assets[asset].supply += entry["amount"]
        return ReferenceLedger(state)

    # --- The same state as the real ledger's records, for comparison ---

    def account_records(self) -> dict[bytes, Account]:
        """Accounts as the real ledger stores them: signers sorted by key, holdings by
        issuer address then code."""
        records = {}
        for address, acct in self.state.accounts.items():
            signers = tuple(
                Signer(public_key=pk, weight=w) for pk, w in sorted(acct.signers.items())
            )
            holdings = tuple(
                Holding(asset, h.balance, h.authorised, h.frozen)
                for asset, h in sorted(
                    acct.holdings.items(), key=lambda item: item[0].issuer + item[0].code.encode()
                )
            )
            records[address] = Account(address, acct.sequence, acct.threshold, signers, holdings)
        return records

    def asset_records(self) -> dict[Asset, AssetInfo]:
        return {
            asset: AssetInfo(asset, a.decimals, a.auth_required, a.freezable, a.clawback, a.supply)
            for asset, a in self.state.assets.items()
        }

    def escrow_records(self) -> dict[bytes, Escrow]:
        return {
            escrow_id: Escrow(
                escrow_id,
                e.owner,
                e.destination,
                e.asset,
                e.amount,
                e.hashlock,
                e.finish_after_ms,
                e.cancel_after_ms,
            )
            for escrow_id, e in self.state.escrows.items()
        }
