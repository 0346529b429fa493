"""The node's synchronous core: committed state, mempool, block building and committing.

Everything here is called from one thread at a time (the runner serialises it); the consensus
machine decides *which* block commits, this module knows *how* to build, check and commit one.
Crash safety comes from the order in `commit_block`: block store first (the write-ahead log),
then state store, then memory; `recover` replays whatever the state store is missing.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from corridor.ledger.block import Block, BlockHeader, Commit, verify_commit
from corridor.ledger.chain import (
    BlockExecution,
    Selection,
    make_block,
    select_txs,
    validate_block,
)
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import DecodeError, RejectCode, Rejection
from corridor.ledger.evidence import DuplicateVoteEvidence, evidence_rejection
from corridor.ledger.genesis import Genesis
from corridor.ledger.invariants import check_transition
from corridor.ledger.keys import KeyPair
from corridor.ledger.limits import BLOCK_BYTES_MAX, BLOCK_EVIDENCE_MAX, EVIDENCE_AGE_MAX
from corridor.ledger.records import Account, Offence
from corridor.ledger.results import TxResult
from corridor.ledger.state import MemoryState, Overlay
from corridor.ledger.statetree import StateTree
from corridor.ledger.tx import SignedTransaction, decode_transaction
from corridor.node.gc_policy import GcPolicy
from corridor.node.limits import BLOCK_TXS_DEFAULT, EVIDENCE_POOL_MAX, REJECTED_REMEMBERED_MAX
from corridor.node.mempool import Mempool
from corridor.node.storage import (
    BlockStore,
    StateStore,
    StorageCorrupt,
    escrow_parties,
    recover,
)


@dataclass(frozen=True, slots=True)
class TxStatus:
    """What the node knows about a transaction id."""

    status: Literal["pending", "committed", "rejected", "unknown"]
    height: int = 0
    index: int = 0
    result: TxResult | None = None
    rejection: Rejection | None = None


@dataclass(frozen=True, slots=True)
class BuildInput:
    ctx: ApplyContext
    candidates: tuple[SignedTransaction, ...]
    verified: frozenset[bytes]
    max_txs: int
    last_commit: Commit | None  # read here: storage belongs to the main thread
    evidence: tuple[DuplicateVoteEvidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Committed:
    """A block that just became final, for event subscribers."""

    block: Block
    commit: Commit
    results: tuple[TxResult, ...]
    dropped: tuple[tuple[bytes, Rejection], ...]  # mempool txs the block made invalid


class NodeCore:
    def __init__(
        self,
        genesis: Genesis,
        blocks: BlockStore,
        states: StateStore,
        *,
        key: KeyPair | None = None,
        debug_invariants: bool = False,
        mempool: Mempool | None = None,
        genesis_header: BlockHeader | None = None,
        genesis_tree: StateTree | None = None,
        freeze_gc: bool = True,
    ) -> None:
        self.genesis = genesis
        self.blocks = blocks
        self.states = states
        self.key = key
        self.debug_invariants = debug_invariants
        self.mempool = mempool or Mempool()
        self._rejected: OrderedDict[bytes, Rejection] = OrderedDict()
        # Double signings to propose, by offence id; dropped once recorded or too old.
        self.evidence_pool: OrderedDict[bytes, DuplicateVoteEvidence] = OrderedDict()
        # Hashing a large genesis state takes seconds: reuse the header the stores were
        # opened with when the caller has it.
        self.genesis_header = genesis_header or genesis.header()
        self.state, self.tree = self._open(genesis_tree)
        # The genesis document and initial state are only needed to initialise an empty store;
        # at 1M accounts they would double the node's memory.
        self.genesis = dataclasses.replace(genesis, state=MemoryState(), document={})
        # Only for a process that hosts one node for its lifetime: the simulator (thousands
        # of short-lived nodes in one process) keeps CPython's policy.
        self.gc_policy = GcPolicy() if freeze_gc else None
        if self.gc_policy is not None:
            self.gc_policy.settle()
        self.head = self._header_at(self.blocks.height())

    # --- start-up ------------------------------------------------------------------------

    def _open(self, genesis_tree: StateTree | None) -> tuple[MemoryState, StateTree]:
        """The committed state and its tree, recovered up to the block store's head.

        A first start writes the genesis state and keeps it (a copy: the genesis may be shared)
        with the tree its header was hashed from, when the caller has it: reading back and
        re-hashing 10^6 accounts just written took a third of a first start. A later start
        loads the store and checks every byte of it against the stored state root.
        """
        fresh = self.states.applied_height() == 0 and self.blocks.height() == 0
        if fresh and self.states.state_root() != self.genesis_header.state_root:
            self.states.initialise(self.genesis.state, self.genesis_header.state_root)
            state = self.genesis.state.copy()
            tree = genesis_tree or StateTree.from_items(state.tree_items())
        else:
            state = self.states.load()
            tree = StateTree.from_items(state.tree_items())

        def replay(block: Block) -> tuple[Overlay, bytes]:
            previous = self._header_at(block.header.height - 1)
            execution = validate_block(state, tree, block, previous, self.genesis.validators)
            if isinstance(execution, Rejection):
                raise StorageCorrupt(
                    f"stored block {block.header.height} does not replay: {execution}"
                )
            state.commit(execution.state)
            tree.update(execution.tree_updates)
            return execution.state, execution.state_root

        recover(self.blocks, self.states, replay)
        if tree.root != self.states.state_root():
            raise StorageCorrupt("the loaded state does not hash to the stored state root")
        head = self._header_at(self.blocks.height())
        if tree.root != head.state_root:
            raise StorageCorrupt(f"state root differs from block {head.height}'s header")
        return state, tree

    def _header_at(self, height: int) -> BlockHeader:
        if height == 0:
            return self.genesis_header
        header = self.blocks.header(height)
        if header is None:
            raise StorageCorrupt(f"block {height} is missing from the block store")
        return header

    # --- transactions ----------------------------------------------------------------------

    def next_context(self, now_ms: int) -> ApplyContext:
        """The context of the next block: block time never goes backwards."""
        return ApplyContext(
            chain_id=self.genesis.chain_id,
            height=self.head.height + 1,
            time_ms=max(now_ms, self.head.time_ms + 1),
        )

    def submit(self, raw: bytes, now_ms: int) -> tuple[bytes | None, Rejection | None]:
        """check_tx: decode, then admit to the mempool. Returns (tx_id, rejection or None)."""
        try:
            stx = decode_transaction(raw)
        except DecodeError as exc:
            return None, exc.rejection()
        return stx.tx_id, self.submit_decoded(stx, now_ms)

    def submit_decoded(
        self, stx: SignedTransaction, now_ms: int, *, signatures_verified: bool = False
    ) -> Rejection | None:
        """Admits a decoded transaction; `signatures_verified` as in `Mempool.add`."""
        rejection = self.mempool.add(
            stx, self.state, self.next_context(now_ms), signatures_verified=signatures_verified
        )
        # A committed transaction always fails on its used sequence; only then is the block
        # store asked, to say so precisely (one SQLite lookup per replay, not per submission).
        if (
            rejection is not None
            and rejection.code is RejectCode.BAD_SEQUENCE
            and self.blocks.locate_tx(stx.tx_id) is not None
        ):
            return Rejection(RejectCode.DUPLICATE, "already committed")
        if rejection is not None and rejection.code.permanent:
            self._remember_rejection(stx.tx_id, rejection)
        return rejection

    def _remember_rejection(self, tx_id: bytes, rejection: Rejection) -> None:
        self._rejected[tx_id] = rejection
        self._rejected.move_to_end(tx_id)
        while len(self._rejected) > REJECTED_REMEMBERED_MAX:
            self._rejected.popitem(last=False)

    def tx_status(self, tx_id: bytes) -> TxStatus:
        where = self.blocks.locate_tx(tx_id)
        if where is not None:
            results = self.blocks.results(where[0])
            result = None if results is None else results[where[1]]
            return TxStatus("committed", where[0], where[1], result)
        if tx_id in self.mempool:
            return TxStatus("pending")
        rejection = self._rejected.get(tx_id)
        if rejection is not None:
            return TxStatus("rejected", rejection=rejection)
        return TxStatus("unknown")

    # --- evidence --------------------------------------------------------------------------

    def add_evidence(self, evidence: DuplicateVoteEvidence) -> Rejection | None:
        """Admits evidence (detected by consensus, or submitted) to the pending pool, checked
        as a block would check it; evidence of the height under way waits for the next."""
        next_height = self.head.height + 1
        at = next_height + 1 if evidence.height == next_height else next_height
        refused = evidence_rejection(
            evidence, self.state, self.genesis.chain_id, at, self.genesis.validators
        )
        if refused is not None:
            return refused
        if evidence.offence_id in self.evidence_pool:
            return Rejection(RejectCode.DUPLICATE, "evidence of this offence is pending")
        if len(self.evidence_pool) >= EVIDENCE_POOL_MAX:
            return Rejection(RejectCode.MEMPOOL_FULL, "the evidence pool is full")
        self.evidence_pool[evidence.offence_id] = evidence
        return None

    def _proposable_evidence(self, height: int) -> tuple[DuplicateVoteEvidence, ...]:
        chosen: list[DuplicateVoteEvidence] = []
        for item in self.evidence_pool.values():
            if len(chosen) >= BLOCK_EVIDENCE_MAX:
                break
            refused = evidence_rejection(
                item, self.state, self.genesis.chain_id, height, self.genesis.validators
            )
            if refused is None:
                chosen.append(item)
        return tuple(chosen)

    def _prune_evidence(self) -> None:
        oldest = self.head.height + 1 - EVIDENCE_AGE_MAX
        for oid, item in list(self.evidence_pool.items()):
            if self.state.offence(oid) is not None or item.height < oldest:
                del self.evidence_pool[oid]

    def offences(self) -> list[Offence]:
        """Every recorded offence, oldest first (by recording height, then evidence hash)."""
        return sorted(
            self.state.offences.values(), key=lambda o: (o.recorded_height, o.evidence_hash)
        )

    # --- blocks ----------------------------------------------------------------------------

    def take_candidates(self, now_ms: int, max_txs: int = BLOCK_TXS_DEFAULT) -> BuildInput:
        """Snapshot what the next block may contain. Runs on the node's main thread."""
        assert self.key is not None, "only a validator builds blocks"
        return BuildInput(
            ctx=self.next_context(now_ms),
            candidates=tuple(self.mempool.reap(max_txs, BLOCK_BYTES_MAX)),
            verified=frozenset(self.mempool.verified_ids()),
            max_txs=max_txs,
            last_commit=self.blocks.commit(self.head.height) if self.head.height else None,
            evidence=self._proposable_evidence(self.head.height + 1),
        )

    def build_block(self, job: BuildInput) -> tuple[Block, BlockExecution, Selection]:
        """The proposer's block. Pure over the committed state, so it may run on a worker
        thread while the main thread admits transactions (commits happen on the main thread
        only, never during a build)."""
        assert self.key is not None
        selection = select_txs(
            self.state,
            self.tree,
            job.candidates,
            job.ctx,
            max_txs=job.max_txs,
            verified=job.verified,
            evidence=job.evidence,
        )
        block = make_block(
            self.head,
            selection.execution,
            time_ms=job.ctx.time_ms,
            validators=self.genesis.validators,
            proposer_key=self.key.public_key,
            last_commit=job.last_commit,
        )
        return block, selection.execution, selection

    def drop_rejected(self, selection: Selection) -> None:
        """Candidates the block could not include are removed and remembered as rejected."""
        for stx, rejection in selection.rejected:
            self._remember_rejection(stx.tx_id, rejection)
        for stx, _ in selection.rejected:
            self.mempool.remove(stx.tx_id)

    def validate_proposal(self, block: Block) -> BlockExecution | Rejection:
        """A proposed block: its carried commit must certify our head, then it re-executes."""
        refused = self.check_last_commit(block)
        if refused is not None:
            return refused
        return validate_block(
            self.state,
            self.tree,
            block,
            self.head,
            self.genesis.validators,
            verified=self.mempool.verified_ids(),
        )

    def check_last_commit(self, block: Block) -> Rejection | None:
        """Block 1 carries no commit; every later block carries our head's certificate."""
        head = self.head
        if head.height == 0:
            if block.last_commit is None:
                return None
            return Rejection(RejectCode.BAD_BLOCK, "block 1 cannot carry a last commit")
        if block.last_commit is None:
            return Rejection(RejectCode.BAD_BLOCK, "the block lacks the previous block's commit")
        return verify_commit(
            self.genesis.chain_id,
            self.genesis.validators,
            block.last_commit,
            head.hash(),
            head.height,
        )

    def commit_block(self, block: Block, execution: BlockExecution, commit: Commit) -> Committed:
        """Makes a decided block durable and current. Order matters for crash safety."""
        assert block.header.height == self.head.height + 1
        assert execution.state_root == block.header.state_root
        if self.debug_invariants:
            problems = check_transition(self.state, execution.state)
            assert not problems, problems
        parties = escrow_parties(self.state, block.txs)
        self.blocks.append(block, commit, execution.results, parties)  # 1. the log
        self.states.apply(block.header.height, execution.state, execution.state_root)  # 2.
        self.state.commit(execution.state)  # 3. memory
        self.tree.update(execution.tree_updates)
        assert self.tree.root == block.header.state_root
        self.head = block.header
        ctx = self.next_context(block.header.time_ms + 1)
        dropped = self.mempool.update(
            [stx.tx_id for stx in block.txs],
            self.state,
            ctx,
            touched_accounts=execution.state.accounts.keys(),
        )
        for stx, rejection in dropped:
            self._remember_rejection(stx.tx_id, rejection)
        self._prune_evidence()
        if self.gc_policy is not None:
            self.gc_policy.after_commit()
        return Committed(block, commit, execution.results, tuple((s.tx_id, r) for s, r in dropped))

    # --- queries ---------------------------------------------------------------------------

    def account(self, address: bytes) -> Account | None:
        return self.state.account(address)

    def header(self, height: int) -> BlockHeader | None:
        if height == 0:
            return self._header_at(0)
        return self.blocks.header(height)
