"""Rules v1: the state transition of one transaction.

`apply_tx` is pure: it reads a `StateView`, and returns either a new view (an `Overlay` of its
writes) and a `TxResult`, or the unchanged view and a `Rejection`. Operations are atomic:
`apply_into` journals every write in the overlay and undoes them all when an operation fails.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Callable

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import RejectCode, Rejection
from corridor.ledger.limits import AMOUNT_MAX, HOLDINGS_MAX, SIGNERS_MAX
from corridor.ledger.records import Account, AssetInfo, Escrow, Holding, asset_sort_key
from corridor.ledger.results import SUCCESS, OpResult, TxResult
from corridor.ledger.state import ABSENT, Overlay, StateView
from corridor.ledger.tx import (
    Clawback,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    HolderAction,
    IssueAsset,
    OpenAccount,
    Operation,
    OpType,
    Payment,
    SetHolder,
    SetSigners,
    SignedTransaction,
    Signer,
)

R = RejectCode
_U16 = struct.Struct(">H")
# The records built per transaction are NamedTuples, whose generated __new__ is a Python
# frame; tuple.__new__ is the same construction in C: half the cost (docs/decisions/0002).
_new = tuple.__new__


def apply_tx(
    state: StateView,
    stx: SignedTransaction,
    ctx: ApplyContext,
    *,
    signatures_verified: bool = False,
) -> tuple[StateView, TxResult | Rejection]:
    """Applies one signed transaction. `signatures_verified=True` means the caller has already
    checked every signature with `verify_signatures` (for example on several threads)."""
    scratch = Overlay(state)
    outcome = apply_into(scratch, stx, ctx, signatures_verified=signatures_verified)
    if isinstance(outcome, Rejection):
        return state, outcome
    return scratch, outcome


def verify_signatures(stx: SignedTransaction) -> bool:
    """True iff every signature is a valid BIP-340 signature of the transaction id."""
    tx_id = stx.tx_id
    verify = keys.verify
    sigs = stx.signatures
    if len(sigs) == 1:  # the common case, without a generator
        return verify(sigs[0].public_key, tx_id, sigs[0].signature)
    return all(verify(s.public_key, tx_id, s.signature) for s in sigs)


def apply_into(
    out: Overlay, stx: SignedTransaction, ctx: ApplyContext, *, signatures_verified: bool
) -> TxResult | Rejection:
    """Applies `stx` by writing into `out`; a rejected transaction leaves `out` as it was."""
    tx = stx.tx
    if tx.chain_id != ctx.chain_id:
        return Rejection(R.WRONG_CHAIN, f"signed for chain {tx.chain_id!r}, not {ctx.chain_id!r}")
    if ctx.time_ms < tx.not_before_ms:
        return Rejection(R.NOT_YET_VALID, f"valid from {tx.not_before_ms} ms, now {ctx.time_ms}")
    if ctx.time_ms > tx.not_after_ms:
        return Rejection(R.EXPIRED, f"valid until {tx.not_after_ms} ms, now {ctx.time_ms}")
    source = out.accounts.get(tx.source) or out.parent_account(tx.source)  # inlined .account
    if source is None:
        return Rejection(R.UNKNOWN_ACCOUNT, "the source account does not exist")
    if tx.sequence != source.sequence + 1:
        if tx.sequence <= source.sequence:
            return Rejection(R.BAD_SEQUENCE, f"sequence {tx.sequence} already used")
        return Rejection(
            R.FUTURE_SEQUENCE, f"sequence {tx.sequence}, expected {source.sequence + 1}"
        )
    if not signatures_verified and not verify_signatures(stx):
        return Rejection(R.BAD_SIGNATURE, "a signature does not verify")
    ops = tx.operations
    if len(ops) == 1 and type(ops[0]) is Payment:
        done = _plain_payment(out, stx, source, ops[0])
        if done is not None:
            return done
    # The common case inline: one source, one signature of a signer that alone meets the
    # threshold. The same verdict as _check_weight, without its sets.
    sigs = stx.signatures
    enough = False
    if len(sigs) == 1 and len(ops) == 1 and ops[0].source is None:
        key = sigs[0].public_key
        for signer in source.signers:
            if signer.public_key == key:
                enough = signer.weight >= source.threshold
                break
    if not enough:
        refused = _check_weight(out, stx, source)
        if refused is not None:
            return refused
    out.bump_address, out.bump_sequence = tx.source, tx.sequence
    out.undo.clear()  # writes start here; everything before only reads
    op_results = []
    for index, op in enumerate(tx.operations):
        result = _HANDLERS[op.TYPE](out, op, op.source or tx.source, ctx, stx.tx_id, index)
        if isinstance(result, Rejection):
            out.rollback()
            return Rejection(result.code, result.message, index)
        op_results.append(result)
    written = out.accounts.get(tx.source)
    if written is None or written.sequence != tx.sequence:
        # No operation rewrote the source (or it was an earlier transaction's write that is
        # still in the overlay): bump the sequence alone.
        out.put_account(
            Account(source.address, tx.sequence, source.threshold, source.signers, source.holdings)
        )
    assert out.accounts[tx.source].sequence == tx.sequence
    return _new(TxResult, (stx.tx_id, tuple(op_results), SUCCESS))


def _plain_payment(
    out: Overlay, stx: SignedTransaction, source: Account, op: Payment
) -> TxResult | None:
    """The usual transaction in one frame, or None to take the general path.

    One signature of a signer that alone meets the threshold, one payment from the source
    between two holders (no mint, burn or new holding), that succeeds: every check comes
    before the two writes, so nothing needs undoing. Anything else, including every way of
    failing, returns None before writing and the general path decides (and words the
    rejection): one set of rules, this is only their cheapest case. It saves the handler
    dispatch, five calls and a second lookup of the source, ~1/3 of the apply's CPU
    (docs/decisions/0002).
    """
    sigs = stx.signatures
    if op.source is not None or len(sigs) != 1:
        return None
    key = sigs[0].public_key
    for signer in source.signers:
        if signer.public_key == key:
            if signer.weight < source.threshold:
                return None
            break
    else:
        return None
    src, dst, asset, amount = source.address, op.destination, op.asset, op.amount
    if dst in (src, asset.issuer) or src == asset.issuer:
        return None
    # No lookup of the asset: both holdings found below mean it exists (a holding is only
    # ever made for an existing asset, and assets are never removed).
    dst_acct = out.accounts.get(dst) or out.parent_account(dst)
    if dst_acct is None:
        return None
    src_hs, dst_hs = source.holdings, dst_acct.holdings
    i = 0 if src_hs and src_hs[0].asset == asset else _find(source, asset)
    j = 0 if dst_hs and dst_hs[0].asset == asset else _find(dst_acct, asset)
    if i < 0 or j < 0:
        return None
    debited, credited = src_hs[i], dst_hs[j]
    if not (debited.authorised and credited.authorised) or debited.frozen or credited.frozen:
        return None
    if debited.balance < amount:
        return None
    debited = _new(Holding, (asset, debited.balance - amount, True, False))
    credited = _new(Holding, (asset, credited.balance + amount, True, False))
    # Nothing fails after the writes, so they need no journal entries; cleared, so that no
    # rollback can ever reach an earlier transaction's writes.
    out.undo.clear()
    accounts = out.accounts
    accounts[src] = _new(
        Account,
        (
            src,
            stx.tx.sequence,
            source.threshold,
            source.signers,
            (debited,) if len(src_hs) == 1 else (*src_hs[:i], debited, *src_hs[i + 1 :]),
        ),
    )
    accounts[dst] = _new(
        Account,
        (
            dst,
            dst_acct.sequence,
            dst_acct.threshold,
            dst_acct.signers,
            (credited,) if len(dst_hs) == 1 else (*dst_hs[:j], credited, *dst_hs[j + 1 :]),
        ),
    )
    return _new(TxResult, (stx.tx_id, (_new(OpResult, (amount, b"")),), SUCCESS))


def _write(
    out: Overlay,
    acct: Account,
    threshold: int,
    signers: tuple[Signer, ...],
    holdings: tuple[Holding, ...],
) -> None:
    """Writes a new version of `acct`; the transaction's source also gets its new sequence."""
    address = acct.address
    sequence = out.bump_sequence if address == out.bump_address else acct.sequence
    out.put_account(Account(address, sequence, threshold, signers, holdings))


