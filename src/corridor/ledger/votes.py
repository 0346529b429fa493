"""Signed votes: the record a validator signs for a prevote or precommit.

A vote signs `block.vote_sign_bytes`, so the precommits of a decided round are, as they stand,
the signatures of the block's `Commit` certificate. The vote lives in the ledger (not in
consensus, which uses it) because a block carries evidence made of votes and the ledger must
check it alone (docs/decisions/0003-evidence-on-chain.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from corridor.ledger import keys
from corridor.ledger.block import PRECOMMIT, ZERO_HASH, ValidatorSet, vote_sign_bytes
from corridor.ledger.codec import Reader, Writer, decode_all
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.keys import PUBLIC_KEY_LEN, SIGNATURE_LEN, KeyPair
from corridor.ledger.tx import HASH_LEN

PREVOTE: Final = 1
VOTE_TYPES: Final = (PREVOTE, PRECOMMIT)
NIL: Final = ZERO_HASH  # the block hash of a vote for no block
ROUND_MAX: Final = 2**32 - 1  # rounds are u32 on the wire
HEIGHT_MAX: Final = 2**64 - 1
VOTE_BYTES: Final = 1 + 8 + 4 + HASH_LEN + PUBLIC_KEY_LEN + SIGNATURE_LEN  # fixed size

__all__ = [
    "HEIGHT_MAX",
    "NIL",
    "PRECOMMIT",
    "PREVOTE",
    "ROUND_MAX",
    "VOTE_BYTES",
    "VOTE_TYPES",
    "Vote",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    """A prevote or precommit of `validator` for `block_hash` (NIL: for no block)."""

    vote_type: int
    height: int
    round: int
    block_hash: bytes
    validator: bytes
    signature: bytes

    def __post_init__(self) -> None:
        assert self.vote_type in VOTE_TYPES, self.vote_type
        assert 0 <= self.height <= HEIGHT_MAX and 0 <= self.round <= ROUND_MAX
        assert len(self.block_hash) == HASH_LEN
        assert len(self.validator) == PUBLIC_KEY_LEN and len(self.signature) == SIGNATURE_LEN

    @classmethod
    def signed(
        cls,
        chain_id: str,
        key: KeyPair,
        *,
        vote_type: int,
        height: int,
        round_: int,
        block_hash: bytes,
    ) -> Vote:
        message = vote_sign_bytes(chain_id, vote_type, height, round_, block_hash)
        return cls(
            vote_type=vote_type,
            height=height,
            round=round_,
            block_hash=block_hash,
            validator=key.public_key,
            signature=key.sign(message),  # KeyPair.sign verifies what it makes
        )

    @property
    def is_nil(self) -> bool:
        return self.block_hash == NIL

    def sign_bytes(self, chain_id: str) -> bytes:
        return vote_sign_bytes(chain_id, self.vote_type, self.height, self.round, self.block_hash)

    def verify_signature(self, chain_id: str) -> bool:
        """True iff `validator` signed this vote on `chain_id`."""
        return keys.verify(self.validator, self.sign_bytes(chain_id), self.signature)

    def verify(self, chain_id: str, validators: ValidatorSet) -> bool:
        """True iff a member of `validators` signed this vote on `chain_id`."""
        return validators.power_of(self.validator) > 0 and self.verify_signature(chain_id)

    def write(self, w: Writer) -> Writer:
        w.u8(self.vote_type).u64(self.height).u32(self.round).fixed(self.block_hash, HASH_LEN)
        return w.fixed(self.validator, PUBLIC_KEY_LEN).fixed(self.signature, SIGNATURE_LEN)

    def encode(self) -> bytes:
        return self.write(Writer()).getvalue()

    @staticmethod
    def read(r: Reader) -> Vote:
        vote_type = r.u8()
        if vote_type not in VOTE_TYPES:
            raise DecodeError(RejectCode.MALFORMED, f"unknown vote type {vote_type}")
        return Vote(
            vote_type=vote_type,
            height=r.u64(),
            round=r.u32(),
            block_hash=r.fixed(HASH_LEN),
            validator=r.fixed(PUBLIC_KEY_LEN),
            signature=r.fixed(SIGNATURE_LEN),
        )

    @staticmethod
    def decode(data: bytes) -> Vote:
        return decode_all(data, Vote.read)
