"""Tendermint BFT consensus as a pure state machine: `step(state, event) -> (state, actions)`.

The algorithm is Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon and
Milosevic, 2018); comments cite its line numbers (L22 ...). One process p at height h_p:

- StartRound(r): the proposer of (h, r) proposes validValue if it has one, else a new block
  (BuildBlock -> BlockProposed); everyone else starts the propose timeout.
- L22/L28: on the round's proposal, prevote it if it is valid and p is not locked on another
  block (or the proposal carries a proof of lock from a round >= p's lock); else prevote nil.
- L34/L47: > 2/3 of the power prevoted (precommitted) anything: start the prevote
  (precommit) timeout.
- L36: the proposal plus > 2/3 prevotes for it: lock on it and precommit it (if still at the
  prevote step); remember it as validValue.
- L44: > 2/3 prevotes for nil: precommit nil.
- L49: a proposal plus > 2/3 precommits for it, in any round: decide (one-block finality).
- L55: messages of a higher round from > 1/3 of the power: jump to that round.
- Timeouts: propose -> prevote nil; prevote -> precommit nil; precommit -> next round.
- > 2/3 precommits for nil in round_p: start the next round at once (see below).

"2f+1" is "more than 2/3 of the total power" and "f+1" is "more than 1/3".

Choices the paper leaves open, made here:

- Own messages. The machine applies its own proposal and votes to its state at once, in the
  same step that emits their Broadcast; the shell must not feed them back (if it does, they
  are duplicates and are ignored).
- Heights. Deciding ends the height (step COMMITTED); the shell commits the block, then sends
  StartHeight(h + 1). Messages of other heights are ignored: the shell buffers the next
  height's messages and syncs blocks when far behind.
- Rule order. After each event the rules are re-evaluated until none fires, deciding first and
  scheduling timeouts last, so a single validator commits without any timer.
- Nil rounds end at once. The paper waits out the precommit timeout after > 2/3 precommits
  for anything (L47), even when they are all nil; then nothing can be decided in the round
  unless more than f equivocated, so this machine starts round_p + 1 right away (as L55
  would on f + 1 messages of it). Starting a round earlier never touches safety (locks do
  that); the precommit timeout still covers split precommits. A dead proposer so costs one
  propose timeout, not that plus a precommit timeout.
- The proposer does not start a propose timeout (as in the paper): the shell must answer every
  BuildBlock of the current round with BlockProposed.
- Never sign twice. Before signing a vote (or proposal) the machine looks for one of its own
  already recorded for that slot, e.g. replayed by the shell after a restart, and re-sends
  that one instead. An own non-nil precommit replayed from outside restores the lock it implies.
- Bounded memory. Rounds up to round_p + 1 are kept in full. Beyond that ("far" rounds) each
  validator's messages are kept for its highest such round only; that is all L55 needs, and a
  faulty validator cannot fill memory by voting in millions of rounds. At most
  PROPOSALS_PER_ROUND_MAX distinct proposals are kept per round (only the first one is
  prevoted on; the others can still complete a decision, L49), and at most
  VOTES_PER_VALIDATOR_MAX distinct values per (validator, vote type, round).
- Equivocation. A validator's votes for two values in one slot are reported once
  (ReportEvidence) and each counts for its own value, as the paper counts "2f+1 messages
  for id(v)": see VoteTally. A Decide's commit holds one precommit per validator.

What the shell must do: answer BuildBlock; fetch and validate proposed blocks before feeding
ProposalReceived; keep the blocks it proposed or received until Decide (always the last
action of its step) names one; buffer messages of the next height(s) and replay them after
StartHeight; sync blocks (with verify_commit) when peers are heights ahead; and, before it
sends any Broadcast, durably log the events of the current height (a write-ahead log): after
a crash, replaying them from `initial_state` re-creates the same state and the same
signatures, so the node never signs two different votes for one slot.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, assert_never

from corridor.consensus.events import (
    Action,
    BlockProposed,
    Broadcast,
    BuildBlock,
    Config,
    Decide,
    Event,
    ProposalReceived,
    ReportEvidence,
    ScheduleTimeout,
    StartHeight,
    TimeoutFired,
    TimeoutKind,
    VoteReceived,
)
from corridor.consensus.evidence import DuplicateVoteEvidence
from corridor.consensus.messages import (
    NIL,
    NO_POL_ROUND,
    PRECOMMIT,
    PREVOTE,
    ROUND_MAX,
    Proposal,
    Vote,
)
from corridor.consensus.tally import (
    VOTES_PER_VALIDATOR_MAX,
    Roster,
    RoundMessages,
    VoteTally,
    proposer_of,
)
from corridor.ledger.block import Commit, CommitSig

# The machine's inputs and outputs are in events.py, its tallies in tally.py; a shell imports
# them all from here.
__all__ = [
    "PROPOSALS_PER_ROUND_MAX",
    "VOTES_PER_VALIDATOR_MAX",
    "Action",
    "BlockProposed",
    "Broadcast",
    "BuildBlock",
    "Config",
    "ConsensusState",
    "Decide",
    "Event",
    "ProposalReceived",
    "ReportEvidence",
    "Roster",
    "RoundMessages",
    "ScheduleTimeout",
    "StartHeight",
    "Step",
    "TimeoutFired",
    "TimeoutKind",
    "VoteReceived",
    "VoteTally",
    "initial_state",
    "proposer_of",
    "step",
]

PROPOSALS_PER_ROUND_MAX: Final = 4  # distinct block hashes per round; an honest proposer sends 1


# --- State -----------------------------------------------------------------------------------


class Step(enum.IntEnum):
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    COMMITTED = 4  # decided `height` (height 0: genesis); waiting for StartHeight(height + 1)



_EMPTY_ROUND: Final = RoundMessages()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsensusState:
    """The whole state of one process: the paper's variables plus the message log of h_p."""

    config: Config
    roster: Roster
    me: bytes | None  # our public key if we are in the validator set
    height: int
    round: int
    step: Step
    locked_value: bytes | None = None
    locked_round: int = -1
    valid_value: bytes | None = None
    valid_round: int = -1
    decision: bytes | None = None  # the block decided at `height`, once COMMITTED
    rounds: Mapping[int, RoundMessages] = field(default_factory=dict)
    far_round_of: Mapping[bytes, int] = field(default_factory=dict)  # see the module docstring
    # The paper's "for the first time" guards, for the current round.
    prevote_timeout_started: bool = False  # L34
    polka_handled: bool = False  # L36
    precommit_timeout_started: bool = False  # L47

    def messages(self, round_: int) -> RoundMessages:
        return self.rounds.get(round_, _EMPTY_ROUND)