def _check_weight(out: Overlay, stx: SignedTransaction, source: Account) -> Rejection | None:
    signed = {s.public_key for s in stx.signatures}
    used: set[bytes] = set()
    for address in stx.tx.sources():
        acct = source if address == stx.tx.source else out.account(address)
        if acct is None:
            return Rejection(R.UNKNOWN_ACCOUNT, "an operation's source account does not exist")
        weight = 0
        for signer in acct.signers:
            if signer.public_key in signed:
                weight += signer.weight
                used.add(signer.public_key)
        if weight < acct.threshold:
            return Rejection(
                R.INSUFFICIENT_WEIGHT,
                f"signatures carry weight {weight} of the {acct.threshold} needed",
            )
    if len(used) != len(signed):
        return Rejection(R.EXTRA_SIGNATURE, "a signature is from no signer of any source")
    return None


# --- holdings -------------------------------------------------------------------------------


def _find(acct: Account, asset: Asset) -> int:
    hs = acct.holdings
    if hs and hs[0].asset == asset:  # the usual case: one currency, or the first one
        return 0
    for i, h in enumerate(hs):
        if h.asset == asset:
            return i
    return -1


def _put_holding(out: Overlay, acct: Account, index: int, holding: Holding) -> None:
    """Writes `acct` with `holding` replacing position `index` (or inserted, if -1)."""
    hs = acct.holdings
    if index >= 0:
        if len(hs) == 1:  # the usual case, without the slicing
            holdings: tuple[Holding, ...] = (holding,)
        else:
            holdings = (*hs[:index], holding, *hs[index + 1 :])
    else:
        key = asset_sort_key(holding.asset)
        at = 0
        while at < len(hs) and asset_sort_key(hs[at].asset) < key:
            at += 1
        holdings = (*hs[:at], holding, *hs[at:])
    address = acct.address  # inlined _write and put_account: this is the hottest write
    sequence = out.bump_sequence if address == out.bump_address else acct.sequence
    accounts = out.accounts
    out.undo.append((accounts, address, accounts.get(address, ABSENT)))
    accounts[address] = _new(Account, (address, sequence, acct.threshold, acct.signers, holdings))


