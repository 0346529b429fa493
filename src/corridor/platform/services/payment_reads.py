"""Reading a payment (visible to its sender, and to its recipient once credited), listing,
cancelling before submission, and the receipt with the chain's inclusion proof."""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.ledger import merkle
from corridor.ledger.block import BlockHeader, tx_leaf
from corridor.ledger.errors import DecodeError
from corridor.ledger.tx import decode_transaction
from corridor.platform.domain import money
from corridor.platform.domain.errors import (
    Err,
    PlatformError,
    not_found,
)
from corridor.platform.domain.payments import (
    CANCELLABLE,
    Payment,
    moved,
)
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.steps import steps_json
from corridor.platform.domain.transfers import Transfer, TransferStatus
from corridor.platform.domain.wallets import OwnerType, Wallet
from corridor.platform.services import (
    approvals,
    payments,
    quotes,
    wallets,
)
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

# --- reading, cancelling, the receipt -------------------------------------------------------


def _visible(uow: UnitOfWork, who: Principal, p: Payment) -> bool:
    if quotes.may_read(uow, who, p.owner_type, p.owner_id):
        return True
    if who.key is not None:  # an organisation's key sees its organisation's payments only
        return False
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
    limit, offset = page_bounds(limit, offset, payments.PAGE_MAX)
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
            raise Err.FORBIDDEN.error("only the sender may cancel")
        quotes.owner_of(uow, who, p.owner_id if p.owner_type == OwnerType.ORG else None,
                        Perm.PAY_INITIATE)
        if p.status not in CANCELLABLE:
            raise Err.NOT_CANCELLABLE.error(f"a {p.status} payment can no longer be cancelled")
        if p.status == payments.S.PENDING_APPROVAL:  # its approval ends, its money is free
            approvals.withdrawn(deps, uow, "payment", p.id, who)
            _refuse_held(deps, uow, p)
        p = moved(p, payments.S.CANCELLED, deps.clock.now_ms())
        uow.repo(Payment).update(p)
        payments.notify(deps, uow, p, (payments.S.CANCELLED,))
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="payment.cancel",
                  object_type="payment", object_id=p.id)
        uow.commit()
    return p


def _refuse_held(deps: Deps, uow: UnitOfWork, p: Payment) -> None:
    """A waiting payment's held transfer refused: never signed, its debit no longer
    reserved."""
    assert p.transfer_id is not None, f"payment {p.id} waits without a transfer"
    t = uow.repo(Transfer).get(p.transfer_id, for_update=True)
    assert t is not None and t.status == TransferStatus.HELD, f"payment {p.id}: {t}"
    uow.repo(Transfer).update(dataclasses.replace(
        t, status=TransferStatus.REJECTED, result_code="CANCELLED",
        result_message="cancelled before approval", updated_ms=deps.clock.now_ms()))


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
        "created_ms": p.created_ms, "history": steps_json(p.history),
        "expected_arrival_ms": p.expected_arrival_ms,
        "reason_code": p.reason_code, "tx_id": p.tx_id, "height": p.height, "proof": None,
    }
    node = wallets.ledger_node(deps)
    if p.tx_id and node is not None and p.status != payments.S.FAILED:
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
