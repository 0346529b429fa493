"""A simulated node: the node's own consensus shell (`node.shell.ConsensusShell`) and
`NodeCore`, on in-memory stores, virtual time and the seeded network (`sim.network`).

The adapters are all this module adds: the timer is the network's event heap (callbacks of a
crashed life are ignored), the clock is virtual time plus this node's skew, the transport
sends encoded p2p frames (`node.p2p_messages`) that every receiver decodes as untrusted bytes
exactly as the node does (a Byzantine sender can put anything in them: `sim.byzantine`
overrides the transport), the log is `MemoryWal`, blocks are built after the block interval
on virtual time, and the observer writes the `Trace` the checkers read.

What persists across a crash: the block store, the state store (whose last apply a crash may
tear, `SimStateStore.tear`) and the write-ahead log up to its last sync (`MemoryWal.crash`
loses the rest, as a process that dies before its fsync may). Everything else (the shell:
machine, mempool, candidate blocks, buffered messages, timers) is volatile and rebuilt by
`restart`, which re-opens `NodeCore` (its `recover` repairs a torn state store) and starts a
new shell, which replays the log.

Where the real p2p transport differs: gossip frames already delivered to this life are
dropped, as the node's transport does; a peer that sent an undecodable frame is not banned
(its frames are just dropped); every peer counts as connected (partitions drop frames).
"""

from __future__ import annotations

import random
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

from corridor.consensus.evidence import DuplicateVoteEvidence
from corridor.consensus.machine import ConsensusState
from corridor.consensus.messages import Proposal, Vote
from corridor.ledger.errors import DecodeError, Rejection
from corridor.ledger.genesis import Genesis
from corridor.ledger.keys import KeyPair
from corridor.ledger.state import MemoryState, Overlay
from corridor.ledger.statetree import BUCKET_BITS, StateTree
from corridor.ledger.tx import SignedTransaction
from corridor.node import core as core_module
from corridor.node.core import Committed, NodeCore
from corridor.node.limits import (
    GOSSIP_INTERVAL_MS,
    P2P_SEEN_MAX,
    SYNC_PATIENCE_MS,
    SYNC_RETRY_MS,
)
from corridor.node.p2p_messages import GOSSIP_TYPES, P2PMessage, decode_payload, encode_payload
from corridor.node.shell import ConsensusShell, Ports, ShellConfig
from corridor.node.shell_ports import MemoryWal
from corridor.node.storage.memory import MemoryBlockStore, MemoryStateStore
from corridor.sim.network import Network

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
    gossip_interval_ms: int = GOSSIP_INTERVAL_MS  # status; re-send of the height when stuck
    sync_patience_ms: int = SYNC_PATIENCE_MS  # one height behind for this long: sync
    sync_retry_ms: int = SYNC_RETRY_MS  # at most one sync request per this interval
    max_block_txs: int = 200
    time_origin_ms: int = 0  # local time = origin + virtual time + skew


# --- the adapters ----------------------------------------------------------------------------


def encode_frame(msg: P2PMessage) -> bytes:
    """A p2p frame without its length prefix: the type byte and the payload."""
    kind, payload = encode_payload(msg)
    return bytes([kind]) + payload


class SimTransport:
    """The shell's transport over the simulated network: encoded frames to the peers."""

    def __init__(self, node: SimNode) -> None:
        self.node = node

    def broadcast(self, msg: P2PMessage) -> None:
        frame = encode_frame(msg)
        for peer in self.node.peers:
            self.send_frame(peer, frame)

    def send(self, peer: str, msg: P2PMessage) -> None:
        self.send_frame(peer, encode_frame(msg))

    def connected(self) -> tuple[str, ...]:
        return self.node.peers

    def send_frame(self, peer: str, frame: bytes) -> None:
        self.node.net.send(self.node.name, peer, frame)


class SimBuildPolicy:
    """Build on the shell's thread once the block interval since the last commit is over, in
    virtual time, without waiting for transactions (the load generator keeps them coming)."""

    def __init__(self, node: SimNode) -> None:
        self.node = node

    def build_due(self, shell: ConsensusShell, height: int, round_: int) -> None:
        due = shell.last_commit_ms + self.node.params.block_interval_ms - self.node.net.now_ms
        self.node.schedule(max(0, due), lambda: shell.build_now(height, round_))

    def work_arrived(self) -> None:
        pass


class SimObserver:
    """Writes what the shell reports into the run's `Trace`."""

    def __init__(self, node: SimNode) -> None:
        self.node = node

    def signed(self, message: Proposal | Vote) -> None:
        if self.node.honest:
            self.node.trace.sign(message)

    def committed(self, committed: Committed, state_root: bytes) -> None:
        block = committed.block
        self.node.trace.roots[self.node.name][block.header.height] = (block.hash(), state_root)

    def evidence(self, evidence: DuplicateVoteEvidence, refused: str | None) -> None:
        self.node.trace.evidence[self.node.name].append(evidence)

    def refused(self, what: str) -> None:
        pass  # untrusted input: Byzantine nodes send it on purpose

    def problem(self, what: str) -> None:
        self.node.trace.problems.append((self.node.name, what))

    def info(self, what: str) -> None:
        pass