def _debit(out: Overlay, acct: Account, info: AssetInfo, amount: int) -> Rejection | None:
    hs = acct.holdings
    i = 0 if hs and hs[0].asset == info.asset else _find(acct, info.asset)  # inlined usual case
    if i < 0:
        return Rejection(R.INSUFFICIENT_BALANCE, f"holds no {info.asset.code}")
    h = hs[i]
    if not h.authorised:
        return Rejection(R.NOT_AUTHORISED, f"not authorised for {info.asset.code}")
    if h.frozen:
        return Rejection(R.FROZEN, f"the {info.asset.code} holding is frozen")
    if h.balance < amount:
        return Rejection(R.INSUFFICIENT_BALANCE, f"balance {h.balance} < {amount}")
    _put_holding(out, acct, i, _new(Holding, (h.asset, h.balance - amount, True, False)))
    return None


def _credit(out: Overlay, acct: Account, info: AssetInfo, amount: int) -> Rejection | None:
    hs = acct.holdings
    i = 0 if hs and hs[0].asset == info.asset else _find(acct, info.asset)  # inlined usual case
    if i < 0:
        if info.auth_required:
            return Rejection(R.NOT_AUTHORISED, f"destination not authorised for {info.asset.code}")
        if len(hs) >= HOLDINGS_MAX:
            return Rejection(R.TOO_MANY_HOLDINGS, f"an account holds at most {HOLDINGS_MAX}")
        _put_holding(out, acct, -1, Holding(info.asset, amount, True, False))
        return None
    h = hs[i]
    if not h.authorised:
        return Rejection(R.NOT_AUTHORISED, f"destination not authorised for {info.asset.code}")
    if h.frozen:
        return Rejection(R.FROZEN, f"the destination's {info.asset.code} holding is frozen")
    _put_holding(out, acct, i, _new(Holding, (h.asset, h.balance + amount, True, False)))
    return None


