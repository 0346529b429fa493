"""The multi-validator node: `NodeRunner` plus peers, a consensus write-ahead log and sync.

The same shell `corridor.sim.node.SimNode` is for simulated nodes, on real I/O:

- Broadcasts go to the p2p transport; a proposal carries its block.
- A received proposal's block is validated (`NodeCore.validate_proposal`: the carried commit
  certifies our head, then it re-executes) before `ProposalReceived(proposal, valid)`; blocks
  of valid proposals are kept until Decide names one, so `_commit` works for any proposer.
- Messages of the next CONSENSUS_BUFFER_HEIGHTS_MAX heights are buffered and replayed after
  StartHeight; older ones are dropped.
- The log (`ConsensusWal`, HOME/data/consensus.wal) holds every event that changed the machine
  at the current height, and the blocks of the proposals it accepted; it reaches the disk
  (fsync) before any Broadcast of the step is sent. On restart it is replayed into a fresh
  machine, which re-creates the same state and signatures: a validator never signs twice.
- Peers announce their committed height (StatusMsg) on connect and every GOSSIP_INTERVAL_MS;
  a node two heights behind a peer, or one behind for SYNC_PATIENCE_MS, fetches committed
  blocks, each applied after `verify_commit` and full validation.
- Stuck at one (height, round) for a gossip interval, the node re-sends what it has of the
  height (proposals with blocks, votes of the rounds that matter): a peer that restarted or
  lost a message catches up. Receivers drop what they have already seen (p2p de-duplication).

Builds run on the loop's thread here (not a worker, as with one validator): a block decided
from another proposer, or synced, may commit at any moment, and commits must never run
during a build.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import struct
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from corridor.consensus.machine import (
    Action,
    BlockProposed,
    Broadcast,
    BuildBlock,
    ConsensusState,
    Decide,
    Event,
    ProposalReceived,
    StartHeight,
    TimeoutFired,
    TimeoutKind,
    VoteReceived,
    proposer_of,
    step,
)
from corridor.consensus.messages import Proposal, Vote, decode_message, encode_message
from corridor.ledger.block import Block, Commit, verify_commit
from corridor.ledger.chain import BlockExecution
from corridor.ledger.codec import Reader, Writer, decode_all
from corridor.ledger.errors import DecodeError, RejectCode, Rejection
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.node.core import NodeCore
from corridor.node.limits import (
    CONSENSUS_BUFFER_BLOCKS_PER_HEIGHT_MAX,
    CONSENSUS_BUFFER_HEIGHTS_MAX,
    CONSENSUS_BUFFER_PER_HEIGHT_MAX,
    CONSENSUS_CANDIDATES_MAX,
    CONSENSUS_IDLE_BLOCK_MS,
    CONSENSUS_WAL_BYTES_MAX,
    GOSSIP_INTERVAL_MS,
    P2P_GOSSIP_TXS_MAX,
    P2P_SEEN_MAX,
    P2P_SYNC_BLOCKS_MAX,
    SYNC_PATIENCE_MS,
    SYNC_RETRY_MS,
)
from corridor.node.p2p import Transport
from corridor.node.p2p_messages import (
    EvidenceMsg,
    P2PMessage,
    ProposalMsg,
    StatusMsg,
    SyncRequestMsg,
    SyncResponseMsg,
    TxMsg,
    VoteMsg,
    sync_response,
)
from corridor.node.runner import NodeRunner, RunnerConfig, now_ms

log = logging.getLogger("corridor.node")

# --- the write-ahead log ---------------------------------------------------------------------

_REC: Final = struct.Struct(">II")  # length, crc32 of the body
_HEADER, _START, _PROPOSED, _PROPOSAL, _VOTE, _TIMEOUT, _BLOCK = range(7)
_KINDS: Final[tuple[TimeoutKind, ...]] = ("propose", "prevote", "precommit")


def encode_event(event: Event) -> bytes:
    w = Writer()
    if isinstance(event, StartHeight):
        w.u8(_START).u64(event.height)
    elif isinstance(event, BlockProposed):
        w.u8(_PROPOSED).u64(event.height).u32(event.round).fixed(event.block_hash, 32)
    elif isinstance(event, ProposalReceived):
        w.u8(_PROPOSAL).boolean(event.valid).raw(encode_message(event.proposal))
    elif isinstance(event, VoteReceived):
        w.u8(_VOTE).raw(encode_message(event.vote))
    else:
        w.u8(_TIMEOUT).u8(_KINDS.index(event.kind)).u64(event.height).u32(event.round)
    return w.getvalue()


def decode_record(body: bytes) -> Event | Block | int:
    """A log record: an event, an accepted block, or the header's height."""
    tag = body[0]
    rest = body[1:]
    if tag == _HEADER:
        return decode_all(rest, Reader.u64)
    if tag == _BLOCK:
        return Block.decode(rest)
    if tag == _START:
        return StartHeight(decode_all(rest, Reader.u64))
    if tag == _PROPOSED:
        return decode_all(rest, lambda r: BlockProposed(r.u64(), r.u32(), r.fixed(32)))
    if tag == _PROPOSAL:
        message = decode_message(rest[1:])
        assert isinstance(message, Proposal) and rest[0] in (0, 1)
        return ProposalReceived(message, rest[0] == 1)
    if tag == _VOTE:
        vote = decode_message(rest)
        assert isinstance(vote, Vote)
        return VoteReceived(vote)
    if tag == _TIMEOUT:
        return decode_all(rest, lambda r: TimeoutFired(_KINDS[r.u8()], r.u64(), r.u32()))
    raise DecodeError(RejectCode.MALFORMED, f"unknown log record {tag}")


