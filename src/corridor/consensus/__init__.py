"""Tendermint-style BFT consensus as a pure state machine (shared/ARCHITECTURE.md, Consensus).

No clock, no I/O, no randomness, no logging in this package: the node shell feeds `step`
events (messages, timer expiries, blocks it built) and carries out the actions it returns.
Imports only `corridor.ledger` and the standard library.
"""

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
    TimeoutKind,
    VoteReceived,
    initial_state,
    proposer_of,
    step,
)
from corridor.consensus.messages import (
    NIL,
    NO_POL_ROUND,
    PRECOMMIT,
    PREVOTE,
    Message,
    Proposal,
    Vote,
    decode_message,
    encode_message,
)

__all__ = [
    "NIL",
    "NO_POL_ROUND",
    "PRECOMMIT",
    "PREVOTE",
    "Action",
    "BlockProposed",
    "Broadcast",
    "BuildBlock",
    "Config",
    "ConsensusState",
    "Decide",
    "DuplicateVoteEvidence",
    "Event",
    "Message",
    "Proposal",
    "ProposalReceived",
    "ReportEvidence",
    "ScheduleTimeout",
    "StartHeight",
    "Step",
    "TimeoutFired",
    "TimeoutKind",
    "Vote",
    "VoteReceived",
    "decode_message",
    "encode_message",
    "initial_state",
    "proposer_of",
    "step",
]