def _set_supply(out: Overlay, info: AssetInfo, supply: int) -> None:
    out.put_asset(
        AssetInfo(
            info.asset, info.decimals, info.auth_required, info.freezable, info.clawback, supply
        )
    )


# --- operations -----------------------------------------------------------------------------

_Handler = Callable[[Overlay, Operation, bytes, ApplyContext, bytes, int], OpResult | Rejection]


def _open_account(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, OpenAccount)
    address = keys.address_of(op.public_key)
    if out.account(address) is not None:
        return Rejection(R.ACCOUNT_EXISTS, "an account with that key's address exists")
    out.put_account(Account(address, 0, 1, (Signer(public_key=op.public_key, weight=1),), ()))
    return OpResult(created_id=address)


def _payment(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, Payment)
    dst = op.destination
    if dst == src:
        return Rejection(R.SELF_PAYMENT, "source and destination are the same account")
    # The lookups are Overlay.asset and .account inlined (the records are never falsy).
    info = out.assets.get(op.asset) or out.parent_asset(op.asset)
    if info is None:
        return Rejection(R.UNKNOWN_ASSET, f"no asset {op.asset.code} from that issuer")
    dst_acct = out.accounts.get(dst) or out.parent_account(dst)
    if dst_acct is None:
        return Rejection(R.UNKNOWN_ACCOUNT, "the destination account does not exist")
    amount = op.amount
    issuer = info.asset.issuer
    if src == issuer:  # mint
        if info.supply > AMOUNT_MAX - amount:
            return Rejection(R.LIMIT_EXCEEDED, f"supply would exceed {AMOUNT_MAX}")
        refused = _credit(out, dst_acct, info, amount)
        if refused is None:
            _set_supply(out, info, info.supply + amount)
    else:
        src_acct = out.accounts.get(src) or out.parent_account(src)
        assert src_acct is not None  # apply_into checked every source exists
        refused = _debit(out, src_acct, info, amount)
        if refused is None:
            if dst == issuer:  # burn
                _set_supply(out, info, info.supply - amount)
            else:
                refused = _credit(out, dst_acct, info, amount)
    return refused if refused is not None else _new(OpResult, (amount, b""))


def _set_signers(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, SetSigners)
    keys_ = [s.public_key for s in op.signers]
    if not 1 <= len(keys_) <= SIGNERS_MAX or any(a >= b for a, b in itertools.pairwise(keys_)):
        return Rejection(R.BAD_SIGNERS, f"1-{SIGNERS_MAX} signers, sorted, each key once")
    if any(len(k) != keys.PUBLIC_KEY_LEN for k in keys_) or any(s.weight < 1 for s in op.signers):
        return Rejection(R.BAD_SIGNERS, "signer keys are 32 bytes and weights at least 1")
    total = sum(s.weight for s in op.signers)
    if not 1 <= op.threshold <= total:
        return Rejection(R.BAD_SIGNERS, f"threshold must be 1..{total}, the total weight")
    acct = out.account(src)
    assert acct is not None
    _write(out, acct, op.threshold, op.signers, acct.holdings)
    return OpResult()


def _issue_asset(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, IssueAsset)
    asset = Asset(op.code, src)
    if out.asset(asset) is not None:
        return Rejection(R.ASSET_EXISTS, f"{op.code} is already issued by this account")
    out.put_asset(AssetInfo(asset, op.decimals, op.auth_required, op.freezable, op.clawback, 0))
    return OpResult()


