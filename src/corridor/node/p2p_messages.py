"""The peer-to-peer frames: one type byte and a canonical payload each (see `node.p2p`).

Decoding takes untrusted bytes and gives a well-formed message or DecodeError; what a message
says is checked by whoever handles it (signatures, heights, the evidence's validity).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from corridor.consensus.messages import Proposal, Vote, decode_message, encode_message
from corridor.ledger.block import Block, Commit
from corridor.ledger.codec import Reader, Writer, decode_all
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.ledger.tx import SignedTransaction, decode_transaction
from corridor.node.limits import P2P_FRAME_BYTES_MAX, P2P_SYNC_BLOCKS_MAX

MSG_VOTE: Final = 1
MSG_PROPOSAL: Final = 2
MSG_TX: Final = 3
MSG_STATUS: Final = 4
MSG_SYNC_REQUEST: Final = 5
MSG_SYNC_RESPONSE: Final = 6
MSG_EVIDENCE: Final = 7
GOSSIP_TYPES: Final = frozenset({MSG_VOTE, MSG_PROPOSAL, MSG_TX, MSG_EVIDENCE})
FRAME_LEN: Final = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class VoteMsg:
    vote: Vote


@dataclass(frozen=True, slots=True)
class ProposalMsg:
    """A proposal and the block it names (the receiver checks that the hashes agree)."""

    proposal: Proposal
    block: Block


@dataclass(frozen=True, slots=True)
class TxMsg:
    tx: SignedTransaction


@dataclass(frozen=True, slots=True)
class StatusMsg:
    """The sender's committed height."""

    height: int


@dataclass(frozen=True, slots=True)
class SyncRequestMsg:
    """Send me committed blocks from `from_height` on."""

    from_height: int


@dataclass(frozen=True, slots=True)
class SyncResponseMsg:
    """Committed blocks in height order, each with its commit certificate."""

    blocks: tuple[tuple[Block, Commit], ...]


@dataclass(frozen=True, slots=True)
class EvidenceMsg:
    """A double signing the sender admitted to its evidence pool, for any proposer to record."""

    evidence: DuplicateVoteEvidence


P2PMessage = (
    VoteMsg | ProposalMsg | TxMsg | StatusMsg | SyncRequestMsg | SyncResponseMsg | EvidenceMsg
)


def encode_payload(msg: P2PMessage) -> tuple[int, bytes]:
    if isinstance(msg, VoteMsg):
        return MSG_VOTE, encode_message(msg.vote)
    if isinstance(msg, ProposalMsg):
        body = encode_message(msg.proposal)
        return MSG_PROPOSAL, Writer().u32(len(body)).raw(body).raw(msg.block.encode()).getvalue()
    if isinstance(msg, TxMsg):
        return MSG_TX, msg.tx.encode()
    if isinstance(msg, StatusMsg):
        return MSG_STATUS, Writer().u64(msg.height).getvalue()
    if isinstance(msg, SyncRequestMsg):
        return MSG_SYNC_REQUEST, Writer().u64(msg.from_height).getvalue()
    if isinstance(msg, EvidenceMsg):
        return MSG_EVIDENCE, msg.evidence.encode()
    w = Writer().u16(len(msg.blocks))
    for block, commit in msg.blocks:
        b, c = block.encode(), commit.encode()
        w.u32(len(b)).raw(b).u32(len(c)).raw(c)
    return MSG_SYNC_RESPONSE, w.getvalue()


def encode_frame(msg: P2PMessage) -> bytes:
    kind, payload = encode_payload(msg)
    frame = FRAME_LEN.pack(1 + len(payload)) + bytes([kind]) + payload
    assert len(frame) - 4 <= P2P_FRAME_BYTES_MAX, "an oversized frame: pack fewer blocks"
    return frame


def sync_response(pairs: list[tuple[Block, Commit]]) -> SyncResponseMsg:
    """The longest prefix of `pairs` (at most P2P_SYNC_BLOCKS_MAX) that fits in one frame."""
    size, taken = 1 + 2, list[tuple[Block, Commit]]()
    for block, commit in pairs[:P2P_SYNC_BLOCKS_MAX]:
        size += 8 + len(block.encode()) + len(commit.encode())
        if size > P2P_FRAME_BYTES_MAX and taken:
            break
        taken.append((block, commit))
    return SyncResponseMsg(tuple(taken))


def decode_payload(kind: int, payload: bytes) -> P2PMessage:
    """Untrusted bytes -> a well-formed message, or DecodeError."""
    if kind == MSG_VOTE:
        vote = decode_message(payload)
        if not isinstance(vote, Vote):
            raise DecodeError(RejectCode.MALFORMED, "a vote frame holds a proposal")
        return VoteMsg(vote)
    if kind == MSG_PROPOSAL:
        n = Reader(payload[:4]).u32()
        if 4 + n > len(payload):
            raise DecodeError(RejectCode.MALFORMED, "truncated proposal frame")
        proposal = decode_message(payload[4 : 4 + n])
        if not isinstance(proposal, Proposal):
            raise DecodeError(RejectCode.MALFORMED, "a proposal frame holds a vote")
        return ProposalMsg(proposal, Block.decode(payload[4 + n :]))
    if kind == MSG_TX:
        return TxMsg(decode_transaction(payload))
    if kind == MSG_STATUS:
        return StatusMsg(decode_all(payload, Reader.u64))
    if kind == MSG_SYNC_REQUEST:
        return SyncRequestMsg(decode_all(payload, Reader.u64))
    if kind == MSG_EVIDENCE:
        return EvidenceMsg(DuplicateVoteEvidence.decode(payload))
    if kind == MSG_SYNC_RESPONSE:

        def read(r: Reader) -> SyncResponseMsg:
            n = r.count(P2P_SYNC_BLOCKS_MAX, "synced blocks")
            pairs = []
            for _ in range(n):
                block = Block.decode(r.fixed(r.u32()))
                pairs.append((block, Commit.decode(r.fixed(r.u32()))))
            return SyncResponseMsg(tuple(pairs))

        return decode_all(payload, read)
    raise DecodeError(RejectCode.MALFORMED, f"unknown frame type {kind}")
