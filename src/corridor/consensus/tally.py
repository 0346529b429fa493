"""The validator set as consensus counts it: the weighted proposer schedule, the quorum
thresholds, and one round's proposals and vote tallies (pure, immutable values)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Final

from corridor.consensus.messages import PREVOTE, Proposal, Vote
from corridor.ledger.block import ValidatorSet

# Distinct values kept per (validator, vote type, round). An honest validator sends 1; a second
# exposes an equivocation and still counts for its value (see VoteTally); more are dropped.
VOTES_PER_VALIDATOR_MAX: Final = 2
assert VOTES_PER_VALIDATOR_MAX >= 2, "a conflicting vote must be kept to count (liveness)"


# --- Proposer selection ----------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _weighted_round_robin(weights: tuple[tuple[bytes, int], ...], index: int) -> bytes:
    """The `index`-th proposer of the smooth weighted round robin over `weights`.

    With total power T, validator i (power w_i) owns the T/w_i-spaced slots at times
    (2m + 1) * T / (2 * w_i), m = 0 .. w_i - 1, inside each period [0, T) (Webster's divisor
    order). Sorting all T slots by time, ties by public key, gives the schedule: every window
    of T consecutive indices starting at a multiple of T holds exactly w_i turns of validator i,
    spread evenly, as Tendermint's proposer priority does. It is a function of the index alone,
    so no state is carried between heights, and costs O(n log T) (binary search on time), not
    O(T) (powers go up to 2**48). A memo; pure.
    """
    total = sum(w for _, w in weights)
    k = index % total

    def slots_by(x: int) -> list[int]:
        # Slots of each validator with time <= x: #{m < w : (2m + 1) T <= 2 w x}.
        return [min(w, (2 * w * x + total) // (2 * total)) for _, w in weights]

    lo, hi = 1, total  # smallest x with more than k slots at or before x; slots_by(T) sums to T
    while lo < hi:
        mid = (lo + hi) // 2
        if sum(slots_by(mid)) > k:
            hi = mid
        else:
            lo = mid + 1
    before, upto = slots_by(lo - 1), slots_by(lo)
    # Slots of one validator are >= 1 apart, so each has at most one in (lo - 1, lo].
    bucket = sorted(
        (Fraction(2 * c - 1, w), pk)
        for (pk, w), b, c in zip(weights, before, upto, strict=True)
        if c > b
    )
    assert all(c - b <= 1 for b, c in zip(before, upto, strict=True))
    return bucket[k - sum(before)][1]


@dataclass(frozen=True, slots=True)
class Roster:
    """The validator set as consensus uses it: O(1) power lookups, the quorum thresholds."""

    weights: tuple[tuple[bytes, int], ...]
    power: Mapping[bytes, int]
    total: int

    @classmethod
    def of(cls, validators: ValidatorSet) -> Roster:
        weights = tuple((v.public_key, v.power) for v in validators.validators)
        return cls(weights=weights, power=dict(weights), total=validators.total_power)

    def is_quorum(self, power: int) -> bool:
        """More than 2/3 of the total power ("2f + 1")."""
        return 3 * power > 2 * self.total

    def is_one_third(self, power: int) -> bool:
        """More than 1/3 of the total power ("f + 1"): at least one honest validator."""
        return 3 * power > self.total

    def proposer(self, height: int, round_: int) -> bytes:
        """The proposer of (height, round): index height - 1 + round of the weighted schedule.

        As in Tendermint, each height advances the schedule by one and so does each round.
        """
        return _weighted_round_robin(self.weights, height - 1 + round_)


def proposer_of(validators: ValidatorSet, height: int, round_: int) -> bytes:
    """The public key of the proposer of (height, round) for `validators`."""
    return Roster.of(validators).proposer(height, round_)


@dataclass(frozen=True, slots=True)
class VoteTally:
    """The votes of one type in one round, and the power behind each value.

    As in the paper, a validator counts once towards `power` ("2f+1 of any", L34/L47) and once
    towards every value it signed ("2f+1 for id(v)", L28/L36/L44/L49): an equivocator's second
    vote is evidence and also counts for its value. Counting only its first vote would let it
    split the honest nodes' view of a polka for good (one sees the proof of lock, the others
    never do, even when it is relayed to them). Safety is unchanged: two values can reach 2f+1
    only if more than f of the power signed both. At most VOTES_PER_VALIDATOR_MAX values are
    kept per validator; `votes` holds all of them, so a shell relaying `votes` relays both
    sides of an equivocation.

    Updating copies dicts of at most n * VOTES_PER_VALIDATOR_MAX entries: O(n) per vote.
    """

    votes: Mapping[tuple[bytes, bytes], Vote] = field(default_factory=dict)  # by (signer, hash)
    values_of: Mapping[bytes, tuple[bytes, ...]] = field(default_factory=dict)  # first one first
    power_by_hash: Mapping[bytes, int] = field(default_factory=dict)
    power: int = 0  # of the distinct validators that voted
    reported: frozenset[bytes] = frozenset()  # validators already reported for equivocating

    def first(self, validator: bytes) -> Vote | None:
        """The validator's first vote (the only one, unless it equivocated)."""
        values = self.values_of.get(validator)
        return None if values is None else self.votes[validator, values[0]]

    def vote_for(self, validator: bytes, block_hash: bytes) -> Vote | None:
        return self.votes.get((validator, block_hash))

    def with_vote(self, vote: Vote, power: int) -> VoteTally:
        """Add a vote for a value its validator has not voted for yet (room permitting)."""
        values = self.values_of.get(vote.validator, ())
        assert len(values) < VOTES_PER_VALIDATOR_MAX and vote.block_hash not in values
        by_hash = dict(self.power_by_hash)
        by_hash[vote.block_hash] = by_hash.get(vote.block_hash, 0) + power
        return replace(
            self,
            votes={**self.votes, (vote.validator, vote.block_hash): vote},
            values_of={**self.values_of, vote.validator: (*values, vote.block_hash)},
            power_by_hash=by_hash,
            power=self.power if values else self.power + power,
            reported=(self.reported | {vote.validator}) if values else self.reported,
        )

    def without(self, validator: bytes, power: int) -> VoteTally:
        values = self.values_of.get(validator)
        if values is None:
            return self
        votes = {k: v for k, v in self.votes.items() if k[0] != validator}
        values_of = dict(self.values_of)
        del values_of[validator]
        by_hash = dict(self.power_by_hash)
        for block_hash in values:
            by_hash[block_hash] -= power
            if by_hash[block_hash] == 0:
                del by_hash[block_hash]
        return replace(
            self, votes=votes, values_of=values_of, power_by_hash=by_hash, power=self.power - power
        )

    def quorum_hash(self, roster: Roster) -> bytes | None:
        """The block (or NIL) with more than 2/3 of the power, if any.

        At most one can have it unless more than 1/3 of the power signed two values.
        """
        for block_hash, power in self.power_by_hash.items():
            if roster.is_quorum(power):
                return block_hash
        return None


