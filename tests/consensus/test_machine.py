"""The consensus state machine, driven by a tiny deterministic network (STYLE 11).

`Net` plays every node's shell: it delivers broadcasts through one queue ordered by (virtual
time, sequence number) - a FIFO when delays are zero -, answers BuildBlock with a hash derived
from (height, round, proposer), treats proposals as valid unless told otherwise, buffers
messages of a node's next heights, starts the next height after each Decide, and fires
timeouts by hand (`fire_timeouts`) or at their virtual deadline (`auto_timeouts`).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections import Counter
from dataclasses import replace

import pytest

from corridor.consensus.evidence import DuplicateVoteEvidence
from corridor.consensus.machine import (
    Action,
    BlockProposed,
    Broadcast,
    BuildBlock,
    Config,
    ConsensusState,
    Decide,
    Event,
    ProposalReceived,
    ReportEvidence,
    ScheduleTimeout,
    StartHeight,
    Step,
    TimeoutFired,
    VoteReceived,
    initial_state,
    proposer_of,
    step,
)
from corridor.consensus.messages import NIL, PRECOMMIT, PREVOTE, Proposal, Vote
from corridor.ledger.block import Commit, Validator, ValidatorSet, verify_commit
from corridor.ledger.keys import KeyPair

CHAIN = "corridor-test"


def key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(b"corridor-test-key:" + name.encode()).digest())


def make_keys(n: int) -> list[KeyPair]:
    """n validator keys in public-key order (the order of a ValidatorSet)."""
    return sorted((key(f"validator-{i}") for i in range(n)), key=lambda k: k.public_key)


def make_validators(keys: list[KeyPair], powers: list[int] | None = None) -> ValidatorSet:
    powers = powers or [1] * len(keys)
    return ValidatorSet(
        tuple(Validator(k.public_key, p) for k, p in zip(keys, powers, strict=True))
    )


def block_hash(height: int, round_: int, proposer: bytes) -> bytes:
    return hashlib.sha256(b"block:%d:%d:" % (height, round_) + proposer).digest()


def message_height(event: Event) -> int | None:
    if isinstance(event, ProposalReceived):
        return event.proposal.height
    if isinstance(event, VoteReceived):
        return event.vote.height
    return None


class Net:
    """Nodes v0..v{n-1} (public-key order), optional followers f0.., one delivery queue."""

    def __init__(
        self,
        n: int = 4,
        *,
        powers: list[int] | None = None,
        silent: tuple[int, ...] = (),
        byzantine: tuple[int, ...] = (),
        followers: int = 0,
        invalid: frozenset[bytes] = frozenset(),
        last_height: int = 3,
        rng: random.Random | None = None,
        delay_max_ms: int = 0,
        drop: float = 0.0,
        duplicate: float = 0.0,
        auto_timeouts: bool = False,
        sync: bool = False,
    ) -> None:
        self.keys = make_keys(n)
        self.validators = make_validators(self.keys, powers)
        self.names = [f"v{i}" for i in range(n)] + [f"f{i}" for i in range(followers)]
        self.key_of = {f"v{i}": k for i, k in enumerate(self.keys)}
        self.silent = {f"v{i}" for i in silent}
        self.byzantine = {f"v{i}" for i in byzantine}
        self.live = [name for name in self.names if name not in self.silent]
        self.nodes = {
            name: initial_state(Config(CHAIN, self.validators, self.key_of.get(name)))
            for name in self.live
        }
        self.invalid = invalid
        self.last_height = last_height
        self.rng = rng or random.Random(0)
        self.delay_max_ms, self.drop, self.duplicate = delay_max_ms, drop, duplicate
        self.auto_timeouts = auto_timeouts
        self.sync = sync
        self.now_ms = 0
        self._seq = 0
        self.queue: list[tuple[int, int, str, Event]] = []
        self.timers: list[tuple[str, TimeoutFired]] = []
        self.buffered: dict[str, list[Event]] = {name: [] for name in self.live}
        self.decisions: dict[str, dict[int, Decide]] = {name: {} for name in self.live}
        self.evidence: list[DuplicateVoteEvidence] = []
        self.actions: dict[str, list[Action]] = {name: [] for name in self.live}
        self.events = 0
        self.synced = 0

    # -- driving --

    def start(self) -> Net:
        for name in self.live:
            self._push(0, name, StartHeight(1))
        return self

    def run(self, max_events: int = 100_000) -> Net:
        """Deliver queued events in (time, sequence) order until the queue is empty."""
        budget = max_events
        while self.queue and budget > 0:
            time_ms, _, name, event = heapq.heappop(self.queue)
            self.now_ms = max(self.now_ms, time_ms)
            self.feed(name, event)
            budget -= 1
            if not self.queue and self.sync:
                self._sync_stragglers()
        return self

    def _sync_stragglers(self) -> None:
        """Nodes that decided the last height go no further, so a node they left behind never
        sees the next height's messages that make a shell sync (a node that decides at its
        prevote step never sends the precommit the others may still need): sync it here."""
        for name in self.honest:
            if self.nodes[name].height not in self.decisions[name]:
                self._sync(name)

    def fire_timeouts(self) -> Net:
        timers, self.timers = self.timers, []
        for name, event in timers:
            self._push(0, name, event)
        return self

    def settle(self, rounds: int = 20) -> Net:
        """Run; while undecided, fire the pending timeouts and run again."""
        self.run()
        for _ in range(rounds):
            if self.all_decided() or not self.timers:
                break
            self.fire_timeouts().run()
        return self

    def all_decided(self) -> bool:
        return all(self.last_height in self.decisions[name] for name in self.honest)

    @property
    def honest(self) -> list[str]:
        return [name for name in self.live if name not in self.byzantine]

    # -- one node's shell --

    def feed(self, name: str, event: Event) -> None:
        self.events += 1
        state = self.nodes[name]
        height = message_height(event)
        if height is not None and height > state.height:
            self.buffered[name].append(event)  # the shell keeps the next heights' messages
            if self.sync:
                self._sync(name)
            return
        new, actions = step(state, event)
        self.nodes[name] = new
        self.actions[name].extend(actions)
        for action in actions:
            self._act(name, action)
        if isinstance(event, StartHeight) and new.height == event.height:
            pending, self.buffered[name] = self.buffered[name], []
            for buffered in pending:
                if message_height(buffered) == new.height:
                    self.feed(name, buffered)
                elif (message_height(buffered) or 0) > new.height:
                    self.buffered[name].append(buffered)

    def _sync(self, name: str) -> None:
        """Others are ahead: fetch the block this node is missing and its commit (block sync)."""
        height = self.nodes[name].height
        if height in self.decisions[name]:
            return  # decided: StartHeight(height + 1) is on its way
        for other in self.honest:
            decide = self.decisions[other].get(height)
            if decide is not None:
                commit_ok = verify_commit(
                    CHAIN, self.validators, decide.commit, decide.block_hash, height
                )
                assert commit_ok is None
                self.decisions[name][height] = decide
                self.synced += 1
                if height < self.last_height:
                    self._push(0, name, StartHeight(height + 1))
                return

    def _act(self, name: str, action: Action) -> None:
        if isinstance(action, Broadcast):
            self._broadcast(name, action.message)
        elif isinstance(action, BuildBlock):
            pk = self.key_of[name].public_key
            self._push(
                0,
                name,
                BlockProposed(
                    action.height, action.round, block_hash(action.height, action.round, pk)
                ),
            )
        elif isinstance(action, ScheduleTimeout):
            event = TimeoutFired(action.kind, action.height, action.round)
            if self.auto_timeouts:
                self._push(action.duration_ms, name, event)
            else:
                self.timers.append((name, event))
        elif isinstance(action, Decide):
            self.decisions[name][action.height] = action
            if action.height < self.last_height:
                self._push(0, name, StartHeight(action.height + 1))
        elif isinstance(action, ReportEvidence):
            self.evidence.append(action.evidence)

    def _broadcast(self, sender: str, message: Proposal | Vote) -> None:
        for name in self.live:
            if name == sender:
                continue
            versions = self._versions(sender, message) if sender in self.byzantine else [message]
            for sent in versions:
                copies = 2 if self.rng.random() < self.duplicate else 1
                for _ in range(copies):
                    if self.rng.random() < self.drop:
                        continue
                    delay = self.rng.randint(0, self.delay_max_ms) if self.delay_max_ms else 0
                    self._push(delay, name, self._receive(sent))

    def _versions(self, sender: str, message: Proposal | Vote) -> list[Proposal | Vote]:
        """A Byzantine sender tells each peer the truth, another block, or both."""
        k = self.key_of[sender]
        other = hashlib.sha256(b"evil" + message.block_hash).digest()
        lie: Proposal | Vote
        if isinstance(message, Proposal):
            lie = Proposal.signed(
                CHAIN, k, height=message.height, round_=message.round, block_hash=other
            )
        else:
            lie = Vote.signed(
                CHAIN,
                k,
                vote_type=message.vote_type,
                height=message.height,
                round_=message.round,
                block_hash=self.rng.choice([NIL, other]) if not message.is_nil else other,
            )
        return self.rng.choice([[message], [lie], [message, lie], [lie, message]])

    def _receive(self, message: Proposal | Vote) -> Event:
        if isinstance(message, Proposal):
            return ProposalReceived(message, message.block_hash not in self.invalid)
        return VoteReceived(message)

    def _push(self, delay_ms: int, name: str, event: Event) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (self.now_ms + delay_ms, self._seq, name, event))

    # -- checks --

    def decided_hashes(self) -> dict[int, set[bytes]]:
        """Height -> the blocks honest nodes decided there (agreement: at most one each)."""
        by_height: dict[int, set[bytes]] = {}
        for name in self.honest:
            for height, decide in self.decisions[name].items():
                by_height.setdefault(height, set()).add(decide.block_hash)
        return by_height

    def assert_agreement(self) -> None:
        for height, hashes in self.decided_hashes().items():
            assert len(hashes) == 1, f"two blocks decided at height {height}"

    def assert_commits_verify(self) -> None:
        for name in self.honest:
            for height, decide in self.decisions[name].items():
                assert decide.commit.block_hash == decide.block_hash
                assert decide.commit.round == decide.round
                assert (
                    verify_commit(CHAIN, self.validators, decide.commit, decide.block_hash, height)
                    is None
                )
                assert Commit.decode(decide.commit.encode()) == decide.commit  # sorted by key


def scheduled(actions: list[Action] | tuple[Action, ...]) -> list[ScheduleTimeout]:
    return [a for a in actions if isinstance(a, ScheduleTimeout)]


def broadcasts(actions: tuple[Action, ...]) -> list[Proposal | Vote]:
    return [a.message for a in actions if isinstance(a, Broadcast)]


def votes_of(actions: tuple[Action, ...], vote_type: int) -> list[Vote]:
    return [m for m in broadcasts(actions) if isinstance(m, Vote) and m.vote_type == vote_type]


# --- Liveness and agreement ------------------------------------------------------------------


def test_single_validator_commits_every_height_at_once_without_timers() -> None:
    k = make_keys(1)[0]
    validators = make_validators([k])
    state = initial_state(Config(CHAIN, validators, k))
    for height in range(1, 21):
        state, actions = step(state, StartHeight(height))
        assert actions == (BuildBlock(height, 0),)
        block = block_hash(height, 0, k.public_key)
        state, actions = step(state, BlockProposed(height, 0, block))
        kinds = [type(m).__name__ for m in broadcasts(actions)]
        assert kinds == ["Proposal", "Vote", "Vote"]  # proposal, prevote, precommit
        decide = actions[-1]
        assert isinstance(decide, Decide) and (decide.height, decide.round) == (height, 0)
        assert decide.block_hash == block
        assert verify_commit(CHAIN, validators, decide.commit, block, height) is None
        assert not scheduled(actions)
        assert state.step is Step.COMMITTED and state.decision == block


def test_single_validator_through_the_harness() -> None:
    net = Net(1, last_height=20).start().run()
    assert net.all_decided() and not net.timers
    assert [d.round for d in net.decisions["v0"].values()] == [0] * 20


def test_four_honest_validators_decide_the_same_blocks_in_round_zero() -> None:
    net = Net(4, last_height=6).start().run()
    assert net.all_decided()
    net.assert_agreement()
    net.assert_commits_verify()
    for height, hashes in net.decided_hashes().items():
        proposer = proposer_of(net.validators, height, 0)
        assert hashes == {block_hash(height, 0, proposer)}
    assert not net.evidence
    assert all(d.round == 0 for name in net.live for d in net.decisions[name].values())


def test_a_follower_decides_without_signing() -> None:
    net = Net(4, followers=1, last_height=3).start().run()
    assert net.decisions["f0"].keys() == {1, 2, 3}
    net.assert_agreement()
    assert not broadcasts(tuple(net.actions["f0"]))


def test_one_crashed_validator_costs_a_round_when_it_should_propose() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    crashed = next(i for i, k in enumerate(keys) if k.public_key == proposer_of(validators, 1, 0))
    net = Net(4, silent=(crashed,), last_height=8).start().settle(rounds=40)
    assert net.all_decided()
    net.assert_agreement()
    net.assert_commits_verify()
    crashed_pk = keys[crashed].public_key
    for height in range(1, 9):
        rounds = {net.decisions[name][height].round for name in net.live}
        if proposer_of(validators, height, 0) == crashed_pk:
            assert min(rounds) >= 1  # the propose timeout moved everyone to round 1
        else:
            assert rounds == {0}


def test_two_of_four_silent_lose_liveness_but_not_safety() -> None:
    net = Net(4, silent=(1, 2), last_height=2).start()
    net.settle(rounds=12)
    assert all(not decided for decided in net.decisions.values())
    # Two prevotes are not > 2/3 of the power, so not even the prevote timeout starts (L34):
    # the live half waits, signing nothing more, until the others come back.
    assert not net.timers and not net.queue
    assert all(state.step is Step.PREVOTE for state in net.nodes.values())


def test_an_invalid_proposal_gets_nil_prevotes_and_the_next_round_decides() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    bad = block_hash(1, 0, proposer_of(validators, 1, 0))
    net = Net(4, invalid=frozenset({bad}), last_height=1).start().settle()
    assert net.all_decided()
    net.assert_agreement()
    decided = net.decisions["v0"][1]
    assert decided.round == 1 and decided.block_hash == block_hash(
        1, 1, proposer_of(validators, 1, 1)
    )
    first_prevotes = [
        v
        for name in net.live
        for v in votes_of(tuple(net.actions[name]), PREVOTE)
        if v.height == 1 and v.round == 0
    ]
    assert sorted(v.is_nil for v in first_prevotes) == [False, True, True, True]  # proposer's own


def test_decide_ignores_precommits_for_a_block_it_never_saw_proposed() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    me = keys[3]
    state, _ = step(initial_state(Config(CHAIN, validators, me)), StartHeight(1))
    unseen = block_hash(1, 0, b"x" * 32)
    for k in keys[:3]:
        state, actions = step(state, VoteReceived(_vote(k, PRECOMMIT, 1, 0, unseen)))
        assert not any(isinstance(a, Decide) for a in actions)
    proposer = next(k for k in keys if k.public_key == proposer_of(validators, 1, 0))
    proposal = Proposal.signed(CHAIN, proposer, height=1, round_=0, block_hash=unseen)
    state, actions = step(state, ProposalReceived(proposal, True))
    assert any(isinstance(a, Decide) and a.block_hash == unseen for a in actions)


# --- Locking ---------------------------------------------------------------------------------


def _vote(k: KeyPair, vote_type: int, height: int, round_: int, block: bytes) -> Vote:
    return Vote.signed(
        CHAIN, k, vote_type=vote_type, height=height, round_=round_, block_hash=block
    )


def _feed(state: ConsensusState, *events: Event) -> tuple[ConsensusState, tuple[Action, ...]]:
    actions: list[Action] = []
    for event in events:
        state, produced = step(state, event)
        actions.extend(produced)
    return state, tuple(actions)


def test_a_nil_precommit_quorum_starts_the_next_round_without_the_precommit_timeout() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    proposer = proposer_of(validators, 1, 0)
    me = next(k for k in keys if k.public_key != proposer)
    others = [k for k in keys if k is not me]
    state, _ = step(initial_state(Config(CHAIN, validators, me)), StartHeight(1))
    # The proposer is silent: our propose timeout, then everyone prevotes nil.
    state, _ = _feed(state, TimeoutFired("propose", 1, 0))
    state, actions = _feed(state, *(VoteReceived(_vote(k, PREVOTE, 1, 0, NIL)) for k in others[:2]))
    assert [x.block_hash for x in votes_of(actions, PRECOMMIT)] == [NIL]
    # One nil precommit more is 2 of 4: no quorum, still round 0.
    state, actions = _feed(state, VoteReceived(_vote(others[0], PRECOMMIT, 1, 0, NIL)))
    assert state.round == 0 and not scheduled(actions)
    # Three of four precommitted nil: round 1 at once; its propose timeout is the only one.
    state, actions = _feed(state, VoteReceived(_vote(others[1], PRECOMMIT, 1, 0, NIL)))
    assert state.round == 1 and state.step is Step.PROPOSE
    if proposer_of(validators, 1, 1) != me.public_key:
        assert [(t.kind, t.round) for t in scheduled(actions)] == [("propose", 1)]
    # The stale precommit timeout of round 0 (had it been scheduled) changes nothing.
    assert _feed(state, TimeoutFired("precommit", 1, 0))[0] == state


def test_a_split_precommit_quorum_still_waits_for_the_precommit_timeout() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    me = keys[0]
    v = hashlib.sha256(b"v").digest()
    state, _ = step(initial_state(Config(CHAIN, validators, me)), StartHeight(1))
    state, _ = _feed(state, TimeoutFired("propose", 1, 0))
    state, _ = _feed(
        state,
        *(VoteReceived(_vote(k, PREVOTE, 1, 0, NIL)) for k in keys[1:3]),
        VoteReceived(_vote(keys[1], PRECOMMIT, 1, 0, NIL)),
    )
    # nil, nil (ours), v: > 2/3 precommitted something, no value has a quorum.
    state, actions = _feed(state, VoteReceived(_vote(keys[2], PRECOMMIT, 1, 0, v)))
    assert state.round == 0
    assert [(t.kind, t.round) for t in scheduled(actions)] == [("precommit", 0)]
    state, _ = _feed(state, TimeoutFired("precommit", 1, 0))
    assert state.round == 1


def test_locked_validator_prevotes_nil_for_another_block_until_a_newer_proof_of_lock() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    by_pk = {k.public_key: k for k in keys}
    proposers = [by_pk[proposer_of(validators, 1, r)] for r in range(3)]
    me = next(k for k in keys if k not in proposers)
    others = [k for k in keys if k is not me]
    v, v2 = hashlib.sha256(b"v").digest(), hashlib.sha256(b"v'").digest()
    state, _ = step(initial_state(Config(CHAIN, validators, me)), StartHeight(1))

    # Round 0: we see the proposal of v and two more prevotes for it: we lock on v.
    p0 = Proposal.signed(CHAIN, proposers[0], height=1, round_=0, block_hash=v)
    state, actions = _feed(state, ProposalReceived(p0, True))
    assert [x.block_hash for x in votes_of(actions, PREVOTE)] == [v]
    state, actions = _feed(state, *(VoteReceived(_vote(k, PREVOTE, 1, 0, v)) for k in others[:2]))
    assert [x.block_hash for x in votes_of(actions, PRECOMMIT)] == [v]
    assert (state.locked_value, state.locked_round) == (v, 0)
    assert (state.valid_value, state.valid_round) == (v, 0)
    # The others saw no polka and precommitted nil: no decision, the precommit timeout moves on.
    state, actions = _feed(
        state, *(VoteReceived(_vote(k, PRECOMMIT, 1, 0, NIL)) for k in others[:2])
    )
    assert [(t.kind, t.round) for t in scheduled(actions)] == [("precommit", 0)]
    state, actions = _feed(state, TimeoutFired("precommit", 1, 0))
    assert state.round == 1 and state.step is Step.PROPOSE

    # Round 1: a fresh v' without a proof of lock. Valid, but we are locked on v: prevote nil.
    p1 = Proposal.signed(CHAIN, proposers[1], height=1, round_=1, block_hash=v2)
    state, actions = _feed(state, ProposalReceived(p1, True))
    assert [x.block_hash for x in votes_of(actions, PREVOTE)] == [NIL]
    assert state.locked_value == v

    # Round 2 (reached by f+1 messages of round 2): v' again, with proof of lock round 1. Until
    # we see that proof we wait; with it (newer than our lock) we prevote v'.
    p2 = Proposal.signed(CHAIN, proposers[2], height=1, round_=2, block_hash=v2, pol_round=1)
    helper = next(k for k in others if k is not proposers[2])
    state, actions = _feed(
        state, ProposalReceived(p2, True), VoteReceived(_vote(helper, PREVOTE, 1, 2, v2))
    )
    assert state.round == 2 and not votes_of(actions, PREVOTE)
    state, actions = _feed(state, *(VoteReceived(_vote(k, PREVOTE, 1, 1, v2)) for k in others))
    assert [x.block_hash for x in votes_of(actions, PREVOTE)] == [v2]


def test_a_proof_of_lock_older_than_the_lock_does_not_unlock() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    proposer = next(k for k in keys if k.public_key == proposer_of(validators, 1, 3))
    me = next(k for k in keys if k is not proposer)
    v, v2 = hashlib.sha256(b"v").digest(), hashlib.sha256(b"v'").digest()
    start, _ = step(initial_state(Config(CHAIN, validators, me)), StartHeight(1))
    locked = replace(start, round=3, locked_value=v, locked_round=2)  # locked on v in round 2
    pol = [VoteReceived(_vote(k, PREVOTE, 1, 1, v2)) for k in keys if k is not me]
    # (block, pol round, our prevotes): the old proof is not enough to unlock; the locked block
    # is always fine; a proof of lock that the prevotes do not back makes us wait (L28).
    cases = [(v2, 1, [NIL]), (v, -1, [v]), (v, 1, [])]
    for block, pol_round, expected in cases:
        p3 = Proposal.signed(
            CHAIN, proposer, height=1, round_=3, block_hash=block, pol_round=pol_round
        )
        _, actions = _feed(locked, *pol, ProposalReceived(p3, True))
        assert [x.block_hash for x in votes_of(actions, PREVOTE)] == expected, (block, pol_round)


# --- Faults: equivocation, junk, duplicates ---------------------------------------------------


def test_equivocation_is_reported_once_with_verifiable_evidence() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    state, _ = step(initial_state(Config(CHAIN, validators, keys[0])), StartHeight(1))
    cheat = keys[1]
    first = _vote(cheat, PREVOTE, 1, 0, block_hash(1, 0, b"a" * 32))
    second = _vote(cheat, PREVOTE, 1, 0, NIL)
    third = _vote(cheat, PREVOTE, 1, 0, block_hash(1, 0, b"b" * 32))
    state, actions = _feed(
        state, VoteReceived(first), VoteReceived(second), VoteReceived(second), VoteReceived(third)
    )
    reports = [a.evidence for a in actions if isinstance(a, ReportEvidence)]
    assert len(reports) == 1
    evidence = reports[0]
    assert evidence == DuplicateVoteEvidence.of(first, second)
    assert evidence.verify(CHAIN, validators) is None
    assert DuplicateVoteEvidence.decode(evidence.encode()) == evidence
    # The first two values count, each for its own block (the paper counts every signed vote
    # for id(v)); the validator counts once for "any"; a third value is dropped (memory bound).
    tally = state.messages(0).prevotes
    assert tally.first(cheat.public_key) == first
    assert list(tally.votes.values()) == [first, second]  # what a shell relays
    assert tally.power == 1 and tally.power_by_hash == {first.block_hash: 1, NIL: 1}
    # The same validator's precommits are a separate slot.
    state, actions = _feed(state, VoteReceived(_vote(cheat, PRECOMMIT, 1, 0, NIL)))
    assert not any(isinstance(a, ReportEvidence) for a in actions)


def test_equivocating_validators_are_reported_in_a_network() -> None:
    net = Net(4, byzantine=(2,), last_height=3, rng=random.Random(7)).start().settle()
    net.assert_agreement()
    assert net.evidence
    for evidence in net.evidence:
        assert evidence.validator == net.keys[2].public_key
        assert evidence.verify(CHAIN, net.validators) is None


class SplitLockNet(Net):
    """The split lock, scripted (found by the simulator): in round 0 of height 1 the proposal
    never reaches `late` (it prevotes nil on its timeout), and the Byzantine validator sends
    its prevote for the block to `locker` only and a signed nil prevote to the others. Later
    messages go everywhere. `relay` plays the shells' gossip of the votes they hold."""

    def __init__(self) -> None:
        super().__init__(4, byzantine=(0,), last_height=2)  # roles are reassigned below
        by_pk = {k.public_key: name for name, k in self.key_of.items()}
        self.proposer = by_pk[proposer_of(self.validators, 1, 0)]
        self.locker = by_pk[proposer_of(self.validators, 1, 1)]  # re-proposes its lock next
        cheat, self.late = sorted(set(self.live) - {self.proposer, self.locker})
        self.byzantine = {cheat}
        self.cheat = cheat

    def _broadcast(self, sender: str, message: Proposal | Vote) -> None:
        for name in self.live:
            if name == sender:
                continue
            sent = message
            if (message.height, message.round) == (1, 0):
                if isinstance(message, Proposal) and name == self.late:
                    continue
                lie = sender == self.cheat and name != self.locker
                if lie and isinstance(message, Vote) and message.vote_type == PREVOTE:
                    sent = _vote(self.key_of[sender], PREVOTE, 1, 0, NIL)
            self._push(0, name, self._receive(sent))

    def relay(self) -> None:
        """Every honest node re-sends the votes it holds of the rounds that matter."""
        for name in self.honest:
            st = self.nodes[name]
            for round_ in sorted({st.round - 1, st.round, st.locked_round, st.valid_round}):
                msgs = st.messages(round_)
                for tally in (msgs.prevotes, msgs.precommits):
                    for vote in tally.votes.values():
                        for peer in self.live:
                            if peer != name:
                                self._push(0, peer, VoteReceived(vote))


