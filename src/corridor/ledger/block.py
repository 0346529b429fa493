"""Blocks, headers, validator sets and commit certificates.

A header commits to the block's transactions (tx root), their results (result root), the
evidence of double signing it records (evidence root), the state after the block (state
root), the validators of its height and the previous block.
A commit certificate is more than 2/3 of the voting power's precommit signatures over a
block hash; a light client checks a header with `verify_commit` alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corridor.ledger import keys
from corridor.ledger.codec import Reader, Writer, decode_all, require_strictly_sorted
from corridor.ledger.errors import DecodeError, RejectCode, Rejection
from corridor.ledger.keys import ADDRESS_LEN, PUBLIC_KEY_LEN, SIGNATURE_LEN
from corridor.ledger.limits import (
    BLOCK_BYTES_MAX,
    BLOCK_EVIDENCE_MAX,
    BLOCK_TXS_MAX,
    CHAIN_ID_LEN_MAX,
    TX_BYTES_MAX,
    VALIDATORS_MAX,
)
from corridor.ledger.merkle import merkle_root
from corridor.ledger.results import TxResult
from corridor.ledger.tx import HASH_LEN, SignedTransaction, decode_transaction

if TYPE_CHECKING:  # evidence is made of votes, which sign `vote_sign_bytes` below
    from corridor.ledger.evidence import DuplicateVoteEvidence

ZERO_HASH = bytes(HASH_LEN)
PRECOMMIT = 2  # vote type; prevote is 1 (the consensus layer signs both with vote_sign_bytes)
POWER_MAX = 2**48  # per validator; keeps 3 * total power far from overflow in any language


@dataclass(frozen=True, slots=True)
class Validator:
    public_key: bytes
    power: int

    @property
    def address(self) -> bytes:
        return keys.address_of(self.public_key)


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """Validators sorted by public key, each with a voting power of at least 1."""

    validators: tuple[Validator, ...]

    def __post_init__(self) -> None:
        pks = [v.public_key for v in self.validators]
        assert pks == sorted(set(pks)), "validators must be sorted by key and unique"
        assert 1 <= len(pks) <= VALIDATORS_MAX
        assert all(1 <= v.power <= POWER_MAX for v in self.validators)

    @property
    def total_power(self) -> int:
        return sum(v.power for v in self.validators)

    def power_of(self, public_key: bytes) -> int:
        for v in self.validators:
            if v.public_key == public_key:
                return v.power
        return 0

    def encode(self) -> bytes:
        w = Writer().count(len(self.validators))
        for v in self.validators:
            w.fixed(v.public_key, PUBLIC_KEY_LEN).u64(v.power)
        return w.getvalue()

    def hash(self) -> bytes:
        return hashlib.sha256(b"corridor:validators:v1" + self.encode()).digest()

    @staticmethod
    def decode(data: bytes) -> ValidatorSet:
        def read(r: Reader) -> ValidatorSet:
            vals = r.items(VALIDATORS_MAX, "validators", lambda r: Validator(r.fixed(32), r.u64()))
            if not vals:
                raise DecodeError(RejectCode.MALFORMED, "a validator set cannot be empty")
            require_strictly_sorted([v.public_key for v in vals], "validators")
            if any(not 1 <= v.power <= POWER_MAX for v in vals):
                raise DecodeError(RejectCode.MALFORMED, f"validator power must be 1..{POWER_MAX}")
            return ValidatorSet(vals)

        return decode_all(data, read)


def vote_sign_bytes(
    chain_id: str, vote_type: int, height: int, round_: int, block_hash: bytes
) -> bytes:
    """The 32 bytes a validator signs for a vote; `block_hash` is ZERO_HASH for a nil vote."""
    w = Writer().text(chain_id).u8(vote_type).u64(height).u32(round_).fixed(block_hash, HASH_LEN)
    return hashlib.sha256(b"corridor:vote:v1" + w.getvalue()).digest()


@dataclass(frozen=True, slots=True)
class CommitSig:
    public_key: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Commit:
    """Precommit signatures of more than 2/3 of the power for `block_hash` at height/round."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSig, ...]

    def encode(self) -> bytes:
        w = Writer().u64(self.height).u32(self.round).fixed(self.block_hash, HASH_LEN)
        w.count(len(self.signatures))
        for s in self.signatures:
            w.fixed(s.public_key, PUBLIC_KEY_LEN).fixed(s.signature, SIGNATURE_LEN)
        return w.getvalue()

    def hash(self) -> bytes:
        return hashlib.sha256(b"corridor:commit:v1" + self.encode()).digest()

    @staticmethod
    def read(r: Reader) -> Commit:
        height, round_, block_hash = r.u64(), r.u32(), r.fixed(HASH_LEN)
        sigs = r.items(
            VALIDATORS_MAX, "commit signatures", lambda r: CommitSig(r.fixed(32), r.fixed(64))
        )
        require_strictly_sorted([s.public_key for s in sigs], "commit signatures")
        return Commit(height, round_, block_hash, sigs)

    @staticmethod
    def decode(data: bytes) -> Commit:
        return decode_all(data, Commit.read)