@dataclass(frozen=True, slots=True)
class RoundMessages:
    """What arrived for one round: proposals (arrival order, distinct blocks) and votes."""

    proposals: tuple[tuple[Proposal, bool], ...] = ()  # (proposal, block valid)
    prevotes: VoteTally = VoteTally()
    precommits: VoteTally = VoteTally()

    def tally(self, vote_type: int) -> VoteTally:
        return self.prevotes if vote_type == PREVOTE else self.precommits

    def with_tally(self, vote_type: int, tally: VoteTally) -> RoundMessages:
        if vote_type == PREVOTE:
            return replace(self, prevotes=tally)
        return replace(self, precommits=tally)

    def proposal_for(self, block_hash: bytes) -> tuple[Proposal, bool] | None:
        for entry in self.proposals:
            if entry[0].block_hash == block_hash:
                return entry
        return None

    def senders(self) -> set[bytes]:
        return {
            *self.prevotes.values_of,
            *self.precommits.values_of,
            *(p.proposer for p, _ in self.proposals),
        }

    def without_sender(self, sender: bytes, power: int) -> RoundMessages:
        return RoundMessages(
            proposals=tuple(e for e in self.proposals if e[0].proposer != sender),
            prevotes=self.prevotes.without(sender, power),
            precommits=self.precommits.without(sender, power),
        )

    @property
    def is_empty(self) -> bool:
        return not (self.proposals or self.prevotes.votes or self.precommits.votes)