def initial_state(config: Config) -> ConsensusState:
    """A process that has committed genesis (height 0) and waits for StartHeight(1)."""
    roster = Roster.of(config.validators)
    me = config.key.public_key if config.key is not None else None
    return ConsensusState(
        config=config,
        roster=roster,
        me=me if me is not None and me in roster.power else None,
        height=0,
        round=0,
        step=Step.COMMITTED,
    )


# --- The transition --------------------------------------------------------------------------


def step(state: ConsensusState, event: Event) -> tuple[ConsensusState, tuple[Action, ...]]:
    """Apply one event; return the new state and the actions for the shell, in order.

    Pure and deterministic (signatures are deterministic too), so replaying the same events
    from `initial_state` rebuilds the same state and re-creates the same signed messages.
    """
    out: list[Action] = []
    touched: int | None = None  # the round a received message was stored in
    if isinstance(event, VoteReceived):
        new = _on_vote(state, out, event.vote)
        touched = event.vote.round
    elif isinstance(event, ProposalReceived):
        new = _on_proposal(state, out, event.proposal, event.valid)
        touched = event.proposal.round
    elif isinstance(event, TimeoutFired):
        new = _on_timeout(state, out, event)
    elif isinstance(event, BlockProposed):
        new = _on_block_proposed(state, out, event)
    elif isinstance(event, StartHeight):
        new = _on_start_height(state, out, event.height)
    else:
        assert_never(event)
    if new is not state:
        new = _run_rules(new, out, touched)
    return new, tuple(out)


def _on_start_height(st: ConsensusState, out: list[Action], height: int) -> ConsensusState:
    if height <= st.height:
        return st  # a repeat, or a height already passed
    fresh = replace(initial_state(st.config), roster=st.roster, height=height, step=Step.PROPOSE)
    return _start_round(fresh, out, 0)


