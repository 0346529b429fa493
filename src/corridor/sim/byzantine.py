"""Byzantine validators: a node that runs the honest shell but lies on the wire, by
overriding the sim transport (`ByzantineTransport`): the shell is the shipping one.

Behaviours (any combination):

- EQUIVOCATE: every vote of its own goes out in two signed versions for different blocks
  (one to each half of the peers, and both to one peer, so double signing is seen and
  reported); a fresh proposal goes out as two signed proposals of two different valid blocks.
- WITHHOLD: most of its frames never leave, and it never answers block sync.
- GARBAGE: besides its messages it sends random bytes, truncated and badly signed votes,
  signed votes for far-future heights (to lure peers into syncing from it), proposals whose
  block does not match or does not validate, and garbage or forged sync answers.

The honest checkers ignore what Byzantine nodes commit and never expect them to be live.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from corridor.consensus.messages import NIL, NO_POL_ROUND, Proposal, Vote, encode_message
from corridor.ledger.block import Block, Commit, CommitSig
from corridor.node.p2p_messages import (
    MSG_PROPOSAL,
    MSG_SYNC_RESPONSE,
    MSG_VOTE,
    P2PMessage,
    ProposalMsg,
    SyncResponseMsg,
    VoteMsg,
)
from corridor.sim.node import SimNode, SimTransport, encode_frame

EQUIVOCATE: Final = "equivocate"
WITHHOLD: Final = "withhold"
GARBAGE: Final = "garbage"
BEHAVIOURS: Final = (EQUIVOCATE, WITHHOLD, GARBAGE)

WITHHOLD_PROBABILITY: Final = 0.7  # per message and peer
GARBAGE_PROBABILITY: Final = 0.5  # per own broadcast: one garbage message to one peer


class ByzantineNode(SimNode):
    honest = False

    def __init__(self, *args: Any, behaviours: frozenset[str], **kwargs: Any) -> None:
        assert behaviours <= set(BEHAVIOURS), behaviours
        assert kwargs.get("key") is not None, "a Byzantine node is a validator"
        super().__init__(*args, **kwargs)
        self.behaviours = behaviours

    def make_transport(self) -> SimTransport:
        return ByzantineTransport(self)


class ByzantineTransport(SimTransport):
    """The sim transport with the node's behaviours applied to what it sends."""

    def __init__(self, node: ByzantineNode) -> None:
        super().__init__(node)
        self.byz = node
        # (height, round) -> the second proposal's block hash and frame
        self._twins: dict[tuple[int, int], tuple[bytes, bytes]] = {}
        self._sent: set[bytes] = set()  # own frames of `_sent_height` sent once already
        self._sent_height = 0

    def broadcast(self, msg: P2PMessage) -> None:
        node = self.byz
        peers = list(node.peers)
        if WITHHOLD in node.behaviours:
            kept = [p for p in peers if node.rng.random() >= WITHHOLD_PROBABILITY]
            node.stats["withheld"] += len(peers) - len(kept)
            peers = kept
        frame = encode_frame(msg)
        own = self._own(msg, frame)
        twin = self._twin(own) if own is not None and EQUIVOCATE in node.behaviours else None
        if twin is not None:
            self._sent.add(twin)  # relayed back to us and re-sent: it goes out as it is
        if twin is None or not peers:
            for peer in peers:
                self.send_frame(peer, frame)
        else:
            node.stats["equivocated"] += 1
            node.rng.shuffle(peers)
            half = len(peers) // 2
            for peer in peers[:half]:
                self.send_frame(peer, twin)
            for peer in peers[half:]:
                self.send_frame(peer, frame)
            both = node.rng.choice(peers)  # someone sees both: evidence
            self.send_frame(both, twin if both in peers[half:] else frame)
        garbage = own is not None and GARBAGE in node.behaviours
        if garbage and node.rng.random() < GARBAGE_PROBABILITY:
            assert own is not None
            self._send_garbage(own)

    def send(self, peer: str, msg: P2PMessage) -> None:
        behaviours = self.byz.behaviours
        if isinstance(msg, SyncResponseMsg):  # an answer to block sync
            if WITHHOLD in behaviours:
                return
            if GARBAGE in behaviours and self.byz.rng.random() < 0.5:
                self.send_frame(peer, self._garbage_sync())
                return
        super().send(peer, msg)

    def _own(self, msg: P2PMessage, frame: bytes) -> Proposal | Vote | None:
        """The node's own signed proposal or vote, the first time it goes out (a re-sent
        one, its twin, or one it relays, goes out as it is): two versions per slot, never
        more."""
        assert self.byz.key is not None
        me = self.byz.key.public_key
        own: Proposal | Vote | None = None
        if isinstance(msg, VoteMsg) and msg.vote.validator == me:
            own = msg.vote
        elif isinstance(msg, ProposalMsg) and msg.proposal.proposer == me:
            own = msg.proposal
        if own is None or frame in self._sent:
            return None
        if own.height > self._sent_height:
            self._sent, self._sent_height = set(), own.height
        self._sent.add(frame)
        return own

    def _twin(self, message: Proposal | Vote) -> bytes | None:
        node = self.byz
        assert node.key is not None
        chain = node.genesis.chain_id
        if isinstance(message, Vote):
            other = NIL if not message.is_nil else node.rng.randbytes(32)
            slot = (message.height, message.round)
            if message.is_nil and slot in self._twins:
                other = self._twins[slot][0]  # the twin proposal's block
            vote = Vote.signed(
                chain,
                node.key,
                vote_type=message.vote_type,
                height=message.height,
                round_=message.round,
                block_hash=other,
            )
            return encode_frame(VoteMsg(vote))
        if message.pol_round != NO_POL_ROUND:
            return None
        slot = (message.height, message.round)
        if slot not in self._twins:
            block = self._other_block(message.block_hash)
            if block is None:
                return None
            proposal = Proposal.signed(
                chain,
                node.key,
                height=message.height,
                round_=message.round,
                block_hash=block.hash(),
            )
            self._twins[slot] = (block.hash(), encode_frame(ProposalMsg(proposal, block)))
        return self._twins[slot][1]

    def _other_block(self, block_hash: bytes) -> Block | None:
        """A second valid block for the height: same parent, another time (and fewer txs)."""
        node = self.byz
        entry = node.shell.candidates.get(block_hash)
        if entry is None:
            return None
        job = node.core.take_candidates(node.local_now_ms())
        ctx = dataclasses.replace(
            job.ctx, time_ms=entry[0].header.time_ms + 1 + node.rng.randrange(1000)
        )
        job = dataclasses.replace(
            job, ctx=ctx, candidates=job.candidates[: len(job.candidates) // 2]
        )
        block, _, _ = node.core.build_block(job)
        return block if block.hash() != block_hash else None

    def _send_garbage(self, message: Proposal | Vote) -> None:
        node = self.byz
        assert node.key is not None
        rng = node.rng
        peer = rng.choice(node.peers)
        kind = rng.randrange(6)
        node.stats[f"garbage-{kind}"] += 1
        frame: bytes
        if kind == 0:
            frame = bytes([MSG_VOTE]) + rng.randbytes(rng.randrange(1, 200))
        elif kind == 1 and isinstance(message, Vote):
            data = encode_message(message)
            frame = bytes([MSG_VOTE]) + data[: rng.randrange(len(data))]
        elif kind == 2 and isinstance(message, Vote):
            flipped = bytearray(encode_message(message))
            flipped[-1 - rng.randrange(64)] ^= 1 << rng.randrange(8)  # the signature
            frame = bytes([MSG_VOTE]) + bytes(flipped)
        elif kind == 3:
            vote = Vote.signed(
                node.genesis.chain_id,
                node.key,
                vote_type=1,
                height=message.height + rng.randrange(3, 1000),
                round_=0,
                block_hash=NIL,
            )
            frame = encode_frame(VoteMsg(vote))
        elif kind == 4 and isinstance(message, Proposal):
            entry = node.shell.candidates.get(message.block_hash)
            if entry is None:
                return
            header = dataclasses.replace(entry[0].header, state_root=rng.randbytes(32))
            bad = dataclasses.replace(entry[0], header=header)
            proposal = Proposal.signed(
                node.genesis.chain_id,
                node.key,
                height=message.height,
                round_=message.round,
                block_hash=bad.hash(),
            )
            frame = encode_frame(ProposalMsg(proposal, bad))
        elif kind == 4:
            frame = bytes([MSG_PROPOSAL]) + rng.randbytes(340)
        else:
            frame = self._garbage_sync()
        self.send_frame(peer, frame)

    def _garbage_sync(self) -> bytes:
        """Random bytes, or the next real block with a commit of forged signatures."""
        node = self.byz
        if node.rng.random() < 0.5 or not node.up:
            return bytes([MSG_SYNC_RESPONSE]) + node.rng.randbytes(160)
        height = node.blocks.height()
        block = node.blocks.block(height)
        if block is None:
            return encode_frame(SyncResponseMsg(()))
        forged = Commit(
            height,
            0,
            block.hash(),
            tuple(
                CommitSig(v.public_key, node.rng.randbytes(64))
                for v in node.genesis.validators.validators
            ),
        )
        return encode_frame(SyncResponseMsg(((block, forged),)))

