"""Consensus messages: signed proposals and votes, and their one canonical encoding.

A vote signs `ledger.block.vote_sign_bytes`, so the precommits of a decided round are, as they
stand, the signatures of the block's `Commit` certificate. A proposal signs its own domain
(`corridor:proposal:v1`), so no proposal signature can ever pass for a vote or the reverse.

Decoding untrusted bytes either yields a well-formed message or raises `DecodeError` with a
stable code; whether the signature is good and who signed it is `verify`'s question.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from corridor.ledger import keys
from corridor.ledger.block import ValidatorSet
from corridor.ledger.codec import Reader, Writer, decode_all
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.keys import PUBLIC_KEY_LEN, SIGNATURE_LEN, KeyPair
from corridor.ledger.tx import HASH_LEN

# The vote record lives in the ledger (blocks carry evidence made of votes); re-exported here.
from corridor.ledger.votes import (
    HEIGHT_MAX,
    NIL,
    PRECOMMIT,
    PREVOTE,
    ROUND_MAX,
    VOTE_BYTES,
    VOTE_TYPES,
    Vote,
)

NO_POL_ROUND: Final = -1  # a proposal of a fresh block, with no proof-of-lock round

_PROPOSAL_DOMAIN: Final = b"corridor:proposal:v1"
_TAG_PROPOSAL: Final = 1
_TAG_VOTE: Final = 2

# Wire sizes: fixed, so a peer can refuse anything longer before decoding it.
PROPOSAL_BYTES_MAX: Final = 8 + 4 + HASH_LEN + 1 + 4 + PUBLIC_KEY_LEN + SIGNATURE_LEN
MESSAGE_BYTES_MAX: Final = 1 + max(VOTE_BYTES, PROPOSAL_BYTES_MAX)

__all__ = [
    "HEIGHT_MAX",
    "MESSAGE_BYTES_MAX",
    "NIL",
    "NO_POL_ROUND",
    "PRECOMMIT",
    "PREVOTE",
    "PROPOSAL_BYTES_MAX",
    "ROUND_MAX",
    "VOTE_BYTES",
    "VOTE_TYPES",
    "Message",
    "Proposal",
    "Vote",
    "decode_message",
    "encode_message",
    "proposal_sign_bytes",
]


def proposal_sign_bytes(
    chain_id: str, height: int, round_: int, block_hash: bytes, pol_round: int
) -> bytes:
    """The 32 bytes a proposer signs: sha256(domain || chain id, height, round, hash, pol round)."""
    w = Writer().text(chain_id).u64(height).u32(round_).fixed(block_hash, HASH_LEN)
    _write_pol_round(w, pol_round)
    return hashlib.sha256(_PROPOSAL_DOMAIN + w.getvalue()).digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """The proposer of (height, round) proposes the block `block_hash`.

    `pol_round` is the round in which the proposer saw more than 2/3 of the power prevote this
    block (its proof of lock), or NO_POL_ROUND (-1) for a block it has just built.
    """

    height: int
    round: int
    block_hash: bytes
    pol_round: int
    proposer: bytes
    signature: bytes

    def __post_init__(self) -> None:
        assert 0 <= self.height <= HEIGHT_MAX and 0 <= self.round <= ROUND_MAX
        assert self.pol_round == NO_POL_ROUND or 0 <= self.pol_round < self.round
        assert len(self.block_hash) == HASH_LEN and self.block_hash != NIL, "propose a block"
        assert len(self.proposer) == PUBLIC_KEY_LEN and len(self.signature) == SIGNATURE_LEN

    @classmethod
    def signed(
        cls,
        chain_id: str,
        key: KeyPair,
        *,
        height: int,
        round_: int,
        block_hash: bytes,
        pol_round: int = NO_POL_ROUND,
    ) -> Proposal:
        message = proposal_sign_bytes(chain_id, height, round_, block_hash, pol_round)
        return cls(
            height=height,
            round=round_,
            block_hash=block_hash,
            pol_round=pol_round,
            proposer=key.public_key,
            signature=key.sign(message),  # KeyPair.sign verifies what it makes
        )

    def sign_bytes(self, chain_id: str) -> bytes:
        return proposal_sign_bytes(
            chain_id, self.height, self.round, self.block_hash, self.pol_round
        )

    def verify_signature(self, chain_id: str) -> bool:
        """True iff `proposer` signed this proposal on `chain_id`."""
        return keys.verify(self.proposer, self.sign_bytes(chain_id), self.signature)

    def verify(self, chain_id: str, validators: ValidatorSet) -> bool:
        """True iff a member of `validators` signed this proposal on `chain_id`.

        Whether the signer is *the* proposer of (height, round) is the state machine's check.
        """
        return validators.power_of(self.proposer) > 0 and self.verify_signature(chain_id)

    def write(self, w: Writer) -> Writer:
        w.u64(self.height).u32(self.round).fixed(self.block_hash, HASH_LEN)
        _write_pol_round(w, self.pol_round)
        return w.fixed(self.proposer, PUBLIC_KEY_LEN).fixed(self.signature, SIGNATURE_LEN)

    def encode(self) -> bytes:
        return self.write(Writer()).getvalue()

    @staticmethod
    def read(r: Reader) -> Proposal:
        height, round_, block_hash = r.u64(), r.u32(), r.fixed(HASH_LEN)
        pol_round = r.u32() if r.boolean() else NO_POL_ROUND
        proposer, signature = r.fixed(PUBLIC_KEY_LEN), r.fixed(SIGNATURE_LEN)
        if block_hash == NIL:
            raise DecodeError(RejectCode.MALFORMED, "a proposal must name a block, not nil")
        if pol_round != NO_POL_ROUND and pol_round >= round_:
            raise DecodeError(
                RejectCode.MALFORMED, f"proof-of-lock round {pol_round} is not before {round_}"
            )
        return Proposal(
            height=height,
            round=round_,
            block_hash=block_hash,
            pol_round=pol_round,
            proposer=proposer,
            signature=signature,
        )

    @staticmethod
    def decode(data: bytes) -> Proposal:
        return decode_all(data, Proposal.read)


Message = Proposal | Vote


def encode_message(message: Message) -> bytes:
    """The wire form of a consensus message: a tag byte (1 proposal, 2 vote), then the body."""
    tag = _TAG_PROPOSAL if isinstance(message, Proposal) else _TAG_VOTE
    return message.write(Writer().u8(tag)).getvalue()


def decode_message(data: bytes) -> Message:
    """Decode `encode_message` output; DecodeError for anything else."""
    if len(data) > MESSAGE_BYTES_MAX:
        raise DecodeError(RejectCode.LIMIT_EXCEEDED, f"message exceeds {MESSAGE_BYTES_MAX} bytes")

    def read(r: Reader) -> Message:
        tag = r.u8()
        if tag == _TAG_PROPOSAL:
            return Proposal.read(r)
        if tag == _TAG_VOTE:
            return Vote.read(r)
        raise DecodeError(RejectCode.MALFORMED, f"unknown consensus message tag {tag}")

    return decode_all(data, read)


def _write_pol_round(w: Writer, pol_round: int) -> None:
    w.boolean(pol_round != NO_POL_ROUND)
    if pol_round != NO_POL_ROUND:
        w.u32(pol_round)
