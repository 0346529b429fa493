"""Evidence of double signing on chain: proposed in a block, committed to by the header's
evidence root, checked by `validate_block` (one stable code per reason) and recorded in the
state, under the state root, once."""

from __future__ import annotations

import dataclasses

import pytest

from corridor.ledger.block import Block, BlockHeader
from corridor.ledger.chain import make_block, select_txs, validate_block
from corridor.ledger.errors import DecodeError, RejectCode, Rejection
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.ledger.limits import BLOCK_EVIDENCE_MAX, EVIDENCE_AGE_MAX
from corridor.ledger.records import Offence
from corridor.ledger.state import MemoryState
from corridor.ledger.votes import PRECOMMIT, PREVOTE, Vote
from tests.reject_codes import note

from .builders import CHAIN, T0, ctx, key, make_genesis

G = make_genesis(validators=("v1", "v2"))
H1, H2, H3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


def vote(signer="v2", block_hash=H1, *, height=1, round_=0, vote_type=PREVOTE) -> Vote:
    return Vote.signed(
        CHAIN, key(signer), vote_type=vote_type, height=height, round_=round_, block_hash=block_hash
    )


def double(signer="v2", *, height=1, round_=0, hashes=(H1, H2), vote_type=PREVOTE):
    a, b = (vote(signer, h, height=height, round_=round_, vote_type=vote_type) for h in hashes)
    return DuplicateVoteEvidence.of(a, b)


def parent(height: int) -> BlockHeader:
    """A parent header at `height` over the genesis state (validate_block checks only links)."""
    return dataclasses.replace(G.header(), height=height, time_ms=T0 + height)


def build(evidence, *, at=2, state=None, previous=None):
    """A block at height `at` recording `evidence` as given (the proposer's pre-check skipped)."""
    state = G.state if state is None else state
    tree = G.tree() if state is G.state else _tree(state)
    previous = previous or parent(at - 1)
    sel = select_txs(state, tree, [], ctx(at, previous.time_ms + 1), evidence=tuple(evidence))
    block = make_block(
        previous,
        sel.execution,
        time_ms=previous.time_ms + 1,
        validators=G.validators,
        proposer_key=key("v1").public_key,
        last_commit=None,
    )
    return block, previous, tree


def _tree(state: MemoryState):
    from corridor.ledger.statetree import StateTree

    return StateTree.from_items(state.tree_items())


def expect(block: Block, previous: BlockHeader, code: RejectCode, state=None, tree=None) -> str:
    outcome = validate_block(
        G.state if state is None else state, tree or G.tree(), block, previous, G.validators
    )
    assert isinstance(outcome, Rejection), outcome
    assert outcome.code is code, outcome
    note(code)
    return outcome.message


def test_valid_evidence_is_recorded_under_the_state_root_and_round_trips():
    evidence = double()
    block, previous, tree = build([evidence])
    empty, _, _ = build([])
    assert block.header.evidence_root != empty.header.evidence_root
    assert block.header.state_root != empty.header.state_root  # the state root covers it
    assert Block.decode(block.encode()) == block
    execution = validate_block(G.state, tree, block, previous, G.validators)
    assert not isinstance(execution, Rejection), execution
    offence = execution.state.offence(evidence.offence_id)
    assert offence == Offence(key("v2").public_key, PREVOTE, 1, 0, evidence.hash(), 2)
    assert Offence.decode(offence.encode()) == offence
    state = G.state.copy()
    state.commit(execution.state)
    assert state.offence(evidence.offence_id) == offence
    assert _tree(state).root == block.header.state_root