def test_one_equivocator_cannot_split_the_view_of_a_proof_of_lock() -> None:
    """The locker sees a polka for A in round 0 (with the cheat's prevote for A) and locks on
    it; the other two honest nodes counted the cheat's nil prevote and precommit nil. The
    locker then prevotes nil on any other block and its re-proposal of A (proof of lock: round
    0) waits for prevotes the others do not have: without relays no round can decide. Once the
    locker relays the cheat's prevote for A, the others count it for A (besides reporting the
    equivocation), accept the re-proposal and all decide A. Counting only a validator's first
    vote, as the machine once did, halted the chain for good even with relays."""
    net = SplitLockNet()
    net.start().run()
    for _ in range(6):
        net.fire_timeouts().run()
    a = block_hash(1, 0, net.key_of[net.proposer].public_key)
    assert not net.decisions[net.locker] and not net.decisions[net.late]
    locker = net.nodes[net.locker]
    assert (locker.locked_value, locker.locked_round) == (a, 0)
    for name in (net.proposer, net.late):
        assert net.nodes[name].locked_value is None
        assert net.nodes[name].messages(0).prevotes.quorum_hash(net.nodes[name].roster) is None

    for _ in range(8):
        if net.all_decided():
            break
        net.relay()
        net.fire_timeouts().run()
    assert net.all_decided()
    net.assert_agreement()
    net.assert_commits_verify()
    assert net.decided_hashes()[1] == {a}
    cheat = net.key_of[net.cheat].public_key
    assert net.evidence and all(e.validator == cheat for e in net.evidence)
    assert all(e.verify(CHAIN, net.validators) is None for e in net.evidence)
    # Evidence once per (validator, type, round) and node, however often the votes are relayed.
    slots = Counter((e.vote_a.vote_type, e.vote_a.round, e.height) for e in net.evidence)
    assert max(slots.values()) <= len(net.honest)


