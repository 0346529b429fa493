"""Evidence of double signing: two conflicting votes signed by one validator.

An honest validator signs at most one prevote and one precommit per (height, round). Two votes
of the same type, height and round for different blocks (nil counts as a block here) prove
that their signer broke the protocol; anyone can check the proof with the validator set alone.

Blocks carry evidence (at most BLOCK_EVIDENCE_MAX); `evidence_rejection` is the rule a block's
evidence must pass, and `record_evidence` writes the `Offence` records into the block's state
(docs/decisions/0003-evidence-on-chain.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from corridor.ledger.block import ValidatorSet
from corridor.ledger.codec import Reader, Writer, decode_all
from corridor.ledger.errors import DecodeError, RejectCode, Rejection
from corridor.ledger.limits import EVIDENCE_AGE_MAX
from corridor.ledger.records import Offence, offence_id
from corridor.ledger.state import Overlay, StateView
from corridor.ledger.votes import VOTE_BYTES, Vote

_EVIDENCE_DOMAIN: Final = b"corridor:evidence:duplicate-vote:v1"
EVIDENCE_BYTES: Final = 2 * VOTE_BYTES  # fixed size


@dataclass(frozen=True, slots=True, kw_only=True)
class DuplicateVoteEvidence:
    """Two votes that should not both exist; `vote_a.block_hash < vote_b.block_hash`.

    The order makes the encoding (and so the hash) of one equivocation unique whichever vote
    was seen first. Build with `of`; check with `verify`.
    """

    vote_a: Vote
    vote_b: Vote

    def __post_init__(self) -> None:
        assert self.vote_a.block_hash < self.vote_b.block_hash, "use DuplicateVoteEvidence.of"

    @classmethod
    def of(cls, first: Vote, second: Vote) -> DuplicateVoteEvidence:
        """The evidence made of two votes for different blocks, in canonical order."""
        assert first.block_hash != second.block_hash, "votes for one block do not conflict"
        a, b = sorted((first, second), key=lambda v: v.block_hash)
        return cls(vote_a=a, vote_b=b)

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.height

    @property
    def offence_id(self) -> bytes:
        """The slot this evidence proves an offence in (`records.offence_id`)."""
        a = self.vote_a
        return offence_id(a.validator, a.vote_type, a.height, a.round)

    def offence(self, recorded_height: int) -> Offence:
        a = self.vote_a
        return Offence(a.validator, a.vote_type, a.height, a.round, self.hash(), recorded_height)

    def verify(self, chain_id: str, validators: ValidatorSet) -> Rejection | None:
        """None iff a member of `validators` signed both votes and they conflict.

        `validators` must be the set of the votes' height. Every problem is reported at once.
        """
        a, b = self.vote_a, self.vote_b
        problems: list[tuple[RejectCode, str]] = []
        for name in ("validator", "vote_type", "height", "round"):
            if getattr(a, name) != getattr(b, name):
                problems.append(
                    (RejectCode.EVIDENCE_NOT_CONFLICTING, f"the votes differ in {name}")
                )
        if validators.power_of(a.validator) == 0:
            problems.append((RejectCode.EVIDENCE_NOT_VALIDATOR, "the signer is not a validator"))
        for label, vote in (("first", a), ("second", b)):
            if not vote.verify_signature(chain_id):
                problems.append((RejectCode.BAD_SIGNATURE, f"the {label} vote's signature fails"))
        if not problems:
            return None
        return Rejection(problems[0][0], "; ".join(message for _, message in problems))

    def encode(self) -> bytes:
        return self.vote_b.write(self.vote_a.write(Writer())).getvalue()

    def hash(self) -> bytes:
        return hashlib.sha256(_EVIDENCE_DOMAIN + self.encode()).digest()

    @staticmethod
    def read(r: Reader) -> DuplicateVoteEvidence:
        a, b = Vote.read(r), Vote.read(r)
        if not a.block_hash < b.block_hash:
            raise DecodeError(
                RejectCode.NON_CANONICAL, "evidence votes must be in block-hash order, distinct"
            )
        return DuplicateVoteEvidence(vote_a=a, vote_b=b)

    @staticmethod
    def decode(data: bytes) -> DuplicateVoteEvidence:
        return decode_all(data, DuplicateVoteEvidence.read)


def evidence_rejection(
    evidence: DuplicateVoteEvidence,
    state: StateView,
    chain_id: str,
    height: int,
    validators: ValidatorSet,
) -> Rejection | None:
    """None iff `evidence` may be recorded by the block at `height` on top of `state`.

    `validators` must be the set of the evidence's height: the set is fixed by genesis today;
    once it can change, the caller passes the set of `evidence.height` (EVIDENCE_AGE_MAX
    bounds how far back it must look).
    """
    if not max(1, height - EVIDENCE_AGE_MAX) <= evidence.height < height:
        return Rejection(
            RejectCode.EVIDENCE_EXPIRED,
            f"evidence of height {evidence.height} is not within the {EVIDENCE_AGE_MAX} "
            f"heights before {height}",
        )
    refused = evidence.verify(chain_id, validators)
    if refused is not None:
        return refused
    if state.offence(evidence.offence_id) is not None:
        return Rejection(RejectCode.EVIDENCE_RECORDED, "this double signing is already recorded")
    return None


def record_evidence(
    out: Overlay,
    evidence: tuple[DuplicateVoteEvidence, ...],
    chain_id: str,
    height: int,
    validators: ValidatorSet,
) -> Rejection | None:
    """Checks a block's evidence and writes its offences into `out`; any bad one makes the
    whole block invalid (the rejection names its index)."""
    for index, item in enumerate(evidence):
        refused = evidence_rejection(item, out, chain_id, height, validators)
        if refused is not None:
            return Rejection(refused.code, f"evidence {index}: {refused.message}", index)
        out.offences[item.offence_id] = item.offence(height)
    return None
