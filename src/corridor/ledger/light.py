"""The light client's core: trust a header by its commit, then a tx or account by its proof.

A light client keeps a `TrustedState` (chain id, a header it trusts, the validator set of
that header) and moves it forward one verified header at a time. It never re-executes
blocks: a header is trusted because more than 2/3 of the trusted validators' power signed
precommits for exactly its hash (`verify_commit`); a transaction or account is trusted
because its Merkle proof leads to a root in a trusted header.

Validator sets: the protocol (v1) has no validator-set changes, so the genesis set signs
every height. A header is accepted only if it names the trusted set by hash; a header at a
non-adjacent height may then be accepted directly (skipping), since the same set that is
trusted signed it. When validator-set changes arrive, skipping must check that the trusted
set still holds more than 1/3 of the new set's power (Tendermint's skipping rule) and
adjacent steps must follow the next-set hash; until then any set change is refused here.

Pure: values in, values out; bad input is a `Rejection`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from corridor.ledger.block import BlockHeader, Commit, ValidatorSet, verify_commit
from corridor.ledger.errors import RejectCode, Rejection
from corridor.ledger.genesis import Genesis
from corridor.ledger.proofs import AccountProof, TxProof, verify_account_proof, verify_tx_proof
from corridor.ledger.records import Account
from corridor.ledger.tx import SignedTransaction


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedState:
    """A header the client trusts, with the validator set that signs the heights after it."""

    chain_id: str
    header: BlockHeader
    validators: ValidatorSet

    def __post_init__(self) -> None:
        assert self.header.chain_id == self.chain_id, "trusted header of another chain"
        assert self.header.validator_set_hash == self.validators.hash(), "set does not match"

    @classmethod
    def from_genesis(cls, genesis: Genesis) -> TrustedState:
        """Trust rooted in the genesis document the client got out of band."""
        return cls(
            chain_id=genesis.chain_id, header=genesis.header(), validators=genesis.validators
        )

    @property
    def height(self) -> int:
        return self.header.height


def _bad(message: str) -> Rejection:
    return Rejection(RejectCode.BAD_BLOCK, message)


def verify_header(
    trusted: TrustedState, header: BlockHeader, commit: Commit | None
) -> TrustedState | Rejection:
    """The state trusting `header` if `commit` certifies it, else why not.

    The trusted header itself (same hash) needs no commit and returns `trusted`.
    """
    if header.chain_id != trusted.chain_id:
        return Rejection(
            RejectCode.WRONG_CHAIN, f"header of chain {header.chain_id!r}, not {trusted.chain_id!r}"
        )
    if header.height == trusted.height:
        if header.hash() == trusted.header.hash():
            return trusted
        return _bad(f"a different header at the trusted height {header.height}")
    if header.height < trusted.height:
        return _bad(f"height {header.height} is below the trusted height {trusted.height}")
    if header.height == trusted.height + 1 and header.previous_hash != trusted.header.hash():
        return _bad("previous_hash does not link to the trusted header")
    if header.time_ms <= trusted.header.time_ms:
        return _bad("header time does not increase past the trusted header")
    if header.validator_set_hash != trusted.validators.hash():
        return _bad("the header names another validator set (v1 has no set changes)")
    if commit is None:
        return _bad(f"no commit certificate for height {header.height}")
    problem = verify_commit(
        trusted.chain_id, trusted.validators, commit, header.hash(), header.height
    )
    if problem is not None:
        return problem
    return TrustedState(chain_id=trusted.chain_id, header=header, validators=trusted.validators)


def verify_tx(trusted_header: BlockHeader, proof: TxProof) -> SignedTransaction | Rejection:
    """The transaction `proof` shows is in the block of a header the caller already trusts."""
    if proof.height != trusted_header.height:
        return _bad(f"proof is for height {proof.height}, not {trusted_header.height}")
    stx = verify_tx_proof(trusted_header, proof)
    if stx is None:
        return _bad("the transaction proof does not lead to the header's tx root")
    if stx.tx.chain_id != trusted_header.chain_id:
        return Rejection(RejectCode.WRONG_CHAIN, "the proven transaction is for another chain")
    return stx


def verify_account(
    trusted_header: BlockHeader, proof: AccountProof
) -> tuple[bytes, Account | None] | Rejection:
    """(address, its state after the trusted header's block, or None if absent), or why not."""
    ok, acct = verify_account_proof(trusted_header, proof)
    if not ok:
        return _bad("the account proof does not lead to the header's state root")
    return proof.address, acct