def _on_block_proposed(st: ConsensusState, out: list[Action], ev: BlockProposed) -> ConsensusState:
    assert ev.block_hash != NIL, "the shell built a block whose hash is the nil hash"
    if (
        (ev.height, ev.round) != (st.height, st.round)
        or st.step is not Step.PROPOSE
        or st.me is None
        or st.roster.proposer(st.height, st.round) != st.me
        or st.messages(st.round).proposals  # already proposed this round
    ):
        return st  # a late answer to an earlier BuildBlock
    return _propose(st, out, ev.block_hash, NO_POL_ROUND)


def _on_proposal(
    st: ConsensusState, out: list[Action], proposal: Proposal, valid: bool
) -> ConsensusState:
    if (
        st.step is Step.COMMITTED
        or proposal.height != st.height
        or proposal.proposer != st.roster.proposer(st.height, proposal.round)
    ):
        return st
    msgs = st.messages(proposal.round)
    if msgs.proposal_for(proposal.block_hash) is not None:
        return st  # a duplicate
    if len(msgs.proposals) >= PROPOSALS_PER_ROUND_MAX:
        return st
    if not proposal.verify_signature(st.config.chain_id):
        return st
    admitted = _admit(st, proposal.proposer, proposal.round)
    if admitted is None:
        return st
    return _store_proposal(admitted, proposal, valid)


def _on_vote(st: ConsensusState, out: list[Action], vote: Vote) -> ConsensusState:
    power = st.roster.power.get(vote.validator, 0)
    if st.step is Step.COMMITTED or vote.height != st.height or power == 0:
        return st
    tally = st.messages(vote.round).tally(vote.vote_type)
    values = tally.values_of.get(vote.validator, ())
    if vote.block_hash in values:
        return st  # a duplicate (or another signature over the same vote)
    if len(values) >= VOTES_PER_VALIDATOR_MAX:
        return st  # an equivocator's further values: already reported, and the bound
    if not vote.verify_signature(st.config.chain_id):
        return st
    admitted = _admit(st, vote.validator, vote.round)
    if admitted is None:
        return st
    first = tally.first(vote.validator)
    if first is not None and vote.validator not in tally.reported:
        out.append(ReportEvidence(DuplicateVoteEvidence.of(first, vote)))
    st = _store_vote(admitted, vote)
    if vote.validator == st.me:
        st = _recover_own_vote(st, vote)
    return st


def _recover_own_vote(st: ConsensusState, vote: Vote) -> ConsensusState:
    """Our own vote from outside (a restart): a non-nil precommit means we were locked on it."""
    if vote.vote_type == PRECOMMIT and not vote.is_nil and vote.round > st.locked_round:
        return replace(st, locked_value=vote.block_hash, locked_round=vote.round)
    return st


def _on_timeout(st: ConsensusState, out: list[Action], ev: TimeoutFired) -> ConsensusState:
    if (ev.height, ev.round) != (st.height, st.round) or st.step is Step.COMMITTED:
        return st  # stale
    if ev.kind == "propose" and st.step is Step.PROPOSE:
        return replace(_vote(st, out, PREVOTE, NIL), step=Step.PREVOTE)
    if ev.kind == "prevote" and st.step is Step.PREVOTE:
        return replace(_vote(st, out, PRECOMMIT, NIL), step=Step.PRECOMMIT)
    if ev.kind == "precommit" and st.round < ROUND_MAX:  # 2**32 rounds: stay in the last
        return _start_round(st, out, st.round + 1)
    return st


# --- Rules (the paper's "upon" clauses) ------------------------------------------------------


def _run_rules(st: ConsensusState, out: list[Action], touched: int | None) -> ConsensusState:
    """Fire enabled rules until none is: each firing advances the state, so this ends.

    Every rule looks at O(1) rounds, so a step costs O(n) however many rounds the height has
    seen: L49 can only become enabled in a round a message was just added to, which is the
    received message's round (`touched`) or, for our own messages, the current round.
    """
    rules = (
        _skip_round,
        _prevote_on_proposal,
        _lock_on_polka,
        _precommit_nil,
        _next_round_on_nil,
        _start_prevote_timeout,
        _start_precommit_timeout,
    )
    while st.step is not Step.COMMITTED:
        decided = _decide(st, out, touched)
        if decided is not None:
            return decided
        for rule in rules:
            fired = rule(st, out)
            if fired is not None:
                st = fired
                break
        else:
            return st
    return st