def test_an_equivocator_counts_for_each_value_but_not_twice_for_any() -> None:
    """Its two prevotes cannot make two polkas (safety), nor count double towards "any"; a
    decision's commit holds its precommit for the decided block only."""
    keys = make_keys(4)
    validators = make_validators(keys)
    proposer = next(k for k in keys if k.public_key == proposer_of(validators, 1, 0))
    me = next(k for k in keys if k is not proposer)
    cheat, honest = [k for k in keys if k not in (proposer, me)]
    a, b = block_hash(1, 0, b"a" * 32), block_hash(1, 0, b"b" * 32)
    state, _ = step(initial_state(Config(CHAIN, validators, me)), StartHeight(1))
    proposal = Proposal.signed(CHAIN, proposer, height=1, round_=0, block_hash=a)
    state, actions = _feed(
        state,
        ProposalReceived(proposal, True),  # we prevote a
        VoteReceived(_vote(cheat, PREVOTE, 1, 0, a)),
        VoteReceived(_vote(cheat, PREVOTE, 1, 0, b)),
    )
    assert state.messages(0).prevotes.power == 2  # counted twice, it would be > 2/3 of "any"
    assert state.step is Step.PREVOTE and not scheduled(actions)  # so no prevote timeout (L34)
    state, actions = _feed(state, VoteReceived(_vote(honest, PREVOTE, 1, 0, b)))
    tally = state.messages(0).prevotes
    assert tally.power == 3 and tally.power_by_hash == {a: 2, b: 2}
    assert tally.quorum_hash(state.roster) is None  # a: us and the cheat; b: cheat and honest
    assert [t.kind for t in scheduled(actions)] == ["prevote"]
    state, actions = _feed(state, VoteReceived(_vote(proposer, PREVOTE, 1, 0, a)))
    assert [v.block_hash for v in votes_of(actions, PRECOMMIT)] == [a]  # the polka for a
    state, actions = _feed(
        state,
        VoteReceived(_vote(cheat, PRECOMMIT, 1, 0, NIL)),
        VoteReceived(_vote(cheat, PRECOMMIT, 1, 0, a)),
        VoteReceived(_vote(proposer, PRECOMMIT, 1, 0, a)),
    )
    decides = [x for x in actions if isinstance(x, Decide)]
    assert len(decides) == 1 and decides[0].block_hash == a
    commit = decides[0].commit
    assert verify_commit(CHAIN, validators, commit, a, 1) is None
    signers = [s.public_key for s in commit.signatures]
    assert signers == sorted({me.public_key, cheat.public_key, proposer.public_key})
    assert Commit.decode(commit.encode()) == commit


