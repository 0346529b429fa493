"""The consensus shell, written once: the pure machine (`consensus.machine.step`) and
`NodeCore`, driven over narrow ports (`node.shell_ports`: timer, clock, transport, WAL store,
build policy, observer), as TigerBeetle's replica runs over MessageBus, Storage and Time.
The node runs it on asyncio, TCP and a file (`node.runner`); the simulator on virtual time,
a seeded network and memory (`sim.node`), so the simulator's seeds exercise this code.

- Broadcasts go to the transport; a proposal carries its block.
- A received proposal's block is validated (`NodeCore.validate_proposal`: the carried commit
  certifies our head, then it re-executes) before `ProposalReceived(proposal, valid)`; the
  blocks of valid proposals are kept (with the invalid hashes, CONSENSUS_CANDIDATES_MAX per
  height) until Decide names one, so a commit works for any proposer.
- Messages of the next CONSENSUS_BUFFER_HEIGHTS_MAX heights are buffered and replayed after
  StartHeight; older ones are dropped.
- The write-ahead log holds every event that changed the machine at the current height and
  the blocks of the proposals it accepted; it is synced before any Broadcast of the step is
  sent, and reset per height. On restart it is replayed into a fresh machine, which
  re-creates the same state and signatures: a validator never signs twice.
- Peers announce their committed height (StatusMsg) on connect, after each commit and every
  gossip interval; messages of a higher height say the same. A node two heights behind a
  peer, or one behind for `sync_patience_ms`, fetches committed blocks, each applied after
  `verify_commit` and full validation.
- Stuck at one (height, round) for a gossip interval, the node re-sends what it has of the
  height (proposals with blocks, votes of the rounds that matter): a peer that restarted or
  lost a message catches up.
- A proposer presumed down (no message signed by it, of the previous height or later, has
  arrived) gets no propose timeout: the node prevotes nil at once. Prevoting nil early is
  always safe, only a round is lost if the guess is wrong, and a live proposer is heard
  again in that very round (its votes), so the guess corrects itself. A crashed validator
  then costs its turns a few message delays instead of a propose timeout each.
- Transactions and evidence that enter the pools are gossiped once; double signing the
  machine detects enters the evidence pool, for whichever validator proposes next.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass

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
    TimeoutFired,
    VoteReceived,
    initial_state,
    proposer_of,
    step,
)
from corridor.consensus.messages import Proposal, Vote
from corridor.ledger.block import Block, Commit, verify_commit
from corridor.ledger.chain import BlockExecution, Selection
from corridor.ledger.errors import Rejection
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.node.core import BuildInput, NodeCore
from corridor.node.limits import (
    BLOCK_TXS_DEFAULT,
    CONSENSUS_BUFFER_BLOCKS_PER_HEIGHT_MAX,
    CONSENSUS_BUFFER_HEIGHTS_MAX,
    CONSENSUS_BUFFER_PER_HEIGHT_MAX,
    CONSENSUS_CANDIDATES_MAX,
    GOSSIP_INTERVAL_MS,
    P2P_GOSSIP_TXS_MAX,
    P2P_SEEN_MAX,
    P2P_SYNC_BLOCKS_MAX,
    SYNC_PATIENCE_MS,
    SYNC_RETRY_MS,
)
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
from corridor.node.shell_ports import BuildPolicy, Clock, Observer, Timer, Transport, WalStore


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellConfig:
    max_block_txs: int = BLOCK_TXS_DEFAULT
    gossip_interval_ms: int = GOSSIP_INTERVAL_MS  # status; re-send of the height when stuck
    sync_patience_ms: int = SYNC_PATIENCE_MS  # one height behind a peer this long: sync
    sync_retry_ms: int = SYNC_RETRY_MS  # at most one sync request per this interval


@dataclass(frozen=True, slots=True, kw_only=True)
class Ports:
    timer: Timer
    clock: Clock
    transport: Transport
    wal: WalStore
    builder: BuildPolicy
    observer: Observer
    rng: random.Random  # the sync peer's choice (seeded in the simulator)


class ConsensusShell:
    """One validator's (or full node's) consensus shell; see the module docstring."""

    def __init__(self, core: NodeCore, ports: Ports, config: ShellConfig = ShellConfig()) -> None:
        self.core = core
        self.ports = ports
        self.config = config
        self.wal = ports.wal
        self.transport = ports.transport
        self.machine: ConsensusState = initial_state(
            Config(chain_id=core.genesis.chain_id, validators=core.genesis.validators, key=core.key)
        )
        self.candidates: dict[bytes, tuple[Block, BlockExecution]] = {}
        self.invalid: set[bytes] = set()
        self.buffered: dict[int, list[tuple[str, Vote | Proposal, Block | None]]] = {}
        self._pending: deque[Event] = deque()
        self._draining = False
        self._replaying = False
        self.peer_heights: dict[str, int] = {}  # peer -> the committed height it announced
        self._asked: dict[str, int] = {}  # peer -> our head when we last asked it for blocks
        self._behind_since_ms: int | None = None
        self._last_sync_ms: int | None = None
        self.last_commit_ms = ports.clock.monotonic_ms()
        self._gossip_position = (-1, -1)
        self._gossiped_txs: OrderedDict[bytes, None] = OrderedDict()
        self._tx_gossip_due = False
        self._gossiped_evidence: set[bytes] = set()  # offence ids, pruned with the pool
        self.synced_blocks = 0
        self.gossip_rounds = 0
        # validator -> the highest height of a consensus message signed in its name that
        # arrived (unverified: a forgery only makes us wait the timeout, as before)
        self._heard: dict[bytes, int] = {}
        self._started_height = core.head.height + 1
        self.skipped_proposers = 0

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Replay the log of the next height, or start it; then gossip every interval."""
        self.ports.timer.schedule(self.config.gossip_interval_ms, self._gossip_tick)
        height = self.core.head.height + 1
        if self.wal.height == height and self.wal.events:
            self._replay_wal()
        else:
            self.wal.reset(height)
            self.feed(StartHeight(height))

    def _replay_wal(self) -> None:
        self.ports.observer.info(
            f"replaying {len(self.wal.events)} consensus events of height {self.wal.height}"
        )
        for block_hash, block in self.wal.blocks.items():
            verdict = self.core.validate_proposal(block)
            assert not isinstance(verdict, Rejection), f"a logged block is now invalid: {verdict}"
            self.candidates[block_hash] = (block, verdict)
        self._replaying = True
        try:
            for event in list(self.wal.events):
                self.feed(event)
        finally:
            self._replaying = False
        self.wal.sync()
        self._replay_buffered()

    # --- the machine ---------------------------------------------------------------------

    def feed(self, event: Event) -> None:
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
        before = self.machine
        self.machine, actions = step(before, event)
        now = self.machine
        if isinstance(event, StartHeight) and now.height == event.height != self.wal.height:
            self.wal.reset(now.height)
        if now is not before and not self._replaying:
            self.wal.append(event, self._logged_block(event))
        if any(isinstance(a, Broadcast) for a in actions):
            self.sync_log()
        for action in actions:
            self._act(action)
        if isinstance(event, StartHeight) and before.height < self.machine.height:
            self._behind_since_ms = None
            self._replay_buffered()

    def sync_log(self) -> None:
        """Durable before anything is sent: a crash after the Broadcast and before the log
        holds its cause would let the restarted machine sign another value for the slot."""
        self.wal.sync()

    def _logged_block(self, event: Event) -> Block | None:
        block_hash = None
        if isinstance(event, ProposalReceived) and event.valid:
            block_hash = event.proposal.block_hash
        elif isinstance(event, BlockProposed):
            block_hash = event.block_hash
        entry = None if block_hash is None else self.candidates.get(block_hash)
        return None if entry is None else entry[0]

    def _act(self, action: Action) -> None:
        if isinstance(action, Broadcast):
            self._send_own(action.message)
        elif isinstance(action, ScheduleTimeout):
            event = TimeoutFired(action.kind, action.height, action.round)
            duration_ms = action.duration_ms
            if action.kind == "propose" and self._proposer_presumed_down(
                action.height, action.round
            ):
                self.skipped_proposers += 1
                duration_ms = 0
            self.ports.timer.schedule(duration_ms, lambda: self.feed(event))
        elif isinstance(action, BuildBlock):
            self.ports.builder.build_due(self, action.height, action.round)
        elif isinstance(action, Decide):
            self._commit(action)
        elif isinstance(action, ReportEvidence):
            # Pending until a validator proposes a block that records it.
            refused = self.core.add_evidence(action.evidence)
            self.ports.observer.evidence(action.evidence, None if refused is None else str(refused))
            if refused is None:
                self.evidence_arrived()

    def _send_own(self, message: Proposal | Vote) -> None:
        if isinstance(message, Vote):
            self.ports.observer.signed(message)
            self.transport.broadcast(VoteMsg(message))
            return
        entry = self.candidates.get(message.block_hash)
        if entry is None:  # the machine proposes only blocks the shell holds
            self.ports.observer.problem(f"no block for own proposal {message}")
            return
        self.ports.observer.signed(message)
        self.transport.broadcast(ProposalMsg(message, entry[0]))

    def _proposer_presumed_down(self, height: int, round_: int) -> bool:
        """Nothing signed by the proposer of (height, round_) of height - 1 or later arrived
        (a node restarted here gives everyone its first two heights)."""
        proposer = self.machine.roster.proposer(height, round_)
        if proposer == self.machine.me:
            return False
        return max(self._heard.get(proposer, 0), self._started_height) < height - 1

    def _heard_from(self, message: Vote | Proposal) -> None:
        signer = message.validator if isinstance(message, Vote) else message.proposer
        # Only validators: a name made up by a peer takes no room.
        if signer in self.machine.roster.power and message.height > self._heard.get(signer, 0):
            self._heard[signer] = message.height

    # --- building ------------------------------------------------------------------------

    def has_work(self) -> bool:
        """Something for a block: pending transactions, or evidence to record."""
        return len(self.core.mempool) > 0 or bool(self.core.evidence_pool)

    def build_job(self, height: int, round_: int) -> BuildInput | None:
        """What to build for BuildBlock(height, round_); None if the round moved on or a
        replayed log already holds our proposal."""
        st = self.machine
        if (st.height, st.round) != (height, round_) or self._proposed(st, round_):
            return None
        return self.core.take_candidates(self.ports.clock.now_ms(), self.config.max_block_txs)

    def built(
        self, height: int, round_: int, block: Block, execution: BlockExecution, sel: Selection
    ) -> None:
        self.core.drop_rejected(sel)
        self.candidates[block.hash()] = (block, execution)
        self.feed(BlockProposed(height, round_, block.hash()))

    def build_now(self, height: int, round_: int) -> None:
        """Build on this thread (no commit may run during a build: see `node.runner`)."""
        job = self.build_job(height, round_)
        if job is not None:
            self.built(height, round_, *self.core.build_block(job))

    def _proposed(self, st: ConsensusState, round_: int) -> bool:
        me = st.me
        return me is not None and any(p.proposer == me for p, _ in st.messages(round_).proposals)

    # --- committing ----------------------------------------------------------------------

    def _commit(self, decision: Decide) -> None:
        block, execution = self.candidates[decision.block_hash]
        self._apply(block, execution, decision.commit)
        self.feed(StartHeight(decision.height + 1))

    def _apply(self, block: Block, execution: BlockExecution, commit: Commit) -> None:
        committed = self.core.commit_block(block, execution, commit)
        height = block.header.height
        self.candidates.clear()
        self.invalid.clear()
        self.last_commit_ms = self.ports.clock.monotonic_ms()
        self.wal.reset(height + 1)
        self.ports.observer.committed(committed, self.core.tree.root)
        self.transport.broadcast(StatusMsg(height))
        if self.has_work():
            self.ports.builder.work_arrived()

    # --- transactions and evidence -------------------------------------------------------

    def transactions_arrived(self) -> None:
        """Transactions entered the mempool: build, and tell the peers (once per batch)."""
        self.ports.builder.work_arrived()
        if not self._tx_gossip_due:
            self._tx_gossip_due = True
            self.ports.timer.schedule(0, self._gossip_txs)

    def _gossip_txs(self) -> None:
        self._tx_gossip_due = False
        if not self.transport.connected():
            return
        for stx in self.core.mempool.reap(P2P_GOSSIP_TXS_MAX, 2**62):
            if stx.tx_id not in self._gossiped_txs:
                self._gossiped_txs[stx.tx_id] = None
                self.transport.broadcast(TxMsg(stx))
        while len(self._gossiped_txs) > P2P_SEEN_MAX:
            self._gossiped_txs.popitem(last=False)

    def evidence_arrived(self) -> None:
        """Evidence entered the pool (detected here, or submitted over RPC): tell the other
        validators, so whichever proposes next records it, not only this one."""
        self.ports.builder.work_arrived()
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
            self.ports.builder.work_arrived()

    # --- receiving -----------------------------------------------------------------------

    def on_peer_connected(self, peer: str) -> None:
        self.transport.send(peer, StatusMsg(self.core.head.height))
        for evidence in self.core.evidence_pool.values():  # what it missed while away
            self.transport.send(peer, EvidenceMsg(evidence))

    def on_message(self, peer: str, msg: P2PMessage) -> None:
        """A decoded frame from `peer` (untrusted content)."""
        if isinstance(msg, VoteMsg):
            self._on_consensus(peer, msg.vote, None)
        elif isinstance(msg, ProposalMsg):
            self._on_consensus(peer, msg.proposal, msg.block)
        elif isinstance(msg, TxMsg):
            rejection = self.core.submit_decoded(msg.tx, self.ports.clock.now_ms())
            if rejection is None:
                self._gossiped_txs[msg.tx.tx_id] = None  # the sender told everyone
                self.ports.builder.work_arrived()
        elif isinstance(msg, StatusMsg):
            self._claims(peer, msg.height)
            self._check_behind()
        elif isinstance(msg, SyncRequestMsg):
            self._answer_sync(peer, msg.from_height)
        elif isinstance(msg, EvidenceMsg):
            self._on_evidence(msg.evidence)
        else:
            self._on_sync_response(msg)

    def _on_consensus(self, peer: str, message: Vote | Proposal, block: Block | None) -> None:
        self._heard_from(message)
        height = self.machine.height
        if message.height < height:
            return
        if message.height > height:
            self._claims(peer, message.height - 1)
            if message.height <= height + CONSENSUS_BUFFER_HEIGHTS_MAX:
                queue = self.buffered.setdefault(message.height, [])
                blocks = sum(b is not None for _, _, b in queue)
                if len(queue) < CONSENSUS_BUFFER_PER_HEIGHT_MAX and (
                    block is None or blocks < CONSENSUS_BUFFER_BLOCKS_PER_HEIGHT_MAX
                ):
                    queue.append((peer, message, block))
            self._check_behind()
            return
        if isinstance(message, Vote):
            self.feed(VoteReceived(message))
        elif block is not None:
            self._on_proposal(message, block)

    def _on_proposal(self, proposal: Proposal, block: Block) -> None:
        genesis = self.core.genesis
        if proposal.proposer != proposer_of(genesis.validators, proposal.height, proposal.round):
            return
        # The signature before the block: a forgery naming the proposer must neither cost a
        # re-execution nor take one of the height's CONSENSUS_CANDIDATES_MAX slots.
        if not proposal.verify_signature(genesis.chain_id):
            return
        block_hash = proposal.block_hash
        if block.hash() != block_hash:
            return  # not the block the proposal names: not this proposal at all
        if block_hash in self.candidates:
            valid = True
        elif block_hash in self.invalid:
            valid = False
        else:
            if len(self.candidates) + len(self.invalid) >= CONSENSUS_CANDIDATES_MAX:
                return
            verdict = self.core.validate_proposal(block)
            valid = not isinstance(verdict, Rejection)
            if isinstance(verdict, Rejection):
                self.ports.observer.refused(
                    f"invalid proposal at {proposal.height}/{proposal.round}: {verdict}"
                )
                self.invalid.add(block_hash)
            else:
                self.candidates[block_hash] = (block, verdict)
        self.feed(ProposalReceived(proposal, valid))

    def _replay_buffered(self) -> None:
        height = self.machine.height
        for h in [h for h in self.buffered if h <= height]:
            entries = self.buffered.pop(h)
            if h == height:
                for peer, message, block in entries:
                    if self.machine.height != height:
                        break
                    self._on_consensus(peer, message, block)

    # --- block sync ----------------------------------------------------------------------

    def _claims(self, peer: str, height: int) -> None:
        """`peer` says it has committed `height`: believed (again) if above what we hold."""
        if height > self.peer_heights.get(peer, 0):
            self.peer_heights[peer] = height
            self._asked.pop(peer, None)  # a new claim earns it one more request

    def _check_behind(self) -> None:
        head = self.core.head.height
        best = max(self.peer_heights.values(), default=0)
        now = self.ports.clock.monotonic_ms()
        if best >= head + 2:
            self._request_sync()
        elif best >= head + 1:
            if self._behind_since_ms is None:
                self._behind_since_ms = now
            elif now - self._behind_since_ms >= self.config.sync_patience_ms:
                self._request_sync()

    def _request_sync(self) -> None:
        now = self.ports.clock.monotonic_ms()
        last = self._last_sync_ms
        if last is not None and now - last < self.config.sync_retry_ms:
            return
        head = self.core.head.height
        # A peer asked at this very head brought nothing since (it did not answer, or not with
        # a block we could apply): its claimed height is no longer believed. Otherwise a
        # Byzantine peer claiming a far-future height would be asked forever; now it is asked
        # once per claim it makes, and an honest peer's next status restores its height.
        for peer, asked_at in self._asked.items():
            if asked_at == head and self.peer_heights.get(peer, 0) > head:
                self.peer_heights[peer] = head
        connected = set(self.transport.connected())
        ahead = [p for p, h in self.peer_heights.items() if h > head and p in connected]
        if not ahead:
            return
        self._last_sync_ms = now
        # Any peer ahead, at random: one that claims a height it cannot serve stalls nothing.
        peer = self.ports.rng.choice(sorted(ahead))
        self._asked[peer] = head
        self.transport.send(peer, SyncRequestMsg(head + 1))

    def _answer_sync(self, peer: str, from_height: int) -> None:
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
                self.ports.observer.refused(f"synced block {height}: bad commit: {problem}")
                break
            verdict = self.core.validate_proposal(block)
            if isinstance(verdict, Rejection):
                # More than 2/3 signed a block that does not validate: never for honest nodes.
                self.ports.observer.problem(f"synced block {height} does not validate: {verdict}")
                break
            self._apply(block, verdict, commit)
            applied += 1
        if applied:
            self.synced_blocks += applied
            self.ports.observer.info(
                f"synced {applied} blocks, now at height {self.core.head.height}"
            )
            self._behind_since_ms = None
            self.feed(StartHeight(self.core.head.height + 1))
            if len(response.blocks) >= P2P_SYNC_BLOCKS_MAX:
                self._last_sync_ms = None
            self._check_behind()

    # --- gossip --------------------------------------------------------------------------

    def _gossip_tick(self) -> None:
        """Every gossip interval: re-send the height's messages if stuck in one (height,
        round) since the last tick; announce our height; sync if behind for too long."""
        self.ports.timer.schedule(self.config.gossip_interval_ms, self._gossip_tick)
        st = self.machine
        position = (st.height, st.round)
        if position == self._gossip_position and self.transport.connected():
            self.gossip_rounds += 1
            for msg in self.gossip_messages(st):
                self.transport.broadcast(msg)
        self._gossip_position = position
        self.transport.broadcast(StatusMsg(self.core.head.height))
        self._check_behind()

    def gossip_messages(self, st: ConsensusState) -> Iterator[P2PMessage]:
        """The round's proposals with their blocks and every vote of the rounds that matter
        (this one, the one before, the lock and valid rounds, the proposals' proof-of-lock
        rounds), ours and received: a proof-of-lock prevote withheld from a peer would stall
        that peer's L28 otherwise."""
        proposals = st.messages(st.round).proposals
        rounds = {st.round - 1, st.round, st.valid_round, st.locked_round}
        rounds.update(p.pol_round for p, _ in proposals)
        for proposal, valid in proposals:
            entry = self.candidates.get(proposal.block_hash)
            if valid and entry is not None:
                yield ProposalMsg(proposal, entry[0])
        for round_ in sorted(r for r in rounds if r >= 0):
            msgs = st.messages(round_)
            for tally in (msgs.prevotes, msgs.precommits):
                yield from (VoteMsg(v) for v in tally.votes.values())
