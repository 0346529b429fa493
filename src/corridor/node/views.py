"""JSON views of ledger values for the RPC and CLI.

Amounts are strings of integer minor units (JSON numbers lose precision above 2**53 in many
clients); hashes are lowercase hex; addresses and keys are their checksummed text forms.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from corridor.ledger import keys
from corridor.ledger.block import Block, BlockHeader, Commit
from corridor.ledger.errors import Rejection
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.ledger.records import Account, AssetInfo, Offence
from corridor.ledger.results import TxResult
from corridor.ledger.tx import (
    Clawback,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    IssueAsset,
    OpenAccount,
    Operation,
    Payment,
    SetHolder,
    SetSigners,
    SignedTransaction,
)
from corridor.node.limits import VIEW_TEXT_FORMS_CACHED_MAX


def rejection_view(r: Rejection) -> dict[str, Any]:
    return {
        "code": r.code.name.lower(),
        "message": r.message,
        "permanent": r.permanent,
        "operation": r.op_index if r.op_index >= 0 else None,
    }


def account_view(acct: Account) -> dict[str, Any]:
    return {
        "address": keys.encode_address(acct.address),
        "sequence": acct.sequence,
        "threshold": acct.threshold,
        "signers": [
            {"public_key": keys.encode_public_key(s.public_key), "weight": s.weight}
            for s in acct.signers
        ],
        "balances": [
            {
                "code": h.asset.code,
                "issuer": keys.encode_address(h.asset.issuer),
                "balance": str(h.balance),
                "authorised": h.authorised,
                "frozen": h.frozen,
            }
            for h in acct.holdings
        ],
    }


def asset_view(info: AssetInfo) -> dict[str, Any]:
    return {
        "code": info.asset.code,
        "issuer": keys.encode_address(info.asset.issuer),
        "decimals": info.decimals,
        "auth_required": info.auth_required,
        "freezable": info.freezable,
        "clawback": info.clawback,
        "supply": str(info.supply),
    }


# Text forms of the addresses and keys a block view names, remembered: Base58Check costs
# ~10 us each, and a block names its payers, payees and issuers again and again (py-spy: 6% of
# the node's time under load went to `b58encode_int` for the event stream).
_address_text = lru_cache(maxsize=VIEW_TEXT_FORMS_CACHED_MAX)(keys.encode_address)
_public_key_text = lru_cache(maxsize=VIEW_TEXT_FORMS_CACHED_MAX)(keys.encode_public_key)


def _addr(raw: bytes | None) -> str | None:
    return None if raw is None else _address_text(raw)


def operation_view(op: Operation) -> dict[str, Any]:
    view: dict[str, Any] = {"type": op.TYPE.name.lower(), "source": _addr(op.source)}
    if isinstance(op, OpenAccount):
        view["public_key"] = keys.encode_public_key(op.public_key)
        view["address"] = keys.encode_address(keys.address_of(op.public_key))
    elif isinstance(op, Payment | EscrowCreate):
        view.update(
            destination=_addr(op.destination),
            code=op.asset.code,
            issuer=_addr(op.asset.issuer),
            amount=str(op.amount),
        )
        if isinstance(op, EscrowCreate):
            view.update(
                hashlock=op.hashlock.hex() if op.hashlock else None,
                finish_after_ms=op.finish_after_ms,
                cancel_after_ms=op.cancel_after_ms,
            )
    elif isinstance(op, SetSigners):
        view.update(
            threshold=op.threshold,
            signers=[
                {"public_key": keys.encode_public_key(s.public_key), "weight": s.weight}
                for s in op.signers
            ],
        )
    elif isinstance(op, IssueAsset):
        view.update(
            code=op.code,
            decimals=op.decimals,
            auth_required=op.auth_required,
            freezable=op.freezable,
            clawback=op.clawback,
        )
    elif isinstance(op, SetHolder):
        view.update(holder=_addr(op.holder), code=op.code, action=op.action.name.lower())
    elif isinstance(op, Clawback):
        view.update(holder=_addr(op.holder), code=op.code, amount=str(op.amount))
    elif isinstance(op, EscrowFinish):
        view.update(
            escrow_id=op.escrow_id.hex(),
            preimage=None if op.preimage is None else op.preimage.hex(),
        )
    elif isinstance(op, EscrowCancel):
        view["escrow_id"] = op.escrow_id.hex()
    return view


def tx_view(stx: SignedTransaction) -> dict[str, Any]:
    tx = stx.tx
    return {
        "tx_id": stx.tx_id.hex(),
        "chain_id": tx.chain_id,
        "source": _address_text(tx.source),
        "sequence": tx.sequence,
        "not_before_ms": tx.not_before_ms,
        "not_after_ms": tx.not_after_ms,
        "memo": tx.memo.hex(),
        "operations": [operation_view(op) for op in tx.operations],
        "signers": [_public_key_text(s.public_key) for s in stx.signatures],
        "encoded": stx.encode().hex(),
    }


def result_view(result: TxResult) -> dict[str, Any]:
    return {
        "code": "success" if result.code == 0 else result.code,
        "operations": [
            {"delivered": str(r.delivered), "created_id": r.created_id.hex() or None}
            for r in result.op_results
        ],
    }


def header_view(h: BlockHeader) -> dict[str, Any]:
    return {
        "hash": h.hash().hex(),
        "chain_id": h.chain_id,
        "height": h.height,
        "time_ms": h.time_ms,
        "previous_hash": h.previous_hash.hex(),
        "last_commit_hash": h.last_commit_hash.hex(),
        "tx_count": h.tx_count,
        "tx_root": h.tx_root.hex(),
        "result_root": h.result_root.hex(),
        "evidence_root": h.evidence_root.hex(),
        "state_root": h.state_root.hex(),
        "validator_set_hash": h.validator_set_hash.hex(),
        "proposer": keys.encode_address(h.proposer),
        "encoded": h.encode().hex(),
    }


def commit_view(c: Commit) -> dict[str, Any]:
    return {
        "height": c.height,
        "round": c.round,
        "block_hash": c.block_hash.hex(),
        "signatures": [
            {"public_key": keys.encode_public_key(s.public_key), "signature": s.signature.hex()}
            for s in c.signatures
        ],
        "encoded": c.encode().hex(),
    }


def block_view(block: Block, results: tuple[TxResult, ...] | None) -> dict[str, Any]:
    txs = []
    for i, stx in enumerate(block.txs):
        view = tx_view(stx)
        if results is not None:
            view["result"] = result_view(results[i])
        txs.append(view)
    return {
        "header": header_view(block.header),
        "transactions": txs,
        "evidence": [evidence_view(e) for e in block.evidence],
    }


def _vote_type(vote_type: int) -> str:
    return "prevote" if vote_type == 1 else "precommit"


def evidence_view(e: DuplicateVoteEvidence) -> dict[str, Any]:
    return {
        "hash": e.hash().hex(),
        "validator": keys.encode_public_key(e.validator),
        "vote_type": _vote_type(e.vote_a.vote_type),
        "height": e.height,
        "round": e.vote_a.round,
        "block_hashes": [e.vote_a.block_hash.hex(), e.vote_b.block_hash.hex()],
        "encoded": e.encode().hex(),
    }


def offence_view(o: Offence) -> dict[str, Any]:
    return {
        "evidence_hash": o.evidence_hash.hex(),
        "validator": keys.encode_public_key(o.validator),
        "validator_address": keys.encode_address(keys.address_of(o.validator)),
        "vote_type": _vote_type(o.vote_type),
        "height": o.height,
        "round": o.round,
        "recorded_height": o.recorded_height,
    }