def test_bad_signatures_non_validators_and_wrong_proposers_are_ignored() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    proposer = next(k for k in keys if k.public_key == proposer_of(validators, 1, 0))
    not_proposer = next(k for k in keys if k is not proposer)
    state, _ = step(initial_state(Config(CHAIN, validators, not_proposer)), StartHeight(1))
    b = block_hash(1, 0, b"x" * 32)
    outsider = key("outsider")
    good = _vote(keys[1], PREVOTE, 1, 0, b)
    good_proposal = Proposal.signed(CHAIN, proposer, height=1, round_=0, block_hash=b)
    junk: list[Event] = [
        VoteReceived(replace(good, signature=bytes(64))),
        VoteReceived(replace(good, block_hash=NIL)),  # signature over another vote
        VoteReceived(_vote(outsider, PREVOTE, 1, 0, b)),
        VoteReceived(
            Vote.signed("other-chain", keys[1], vote_type=PREVOTE, height=1, round_=0, block_hash=b)
        ),
        VoteReceived(_vote(keys[1], PREVOTE, 2, 0, b)),  # a future height: the shell's to buffer
        VoteReceived(_vote(keys[1], PREVOTE, 0, 0, b)),  # a past height
        ProposalReceived(replace(good_proposal, signature=bytes(64)), True),
        ProposalReceived(
            Proposal.signed(CHAIN, not_proposer, height=1, round_=0, block_hash=b), True
        ),
        ProposalReceived(Proposal.signed(CHAIN, outsider, height=1, round_=0, block_hash=b), True),
        TimeoutFired("propose", 1, 5),  # not our round
        TimeoutFired("prevote", 1, 0),  # not our step
        BlockProposed(1, 0, b),  # we are not the proposer
        StartHeight(1),  # already running
    ]
    for event in junk:
        new, actions = step(state, event)
        assert new is state and actions == (), event


