"""Consensus messages and evidence: canonical encoding, signatures, verification."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace as _replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.consensus.evidence import DuplicateVoteEvidence
from corridor.consensus.messages import (
    MESSAGE_BYTES_MAX,
    NIL,
    NO_POL_ROUND,
    PRECOMMIT,
    PREVOTE,
    PROPOSAL_BYTES_MAX,
    VOTE_BYTES,
    Proposal,
    Vote,
    decode_message,
    encode_message,
    proposal_sign_bytes,
)
from corridor.ledger.block import Validator, ValidatorSet, vote_sign_bytes
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.keys import KeyPair

CHAIN = "corridor-test"
H1 = hashlib.sha256(b"block one").digest()
H2 = hashlib.sha256(b"block two").digest()


def key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(b"corridor-test-key:" + name.encode()).digest())


ALICE, BOB, MALLORY = key("alice"), key("bob"), key("mallory")
VALIDATORS = ValidatorSet(
    tuple(sorted((Validator(k.public_key, 1) for k in (ALICE, BOB)), key=lambda v: v.public_key))
)


def vote(
    k: KeyPair = ALICE, block_hash: bytes = H1, *, vote_type: int = PREVOTE, round_: int = 0
) -> Vote:
    return Vote.signed(
        CHAIN, k, vote_type=vote_type, height=7, round_=round_, block_hash=block_hash
    )


def proposal(k: KeyPair = ALICE, *, round_: int = 3, pol_round: int = 1) -> Proposal:
    return Proposal.signed(CHAIN, k, height=7, round_=round_, block_hash=H1, pol_round=pol_round)


# --- Encoding --------------------------------------------------------------------------------


def test_vote_round_trips_with_a_fixed_size() -> None:
    for v in (vote(), vote(block_hash=NIL, vote_type=PRECOMMIT, round_=2**32 - 1)):
        data = v.encode()
        assert len(data) == VOTE_BYTES
        assert Vote.decode(data) == v
        assert decode_message(encode_message(v)) == v


def test_proposal_round_trips_with_and_without_pol_round() -> None:
    for p in (proposal(), proposal(round_=0, pol_round=NO_POL_ROUND)):
        assert Proposal.decode(p.encode()) == p
        assert decode_message(encode_message(p)) == p
        assert len(encode_message(p)) <= MESSAGE_BYTES_MAX
    assert len(proposal().encode()) == PROPOSAL_BYTES_MAX
    assert len(proposal(round_=0, pol_round=NO_POL_ROUND).encode()) == PROPOSAL_BYTES_MAX - 4


def test_vote_encoding_layout_is_pinned() -> None:
    v = vote()
    expected = (
        bytes([PREVOTE])
        + (7).to_bytes(8, "big")
        + (0).to_bytes(4, "big")
        + H1
        + ALICE.public_key
        + v.signature
    )
    assert v.encode() == expected
    assert v.sign_bytes(CHAIN) == vote_sign_bytes(CHAIN, PREVOTE, 7, 0, H1)


def test_decoding_rejects_malformed_messages() -> None:
    good_vote, good_proposal = vote().encode(), proposal().encode()
    cases = {
        "truncated vote": (Vote.decode, good_vote[:-1], RejectCode.MALFORMED),
        "trailing bytes": (Vote.decode, good_vote + b"\0", RejectCode.NON_CANONICAL),
        "vote type 3": (Vote.decode, b"\x03" + good_vote[1:], RejectCode.MALFORMED),
        "vote type 0": (Vote.decode, b"\x00" + good_vote[1:], RejectCode.MALFORMED),
        "nil proposal": (
            Proposal.decode,
            good_proposal[:12] + NIL + good_proposal[44:],
            RejectCode.MALFORMED,
        ),
        "pol round not before round": (
            Proposal.decode,
            good_proposal[:45] + (3).to_bytes(4, "big") + good_proposal[49:],
            RejectCode.MALFORMED,
        ),
        "pol flag 2": (
            Proposal.decode,
            good_proposal[:44] + b"\x02" + good_proposal[45:],
            RejectCode.NON_CANONICAL,
        ),
        "unknown tag": (decode_message, b"\x03" + good_vote, RejectCode.MALFORMED),
        "too long": (decode_message, b"\x02" + bytes(MESSAGE_BYTES_MAX), RejectCode.LIMIT_EXCEEDED),
    }
    for name, (decode, data, code) in cases.items():
        with pytest.raises(DecodeError) as error:
            decode(data)
        assert error.value.code == code, name


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=MESSAGE_BYTES_MAX + 2))
def test_decode_message_raises_only_decode_error(data: bytes) -> None:
    try:
        message = decode_message(data)
    except DecodeError:
        return
    assert encode_message(message) == data  # anything accepted is canonical


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=VOTE_BYTES), st.integers(0, VOTE_BYTES - 1))
def test_decoding_a_mutated_vote_never_crashes(patch: bytes, at: int) -> None:
    data = bytearray(encode_message(vote()))
    data[1 + at : 1 + at + len(patch)] = patch
    with contextlib.suppress(DecodeError):
        decode_message(bytes(data))


# --- Signatures ------------------------------------------------------------------------------


def test_signed_messages_verify_only_as_signed() -> None:
    v, p = vote(), proposal()
    assert v.verify(CHAIN, VALIDATORS) and p.verify(CHAIN, VALIDATORS)
    assert not v.verify("other-chain", VALIDATORS)
    assert not p.verify("other-chain", VALIDATORS)
    for field_change in ({"block_hash": H2}, {"round": 1}, {"height": 8}, {"vote_type": PRECOMMIT}):
        assert not _replace(v, **field_change).verify(CHAIN, VALIDATORS), field_change
    for field_change in ({"pol_round": 0}, {"round": 4}, {"height": 8}, {"block_hash": H2}):
        assert not _replace(p, **field_change).verify(CHAIN, VALIDATORS), field_change
    assert not _replace(v, validator=BOB.public_key).verify(CHAIN, VALIDATORS)


def test_a_non_validator_signature_does_not_verify() -> None:
    assert vote(MALLORY).verify_signature(CHAIN)
    assert not vote(MALLORY).verify(CHAIN, VALIDATORS)
    assert not proposal(MALLORY).verify(CHAIN, VALIDATORS)


def test_proposal_and_vote_signatures_are_domain_separated() -> None:
    p = proposal(round_=0, pol_round=NO_POL_ROUND)
    assert p.sign_bytes(CHAIN) == proposal_sign_bytes(CHAIN, 7, 0, H1, NO_POL_ROUND)
    for vote_type in (PREVOTE, PRECOMMIT):
        assert p.sign_bytes(CHAIN) != vote_sign_bytes(CHAIN, vote_type, 7, 0, H1)
        as_vote = Vote(
            vote_type=vote_type,
            height=7,
            round=0,
            block_hash=H1,
            validator=ALICE.public_key,
            signature=p.signature,
        )
        assert not as_vote.verify(CHAIN, VALIDATORS)


def test_signing_is_deterministic() -> None:
    assert vote() == vote()
    assert proposal() == proposal()


# --- Evidence --------------------------------------------------------------------------------


def test_evidence_is_canonical_verifies_and_round_trips() -> None:
    a, b = vote(block_hash=H1), vote(block_hash=NIL)
    evidence = DuplicateVoteEvidence.of(a, b)
    assert evidence == DuplicateVoteEvidence.of(b, a)
    assert evidence.vote_a.block_hash < evidence.vote_b.block_hash
    assert evidence.verify(CHAIN, VALIDATORS) is None
    assert evidence.validator == ALICE.public_key and evidence.height == 7
    assert DuplicateVoteEvidence.decode(evidence.encode()) == evidence
    assert len(evidence.hash()) == 32


def test_evidence_decoding_rejects_non_canonical_order() -> None:
    evidence = DuplicateVoteEvidence.of(vote(block_hash=H1), vote(block_hash=H2))
    swapped = evidence.vote_b.encode() + evidence.vote_a.encode()
    same = evidence.vote_a.encode() + evidence.vote_a.encode()
    for data in (swapped, same):
        with pytest.raises(DecodeError) as error:
            DuplicateVoteEvidence.decode(data)
        assert error.value.code == RejectCode.NON_CANONICAL
    with pytest.raises(DecodeError):
        DuplicateVoteEvidence.decode(evidence.encode()[:-1])


def test_evidence_verify_reports_every_problem() -> None:
    not_conflicting = DuplicateVoteEvidence.of(vote(block_hash=H1), vote(BOB, H2, round_=1))
    rejection = not_conflicting.verify(CHAIN, VALIDATORS)
    assert rejection is not None and rejection.code == RejectCode.EVIDENCE_NOT_CONFLICTING
    assert "validator" in rejection.message and "round" in rejection.message

    other_type = DuplicateVoteEvidence.of(vote(block_hash=H1), vote(block_hash=H2, vote_type=2))
    rejection = other_type.verify(CHAIN, VALIDATORS)
    assert rejection is not None and "vote_type" in rejection.message

    by_outsider = DuplicateVoteEvidence.of(vote(MALLORY, H1), vote(MALLORY, H2))
    rejection = by_outsider.verify(CHAIN, VALIDATORS)
    assert rejection is not None and rejection.code == RejectCode.EVIDENCE_NOT_VALIDATOR

    forged = DuplicateVoteEvidence.of(
        vote(block_hash=H1), _replace(vote(block_hash=H1), block_hash=H2)
    )
    rejection = forged.verify(CHAIN, VALIDATORS)
    assert rejection is not None and rejection.code == RejectCode.BAD_SIGNATURE
    assert forged.verify("other-chain", VALIDATORS) is not None