def _decide(st: ConsensusState, out: list[Action], touched: int | None) -> ConsensusState | None:
    """L49: a valid proposal of round r and > 2/3 precommits for it in r (any r): decide."""
    for round_ in sorted({st.round} if touched is None else {st.round, touched}):
        msgs = st.messages(round_)
        block_hash = msgs.precommits.quorum_hash(st.roster)
        if block_hash is None or block_hash == NIL:
            continue
        entry = msgs.proposal_for(block_hash)
        if entry is None or not entry[1]:
            continue
        # One signature per validator, its precommit for this block (an equivocator's other
        # precommit is not part of the proof), in public-key order.
        tally = msgs.precommits
        precommits = (tally.vote_for(pk, block_hash) for pk in sorted(tally.values_of))
        signatures = tuple(CommitSig(v.validator, v.signature) for v in precommits if v is not None)
        assert st.roster.is_quorum(sum(st.roster.power[s.public_key] for s in signatures))
        commit = Commit(st.height, round_, block_hash, signatures)
        out.append(Decide(st.height, round_, block_hash, commit))
        return replace(st, step=Step.COMMITTED, decision=block_hash, rounds={}, far_round_of={})
    return None


def _skip_round(st: ConsensusState, out: list[Action]) -> ConsensusState | None:
    """L55: messages of a round r > round_p from > 1/3 of the power: start round r.

    The only rounds above round_p with messages are round_p + 1 and the far rounds.
    """
    candidates = {st.round + 1, *st.far_round_of.values()}
    for round_ in sorted(candidates, reverse=True):
        senders = st.messages(round_).senders()
        if st.roster.is_one_third(sum(st.roster.power[s] for s in senders)):
            return _start_round(st, out, round_)
    return None


def _prevote_on_proposal(st: ConsensusState, out: list[Action]) -> ConsensusState | None:
    """L22 (fresh proposal) and L28 (proposal with a proof of lock from round vr)."""
    if st.step is not Step.PROPOSE:
        return None
    for proposal, valid in st.messages(st.round).proposals:
        v, vr = proposal.block_hash, proposal.pol_round
        if vr == NO_POL_ROUND:
            acceptable = valid and (st.locked_round == -1 or st.locked_value == v)
        elif st.messages(vr).prevotes.quorum_hash(st.roster) == v:
            acceptable = valid and (st.locked_round <= vr or st.locked_value == v)
        else:
            continue  # L28 waits for the proof-of-lock prevotes
        st = _vote(st, out, PREVOTE, v if acceptable else NIL)
        return replace(st, step=Step.PREVOTE)
    return None


def _lock_on_polka(st: ConsensusState, out: list[Action]) -> ConsensusState | None:
    """L36: a valid proposal and > 2/3 prevotes for it this round, at prevote step or later."""
    if st.polka_handled or st.step < Step.PREVOTE:
        return None
    msgs = st.messages(st.round)
    v = msgs.prevotes.quorum_hash(st.roster)
    if v is None or v == NIL:
        return None
    entry = msgs.proposal_for(v)
    if entry is None or not entry[1]:
        return None
    if st.step is Step.PREVOTE:
        st = replace(st, locked_value=v, locked_round=st.round)
        st = replace(_vote(st, out, PRECOMMIT, v), step=Step.PRECOMMIT)
    return replace(st, valid_value=v, valid_round=st.round, polka_handled=True)


def _precommit_nil(st: ConsensusState, out: list[Action]) -> ConsensusState | None:
    """L44: > 2/3 prevotes for nil this round, at prevote step: precommit nil."""
    if st.step is not Step.PREVOTE:
        return None
    if not st.roster.is_quorum(st.messages(st.round).prevotes.power_by_hash.get(NIL, 0)):
        return None
    return replace(_vote(st, out, PRECOMMIT, NIL), step=Step.PRECOMMIT)


def _next_round_on_nil(st: ConsensusState, out: list[Action]) -> ConsensusState | None:
    """> 2/3 precommits for nil this round: no value can be decided in it, start the next."""
    if st.round >= ROUND_MAX:  # 2**32 rounds: stay in the last
        return None
    if not st.roster.is_quorum(st.messages(st.round).precommits.power_by_hash.get(NIL, 0)):
        return None
    return _start_round(st, out, st.round + 1)


def _start_prevote_timeout(st: ConsensusState, out: list[Action]) -> ConsensusState | None:
    """L34: > 2/3 prevotes for anything this round, at prevote step, the first time."""
    if st.step is not Step.PREVOTE or st.prevote_timeout_started:
        return None
    if not st.roster.is_quorum(st.messages(st.round).prevotes.power):
        return None
    out.append(_timeout(st, "prevote"))
    return replace(st, prevote_timeout_started=True)