def test_duplicate_messages_are_harmless() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    state, _ = step(initial_state(Config(CHAIN, validators, keys[0])), StartHeight(1))
    b = block_hash(1, 0, b"x" * 32)
    proposer = next(k for k in keys if k.public_key == proposer_of(validators, 1, 0))
    events: list[Event] = [
        ProposalReceived(Proposal.signed(CHAIN, proposer, height=1, round_=0, block_hash=b), True),
        VoteReceived(_vote(keys[1], PREVOTE, 1, 0, b)),
        VoteReceived(_vote(keys[2], PRECOMMIT, 1, 1, NIL)),
    ]
    for event in events:
        state, _ = step(state, event)
        again, actions = step(state, event)
        assert again is state and actions == ()


def test_own_messages_fed_back_are_duplicates() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    me = next(k for k in keys if k.public_key == proposer_of(validators, 1, 0))
    state, _ = step(initial_state(Config(CHAIN, validators, me)), StartHeight(1))
    state, actions = step(state, BlockProposed(1, 0, block_hash(1, 0, me.public_key)))
    own = broadcasts(actions)
    assert [type(m) for m in own] == [Proposal, Vote]
    assert isinstance(own[0], Proposal) and step(state, ProposalReceived(own[0], True)) == (
        state,
        (),
    )
    assert isinstance(own[1], Vote) and step(state, VoteReceived(own[1])) == (state, ())


