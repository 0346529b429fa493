"""Byzantine validators: a node that runs the honest machine but lies on the wire.

Behaviours (any combination):

- EQUIVOCATE: every vote goes out in two signed versions for different blocks (one to each
  half of the peers, and both to one peer, so double signing is seen and reported); a fresh
  proposal goes out as two signed proposals of two different valid blocks.
- WITHHOLD: most of its messages never leave, and it never answers block sync.
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
from corridor.sim.node import ConsensusWire, ProposalWire, SimNode, SyncRequest, SyncResponse, Wire

EQUIVOCATE: Final = "equivocate"
WITHHOLD: Final = "withhold"
GARBAGE: Final = "garbage"
BEHAVIOURS: Final = (EQUIVOCATE, WITHHOLD, GARBAGE)

WITHHOLD_PROBABILITY: Final = 0.7  # per message and peer
GARBAGE_PROBABILITY: Final = 0.5  # per broadcast: one garbage message to one peer


class ByzantineNode(SimNode):
    honest = False

    def __init__(self, *args: Any, behaviours: frozenset[str], **kwargs: Any) -> None:
        assert behaviours <= set(BEHAVIOURS), behaviours
        assert kwargs.get("key") is not None, "a Byzantine node is a validator"
        super().__init__(*args, **kwargs)
        self.behaviours = behaviours
        self._twins: dict[tuple[int, int], ProposalWire] = {}  # (height, round) -> 2nd proposal

    # --- sending -------------------------------------------------------------------------

    def broadcast(self, message: Proposal | Vote) -> None:
        wire = self.wire_of(message)
        if wire is None:
            return
        peers = list(self.peers)
        if WITHHOLD in self.behaviours:
            kept = [p for p in peers if self.rng.random() >= WITHHOLD_PROBABILITY]
            self.stats["withheld"] += len(peers) - len(kept)
            peers = kept
        twin = self._twin(message) if EQUIVOCATE in self.behaviours else None
        if twin is None or not peers:
            for peer in peers:
                self.net.send(self.name, peer, wire)
        else:
            self.stats["equivocated"] += 1
            self.rng.shuffle(peers)
            half = len(peers) // 2
            for peer in peers[:half]:
                self.net.send(self.name, peer, twin)
            for peer in peers[half:]:
                self.net.send(self.name, peer, wire)
            both = self.rng.choice(peers)  # someone sees both: evidence
            self.net.send(self.name, both, twin if both in peers[half:] else wire)
        if GARBAGE in self.behaviours and self.rng.random() < GARBAGE_PROBABILITY:
            self._send_garbage(message)

    def relay(self, wire: Wire) -> None:
        if WITHHOLD not in self.behaviours:
            super().relay(wire)

    def _twin(self, message: Proposal | Vote) -> Wire | None:
        assert self.key is not None
        chain = self.genesis.chain_id
        if isinstance(message, Vote):
            other = NIL if not message.is_nil else self.rng.randbytes(32)
            slot = (message.height, message.round)
            if message.is_nil and slot in self._twins:
                other = Proposal.decode(self._twins[slot].proposal).block_hash
            vote = Vote.signed(
                chain,
                self.key,
                vote_type=message.vote_type,
                height=message.height,
                round_=message.round,
                block_hash=other,
            )
            return ConsensusWire(encode_message(vote))
        if message.pol_round != NO_POL_ROUND:
            return None
        slot = (message.height, message.round)
        if slot not in self._twins:
            block = self._other_block(message.block_hash)
            if block is None:
                return None
            proposal = Proposal.signed(
                chain,
                self.key,
                height=message.height,
                round_=message.round,
                block_hash=block.hash(),
            )
            self._twins[slot] = ProposalWire(proposal.encode(), block.encode())
        return self._twins[slot]

    def _other_block(self, block_hash: bytes) -> Block | None:
        """A second valid block for the height: same parent, another time (and fewer txs)."""
        entry = self._candidates.get(block_hash)
        if entry is None:
            return None
        job = self.core.take_candidates(self.local_now_ms())
        ctx = dataclasses.replace(
            job.ctx, time_ms=entry[0].header.time_ms + 1 + self.rng.randrange(1000)
        )
        job = dataclasses.replace(
            job, ctx=ctx, candidates=job.candidates[: len(job.candidates) // 2]
        )
        block, _, _ = self.core.build_block(job)
        return block if block.hash() != block_hash else None

    def _send_garbage(self, message: Proposal | Vote) -> None:
        assert self.key is not None
        peer = self.rng.choice(self.peers)
        kind = self.rng.randrange(6)
        self.stats[f"garbage-{kind}"] += 1
        wire: Wire
        if kind == 0:
            wire = ConsensusWire(self.rng.randbytes(self.rng.randrange(1, 200)))
        elif kind == 1 and isinstance(message, Vote):
            data = encode_message(message)
            wire = ConsensusWire(data[: self.rng.randrange(len(data))])
        elif kind == 2 and isinstance(message, Vote):
            flipped = bytearray(encode_message(message))
            flipped[-1 - self.rng.randrange(64)] ^= 1 << self.rng.randrange(8)  # the signature
            wire = ConsensusWire(bytes(flipped))
        elif kind == 3:
            vote = Vote.signed(
                self.genesis.chain_id,
                self.key,
                vote_type=1,
                height=message.height + self.rng.randrange(3, 1000),
                round_=0,
                block_hash=NIL,
            )
            wire = ConsensusWire(encode_message(vote))
        elif kind == 4 and isinstance(message, Proposal):
            entry = self._candidates.get(message.block_hash)
            if entry is None:
                return
            header = dataclasses.replace(entry[0].header, state_root=self.rng.randbytes(32))
            bad = dataclasses.replace(entry[0], header=header)
            proposal = Proposal.signed(
                self.genesis.chain_id,
                self.key,
                height=message.height,
                round_=message.round,
                block_hash=bad.hash(),
            )
            wire = ProposalWire(proposal.encode(), bad.encode())
        elif kind == 4:
            wire = ProposalWire(self.rng.randbytes(40), self.rng.randbytes(300))
        else:
            wire = self._garbage_sync()
        self.net.send(self.name, peer, wire)

    def _garbage_sync(self) -> SyncResponse:
        """Random bytes, or the next real block with a commit of forged signatures."""
        if self.rng.random() < 0.5 or not self.up:
            return SyncResponse(((self.rng.randbytes(100), self.rng.randbytes(60)),))
        height = self.blocks.height()
        block = self.blocks.block(height)
        if block is None:
            return SyncResponse(())
        forged = Commit(
            height,
            0,
            block.hash(),
            tuple(
                CommitSig(v.public_key, self.rng.randbytes(64))
                for v in self.genesis.validators.validators
            ),
        )
        return SyncResponse(((block.encode(), forged.encode()),))

    def answer_sync(self, src: str, request: SyncRequest) -> None:
        if WITHHOLD in self.behaviours:
            return
        if GARBAGE in self.behaviours and self.rng.random() < 0.5:
            self.net.send(self.name, src, self._garbage_sync())
            return
        super().answer_sync(src, request)