def _set_holder(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, SetHolder)
    info = out.asset(Asset(op.code, src))
    if info is None:
        return Rejection(R.UNKNOWN_ASSET, f"the source issues no asset {op.code}")
    if op.holder == src:
        return Rejection(R.ISSUER_HOLDING, "an issuer does not hold its own asset")
    acct = out.account(op.holder)
    if acct is None:
        return Rejection(R.UNKNOWN_ACCOUNT, "the holder account does not exist")
    action = op.action
    if action in (HolderAction.AUTHORISE, HolderAction.REVOKE) and not info.auth_required:
        return Rejection(R.FLAG_NOT_SET, f"{op.code} does not require authorisation")
    if action in (HolderAction.FREEZE, HolderAction.UNFREEZE) and not info.freezable:
        return Rejection(R.FLAG_NOT_SET, f"{op.code} is not freezable")
    i = _find(acct, info.asset)
    if i < 0:
        if action in (HolderAction.REVOKE, HolderAction.UNFREEZE):
            return OpResult()  # nothing to take away: idempotent
        if len(acct.holdings) >= HOLDINGS_MAX:
            return Rejection(R.TOO_MANY_HOLDINGS, f"an account holds at most {HOLDINGS_MAX}")
        h = Holding(info.asset, 0, not info.auth_required, False)
    else:
        h = acct.holdings[i]
    if action is HolderAction.AUTHORISE:
        h = Holding(h.asset, h.balance, True, h.frozen)
    elif action is HolderAction.REVOKE:
        h = Holding(h.asset, h.balance, False, h.frozen)
    elif action is HolderAction.FREEZE:
        h = Holding(h.asset, h.balance, h.authorised, True)
    else:
        h = Holding(h.asset, h.balance, h.authorised, False)
    _put_holding(out, acct, i, h)
    return OpResult()


def _clawback(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, Clawback)
    info = out.asset(Asset(op.code, src))
    if info is None:
        return Rejection(R.UNKNOWN_ASSET, f"the source issues no asset {op.code}")
    if not info.clawback:
        return Rejection(R.FLAG_NOT_SET, f"{op.code} was not issued with clawback")
    acct = out.account(op.holder)
    if acct is None:
        return Rejection(R.UNKNOWN_ACCOUNT, "the holder account does not exist")
    i = _find(acct, info.asset)
    if i < 0 or acct.holdings[i].balance < op.amount:
        return Rejection(R.INSUFFICIENT_BALANCE, "the holder has less than the amount")
    h = acct.holdings[i]
    # Clawback works on frozen and unauthorised holdings: that is what it is for.
    _put_holding(out, acct, i, Holding(h.asset, h.balance - op.amount, h.authorised, h.frozen))
    _set_supply(out, info, info.supply - op.amount)
    return OpResult(delivered=op.amount)


def escrow_id_of(tx_id: bytes, op_index: int) -> bytes:
    """The id of the escrow created by operation `op_index` of transaction `tx_id`."""
    return hashlib.sha256(b"corridor:escrow:" + tx_id + _U16.pack(op_index)).digest()


def _escrow_create(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, EscrowCreate)
    if op.hashlock is None and op.finish_after_ms is None and op.cancel_after_ms is None:
        return Rejection(R.BAD_ESCROW, "an escrow needs a hash lock or a time condition")
    if op.cancel_after_ms is not None:
        if op.cancel_after_ms <= ctx.time_ms:
            return Rejection(R.BAD_ESCROW, "cancel_after_ms is already past")
        if op.finish_after_ms is not None and op.cancel_after_ms <= op.finish_after_ms:
            return Rejection(R.BAD_ESCROW, "cancel_after_ms must be after finish_after_ms")
    info = out.asset(op.asset)
    if info is None:
        return Rejection(R.UNKNOWN_ASSET, f"no asset {op.asset.code} from that issuer")
    if out.account(op.destination) is None:
        return Rejection(R.UNKNOWN_ACCOUNT, "the destination account does not exist")
    if src == info.asset.issuer:
        if info.supply > AMOUNT_MAX - op.amount:
            return Rejection(R.LIMIT_EXCEEDED, f"supply would exceed {AMOUNT_MAX}")
        _set_supply(out, info, info.supply + op.amount)  # minted into the escrow
    else:
        src_acct = out.account(src)
        assert src_acct is not None  # apply_into checked every source exists
        refused = _debit(out, src_acct, info, op.amount)
        if refused is not None:
            return refused
    escrow_id = escrow_id_of(tx_id, index)
    out.put_escrow(
        escrow_id,
        Escrow(
            escrow_id,
            src,
            op.destination,
            op.asset,
            op.amount,
            op.hashlock,
            op.finish_after_ms,
            op.cancel_after_ms,
        ),
    )
    return OpResult(created_id=escrow_id)