def verify_commit(
    chain_id: str, validators: ValidatorSet, commit: Commit, block_hash: bytes, height: int
) -> Rejection | None:
    """None iff `commit` proves that > 2/3 of `validators`' power precommitted `block_hash`."""
    if commit.block_hash != block_hash or commit.height != height:
        return Rejection(RejectCode.BAD_BLOCK, "the commit is for another block")
    message = vote_sign_bytes(chain_id, PRECOMMIT, height, commit.round, block_hash)
    power = 0
    seen: set[bytes] = set()
    for s in commit.signatures:
        p = validators.power_of(s.public_key)
        if p == 0 or s.public_key in seen:
            return Rejection(RejectCode.BAD_BLOCK, "a commit signature from a non-validator")
        if not keys.verify(s.public_key, message, s.signature):
            return Rejection(RejectCode.BAD_SIGNATURE, "a commit signature does not verify")
        seen.add(s.public_key)
        power += p
    if 3 * power <= 2 * validators.total_power:
        return Rejection(
            RejectCode.INSUFFICIENT_WEIGHT,
            f"commit power {power} is not more than 2/3 of {validators.total_power}",
        )
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockHeader:
    chain_id: str
    height: int
    time_ms: int
    previous_hash: bytes
    last_commit_hash: bytes
    tx_count: int
    tx_root: bytes
    result_root: bytes
    evidence_root: bytes
    state_root: bytes
    validator_set_hash: bytes
    proposer: bytes

    def encode(self) -> bytes:
        w = Writer().text(self.chain_id).u64(self.height).u64(self.time_ms)
        w.fixed(self.previous_hash, HASH_LEN).fixed(self.last_commit_hash, HASH_LEN)
        w.u32(self.tx_count).fixed(self.tx_root, HASH_LEN).fixed(self.result_root, HASH_LEN)
        w.fixed(self.evidence_root, HASH_LEN).fixed(self.state_root, HASH_LEN).fixed(
            self.validator_set_hash, HASH_LEN
        )
        return w.fixed(self.proposer, ADDRESS_LEN).getvalue()

    def hash(self) -> bytes:
        return hashlib.sha256(b"corridor:header:v1" + self.encode()).digest()

    @staticmethod
    def read(r: Reader) -> BlockHeader:
        return BlockHeader(
            chain_id=r.text(CHAIN_ID_LEN_MAX),
            height=r.u64(),
            time_ms=r.u64(),
            previous_hash=r.fixed(HASH_LEN),
            last_commit_hash=r.fixed(HASH_LEN),
            tx_count=r.u32(),
            tx_root=r.fixed(HASH_LEN),
            result_root=r.fixed(HASH_LEN),
            evidence_root=r.fixed(HASH_LEN),
            state_root=r.fixed(HASH_LEN),
            validator_set_hash=r.fixed(HASH_LEN),
            proposer=r.fixed(ADDRESS_LEN),
        )

    @staticmethod
    def decode(data: bytes) -> BlockHeader:
        return decode_all(data, BlockHeader.read)


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """A header, its transactions, the commit certificate of the previous block, and the
    evidence of double signing it records."""

    header: BlockHeader
    txs: tuple[SignedTransaction, ...]
    last_commit: Commit | None
    evidence: tuple[DuplicateVoteEvidence, ...] = ()

    def hash(self) -> bytes:
        return self.header.hash()

    def encode(self) -> bytes:
        w = Writer().raw(self.header.encode())
        if self.last_commit is None:
            w.u8(0)
        else:
            w.u8(1).raw(self.last_commit.encode())
        w.u32(len(self.txs))
        for stx in self.txs:
            raw = stx.encode()
            w.u32(len(raw)).raw(raw)
        w.count(len(self.evidence))
        for item in self.evidence:
            w.raw(item.encode())
        return w.getvalue()

    @staticmethod
    def decode(data: bytes) -> Block:
        if len(data) > BLOCK_BYTES_MAX:
            raise DecodeError(RejectCode.LIMIT_EXCEEDED, f"block exceeds {BLOCK_BYTES_MAX} bytes")

        from corridor.ledger.evidence import DuplicateVoteEvidence  # a cycle at import time

        def read(r: Reader) -> Block:
            header = BlockHeader.read(r)
            last_commit = Commit.read(r) if r.boolean() else None
            n = r.u32()
            if n > BLOCK_TXS_MAX:
                raise DecodeError(RejectCode.LIMIT_EXCEEDED, f"{n} transactions > {BLOCK_TXS_MAX}")
            txs = []
            for _ in range(n):
                size = r.u32()
                if size > TX_BYTES_MAX:
                    raise DecodeError(RejectCode.LIMIT_EXCEEDED, "transaction too large")
                txs.append(decode_transaction(r.fixed(size)))
            evidence = r.items(BLOCK_EVIDENCE_MAX, "evidence", DuplicateVoteEvidence.read)
            return Block(header=header, txs=tuple(txs), last_commit=last_commit, evidence=evidence)

        return decode_all(data, read)


def tx_leaf(stx: SignedTransaction) -> bytes:
    """What the tx root commits to: the whole signed encoding, so signatures are fixed too."""
    return hashlib.sha256(b"corridor:txleaf:v1" + stx.encode()).digest()


def tx_root(txs: tuple[SignedTransaction, ...] | list[SignedTransaction]) -> bytes:
    return merkle_root([tx_leaf(stx) for stx in txs])


def result_root(results: tuple[TxResult, ...] | list[TxResult]) -> bytes:
    return merkle_root([hashlib.sha256(r.encode()).digest() for r in results])


def evidence_root(evidence: tuple[DuplicateVoteEvidence, ...]) -> bytes:
    return merkle_root([item.hash() for item in evidence])
