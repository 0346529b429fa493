"""What the consensus machine takes in and gives out: its configuration, the events a shell
feeds `machine.step`, and the actions it returns (see machine.py's docstring for the contract)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from corridor.consensus.evidence import DuplicateVoteEvidence
from corridor.consensus.messages import Proposal, Vote
from corridor.ledger.block import Commit, ValidatorSet
from corridor.ledger.keys import KeyPair

TimeoutKind = Literal["propose", "prevote", "precommit"]


@dataclass(frozen=True, slots=True)
class Config:
    """What a node runs consensus with; `key` None makes a follower that never signs."""

    chain_id: str
    validators: ValidatorSet
    key: KeyPair | None
    timeout_propose_ms: int = 1000
    timeout_propose_delta_ms: int = 500
    timeout_prevote_ms: int = 500
    timeout_prevote_delta_ms: int = 250
    timeout_precommit_ms: int = 500
    timeout_precommit_delta_ms: int = 250

    def __post_init__(self) -> None:
        timeouts = (
            self.timeout_propose_ms,
            self.timeout_propose_delta_ms,
            self.timeout_prevote_ms,
            self.timeout_prevote_delta_ms,
            self.timeout_precommit_ms,
            self.timeout_precommit_delta_ms,
        )
        assert all(t >= 0 for t in timeouts), "timeouts cannot be negative"

    def timeout_ms(self, kind: TimeoutKind, round_: int) -> int:
        """Timeouts grow linearly with the round, so rounds eventually outlast network delays."""
        base, delta = {
            "propose": (self.timeout_propose_ms, self.timeout_propose_delta_ms),
            "prevote": (self.timeout_prevote_ms, self.timeout_prevote_delta_ms),
            "precommit": (self.timeout_precommit_ms, self.timeout_precommit_delta_ms),
        }[kind]
        return base + round_ * delta


# --- Events (inputs) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartHeight:
    """Start `height` (after the previous one is committed, or synced past)."""

    height: int


@dataclass(frozen=True, slots=True)
class BlockProposed:
    """The shell's answer to BuildBlock: it built (and keeps) the block `block_hash`."""

    height: int
    round: int
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A proposal whose block the shell has fetched; `valid`: it executes and its roots match.

    The machine checks the signature and that the signer is the round's proposer.
    """

    proposal: Proposal
    valid: bool


@dataclass(frozen=True, slots=True)
class VoteReceived:
    """A vote from the network; the machine checks signature and membership."""

    vote: Vote


@dataclass(frozen=True, slots=True)
class TimeoutFired:
    """A timer set by ScheduleTimeout expired."""

    kind: TimeoutKind
    height: int
    round: int


Event = StartHeight | BlockProposed | ProposalReceived | VoteReceived | TimeoutFired


# --- Actions (outputs) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildBlock:
    """Build a block for (height, round) and answer with BlockProposed."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send to all peers (the machine has already applied it to its own state)."""

    message: Proposal | Vote


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Feed TimeoutFired(kind, height, round) after `duration_ms`."""

    kind: TimeoutKind
    height: int
    round: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Decide:
    """`block_hash` is final at `height`; `commit` proves it (ledger.block.verify_commit)."""

    height: int
    round: int
    block_hash: bytes
    commit: Commit


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """A validator double-signed; reported once per (validator, vote type, round)."""

    evidence: DuplicateVoteEvidence


Action = BuildBlock | Broadcast | ScheduleTimeout | Decide | ReportEvidence