def _start_precommit_timeout(st: ConsensusState, out: list[Action]) -> ConsensusState | None:
    """L47: > 2/3 precommits for anything this round, the first time."""
    if st.precommit_timeout_started:
        return None
    if not st.roster.is_quorum(st.messages(st.round).precommits.power):
        return None
    out.append(_timeout(st, "precommit"))
    return replace(st, precommit_timeout_started=True)


# --- Helpers ---------------------------------------------------------------------------------


def _start_round(st: ConsensusState, out: list[Action], round_: int) -> ConsensusState:
    """StartRound (L11): propose if we are the proposer, else start the propose timeout."""
    st = replace(
        st,
        round=round_,
        step=Step.PROPOSE,
        prevote_timeout_started=False,
        polka_handled=False,
        precommit_timeout_started=False,
        far_round_of={v: r for v, r in st.far_round_of.items() if r > round_ + 1},
    )
    if st.me is None or st.roster.proposer(st.height, round_) != st.me:
        out.append(_timeout(st, "propose"))
        return st
    own = st.messages(round_).proposals
    if own:  # signed before a restart and replayed: send it again, never sign another
        out.append(Broadcast(own[0][0]))
        return st
    if st.valid_value is not None:
        return _propose(st, out, st.valid_value, st.valid_round)
    out.append(BuildBlock(st.height, round_))
    return st


def _propose(
    st: ConsensusState, out: list[Action], block_hash: bytes, pol_round: int
) -> ConsensusState:
    assert st.config.key is not None and st.me is not None
    proposal = Proposal.signed(
        st.config.chain_id,
        st.config.key,
        height=st.height,
        round_=st.round,
        block_hash=block_hash,
        pol_round=pol_round,
    )
    out.append(Broadcast(proposal))
    # Our own block (built by our shell, or validValue, which passed validation) is valid.
    return _store_proposal(st, proposal, True)


def _vote(
    st: ConsensusState, out: list[Action], vote_type: int, block_hash: bytes
) -> ConsensusState:
    """Sign, record and broadcast our vote for this round (a follower only changes step)."""
    if st.me is None:
        return st
    assert st.config.key is not None
    earlier = st.messages(st.round).tally(vote_type).first(st.me)
    if earlier is not None:  # signed before a restart and replayed: never sign another
        out.append(Broadcast(earlier))
        return st
    vote = Vote.signed(
        st.config.chain_id,
        st.config.key,
        vote_type=vote_type,
        height=st.height,
        round_=st.round,
        block_hash=block_hash,
    )
    out.append(Broadcast(vote))
    return _store_vote(st, vote)


def _timeout(st: ConsensusState, kind: TimeoutKind) -> ScheduleTimeout:
    return ScheduleTimeout(kind, st.height, st.round, st.config.timeout_ms(kind, st.round))


def _admit(st: ConsensusState, sender: bytes, round_: int) -> ConsensusState | None:
    """Apply the far-round bound to a verified message; None if it is to be dropped."""
    if round_ <= st.round + 1:
        return st
    current = st.far_round_of.get(sender)
    if current is not None and round_ <= current:
        return st if round_ == current else None
    if current is not None:  # the sender moved further ahead: forget its older far round
        st = _with_round(
            st, current, st.messages(current).without_sender(sender, st.roster.power[sender])
        )
    return replace(st, far_round_of={**st.far_round_of, sender: round_})


def _store_vote(st: ConsensusState, vote: Vote) -> ConsensusState:
    msgs = st.messages(vote.round)
    tally = msgs.tally(vote.vote_type).with_vote(vote, st.roster.power[vote.validator])
    return _with_round(st, vote.round, msgs.with_tally(vote.vote_type, tally))


def _store_proposal(st: ConsensusState, proposal: Proposal, valid: bool) -> ConsensusState:
    msgs = st.messages(proposal.round)
    return _with_round(
        st, proposal.round, replace(msgs, proposals=(*msgs.proposals, (proposal, valid)))
    )


def _with_round(st: ConsensusState, round_: int, msgs: RoundMessages) -> ConsensusState:
    rounds = dict(st.rounds)
    if msgs.is_empty:
        rounds.pop(round_, None)
    else:
        rounds[round_] = msgs
    return replace(st, rounds=rounds)