# --- Rounds, timeouts, memory bounds ---------------------------------------------------------


def test_timeouts_grow_linearly_with_the_round() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    me = next(
        k for k in keys if k.public_key not in {proposer_of(validators, 1, r) for r in range(3)}
    )
    config = Config(CHAIN, validators, me, timeout_propose_ms=100, timeout_propose_delta_ms=10)
    state, actions = step(initial_state(config), StartHeight(1))
    durations = [scheduled(actions)[0].duration_ms]
    for round_ in range(2):
        state, actions = step(state, TimeoutFired("precommit", 1, round_))
        durations.append(scheduled(actions)[0].duration_ms)
    assert durations == [100, 110, 120]
    assert config.timeout_ms("prevote", 4) == 500 + 4 * 250
    assert config.timeout_ms("precommit", 2) == 500 + 2 * 250


def test_messages_of_a_higher_round_from_over_a_third_skip_to_it() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    state, _ = step(initial_state(Config(CHAIN, validators, keys[0])), StartHeight(1))
    state, _ = step(state, VoteReceived(_vote(keys[1], PREVOTE, 1, 7, NIL)))
    assert state.round == 0  # a quarter of the power is not enough
    state, actions = step(state, VoteReceived(_vote(keys[2], PRECOMMIT, 1, 7, NIL)))
    assert state.round == 7
    starts = [a for a in actions if isinstance(a, ScheduleTimeout | BuildBlock)]
    assert starts and starts[0].round == 7