def test_an_offence_is_recorded_once():
    first, previous, tree = build([double()])
    execution = validate_block(G.state, tree, first, previous, G.validators)
    assert not isinstance(execution, Rejection)
    state = G.state.copy()
    state.commit(execution.state)
    tree.update(execution.tree_updates)
    again, prev2, _ = build([double()], at=3, state=state, previous=first.header)
    expect(again, prev2, RejectCode.EVIDENCE_RECORDED, state, tree)
    # another pair of votes for the same slot is the same offence
    other_pair, prev3, _ = build(
        [double(hashes=(H2, H3))], at=3, state=state, previous=first.header
    )
    expect(other_pair, prev3, RejectCode.EVIDENCE_RECORDED, state, tree)
    # a precommit equivocation in the same round is another offence
    precommits, prev4, _ = build(
        [double(vote_type=PRECOMMIT)], at=3, state=state, previous=first.header
    )
    assert not isinstance(validate_block(state, tree, precommits, prev4, G.validators), Rejection)


def test_the_same_offence_twice_in_one_block_is_refused():
    block, previous, _ = build([double(), double(hashes=(H1, H3))])
    assert "evidence 1" in expect(block, previous, RejectCode.EVIDENCE_RECORDED)


def test_bad_signatures_are_refused():
    good = double()
    forged = dataclasses.replace(good.vote_b, signature=good.vote_a.signature)
    block, previous, _ = build([DuplicateVoteEvidence(vote_a=good.vote_a, vote_b=forged)])
    expect(block, previous, RejectCode.BAD_SIGNATURE)


def test_evidence_against_a_non_validator_is_refused():
    block, previous, _ = build([double("mallory")])
    expect(block, previous, RejectCode.EVIDENCE_NOT_VALIDATOR)


def test_votes_of_different_slots_do_not_conflict():
    a, b = vote(block_hash=H1), vote(block_hash=H2, round_=1)
    block, previous, _ = build([DuplicateVoteEvidence.of(a, b)])
    assert "round" in expect(block, previous, RejectCode.EVIDENCE_NOT_CONFLICTING)


@pytest.mark.parametrize(
    ("evidence_height", "block_height"),
    [(1, 2 + EVIDENCE_AGE_MAX), (5, 5), (6, 5)],
    ids=["too old", "same height", "future"],
)
def test_evidence_outside_the_age_window_is_refused(evidence_height, block_height):
    block, previous, _ = build([double(height=evidence_height)], at=block_height)
    expect(block, previous, RejectCode.EVIDENCE_EXPIRED)


def test_the_oldest_evidence_in_the_window_is_valid():
    block, previous, tree = build([double(height=1)], at=1 + EVIDENCE_AGE_MAX)
    assert not isinstance(validate_block(G.state, tree, block, previous, G.validators), Rejection)


def test_the_header_commits_to_the_evidence():
    block, previous, _ = build([double()])
    swapped = dataclasses.replace(block, evidence=(double(round_=3),))
    assert "evidence root" in expect(swapped, previous, RejectCode.BAD_BLOCK)
    dropped = dataclasses.replace(block, evidence=())
    expect(dropped, previous, RejectCode.BAD_BLOCK)


def test_block_decoding_bounds_the_evidence_count():
    block, _, _ = build([double(round_=r) for r in range(BLOCK_EVIDENCE_MAX)])
    assert Block.decode(block.encode()) == block
    over = dataclasses.replace(block, evidence=(*block.evidence, double(round_=99)))
    with pytest.raises(DecodeError) as info:
        Block.decode(over.encode())
    assert info.value.code is RejectCode.LIMIT_EXCEEDED


def test_evidence_decoding_rejects_non_canonical_bytes():
    evidence = double()
    assert DuplicateVoteEvidence.decode(evidence.encode()) == evidence
    swapped = evidence.vote_b.encode() + evidence.vote_a.encode()
    for data, code in (
        (swapped, RejectCode.NON_CANONICAL),
        (evidence.vote_a.encode() * 2, RejectCode.NON_CANONICAL),
        (evidence.encode() + b"\x00", RejectCode.NON_CANONICAL),
        (evidence.encode()[:-1], RejectCode.MALFORMED),
    ):
        with pytest.raises(DecodeError) as info:
            DuplicateVoteEvidence.decode(data)
        assert info.value.code is code
