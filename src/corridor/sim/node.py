"""A simulated node: `NodeCore` on in-memory stores plus a consensus machine, as a shell.

What persists across a crash: the block store, the state store (whose last apply a crash may
tear, `SimStateStore.tear`) and the write-ahead log of the current height. Everything else
(machine, mempool, candidate blocks, buffered messages, timers) is volatile and rebuilt by
`restart`, which re-opens `NodeCore` (its `recover` repairs a torn state store) and replays
the log into a fresh machine.

The log holds every event that changed the machine at the current height, in order, with the
blocks of the proposals it accepted (the machine's module docstring: replaying them from
`initial_state` rebuilds the same state and re-creates the same signatures). It is a superset
of "our own signed votes and proposals", and it also restores the round and the lock, so a
restarted validator never signs a second value for a slot. It is written before any of the
step's actions run, as a real node fsyncs before it sends.

Wire messages carry bytes: every receiver decodes untrusted input, so a Byzantine sender can
put anything in them. A proposal carries its block (`Block.encode()`); a block whose hash is
not the proposal's is not that proposal's block, and the message is dropped.

Catching up: a node that sees messages of a height above its own learns the sender committed
its height. Two heights ahead it asks at once; one ahead it asks when its own height has not
moved for `sync_patience_ms`. The answer is committed blocks with their commits, each applied
after `verify_commit` and full validation.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Final

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
    TimeoutFired,
    VoteReceived,
    initial_state,
    proposer_of,
    step,
)
from corridor.consensus.messages import Proposal, Vote, decode_message, encode_message
from corridor.ledger.block import Block, Commit, verify_commit
from corridor.ledger.chain import BlockExecution
from corridor.ledger.errors import DecodeError, RejectCode, Rejection
from corridor.ledger.genesis import Genesis
from corridor.ledger.keys import KeyPair
from corridor.ledger.state import MemoryState, Overlay
from corridor.ledger.statetree import BUCKET_BITS, StateTree
from corridor.ledger.tx import SignedTransaction
from corridor.node import core as core_module
from corridor.node.core import NodeCore
from corridor.node.storage.memory import MemoryBlockStore, MemoryStateStore
from corridor.sim.network import Network

BUFFER_HEIGHTS_MAX: Final = 2  # messages of heights h+1 .. h+2 are kept while at h
BUFFER_MESSAGES_PER_HEIGHT_MAX: Final = 512
SYNC_BLOCKS_MAX: Final = 16  # blocks per sync answer
CANDIDATES_MAX: Final = 64  # distinct proposed blocks kept per height (4 per round are voted on)

# --- fast state-tree builds ----------------------------------------------------------------
#
# `StateTree.from_items` hashes all 2**16 buckets and 2**16 - 1 inner nodes whatever the number
# of items (~0.23 s here), and `NodeCore` builds two trees each time it opens (the genesis
# header and `_open`). A simulation opens nodes hundreds of times with a dozen accounts, so it
# builds the same trees by inserting into an empty tree instead: O(items x depth), the same
# root by construction (checked in tests/sim). The lasting fix belongs in
# `ledger.statetree.from_items` (leave all-empty subtrees at their precomputed hashes).


def sparse_tree(items: Iterable[tuple[bytes, bytes]]) -> StateTree:
    """`StateTree.from_items(items)`, built in time proportional to the items."""
    tree = StateTree()
    tree.update(items)
    return tree


class _SparseStateTree(StateTree):
    __slots__ = ()

    @classmethod
    def from_items(
        cls, items: Iterable[tuple[bytes, bytes]], bucket_bits: int = BUCKET_BITS
    ) -> StateTree:
        assert bucket_bits == BUCKET_BITS
        return sparse_tree(items)


@contextmanager
def _sparse_tree_builds() -> Iterator[None]:
    """While opening a NodeCore, its module builds trees with `sparse_tree` (see above)."""
    saved = getattr(core_module, "StateTree")  # noqa: B009 (not re-exported: mypy)
    setattr(core_module, "StateTree", _SparseStateTree)  # noqa: B010
    try:
        yield
    finally:
        setattr(core_module, "StateTree", saved)  # noqa: B010


class SimGenesis(Genesis):
    """A genesis whose state tree is built sparsely (NodeCore asks for its header often)."""

    __slots__ = ()

    @classmethod
    def of(cls, genesis: Genesis) -> SimGenesis:
        return cls(**{f.name: getattr(genesis, f.name) for f in fields(genesis)})

    def tree(self) -> StateTree:
        return sparse_tree(self.state.tree_items())


# --- wire messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsensusWire:
    """A vote (or anything that claims to be one): `encode_message` bytes."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ProposalWire:
    """A proposal (`Proposal.encode()`) and the block it names (`Block.encode()`)."""

    proposal: bytes
    block: bytes


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Send me committed blocks from `from_height` on."""

    from_height: int


@dataclass(frozen=True, slots=True)
class SyncResponse:
    """Committed blocks in height order: (`Block.encode()`, `Commit.encode()`) pairs."""

    blocks: tuple[tuple[bytes, bytes], ...]


Wire = ConsensusWire | ProposalWire | SyncRequest | SyncResponse


# --- persistent parts ------------------------------------------------------------------------


class SimStateStore(MemoryStateStore):
    """A `MemoryStateStore` whose last `apply` a crash can lose (a torn write): it keeps the
    state before the last apply so that `tear` can put it back, as if the process died before
    the apply reached the disk."""

    def __init__(self) -> None:
        super().__init__()
        self._before: tuple[MemoryState, int, bytes] | None = None

    def __repr__(self) -> str:
        return f"SimStateStore(applied_height={self._height})"

    def apply(self, height: int, writes: Overlay, state_root: bytes) -> None:
        before = (self._state.copy(), self._height, self._root)
        super().apply(height, writes, state_root)
        self._before = before

    def tear(self) -> bool:
        """Lose the last apply; False if there is none to lose."""
        if self._before is None:
            return False
        self._state, self._height, self._root = self._before
        self._before = None
        return True


@dataclass(slots=True)
class Wal:
    """The events that changed the machine at `height`, and the blocks it accepted."""

    height: int = 0
    events: list[Event] = field(default_factory=list)
    blocks: dict[bytes, Block] = field(default_factory=dict)

    def reset(self, height: int) -> None:
        self.height, self.events, self.blocks = height, [], {}


@dataclass(slots=True)
class Trace:
    """What the checkers look at, written by the nodes as things happen."""

    signed: dict[tuple[bytes, int, int, str], set[tuple[bytes, int]]] = field(
        default_factory=dict
    )  # (signer, height, round, kind) -> {(block hash, pol round)} broadcast by honest nodes
    roots: dict[str, dict[int, tuple[bytes, bytes]]] = field(
        default_factory=dict
    )  # node -> height -> (block hash, state root after it, as the node computed)
    evidence: dict[str, list[DuplicateVoteEvidence]] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (node, what): never expected

    def sign(self, message: Proposal | Vote) -> None:
        if isinstance(message, Proposal):
            slot = (message.proposer, message.height, message.round, "proposal")
            value = (message.block_hash, message.pol_round)
        else:
            kind = "prevote" if message.vote_type == 1 else "precommit"
            slot = (message.validator, message.height, message.round, kind)
            value = (message.block_hash, 0)
        self.signed.setdefault(slot, set()).add(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeParams:
    block_interval_ms: int = 200
    gossip_interval_ms: int = 1_000  # re-send own current messages; check whether to sync
    sync_patience_ms: int = 1_500  # one height behind for this long: sync
    sync_retry_ms: int = 500  # at most one sync request per this interval
    max_block_txs: int = 200
    time_origin_ms: int = 0  # local time = origin + virtual time + skew


# --- the node --------------------------------------------------------------------------------


class SimNode:
    """One node's shell, driven by network deliveries and timers; see the module docstring."""

    honest = True

    def __init__(
        self,
        name: str,
        genesis: Genesis,
        net: Network,
        trace: Trace,
        *,
        key: KeyPair | None,
        peers: tuple[str, ...],
        params: NodeParams,
        skew_ms: int,
        rng: random.Random,
    ) -> None:
        self.name = name
        self.genesis = genesis
        self.net = net
        self.trace = trace
        self.key = key
        self.peers = peers
        self.params = params
        self.skew_ms = skew_ms
        self.rng = rng
        self.config = Config(chain_id=genesis.chain_id, validators=genesis.validators, key=key)
        # persistent
        self.blocks = MemoryBlockStore(genesis.header())
        self.states = SimStateStore()
        self.wal = Wal()
        # volatile (set by `restart`)
        self.up = False
        self.epoch = 0
        self.core: NodeCore
        self.machine: ConsensusState
        self._candidates: dict[bytes, tuple[Block, BlockExecution]] = {}
        self._invalid: set[bytes] = set()
        self._buffered: dict[int, list[tuple[str, Vote | Proposal, bytes]]] = {}
        self._pending: deque[Event] = deque()
        self._draining = False
        self._replaying = False
        self._ahead: dict[str, int] = {}  # peer -> the highest height it sent
        self._behind_since_ms: int | None = None
        self._last_sync_ms = -(10**9)
        self._last_commit_ms = 0
        self._gossip_position: tuple[int, int] = (-1, -1)
        self.restarts = 0
        self.synced_blocks = 0
        self.gossip_rounds = 0
        self.stats: Counter[str] = Counter()  # faults a Byzantine node injected, by kind
        trace.roots.setdefault(name, {})
        trace.evidence.setdefault(name, [])
        net.register(name, self.deliver)

    # --- life cycle ----------------------------------------------------------------------

    def local_now_ms(self) -> int:
        return self.params.time_origin_ms + self.net.now_ms + self.skew_ms

    def restart(self) -> int:
        """(Re)start from the stores and the log; returns how many blocks recovery replayed."""
        assert not self.up
        applied_before = self.states.applied_height()
        with _sparse_tree_builds():
            self.core = NodeCore(self.genesis, self.blocks, self.states, key=self.key,
                                 freeze_gc=False)
        replayed = self.states.applied_height() - applied_before
        assert self.core.tree.root == self.core.head.state_root
        self.machine = initial_state(self.config)
        self._candidates, self._invalid, self._buffered = {}, set(), {}
        self._pending, self._draining = deque(), False
        self._ahead, self._behind_since_ms = {}, None
        self._last_sync_ms = -(10**9)
        self.epoch += 1
        self.up = True
        self._schedule(self.params.gossip_interval_ms, self._gossip)
        height = self.core.head.height + 1
        if self.wal.height == height and self.wal.events:
            self._replay_wal()
        else:
            self.wal.reset(height)
            self.feed(StartHeight(height))
        return replayed

    def crash(self, *, torn: bool = False) -> bool:
        """Lose everything volatile; `torn`: also lose the state store's last apply.
        Returns whether a write was torn."""
        assert self.up
        self.up = False
        self.epoch += 1  # timers and builds of the old life are ignored
        self.restarts += 1
        del self.core, self.machine
        self._candidates, self._buffered, self._pending = {}, {}, deque()
        return torn and self.states.tear()

    def _replay_wal(self) -> None:
        for block_hash, block in self.wal.blocks.items():
            verdict = self._validate(block)
            assert not isinstance(verdict, Rejection), f"{self.name}: logged block now invalid"
            self._candidates[block_hash] = (block, verdict)
        self._replaying = True
        try:
            for event in list(self.wal.events):
                self.feed(event)
        finally:
            self._replaying = False
        self._replay_buffered()

    def _schedule(self, delay_ms: int, callback: Callable[[], None]) -> None:
        epoch = self.epoch

        def fire() -> None:
            if self.up and self.epoch == epoch:
                callback()

        self.net.schedule(delay_ms, fire)

    # --- the machine ---------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        """Step the machine; events its actions cause are queued, not nested."""
        self._pending.append(event)
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending and self.up:
                self._step(self._pending.popleft())
        finally:
            self._draining = False

    def _step(self, event: Event) -> None:
        before = self.machine
        self.machine, actions = step(before, event)
        started = isinstance(event, StartHeight) and self.machine.height == event.height
        if started and self.wal.height != self.machine.height:
            self.wal.reset(self.machine.height)
        if self.machine is not before and not self._replaying:
            self._log(event)
        for action in actions:
            self._act(action)
        if isinstance(event, StartHeight) and before.height < self.machine.height:
            self._behind_since_ms = None
            self._replay_buffered()

    def _log(self, event: Event) -> None:
        self.wal.events.append(event)
        block_hash = None
        if isinstance(event, ProposalReceived) and event.valid:
            block_hash = event.proposal.block_hash
        elif isinstance(event, BlockProposed):
            block_hash = event.block_hash
        if block_hash is not None and block_hash in self._candidates:
            self.wal.blocks[block_hash] = self._candidates[block_hash][0]

    def _act(self, action: Action) -> None:
        if isinstance(action, Broadcast):
            if self.honest:
                self.trace.sign(action.message)
            self.broadcast(action.message)
        elif isinstance(action, ScheduleTimeout):
            event = TimeoutFired(action.kind, action.height, action.round)
            self._schedule(action.duration_ms, lambda: self.feed(event))
        elif isinstance(action, BuildBlock):
            due = self._last_commit_ms + self.params.block_interval_ms - self.net.now_ms
            height, round_ = action.height, action.round
            self._schedule(max(0, due), lambda: self._build(height, round_))
        elif isinstance(action, Decide):
            self._commit(action)
        elif isinstance(action, ReportEvidence):
            self.trace.evidence[self.name].append(action.evidence)
            self.core.add_evidence(action.evidence)  # proposed when this node next proposes

    def _build(self, height: int, round_: int) -> None:
        if (self.machine.height, self.machine.round) != (height, round_):
            return  # the round moved on; the answer would be ignored
        job = self.core.take_candidates(self.local_now_ms(), self.params.max_block_txs)
        block, execution, selection = self.core.build_block(job)
        self.core.drop_rejected(selection)
        self._candidates[block.hash()] = (block, execution)
        self.feed(BlockProposed(height, round_, block.hash()))

    def _commit(self, decision: Decide) -> None:
        block, execution = self._candidates[decision.block_hash]
        self._apply(block, execution, decision.commit)
        self.feed(StartHeight(decision.height + 1))

    def _apply(self, block: Block, execution: BlockExecution, commit: Commit) -> None:
        self.core.commit_block(block, execution, commit)
        self.trace.roots[self.name][block.header.height] = (block.hash(), self.core.tree.root)
        self._candidates, self._invalid = {}, set()
        self._last_commit_ms = self.net.now_ms
        self.wal.reset(block.header.height + 1)

    # --- sending -------------------------------------------------------------------------

    def broadcast(self, message: Proposal | Vote) -> None:
        """Send one of our messages to every peer (Byzantine nodes override this)."""
        wire = self.wire_of(message)
        if wire is not None:
            for peer in self.peers:
                self.net.send(self.name, peer, wire)

    def wire_of(self, message: Proposal | Vote) -> Wire | None:
        if isinstance(message, Vote):
            return ConsensusWire(encode_message(message))
        entry = self._candidates.get(message.block_hash)
        if entry is None:
            self.trace.problems.append((self.name, f"no block for own proposal {message}"))
            return None
        return ProposalWire(message.encode(), entry[0].encode())

    def _gossip(self) -> None:
        """If the node has not left its (height, round) since the last tick, re-send what it
        has of this height that could help the others: the round's proposals with their
        blocks and every vote of the rounds that matter (this one, the one before, and the
        proof-of-lock rounds), its own and the ones it received (the network may have lost
        them; a POL prevote withheld from a peer stalls that peer's L28 otherwise). Then sync
        if the node has been a height behind for too long."""
        st = self.machine
        position = (st.height, st.round)
        if position == self._gossip_position:
            self.gossip_rounds += 1
            for wire in self._gossip_wires(st):
                self.relay(wire)
        self._gossip_position = position
        since = self._behind_since_ms
        if since is not None and self.net.now_ms - since >= self.params.sync_patience_ms:
            self._request_sync()
        self._schedule(self.params.gossip_interval_ms, self._gossip)

    def _gossip_wires(self, st: ConsensusState) -> list[Wire]:
        proposals = st.messages(st.round).proposals
        rounds = {st.round - 1, st.round, st.valid_round, st.locked_round}
        rounds.update(p.pol_round for p, _ in proposals)
        wires: list[Wire] = []
        for proposal, valid in proposals:
            entry = self._candidates.get(proposal.block_hash)
            if valid and entry is not None:
                wires.append(ProposalWire(proposal.encode(), entry[0].encode()))
        for round_ in sorted(r for r in rounds if r >= 0):
            msgs = st.messages(round_)
            for tally in (msgs.prevotes, msgs.precommits):
                wires.extend(ConsensusWire(encode_message(v)) for v in tally.votes.values())
        return wires

    def relay(self, wire: Wire) -> None:
        """Send a message again (ours or another's) to every peer."""
        for peer in self.peers:
            self.net.send(self.name, peer, wire)

    # --- receiving -----------------------------------------------------------------------

    def deliver(self, src: str, payload: object) -> None:
        if not self.up:
            return
        if isinstance(payload, ConsensusWire):
            try:
                message = decode_message(payload.data)
            except DecodeError:
                return
            if isinstance(message, Vote):
                self._on_message(src, message, b"")
            # a proposal without its block is not something this network sends
        elif isinstance(payload, ProposalWire):
            try:
                proposal = Proposal.decode(payload.proposal)
            except DecodeError:
                return
            self._on_message(src, proposal, payload.block)
        elif isinstance(payload, SyncRequest):
            self.answer_sync(src, payload)
        elif isinstance(payload, SyncResponse):
            self._on_sync_response(payload)

    def _on_message(self, src: str, message: Vote | Proposal, block: bytes) -> None:
        height = self.machine.height
        if message.height < height:
            return
        if message.height > height:
            self._ahead[src] = max(self._ahead.get(src, 0), message.height)
            if message.height <= height + BUFFER_HEIGHTS_MAX:
                queue = self._buffered.setdefault(message.height, [])
                if len(queue) < BUFFER_MESSAGES_PER_HEIGHT_MAX:
                    queue.append((src, message, block))
            if message.height >= height + 2:
                self._request_sync()
            elif self._behind_since_ms is None:
                self._behind_since_ms = self.net.now_ms
            return
        if isinstance(message, Vote):
            self.feed(VoteReceived(message))
        else:
            self._on_proposal(message, block)

    def _on_proposal(self, proposal: Proposal, block_bytes: bytes) -> None:
        validators = self.genesis.validators
        if proposal.proposer != proposer_of(validators, proposal.height, proposal.round):
            return
        if not proposal.verify_signature(self.genesis.chain_id):
            return  # as the node's runner: forgeries take no candidate slot
        block_hash = proposal.block_hash
        if block_hash in self._candidates:
            valid = True
        elif block_hash in self._invalid:
            valid = False
        else:
            if len(self._candidates) + len(self._invalid) >= CANDIDATES_MAX:
                return
            try:
                block = Block.decode(block_bytes)
            except DecodeError:
                return
            if block.hash() != block_hash:
                return  # not the block the proposal names: not this proposal at all
            verdict = self._validate(block)
            valid = not isinstance(verdict, Rejection)
            if isinstance(verdict, Rejection):
                self._invalid.add(block_hash)
            else:
                self._candidates[block_hash] = (block, verdict)
        self.feed(ProposalReceived(proposal, valid))

    def _validate(self, block: Block) -> BlockExecution | Rejection:
        """`NodeCore.validate_proposal` plus the previous block's commit certificate, which
        `ledger.chain.validate_block` leaves to its caller and NodeCore does not check."""
        head = self.core.head
        if block.header.height == 1:
            if block.last_commit is not None:
                return Rejection(RejectCode.BAD_BLOCK, "block 1 cannot carry a last commit")
        elif block.last_commit is None:
            return Rejection(RejectCode.BAD_BLOCK, "the previous block's commit is missing")
        elif block.header.height == head.height + 1:
            problem = verify_commit(
                self.genesis.chain_id,
                self.genesis.validators,
                block.last_commit,
                head.hash(),
                head.height,
            )
            if problem is not None:
                return problem
        return self.core.validate_proposal(block)

    def _replay_buffered(self) -> None:
        height = self.machine.height
        for h in [h for h in self._buffered if h <= height]:
            entries = self._buffered.pop(h)
            if h == height:
                for src, message, block in entries:
                    if not self.up or self.machine.height != height:
                        break
                    self._on_message(src, message, block)

    # --- block sync ----------------------------------------------------------------------

    def _request_sync(self) -> None:
        if self.net.now_ms - self._last_sync_ms < self.params.sync_retry_ms or not self._ahead:
            return
        self._last_sync_ms = self.net.now_ms
        ahead = sorted(p for p, h in self._ahead.items() if h > self.machine.height)
        if not ahead:
            return
        peer = self.rng.choice(ahead)
        self.net.send(self.name, peer, SyncRequest(self.core.head.height + 1))

    def answer_sync(self, src: str, request: SyncRequest) -> None:
        top = min(self.blocks.height(), request.from_height + SYNC_BLOCKS_MAX - 1)
        pairs = []
        for height in range(max(1, request.from_height), top + 1):
            block, commit = self.blocks.block(height), self.blocks.commit(height)
            assert block is not None and commit is not None
            pairs.append((block.encode(), commit.encode()))
        if pairs:
            self.net.send(self.name, src, SyncResponse(tuple(pairs)))

    def _on_sync_response(self, response: SyncResponse) -> None:
        applied = 0
        for block_bytes, commit_bytes in response.blocks[:SYNC_BLOCKS_MAX]:
            try:
                block, commit = Block.decode(block_bytes), Commit.decode(commit_bytes)
            except DecodeError:
                break
            height = block.header.height
            if height <= self.core.head.height:
                continue
            if height != self.core.head.height + 1:
                break
            problem = verify_commit(
                self.genesis.chain_id, self.genesis.validators, commit, block.hash(), height
            )
            if problem is not None:
                break
            verdict = self._validate(block)
            if isinstance(verdict, Rejection):
                # More than 2/3 signed a block that does not validate: never for honest nodes.
                self.trace.problems.append((self.name, f"committed block {height}: {verdict}"))
                break
            self._apply(block, verdict, commit)
            applied += 1
        if applied:
            self.synced_blocks += applied
            self._ahead = {p: h for p, h in self._ahead.items() if h > self.core.head.height + 1}
            self.feed(StartHeight(self.core.head.height + 1))
            if len(response.blocks) >= SYNC_BLOCKS_MAX:
                self._last_sync_ms = -(10**9)
                self._request_sync()

    # --- clients -------------------------------------------------------------------------

    def submit(self, stx: SignedTransaction) -> Rejection | None:
        assert self.up
        return self.core.submit_decoded(stx, self.local_now_ms())