def test_far_rounds_keep_one_round_per_validator() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    state, _ = step(initial_state(Config(CHAIN, validators, keys[0])), StartHeight(1))
    flooder = keys[1]
    other = block_hash(1, 0, b"x" * 32)
    for round_ in range(5, 60):  # equivocating too: two values kept per slot, then forgotten
        for value in (NIL, other, block_hash(1, round_, b"y" * 32)):
            state, _ = step(state, VoteReceived(_vote(flooder, PREVOTE, 1, round_, value)))
        state, _ = step(state, VoteReceived(_vote(flooder, PRECOMMIT, 1, round_, NIL)))
    assert set(state.rounds) == {59} and state.far_round_of == {flooder.public_key: 59}
    kept = state.messages(59).prevotes
    assert len(kept.votes) == 2 and kept.power == 1 and kept.power_by_hash == {NIL: 1, other: 1}
    state, actions = step(state, VoteReceived(_vote(flooder, PREVOTE, 1, 30, NIL)))
    assert actions == () and set(state.rounds) == {59}  # older than its far round: dropped
    state, _ = step(state, VoteReceived(_vote(keys[2], PREVOTE, 1, 59, NIL)))
    assert state.round == 59 and not state.far_round_of


def test_a_restarted_validator_re_sends_its_earlier_votes_instead_of_signing_new_ones() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    me = next(k for k in keys if k.public_key != proposer_of(validators, 1, 0))
    b = block_hash(1, 0, b"x" * 32)
    earlier_prevote = _vote(me, PREVOTE, 1, 0, b)
    earlier_precommit = _vote(me, PRECOMMIT, 1, 0, b)
    # After a crash: start afresh, and the shell replays what we had signed.
    state, _ = _feed(
        initial_state(Config(CHAIN, validators, me)),
        StartHeight(1),
        VoteReceived(earlier_prevote),
        VoteReceived(earlier_precommit),
    )
    assert (state.locked_value, state.locked_round) == (b, 0)
    state, actions = step(state, TimeoutFired("propose", 1, 0))  # would prevote nil
    assert broadcasts(actions) == [earlier_prevote]


