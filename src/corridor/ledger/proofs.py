"""Proofs a light client checks against a header it trusts (by its commit certificate).

- `TxProof`: a signed transaction is in a block: Merkle audit path to the header's tx root.
- `AccountProof`: an account's state (or its absence) after a block: bucket entries and
  siblings up to the header's state root.

Verification needs only the header and the proof; it never raises on bad input.
"""

from __future__ import annotations

from dataclasses import dataclass

from corridor.ledger.block import Block, BlockHeader, tx_leaf
from corridor.ledger.errors import DecodeError
from corridor.ledger.merkle import inclusion_proof, verify_inclusion
from corridor.ledger.records import Account, account_key, value_hash
from corridor.ledger.state import StateView
from corridor.ledger.statetree import StateProof, StateTree, verify_state_proof
from corridor.ledger.tx import SignedTransaction, decode_transaction


@dataclass(frozen=True, slots=True)
class TxProof:
    height: int
    index: int
    tx_bytes: bytes  # the full signed encoding
    path: tuple[bytes, ...]


def prove_tx(block: Block, index: int) -> TxProof:
    leaves = [tx_leaf(stx) for stx in block.txs]
    return TxProof(
        block.header.height,
        index,
        block.txs[index].encode(),
        inclusion_proof(leaves, index),
    )


def verify_tx_proof(header: BlockHeader, proof: TxProof) -> SignedTransaction | None:
    """The proven transaction if `proof` shows it is in the block of `header`, else None."""
    if proof.height != header.height:
        return None
    try:
        stx = decode_transaction(proof.tx_bytes)
    except DecodeError:
        return None
    ok = verify_inclusion(header.tx_root, tx_leaf(stx), proof.index, header.tx_count, proof.path)
    return stx if ok else None


@dataclass(frozen=True, slots=True)
class AccountProof:
    address: bytes
    account_bytes: bytes | None  # None proves the account does not exist
    proof: StateProof


def prove_account(state: StateView, tree: StateTree, address: bytes) -> AccountProof:
    """Proof of `address`'s committed state; `state` and `tree` must be the same version."""
    acct = state.account(address)
    return AccountProof(
        address,
        None if acct is None else acct.encode(),
        tree.prove(account_key(address)),
    )


def verify_account_proof(header: BlockHeader, proof: AccountProof) -> tuple[bool, Account | None]:
    """(True, account or None if absent) when the proof holds under the header's state root."""
    try:
        acct = None if proof.account_bytes is None else Account.decode(proof.account_bytes)
    except DecodeError:
        return False, None
    if acct is not None and acct.address != proof.address:
        return False, None
    expected = None if proof.account_bytes is None else value_hash(proof.account_bytes)
    if not verify_state_proof(header.state_root, account_key(proof.address), expected, proof.proof):
        return False, None
    return True, acct