# --- the node --------------------------------------------------------------------------------


class SimNode:
    """One simulated node: persistent stores, and a shell per life; see the module docstring."""

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
        # persistent
        self.blocks = MemoryBlockStore(genesis.header())
        self.states = SimStateStore()
        self.wal = MemoryWal()
        # volatile (set by `restart`)
        self.up = False
        self.epoch = 0
        self.core: NodeCore
        self.shell: ConsensusShell
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self.restarts = 0
        self._synced_before = 0  # blocks synced by earlier lives
        self._gossip_before = 0
        self.stats: Counter[str] = Counter()  # faults a Byzantine node injected, by kind
        trace.roots.setdefault(name, {})
        trace.evidence.setdefault(name, [])
        net.register(name, self.deliver)

    @property
    def machine(self) -> ConsensusState:
        return self.shell.machine

    @property
    def synced_blocks(self) -> int:
        return self._synced_before + (self.shell.synced_blocks if self.up else 0)

    @property
    def gossip_rounds(self) -> int:
        return self._gossip_before + (self.shell.gossip_rounds if self.up else 0)

    # --- the clock and timer ports -------------------------------------------------------

    def local_now_ms(self) -> int:
        return self.params.time_origin_ms + self.net.now_ms + self.skew_ms

    def now_ms(self) -> int:
        return self.local_now_ms()

    def monotonic_ms(self) -> int:
        return self.net.now_ms

    def schedule(self, delay_ms: int, callback: Callable[[], None]) -> None:
        epoch = self.epoch

        def fire() -> None:
            if self.up and self.epoch == epoch:
                callback()

        self.net.schedule(delay_ms, fire)

    # --- life cycle ----------------------------------------------------------------------

    def make_transport(self) -> SimTransport:
        """The transport of a new life (Byzantine nodes return their own)."""
        return SimTransport(self)

    def restart(self) -> int:
        """(Re)start from the stores and the log; returns how many blocks recovery replayed."""
        assert not self.up
        applied_before = self.states.applied_height()
        with _sparse_tree_builds():
            self.core = NodeCore(
                self.genesis, self.blocks, self.states, key=self.key, freeze_gc=False
            )
        replayed = self.states.applied_height() - applied_before
        assert self.core.tree.root == self.core.head.state_root
        self.epoch += 1
        self.up = True
        self._seen = OrderedDict()
        p = self.params
        ports = Ports(
            timer=self,
            clock=self,
            transport=self.make_transport(),
            wal=self.wal,
            builder=SimBuildPolicy(self),
            observer=SimObserver(self),
            rng=self.rng,
        )
        config = ShellConfig(
            max_block_txs=p.max_block_txs,
            gossip_interval_ms=p.gossip_interval_ms,
            sync_patience_ms=p.sync_patience_ms,
            sync_retry_ms=p.sync_retry_ms,
        )
        self.shell = ConsensusShell(self.core, ports, config)
        self.shell.start()
        for peer in self.peers:  # as the p2p transport does on (re)connecting
            if self.up:
                self.shell.on_peer_connected(peer)
        return replayed

    def crash(self, *, torn: bool = False) -> bool:
        """Lose everything volatile and the log's unsynced tail; `torn`: also lose the state
        store's last apply. Returns whether a write was torn."""
        assert self.up
        self.up = False
        self.epoch += 1  # timers and builds of the old life are ignored
        self.restarts += 1
        self._synced_before += self.shell.synced_blocks
        self._gossip_before += self.shell.gossip_rounds
        self.wal.crash()
        del self.core, self.shell
        return torn and self.states.tear()

    # --- receiving -----------------------------------------------------------------------

    def deliver(self, src: str, payload: object) -> None:
        if not self.up:
            return
        assert isinstance(payload, bytes)
        if not payload:
            return
        kind = payload[0]
        if kind in GOSSIP_TYPES:  # the p2p transport's de-duplication
            if payload in self._seen:
                self._seen.move_to_end(payload)
                return
            self._seen[payload] = None
            while len(self._seen) > P2P_SEEN_MAX:
                self._seen.popitem(last=False)
        try:
            msg = decode_payload(kind, payload[1:])
        except (DecodeError, ValueError):
            return
        self.shell.on_message(src, msg)

    # --- clients -------------------------------------------------------------------------

    def submit(self, stx: SignedTransaction) -> Rejection | None:
        assert self.up
        rejection = self.core.submit_decoded(stx, self.local_now_ms())
        if rejection is None:
            self.shell.transactions_arrived()
        return rejection