def test_a_restarted_proposer_re_sends_its_proposal() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    me = next(k for k in keys if k.public_key == proposer_of(validators, 1, 1))
    b = block_hash(1, 1, me.public_key)
    earlier = Proposal.signed(CHAIN, me, height=1, round_=1, block_hash=b)
    state, _ = _feed(
        initial_state(Config(CHAIN, validators, me)),
        StartHeight(1),
        ProposalReceived(earlier, True),
    )
    state, actions = step(state, TimeoutFired("precommit", 1, 0))
    assert broadcasts(actions)[0] == earlier
    assert not any(isinstance(a, BuildBlock) for a in actions)


def test_a_late_block_from_the_shell_is_ignored() -> None:
    keys = make_keys(4)
    validators = make_validators(keys)
    me = next(k for k in keys if k.public_key == proposer_of(validators, 1, 0))
    state, actions = step(initial_state(Config(CHAIN, validators, me)), StartHeight(1))
    assert actions == (BuildBlock(1, 0),)
    state, _ = step(state, TimeoutFired("precommit", 1, 0))
    new, actions = step(state, BlockProposed(1, 0, block_hash(1, 0, me.public_key)))
    assert new is state and actions == ()


# --- Proposer selection ----------------------------------------------------------------------


def test_proposer_rotation_is_weighted_by_power() -> None:
    powers = [1, 2, 3, 4]
    keys = make_keys(4)
    validators = make_validators(keys, powers)
    schedule = [proposer_of(validators, h, 0) for h in range(1, 1001)]
    counts = Counter(schedule)
    assert [counts[k.public_key] for k in keys] == [100 * p for p in powers]
    for start in range(0, 1000, 10):  # every period of total power holds each share exactly
        window = Counter(schedule[start : start + 10])
        assert [window[k.public_key] for k in keys] == powers
    # Smooth: the heaviest validator never proposes 4 times in a row.
    heaviest = keys[3].public_key
    assert all(schedule[i : i + 4] != [heaviest] * 4 for i in range(996))
    # A round advances the schedule like a height does.
    assert proposer_of(validators, 5, 2) == proposer_of(validators, 7, 0)


def test_equal_powers_rotate_in_key_order() -> None:
    keys = make_keys(5)
    validators = make_validators(keys)
    assert [proposer_of(validators, h, 0) for h in range(1, 11)] == [k.public_key for k in keys] * 2


def test_proposer_selection_handles_huge_powers() -> None:
    keys = make_keys(3)
    validators = make_validators(keys, [2**48, 2**48 - 1, 1])
    assert proposer_of(validators, 10**15, 3) in {k.public_key for k in keys}


def test_proposals_in_a_network_follow_the_weights() -> None:
    net = Net(3, powers=[1, 1, 2], last_height=12).start().run()
    assert net.all_decided()
    proposers = Counter(
        next(k.public_key for k in net.keys if block_hash(h, 0, k.public_key) == d.block_hash)
        for h, d in net.decisions["v0"].items()
    )
    assert [proposers[k.public_key] for k in net.keys] == [3, 3, 6]


# --- Randomized schedules --------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(200))
def test_random_schedules_keep_agreement(seed: int) -> None:
    """Reordered, duplicated and dropped messages, early timeouts, sometimes a double-signer."""
    rng = random.Random(seed)
    n = rng.choice([1, 2, 3, 4, 4, 5, 7])
    equal = n < 4 or rng.random() < 0.5
    powers = [1] * n if equal else [rng.randint(1, 5) for _ in range(n)]
    byzantine = (rng.randrange(n),) if n >= 4 and equal and rng.random() < 0.3 else ()
    drop = rng.choice([0.0, 0.0, 0.1, 0.3])
    net = Net(
        n,
        powers=powers,
        byzantine=byzantine,
        last_height=3,
        rng=rng,
        delay_max_ms=rng.choice([10, 400, 3000]),  # 3 s: timeouts fire before messages land
        drop=drop,
        duplicate=rng.choice([0.0, 0.2]),
        auto_timeouts=True,
        sync=bool(drop or byzantine),  # honest and lossless: consensus alone decides everywhere
    )
    net.start().run(max_events=6000 if drop else 60_000)
    net.assert_agreement()
    for evidence in net.evidence:
        assert evidence.verify(CHAIN, net.validators) is None
        assert evidence.validator in {net.keys[i].public_key for i in byzantine}
    if not drop:  # every message arrives: every height decides (some nodes by block sync)
        assert net.all_decided(), f"seed {seed}: n={n}, {net.events} events"
        net.assert_commits_verify()