def _release(out: Overlay, escrow: Escrow, to: bytes) -> Rejection | None:
    """Pays an escrow's amount to `to` (burning it if `to` is the issuer) and deletes it."""
    info = out.asset(escrow.asset)
    assert info is not None  # assets are never deleted
    if to == info.asset.issuer:
        _set_supply(out, info, info.supply - escrow.amount)
    else:
        acct = out.account(to)
        if acct is None:
            return Rejection(R.UNKNOWN_ACCOUNT, "the destination account does not exist")
        refused = _credit(out, acct, info, escrow.amount)
        if refused is not None:
            return refused
    out.put_escrow(escrow.escrow_id, None)
    return None


def _escrow_finish(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, EscrowFinish)
    escrow = out.escrow(op.escrow_id)
    if escrow is None:
        return Rejection(R.UNKNOWN_ESCROW, "no such escrow (finished, cancelled or never made)")
    if escrow.cancel_after_ms is not None and ctx.time_ms >= escrow.cancel_after_ms:
        return Rejection(R.ESCROW_EXPIRED, "cancel_after_ms has passed: it can only be cancelled")
    if escrow.finish_after_ms is not None and ctx.time_ms < escrow.finish_after_ms:
        return Rejection(R.ESCROW_NOT_FINISHABLE, f"finishable from {escrow.finish_after_ms} ms")
    if escrow.hashlock is not None:
        if op.preimage is None or hashlib.sha256(op.preimage).digest() != escrow.hashlock:
            return Rejection(R.WRONG_PREIMAGE, "the preimage does not hash to the lock")
    elif op.preimage is not None:
        return Rejection(R.WRONG_PREIMAGE, "this escrow has no hash lock; give no preimage")
    refused = _release(out, escrow, escrow.destination)
    return refused if refused is not None else OpResult(delivered=escrow.amount)


def _escrow_cancel(
    out: Overlay, op: Operation, src: bytes, ctx: ApplyContext, tx_id: bytes, index: int
) -> OpResult | Rejection:
    assert isinstance(op, EscrowCancel)
    escrow = out.escrow(op.escrow_id)
    if escrow is None:
        return Rejection(R.UNKNOWN_ESCROW, "no such escrow (finished, cancelled or never made)")
    if escrow.cancel_after_ms is None or ctx.time_ms < escrow.cancel_after_ms:
        return Rejection(R.ESCROW_NOT_CANCELLABLE, "cancel_after_ms not reached (or not set)")
    refused = _release(out, escrow, escrow.owner)
    return refused if refused is not None else OpResult(delivered=escrow.amount)


_HANDLERS: dict[OpType, _Handler] = {
    OpType.OPEN_ACCOUNT: _open_account,
    OpType.PAYMENT: _payment,
    OpType.SET_SIGNERS: _set_signers,
    OpType.ISSUE_ASSET: _issue_asset,
    OpType.SET_HOLDER: _set_holder,
    OpType.CLAWBACK: _clawback,
    OpType.ESCROW_CREATE: _escrow_create,
    OpType.ESCROW_FINISH: _escrow_finish,
    OpType.ESCROW_CANCEL: _escrow_cancel,
}