@dataclass(slots=True)
class ConsensusWal:
    """The per-height log in one append-only file; `reset` starts a new height atomically
    (write a fresh file, fsync, rename). A torn last record (a crash mid-write) is cut off
    on open: it was never synced, so nothing was sent because of it."""

    path: Path
    height: int = 0
    events: list[Event] = field(default_factory=list)
    blocks: dict[bytes, Block] = field(default_factory=dict)
    _size: int = 0
    _dirty: bool = False

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._load()
        else:
            self.reset(0)

    def _load(self) -> None:
        data = self.path.read_bytes()
        pos, good = 0, 0
        height, events, blocks = 0, [], {}
        while pos + _REC.size <= len(data):
            length, crc = _REC.unpack_from(data, pos)
            body = data[pos + _REC.size : pos + _REC.size + length]
            if len(body) != length or zlib.crc32(body) != crc or not body:
                break
            record = decode_record(body)  # a checksummed record of ours: it decodes
            if isinstance(record, int):
                height = record
            elif isinstance(record, Block):
                blocks[record.hash()] = record
            else:
                events.append(record)
            pos += _REC.size + length
            good = pos
        self.height, self.events, self.blocks = height, events, blocks
        if good != len(data):
            log.warning("consensus log: cut a torn tail of %d bytes", len(data) - good)
            with self.path.open("r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        self._size = good

    def reset(self, height: int) -> None:
        self.height, self.events, self.blocks = height, [], {}
        tmp = self.path.with_suffix(".tmp")
        record = _record(Writer().u8(_HEADER).u64(height).getvalue())
        with tmp.open("wb") as f:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._size = len(record)
        self._dirty = False

    def append(self, event: Event, block: Block | None) -> None:
        records = b""
        if block is not None and block.hash() not in self.blocks:
            self.blocks[block.hash()] = block
            records += _record(bytes([_BLOCK]) + block.encode())
        self.events.append(event)
        records += _record(encode_event(event))
        # Bug-sized only: a height's log holds a bounded number of rounds' messages.
        assert self._size + len(records) <= CONSENSUS_WAL_BYTES_MAX, "consensus log too large"
        with self.path.open("ab") as f:
            f.write(records)
        self._size += len(records)
        self._dirty = True

    def sync(self) -> None:
        """Durable before anything is sent (the events' signatures are re-created on replay)."""
        if self._dirty:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._dirty = False


def _record(body: bytes) -> bytes:
    return _REC.pack(len(body), zlib.crc32(body)) + body


# --- the runner ------------------------------------------------------------------------------


class NetworkRunner(NodeRunner):
    """A node among peers; see the module docstring. `attach` a transport before `run`."""

    def __init__(self, core: NodeCore, config: RunnerConfig, *, wal: ConsensusWal) -> None:
        super().__init__(core, config)
        self.wal = wal
        self.transport: Transport | None = None
        self._invalid: set[bytes] = set()
        self._buffered: dict[int, list[tuple[str, Vote | Proposal, Block | None]]] = {}
        self._pending: deque[Event] = deque()
        self._draining = False
        self._replaying = False
        self._peer_heights: dict[str, int] = {}
        self._behind_since: float | None = None
        self._last_sync = 0.0
        self._gossip_position = (-1, -1)
        self._gossiped_txs: OrderedDict[bytes, None] = OrderedDict()
        self._tx_gossip_due = False
        self._gossiped_evidence: set[bytes] = set()  # offence ids, pruned with the pool
        self.synced_blocks = 0

    def attach(self, transport: Transport) -> None:
        self.transport = transport

    # --- life cycle ----------------------------------------------------------------------

    async def run(self) -> None:
        assert self.transport is not None, "attach a transport first"
        self.wal.open()
        await self.transport.start()
        self._spawn(self._gossip_loop())
        height = self.core.head.height + 1
        if self.wal.height == height and self.wal.events:
            self._replay_wal()
        else:
            self.wal.reset(height)
            self._feed(StartHeight(height))
        try:
            await self._stopped.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await self.transport.stop()

    def _replay_wal(self) -> None:
        log.info(
            "replaying %d consensus events of height %d", len(self.wal.events), self.wal.height
        )
        for block_hash, block in self.wal.blocks.items():
            verdict = self.core.validate_proposal(block)
            assert not isinstance(verdict, Rejection), f"a logged block is now invalid: {verdict}"
            self._proposals[block_hash] = (block, verdict)
        self._replaying = True
        try:
            for event in list(self.wal.events):
                self._feed(event)
        finally:
            self._replaying = False
        self.wal.sync()
        self._replay_buffered()

    # --- the machine ---------------------------------------------------------------------

    def _feed(self, event: Event) -> None:
        """Step the machine; events its actions cause are queued, not nested."""
        self._pending.append(event)
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending:
                self._step(self._pending.popleft())
        finally:
            self._draining = False

    def _step(self, event: Event) -> None:
        before = self.consensus
        self.consensus, actions = step(before, event)
        now = self.consensus
        if isinstance(event, StartHeight) and now.height == event.height != self.wal.height:
            self.wal.reset(now.height)
        if now is not before and not self._replaying:
            self.wal.append(event, self._logged_block(event))
        if any(isinstance(a, Broadcast) for a in actions):
            self.wal.sync()
        for action in actions:
            self._act(action)
        if isinstance(event, StartHeight) and before.height < self.consensus.height:
            self._behind_since = None
            self._replay_buffered()

    def _logged_block(self, event: Event) -> Block | None:
        block_hash = None
        if isinstance(event, ProposalReceived) and event.valid:
            block_hash = event.proposal.block_hash
        elif isinstance(event, BlockProposed):
            block_hash = event.block_hash
        entry = None if block_hash is None else self._proposals.get(block_hash)
        return None if entry is None else entry[0]

    def _act(self, action: Action) -> None:
        if isinstance(action, Broadcast):
            self._send(action.message)
        elif isinstance(action, BuildBlock):
            self._spawn(self._build(action.height, action.round))
        else:
            super()._act(action)

    def _send(self, message: Proposal | Vote) -> None:
        assert self.transport is not None
        if isinstance(message, Vote):
            self.transport.broadcast(VoteMsg(message))
            return
        entry = self._proposals.get(message.block_hash)
        assert entry is not None, "the machine proposes only blocks the shell holds"
        self.transport.broadcast(ProposalMsg(message, entry[0]))

    async def _build(self, height: int, round_: int) -> None:
        wait = self._last_commit_monotonic + self.config.block_interval_ms / 1000
        if wait > time.monotonic():
            await asyncio.sleep(wait - time.monotonic())
        if len(self.core.mempool) == 0 and not self.config.empty_blocks:
            self._work.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), CONSENSUS_IDLE_BLOCK_MS / 1000)
        st = self.consensus
        if (st.height, st.round) != (height, round_) or self._proposed(st, round_):
            return  # the round moved on, or a replayed log already holds our proposal
        job = self.core.take_candidates(now_ms(), self.config.max_block_txs)
        block, execution, selection = self.core.build_block(job)  # on the loop: see above
        self.core.drop_rejected(selection)
        self._proposals[block.hash()] = (block, execution)
        self._feed(BlockProposed(height, round_, block.hash()))

    def _proposed(self, st: ConsensusState, round_: int) -> bool:
        key = self.core.key
        assert key is not None
        return any(p.proposer == key.public_key for p, _ in st.messages(round_).proposals)

    def _commit(self, decision: Decide) -> None:
        block, execution = self._proposals[decision.block_hash]
        self._apply(block, execution, decision.commit)
        self._feed(StartHeight(decision.height + 1))

    def _apply(self, block: Block, execution: BlockExecution, commit: Commit) -> None:
        committed = self.core.commit_block(block, execution, commit)
        height = block.header.height
        self._proposals.clear()
        self._invalid.clear()
        self._last_commit_monotonic = time.monotonic()
        self.wal.reset(height + 1)
        self.events.published(height, committed.dropped)
        if self.transport is not None:
            self.transport.broadcast(StatusMsg(height))
        if len(self.core.mempool):
            self._work.set()

    # --- transactions --------------------------------------------------------------------

    def transactions_arrived(self) -> None:
        super().transactions_arrived()
        if not self._tx_gossip_due:
            self._tx_gossip_due = True
            asyncio.get_running_loop().call_soon(self._gossip_txs)

    def _gossip_txs(self) -> None:
        self._tx_gossip_due = False
        if self.transport is None:
            return
        for stx in self.core.mempool.reap(P2P_GOSSIP_TXS_MAX, 2**62):
            if stx.tx_id not in self._gossiped_txs:
                self._gossiped_txs[stx.tx_id] = None
                self.transport.broadcast(TxMsg(stx))
        while len(self._gossiped_txs) > P2P_SEEN_MAX:
            self._gossiped_txs.popitem(last=False)

    # --- evidence ------------------------------------------------------------------------

    def evidence_arrived(self) -> None:
        """Tells the other validators of newly pooled evidence, detected here or submitted
        over RPC: a double signing seen by one node is then recorded by whichever validator
        proposes next, not only when this one does."""
        super().evidence_arrived()
        if self.transport is None:
            return
        pool = self.core.evidence_pool
        self._gossiped_evidence &= pool.keys()
        for offence_id, evidence in pool.items():
            if offence_id not in self._gossiped_evidence:
                self._gossiped_evidence.add(offence_id)
                self.transport.broadcast(EvidenceMsg(evidence))

    def _on_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        # Checked as a block would check it. A refusal is no offence of the peer's: the
        # evidence may be recorded or expired here already, or pending from another source.
        if self.core.add_evidence(evidence) is None:
            self._gossiped_evidence.add(evidence.offence_id)  # the sender told everyone
            self._work.set()

    # --- receiving -----------------------------------------------------------------------

    def on_peer_connected(self, peer: str) -> None:
        assert self.transport is not None
        self.transport.send(peer, StatusMsg(self.core.head.height))
        for evidence in self.core.evidence_pool.values():  # what it missed while away
            self.transport.send(peer, EvidenceMsg(evidence))

    def on_message(self, peer: str, msg: P2PMessage) -> None:
        """Called by the transport for every decoded frame (untrusted content)."""
        try:
            self._on_message(peer, msg)
        except Exception as exc:  # our bug, not the peer's: stop the node, exit non-zero
            self.failure = exc
            self.stop()
            raise

    def _on_message(self, peer: str, msg: P2PMessage) -> None:
        if isinstance(msg, VoteMsg):
            self._on_consensus(peer, msg.vote, None)
        elif isinstance(msg, ProposalMsg):
            self._on_consensus(peer, msg.proposal, msg.block)
        elif isinstance(msg, TxMsg):
            rejection = self.core.submit_decoded(msg.tx, now_ms())
            if rejection is None:
                self._gossiped_txs[msg.tx.tx_id] = None  # the sender told everyone
                self._work.set()
        elif isinstance(msg, StatusMsg):
            self._on_status(peer, msg.height)
        elif isinstance(msg, SyncRequestMsg):
            self._answer_sync(peer, msg.from_height)
        elif isinstance(msg, EvidenceMsg):
            self._on_evidence(msg.evidence)
        else:
            self._on_sync_response(msg)

    def _on_consensus(self, peer: str, message: Vote | Proposal, block: Block | None) -> None:
        height = self.consensus.height
        if message.height < height:
            return
        if message.height > height:
            self._peer_heights[peer] = max(self._peer_heights.get(peer, 0), message.height - 1)
            if message.height <= height + CONSENSUS_BUFFER_HEIGHTS_MAX:
                queue = self._buffered.setdefault(message.height, [])
                blocks = sum(b is not None for _, _, b in queue)
                if len(queue) < CONSENSUS_BUFFER_PER_HEIGHT_MAX and (
                    block is None or blocks < CONSENSUS_BUFFER_BLOCKS_PER_HEIGHT_MAX
                ):
                    queue.append((peer, message, block))
            self._check_behind()
            return
        if isinstance(message, Vote):
            self._feed(VoteReceived(message))
        elif block is not None:
            self._on_proposal(message, block)

    def _on_proposal(self, proposal: Proposal, block: Block) -> None:
        validators = self.core.genesis.validators
        if proposal.proposer != proposer_of(validators, proposal.height, proposal.round):
            return
        # The signature before the block: a forgery naming the proposer must neither cost a
        # re-execution nor take one of the height's CONSENSUS_CANDIDATES_MAX slots.
        if not proposal.verify_signature(self.core.genesis.chain_id):
            return
        block_hash = proposal.block_hash
        if block.hash() != block_hash:
            return  # not the block the proposal names: not this proposal at all
        if block_hash in self._proposals:
            valid = True
        elif block_hash in self._invalid:
            valid = False
        else:
            if len(self._proposals) + len(self._invalid) >= CONSENSUS_CANDIDATES_MAX:
                return
            verdict = self.core.validate_proposal(block)
            valid = not isinstance(verdict, Rejection)
            if isinstance(verdict, Rejection):
                log.warning(
                    "invalid proposal at %d/%d: %s", proposal.height, proposal.round, verdict
                )
                self._invalid.add(block_hash)
            else:
                self._proposals[block_hash] = (block, verdict)
        self._feed(ProposalReceived(proposal, valid))

    def _replay_buffered(self) -> None:
        height = self.consensus.height
        for h in [h for h in self._buffered if h <= height]:
            entries = self._buffered.pop(h)
            if h == height:
                for peer, message, block in entries:
                    if self.consensus.height != height:
                        break
                    self._on_consensus(peer, message, block)

    # --- block sync ----------------------------------------------------------------------

    def _on_status(self, peer: str, height: int) -> None:
        self._peer_heights[peer] = max(self._peer_heights.get(peer, 0), height)
        self._check_behind()

    def _check_behind(self) -> None:
        head = self.core.head.height
        best = max(self._peer_heights.values(), default=0)
        if best >= head + 2:
            self._request_sync()
        elif best >= head + 1:
            if self._behind_since is None:
                self._behind_since = time.monotonic()
            elif time.monotonic() - self._behind_since >= SYNC_PATIENCE_MS / 1000:
                self._request_sync()

    def _request_sync(self) -> None:
        assert self.transport is not None
        if time.monotonic() - self._last_sync < SYNC_RETRY_MS / 1000:
            return
        head = self.core.head.height
        connected = set(self.transport.connected())
        ahead = [p for p, h in self._peer_heights.items() if h > head and p in connected]
        if not ahead:
            return
        self._last_sync = time.monotonic()
        # Any peer ahead, at random: one that claims a height it cannot serve stalls nothing.
        peer = random.choice(sorted(ahead))
        self.transport.send(peer, SyncRequestMsg(head + 1))

    def _answer_sync(self, peer: str, from_height: int) -> None:
        assert self.transport is not None
        top = min(self.core.head.height, from_height + P2P_SYNC_BLOCKS_MAX - 1)
        pairs = []
        for height in range(max(1, from_height), top + 1):
            block, commit = self.core.blocks.block(height), self.core.blocks.commit(height)
            assert block is not None and commit is not None
            pairs.append((block, commit))
        if pairs:
            self.transport.send(peer, sync_response(pairs))

    def _on_sync_response(self, response: SyncResponseMsg) -> None:
        genesis = self.core.genesis
        applied = 0
        for block, commit in response.blocks:
            height = block.header.height
            if height <= self.core.head.height:
                continue
            if height != self.core.head.height + 1:
                break
            problem = verify_commit(
                genesis.chain_id, genesis.validators, commit, block.hash(), height
            )
            if problem is not None:
                log.warning("synced block %d: bad commit: %s", height, problem)
                break
            verdict = self.core.validate_proposal(block)
            if isinstance(verdict, Rejection):
                # More than 2/3 signed a block that does not validate: never for honest nodes.
                log.error("synced block %d does not validate: %s", height, verdict)
                break
            self._apply(block, verdict, commit)
            applied += 1
        if applied:
            self.synced_blocks += applied
            log.info("synced %d blocks, now at height %d", applied, self.core.head.height)
            self._behind_since = None
            self._feed(StartHeight(self.core.head.height + 1))
            if len(response.blocks) >= P2P_SYNC_BLOCKS_MAX:
                self._last_sync = 0.0
            self._check_behind()

    # --- gossip --------------------------------------------------------------------------

    async def _gossip_loop(self) -> None:
        assert self.transport is not None
        while True:
            await asyncio.sleep(GOSSIP_INTERVAL_MS / 1000)
            st = self.consensus
            position = (st.height, st.round)
            if position == self._gossip_position:
                for msg in self._gossip_messages(st):
                    self.transport.broadcast(msg)
            self._gossip_position = position
            self.transport.broadcast(StatusMsg(self.core.head.height))
            self._check_behind()

    def _gossip_messages(self, st: ConsensusState) -> Iterator[P2PMessage]:
        proposals = st.messages(st.round).proposals
        rounds = {st.round - 1, st.round, st.valid_round, st.locked_round}
        rounds.update(p.pol_round for p, _ in proposals)
        for proposal, valid in proposals:
            entry = self._proposals.get(proposal.block_hash)
            if valid and entry is not None:
                yield ProposalMsg(proposal, entry[0])
        for round_ in sorted(r for r in rounds if r >= 0):
            msgs = st.messages(round_)
            for tally in (msgs.prevotes, msgs.precommits):
                yield from (VoteMsg(v) for v in tally.votes.values())
