"""Node storage: both implementations of the ports, crash recovery, corruption, SIGKILL."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.ledger.block import PRECOMMIT, Block, BlockHeader, Commit, CommitSig, vote_sign_bytes
from corridor.ledger.chain import execute_block, make_block, select_txs
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import Rejection
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.ledger.results import OpResult, TxResult
from corridor.ledger.rules.v1 import escrow_id_of
from corridor.ledger.state import MemoryState, Overlay
from corridor.ledger.statetree import StateTree
from corridor.ledger.tx import EscrowCancel, EscrowCreate, EscrowFinish, OpenAccount, Payment
from corridor.ledger.votes import PREVOTE, Vote
from corridor.node.storage import (
    ACCOUNT_TXS_LIMIT_MAX,
    UNINITIALISED_ROOT,
    BlockStore,
    MemoryBlockStore,
    MemoryStateStore,
    SqliteStore,
    StateStore,
    StorageCorrupt,
    escrow_parties,
    recover,
    tx_addresses,
)
from corridor.node.storage.sqlite_file import SCHEMA_VERSION

from ..ledger.builders import CHAIN, T0, asset, key, make_genesis, tx

REPO = Path(__file__).resolve().parents[2]
USD = asset("USD")
PREIMAGE = b"open sesame"
NOT_AFTER_MS = T0 + 10**12


@dataclasses.dataclass(frozen=True)
class Step:
    """One committed block with everything the node hands to the stores."""

    block: Block
    commit: Commit
    results: tuple[TxResult, ...]
    writes: Overlay
    root: bytes
    escrow_parties: list[tuple[bytes, ...]]

    @property
    def height(self) -> int:
        return self.block.header.height


def certify(block: Block) -> Commit:
    """The commit certificate of the single test validator (deterministic signatures)."""
    return certify_header(block.header)


def certify_header(header: BlockHeader) -> Commit:
    message = vote_sign_bytes(CHAIN, PRECOMMIT, header.height, 0, header.hash())
    signature = CommitSig(key("v1").public_key, key("v1").sign(message))
    return Commit(header.height, 0, header.hash(), (signature,))


class Chain:
    """Builds real consecutive blocks on the test genesis, playing the node's memory.

    Block h: `payments` payments alice → bob, alice opens the account of key "new-h", alice
    locks an escrow for bob, and bob finishes every open escrow: accounts are created and
    updated, escrows created and deleted. Every block depends only on the state it follows,
    so a restarted process continues any stored chain.
    """

    def __init__(self) -> None:
        self.genesis = make_genesis(holders=("alice", "bob"), balances=(("alice", "USD", 10**15),))
        self.state = self.genesis.state
        self.tree = self.genesis.tree()
        self.head = self.genesis.header(self.tree)
        self.genesis_header = self.head

    def adopt(self, state: MemoryState, head: BlockHeader) -> None:
        """Continues from a loaded state (the node's start-up)."""
        self.state, self.tree, self.head = state, StateTree.from_items(state.tree_items()), head
        assert self.tree.root == head.state_root

    def _ctx(self, height: int) -> ApplyContext:
        return ApplyContext(chain_id=CHAIN, height=height, time_ms=T0 + 1000 * height)

    def next(self, payments: int = 3, evidence: tuple[DuplicateVoteEvidence, ...] = ()) -> Step:
        height = self.head.height + 1
        alice = self.state.account(key("alice").address)
        assert alice is not None
        bob = key("bob").address
        seq = alice.sequence
        candidates = [
            tx("alice", seq + 1 + i, Payment(destination=bob, asset=USD, amount=1 + i),
               not_after_ms=NOT_AFTER_MS)
            for i in range(payments)
        ]  # fmt: skip
        seq += payments
        candidates.append(
            tx("alice", seq + 1, OpenAccount(public_key=key(f"new-{height}").public_key),
               EscrowCreate(destination=bob, asset=USD, amount=7,
                            hashlock=hashlib.sha256(PREIMAGE).digest()),
               not_after_ms=NOT_AFTER_MS)
        )  # fmt: skip
        open_escrows = sorted(self.state.escrows)
        if open_escrows:
            bob_seq = self.state.accounts[bob].sequence
            finishes = [EscrowFinish(escrow_id=e, preimage=PREIMAGE) for e in open_escrows]
            candidates.append(tx("bob", bob_seq + 1, *finishes, not_after_ms=NOT_AFTER_MS))
        ctx = self._ctx(height)
        sel = select_txs(self.state, self.tree, candidates, ctx, evidence=evidence)
        assert not sel.rejected, sel.rejected
        block = make_block(
            self.head, sel.execution, time_ms=ctx.time_ms, validators=self.genesis.validators,
            proposer_key=key("v1").public_key,
            last_commit=None if self.head.height == 0 else certify_header(self.head),
        )  # fmt: skip
        return self._commit(block, sel.execution.state, sel.execution.results,
                            sel.execution.tree_updates, sel.execution.state_root)  # fmt: skip

    def replay(self, block: Block) -> tuple[Overlay, bytes]:
        """The `recover` callback: re-executes a stored block on this chain's state."""
        assert block.header.previous_hash == self.head.hash()
        execution = execute_block(self.state, self.tree, block.txs, self._ctx(block.header.height))
        assert not isinstance(execution, Rejection), execution
        self._commit(block, execution.state, execution.results, execution.tree_updates,
                     execution.state_root)  # fmt: skip
        return execution.state, execution.state_root

    def _commit(
        self,
        block: Block,
        writes: Overlay,
        results: tuple[TxResult, ...],
        updates: tuple[tuple[bytes, bytes | None], ...],
        root: bytes,
    ) -> Step:
        parties = escrow_parties(self.state, block.txs)  # as the node: before the commit
        self.state.commit(writes)
        self.tree.update(updates)
        assert self.tree.root == root == block.header.state_root
        self.head = block.header
        return Step(block, certify(block), results, writes, root, parties)


def same_state(a: MemoryState, b: MemoryState) -> bool:
    return a.accounts == b.accounts and a.assets == b.assets and a.escrows == b.escrows


class Stores:
    """One kind of store under test; `reopen` is a restart (a no-op in memory)."""

    def __init__(self, kind: str, path: Path, genesis: BlockHeader) -> None:
        self.kind, self.path, self.genesis = kind, path, genesis
        self.blocks: BlockStore
        self.state: StateStore
        if kind == "memory":
            self.blocks, self.state = MemoryBlockStore(genesis), MemoryStateStore()
        else:
            self.open()

    def open(self) -> None:
        store = SqliteStore(self.path, genesis=self.genesis)
        self.blocks = self.state = store

    def reopen(self) -> None:
        if self.kind == "sqlite":
            self.close()
            self.open()

    def close(self) -> None:
        self.blocks.close()
        self.state.close()


@pytest.fixture
def chain() -> Chain:
    return Chain()


@pytest.fixture(params=["memory", "sqlite"])
def stores(request: pytest.FixtureRequest, tmp_path: Path, chain: Chain) -> Iterator[Stores]:
    s = Stores(request.param, tmp_path / "chain.db", chain.genesis_header)
    yield s
    s.close()


def commit_steps(stores: Stores, chain: Chain, n: int, *, apply: bool = True) -> list[Step]:
    if stores.state.state_root() == UNINITIALISED_ROOT:
        stores.state.initialise(chain.genesis.state, chain.genesis_header.state_root)
    steps = []
    for _ in range(n):
        step = chain.next()
        stores.blocks.append(step.block, step.commit, step.results, step.escrow_parties)
        if apply:
            stores.state.apply(step.height, step.writes, step.root)
        steps.append(step)
    return steps


# --- block store ----------------------------------------------------------------------------


def test_append_and_read_back(stores: Stores, chain: Chain) -> None:
    steps = commit_steps(stores, chain, 3)
    for reopened in (False, True):
        if reopened:
            stores.reopen()
        b = stores.blocks
        assert b.height() == 3
        assert b.header(0) == chain.genesis_header and b.height_of(chain.genesis_header.hash()) == 0
        assert b.block(0) is None and b.commit(0) is None and b.results(0) is None
        for s in steps:
            assert b.block(s.height) == s.block
            assert b.header(s.height) == s.block.header
            assert b.commit(s.height) == s.commit
            assert b.results(s.height) == s.results
            assert b.height_of(s.block.hash()) == s.height
            for i, stx in enumerate(s.block.txs):
                assert b.locate_tx(stx.tx_id) == (s.height, i)
        for missing in (4, 99):
            assert b.block(missing) is None and b.header(missing) is None
            assert b.commit(missing) is None and b.results(missing) is None
        assert b.height_of(b"\x00" * 32) is None and b.locate_tx(b"\x01" * 32) is None


def test_account_txs_pages_newest_first(stores: Stores, chain: Chain) -> None:
    steps = commit_steps(stores, chain, 4)
    index: dict[bytes, list[tuple[int, int]]] = {}
    for s in steps:
        for i, stx in enumerate(s.block.txs):
            for address in dict.fromkeys((*tx_addresses(stx), *s.escrow_parties[i])):
                index.setdefault(address, []).append((s.height, i))
    new_2 = key("new-2").address
    assert index[new_2] == [(2, 3)]  # OpenAccount indexes the account it creates
    assert len(index[key("bob").address]) > 10  # destinations and the escrow finisher
    for address, expected in index.items():
        want = expected[::-1]
        for limit in (1, 3, ACCOUNT_TXS_LIMIT_MAX):
            got: list[tuple[int, int]] = []
            before = None
            while True:
                page = stores.blocks.account_txs(address, before=before, limit=limit)
                assert len(page) <= limit
                if not page:
                    break
                got += page
                before = page[-1]
            assert got == want
    assert stores.blocks.account_txs(key("nobody").address, before=None, limit=5) == []
    assert stores.blocks.account_txs(key("bob").address, before=(1, 0), limit=5) == []
    for bad in (0, ACCOUNT_TXS_LIMIT_MAX + 1):
        with pytest.raises(ValueError, match="limit"):
            stores.blocks.account_txs(new_2, before=None, limit=bad)


def test_escrow_finish_is_indexed_for_the_escrow_owner(stores: Stores, chain: Chain) -> None:
    """Bob's finish of alice's escrow names neither alice nor the escrow's parties; the
    index still lists it for alice (the owner) as well as bob."""
    steps = commit_steps(stores, chain, 3)
    alice, bob = key("alice").address, key("bob").address
    for s in steps[1:]:
        finish = len(s.block.txs) - 1
        assert isinstance(s.block.txs[finish].tx.operations[0], EscrowFinish)
        assert alice not in tx_addresses(s.block.txs[finish])
        assert s.escrow_parties[finish] == (alice, bob)
        for address in (alice, bob):
            page = stores.blocks.account_txs(address, before=None, limit=ACCOUNT_TXS_LIMIT_MAX)
            assert (s.height, finish) in page
    stores.reopen()
    page = stores.blocks.account_txs(alice, before=None, limit=ACCOUNT_TXS_LIMIT_MAX)
    assert (3, len(steps[2].block.txs) - 1) in page


def test_escrow_parties_of_an_escrow_made_in_the_same_block() -> None:
    lock = EscrowCreate(destination=key("bob").address, asset=USD, amount=5, cancel_after_ms=T0)
    create = tx("alice", 1, Payment(destination=key("carol").address, asset=USD, amount=1), lock)
    made = escrow_id_of(create.tx_id, 1)
    cancel = tx("alice", 2, EscrowCancel(escrow_id=made))
    unknown = tx("bob", 1, EscrowFinish(escrow_id=b"\x07" * 32, preimage=PREIMAGE))
    parties = escrow_parties(MemoryState(), [create, cancel, unknown])
    assert parties == [(), (key("alice").address, key("bob").address), ()]


def test_bad_appends_raise_and_change_nothing(stores: Stores, chain: Chain) -> None:
    (first,) = commit_steps(stores, chain, 1)
    good = chain.next()
    b = good.block
    other = dataclasses.replace(
        b, header=dataclasses.replace(b.header, time_ms=b.header.time_ms + 1)
    )
    wrong_result = TxResult(b"\x09" * 32, (OpResult(),))
    bad_cases = {
        "height": (dataclasses.replace(b, header=dataclasses.replace(b.header, height=3)),
                   good.commit, good.results),
        "previous_hash": (first.block, first.commit, first.results),
        "commit certificate is for another block": (b, certify(first.block), good.results),
        "commit certificate is for height": (b, dataclasses.replace(good.commit, height=3),
                                             good.results),
        "another block hash": (other, good.commit, good.results),
        "results for": (b, good.commit, good.results[:-1]),
        "do not belong": (b, good.commit, (wrong_result, *good.results[1:])),
        "tx_count": (dataclasses.replace(b, txs=b.txs[:-1]), good.commit, good.results[:-1]),
    }  # fmt: skip
    for expected, (block, commit, results) in bad_cases.items():
        with pytest.raises(ValueError, match=expected):
            stores.blocks.append(block, commit, results)
    # A repeated transaction passes the cheap checks and is caught by the tx index.
    repeat = dataclasses.replace(
        b,
        txs=(*b.txs, first.block.txs[0]),
        header=dataclasses.replace(b.header, tx_count=len(b.txs) + 1),
    )
    with pytest.raises(ValueError, match=r"already stored|UNIQUE"):
        stores.blocks.append(repeat, certify(repeat), (*good.results, first.results[0]))
    # Several problems are reported at once (STYLE 5).
    with pytest.raises(ValueError, match=r"1 does not follow.*previous_hash.*0 results for"):
        stores.blocks.append(first.block, first.commit, ())
    with pytest.raises(ValueError, match="escrow parties for 1 of"):
        stores.blocks.append(good.block, good.commit, good.results, [()])
    stores.reopen()
    assert stores.blocks.height() == 1 and stores.blocks.block(2) is None
    assert stores.blocks.locate_tx(b.txs[0].tx_id) is None
    assert stores.blocks.account_txs(key("new-2").address, before=None, limit=5) == []
    stores.blocks.append(good.block, good.commit, good.results)
    assert stores.blocks.height() == 2 and stores.blocks.block(2) == good.block


# --- state store ----------------------------------------------------------------------------


def test_state_apply_and_load_equal_memory_commit(stores: Stores, chain: Chain) -> None:
    assert stores.state.state_root() == UNINITIALISED_ROOT and stores.state.applied_height() == 0
    genesis_copy = make_genesis(holders=("alice", "bob"), balances=(("alice", "USD", 10**15),))
    reference = genesis_copy.state
    steps = commit_steps(stores, chain, 5)
    for s in steps:
        reference.commit(s.writes)
    assert any(e is None for s in steps for e in s.writes.escrows.values())  # deletions seen
    stores.reopen()
    assert stores.state.applied_height() == 5 and stores.state.state_root() == steps[-1].root
    loaded = stores.state.load()
    assert same_state(loaded, reference) and len(loaded.escrows) == 1
    assert StateTree.from_items(loaded.tree_items()).root == steps[-1].root
    loaded.accounts.clear()  # the caller owns what load returns
    assert same_state(stores.state.load(), reference)
    with pytest.raises(ValueError, match="already initialised"):
        stores.state.initialise(chain.genesis.state, chain.genesis_header.state_root)
    with pytest.raises(ValueError, match="does not follow"):
        stores.state.apply(5, steps[-1].writes, steps[-1].root)
    with pytest.raises(ValueError, match="does not follow"):
        stores.state.apply(7, steps[-1].writes, steps[-1].root)
    mixed = Overlay(reference)
    mixed.accounts[key("bob").address] = reference.accounts[key("alice").address]
    with pytest.raises(ValueError, match="keyed by another address"):
        stores.state.apply(6, mixed, steps[-1].root)
    assert stores.state.applied_height() == 5 and same_state(stores.state.load(), reference)


def test_recorded_offences_persist_and_hash_to_the_root(stores: Stores, chain: Chain) -> None:
    commit_steps(stores, chain, 1)
    votes = [
        Vote.signed(CHAIN, key("v1"), vote_type=PREVOTE, height=1, round_=0, block_hash=h)
        for h in (b"\x01" * 32, b"\x02" * 32)
    ]
    evidence = DuplicateVoteEvidence.of(*votes)
    step = chain.next(evidence=(evidence,))
    assert step.block.evidence == (evidence,)
    stores.blocks.append(step.block, step.commit, step.results)
    stores.state.apply(step.height, step.writes, step.root)
    stores.reopen()
    assert stores.blocks.block(step.height) == step.block
    loaded = stores.state.load()
    assert loaded.offence(evidence.offence_id) == evidence.offence(step.height)
    assert StateTree.from_items(loaded.tree_items()).root == step.root


def test_sqlite_refuses_to_apply_a_block_it_has_not_logged(tmp_path: Path, chain: Chain) -> None:
    stores = Stores("sqlite", tmp_path / "chain.db", chain.genesis_header)
    try:
        commit_steps(stores, chain, 1)
        step = chain.next()
        with pytest.raises(ValueError, match="append it first"):
            stores.state.apply(2, step.writes, step.root)
        stores.blocks.append(step.block, step.commit, step.results)
        with pytest.raises(ValueError, match="state root differs"):
            stores.state.apply(2, step.writes, b"\x05" * 32)
        stores.state.apply(2, step.writes, step.root)
    finally:
        stores.close()


# --- recovery -------------------------------------------------------------------------------


def restarted_chain(stores: Stores) -> Chain:
    """The node's start-up: a fresh process loads the state at its applied height."""
    fresh = Chain()
    head = stores.blocks.header(stores.state.applied_height())
    assert head is not None
    fresh.adopt(stores.state.load(), head)
    return fresh


def test_recover_replays_exactly_the_missing_blocks(stores: Stores, chain: Chain) -> None:
    commit_steps(stores, chain, 2)
    lost = commit_steps(stores, chain, 3, apply=False)  # crashed after (1), before (2), x3
    stores.reopen()
    assert stores.state.applied_height() == 2 and stores.blocks.height() == 5
    node = restarted_chain(stores)
    replayed: list[int] = []

    def replay(block: Block) -> tuple[Overlay, bytes]:
        replayed.append(block.header.height)
        return node.replay(block)

    assert recover(stores.blocks, stores.state, replay) == 3
    assert replayed == [3, 4, 5]
    assert stores.state.applied_height() == 5 and stores.state.state_root() == lost[-1].root
    assert same_state(stores.state.load(), chain.state)
    assert recover(stores.blocks, stores.state, replay) == 0 and replayed == [3, 4, 5]


def test_recover_rejects_a_replay_with_another_root(stores: Stores, chain: Chain) -> None:
    commit_steps(stores, chain, 1, apply=False)
    node = restarted_chain(stores)

    def lying_replay(block: Block) -> tuple[Overlay, bytes]:
        return node.replay(block)[0], b"\x07" * 32

    with pytest.raises(StorageCorrupt, match="replaying block 1 gives state root"):
        recover(stores.blocks, stores.state, lying_replay)
    assert stores.state.applied_height() == 0


def test_recover_with_the_state_ahead_of_the_blocks_is_corrupt(
    tmp_path: Path, chain: Chain, request: pytest.FixtureRequest
) -> None:
    """Blocks from an older backup than the state: never silently continue."""
    ahead = Stores("sqlite", tmp_path / "ahead.db", chain.genesis_header)
    request.addfinalizer(ahead.close)
    steps = commit_steps(ahead, chain, 3)
    behind_mem = MemoryBlockStore(chain.genesis_header)
    behind_mem.append(steps[0].block, steps[0].commit, steps[0].results)
    state_mem = MemoryStateStore()
    state_mem.initialise(chain.genesis.state, chain.genesis_header.state_root)
    for s in steps:
        state_mem.apply(s.height, s.writes, s.root)
    ahead.close()
    old_backup = tmp_path / "backup.db"
    old_backup.write_bytes((tmp_path / "ahead.db").read_bytes())
    ahead.open()
    behind = Stores("sqlite", old_backup, chain.genesis_header)
    request.addfinalizer(behind.close)
    # Roll the backup's blocks back to height 1 with raw SQL: an older copy of the log.
    raw = sqlite3.connect(old_backup)
    raw.execute("DELETE FROM blocks WHERE height > 1")
    raw.commit()
    raw.close()
    behind.reopen()
    for blocks, state in ((behind_mem, state_mem), (behind.blocks, ahead.state)):
        with pytest.raises(StorageCorrupt, match="state is at height 3 but the blocks end at 1"):
            recover(blocks, state, Chain().replay)


def test_recover_needs_an_initialised_state(stores: Stores, chain: Chain) -> None:
    with pytest.raises(ValueError, match="initialise"):
        recover(stores.blocks, stores.state, chain.replay)


# --- SQLite files ---------------------------------------------------------------------------


def test_sqlite_flipped_byte_in_a_block_is_corrupt_on_read(tmp_path: Path, chain: Chain) -> None:
    path = tmp_path / "chain.db"
    stores = Stores("sqlite", path, chain.genesis_header)
    steps = commit_steps(stores, chain, 3)
    stores.close()  # checkpoints the WAL into the file
    needle = steps[1].block.txs[0].signatures[0].signature  # only in block 2's blob
    data = bytearray(path.read_bytes())
    at = data.find(needle)
    assert at > 0 and data.find(needle, at + 1) < 0
    data[at + 10] ^= 0x01
    path.write_bytes(bytes(data))
    store = SqliteStore(path, genesis=chain.genesis_header)  # the pages are sound: opens
    try:
        assert store.block(1) == steps[0].block and store.header(2) == steps[1].block.header
        with pytest.raises(StorageCorrupt, match=r"chain\.db: the block of block 2 fails its sha"):
            store.block(2)
        assert store.results(2) == steps[1].results  # other columns keep their own checksums
        with pytest.raises(StorageCorrupt, match="block of block 2"):
            recover_from_scratch(store, Chain())
    finally:
        store.close()


def recover_from_scratch(store: SqliteStore, node: Chain) -> None:
    """A node whose state store was lost replays every block from genesis."""
    fresh = MemoryStateStore()
    fresh.initialise(node.genesis.state, node.genesis_header.state_root)
    recover(store, fresh, node.replay)


@pytest.mark.parametrize(
    "damage",
    ["garbage", "empty", "truncated-header", "truncated-half", "zeroed-page"],
)
def test_sqlite_damaged_file_is_corrupt_at_open(tmp_path: Path, chain: Chain, damage: str) -> None:
    path = tmp_path / "chain.db"
    stores = Stores("sqlite", path, chain.genesis_header)
    commit_steps(stores, chain, 6)
    stores.close()
    data = path.read_bytes()
    if damage == "garbage":
        data = random.Random(1).randbytes(len(data))
    elif damage == "empty":
        data = b""
    elif damage == "truncated-header":
        data = data[:60]
    elif damage == "truncated-half":
        data = data[: len(data) // 2]
    else:
        page = 4096
        data = data[: 2 * page] + bytes(page) + data[3 * page :]
    path.write_bytes(data)
    with pytest.raises(StorageCorrupt, match=r"chain\.db"):
        SqliteStore(path, genesis=chain.genesis_header)


def test_sqlite_refuses_another_chain_genesis_or_schema(tmp_path: Path, chain: Chain) -> None:
    path = tmp_path / "chain.db"
    SqliteStore(path, genesis=chain.genesis_header).close()
    other_chain = dataclasses.replace(chain.genesis_header, chain_id="corridor-other")
    with pytest.raises(
        StorageCorrupt, match="belongs to chain 'corridor-test', not 'corridor-other'"
    ):
        SqliteStore(path, genesis=other_chain)
    other_genesis = dataclasses.replace(chain.genesis_header, time_ms=T0 + 1)
    with pytest.raises(StorageCorrupt, match="another genesis"):
        SqliteStore(path, genesis=other_genesis)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(
        StorageCorrupt, match=f"schema version 99; this node reads version {SCHEMA_VERSION}"
    ):
        SqliteStore(path, genesis=chain.genesis_header)
    foreign = tmp_path / "foreign.db"
    raw = sqlite3.connect(foreign)
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    with pytest.raises(StorageCorrupt, match="not a Corridor chain database"):
        SqliteStore(foreign, genesis=chain.genesis_header)


@pytest.mark.parametrize(("bad", "expected"), [("garbage", "does not decode"),
                                              ("alice's", "holds another record")])  # fmt: skip
def test_sqlite_bad_state_row_is_corrupt_on_load(
    tmp_path: Path, chain: Chain, bad: str, expected: str
) -> None:
    path = tmp_path / "chain.db"
    stores = Stores("sqlite", path, chain.genesis_header)
    commit_steps(stores, chain, 1)
    stores.close()
    bob = key("bob").address
    record = b"\x00" if bad == "garbage" else chain.state.accounts[key("alice").address].encode()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE accounts SET record = ? WHERE address = ?", (record, bob))
    raw.commit()
    raw.close()
    store = SqliteStore(path, genesis=chain.genesis_header)
    try:
        with pytest.raises(
            StorageCorrupt, match=f"chain.db: the accounts row {bob.hex()} {expected}"
        ):
            store.load()
    finally:
        store.close()


def test_sqlite_leftover_of_an_interrupted_creation_is_removed(
    tmp_path: Path, chain: Chain
) -> None:
    (tmp_path / "chain.db.creating").write_bytes(b"half made")
    store = SqliteStore(tmp_path / "chain.db", genesis=chain.genesis_header)
    store.close()
    assert not (tmp_path / "chain.db.creating").exists()


# --- a real crash: SIGKILL at random moments ------------------------------------------------

_CHILD = (
    "import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/src']; "
    "from tests.node.test_storage import crash_child; crash_child(sys.argv[2], int(sys.argv[3]))"
)
CHILD_BLOCKS_MAX = 100_000


def crash_child(path: str, kill_after_append: int) -> None:
    """The child: opens, recovers, then commits blocks until killed, printing each height
    once `append` has returned (durable). Kills itself between (1) and (2) at
    `kill_after_append` if that is positive."""
    node = Chain()
    store = SqliteStore(path, genesis=node.genesis_header)
    if store.state_root() == UNINITIALISED_ROOT:
        store.initialise(node.genesis.state, node.genesis_header.state_root)
    head = store.header(store.applied_height())
    assert head is not None
    node.adopt(store.load(), head)
    recover(store, store, node.replay)
    for _ in range(CHILD_BLOCKS_MAX):
        step = node.next(payments=20)
        store.append(step.block, step.commit, step.results)
        print(step.height, flush=True)
        if step.height == kill_after_append:
            os.kill(os.getpid(), signal.SIGKILL)
        store.apply(step.height, step.writes, step.root)


def check_after_crash(path: Path, reported: list[int]) -> int:
    """Reopens as a restarted node would and checks everything; returns the height."""
    node = Chain()
    store = SqliteStore(path, genesis=node.genesis_header)
    try:
        top = store.height()
        assert top >= max(reported, default=0), "a block reported durable was lost"
        assert store.applied_height() in (top, top - 1)  # at most one block behind
        head = store.header(store.applied_height())
        assert head is not None
        node.adopt(store.load(), head)
        recover(store, store, node.replay)
        assert store.applied_height() == top
        previous = node.genesis_header
        replay = Chain()  # from genesis, block by block
        for height in range(1, top + 1):
            block = store.block(height)
            assert block is not None and block.header.previous_hash == previous.hash()
            replay.replay(block)
            previous = block.header
        assert same_state(store.load(), replay.state)
        assert store.state_root() == replay.tree.root == previous.state_root
        return top
    finally:
        store.close()


@pytest.mark.parametrize("kills", [3])
def test_sigkill_never_loses_or_doubles_a_block(tmp_path: Path, kills: int) -> None:
    """Run 0 kills itself between (1) and (2); then `kills` runs are killed at a random moment
    after their first durable append (so every run makes progress however slow the machine)."""
    rng = random.Random(20260101 + kills)
    path = tmp_path / "chain.db"
    height = 0
    for run in range(kills + 1):
        self_kill = height + 2 if run == 0 else 0
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(REPO), str(path), str(self_kill)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        assert child.stdout is not None
        first = child.stdout.readline()  # b"" if the child died first
        if run > 0 and first:
            time.sleep(rng.uniform(0.0, 0.5))
            child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL, err.decode()
        reported = [int(line) for line in (first + out).decode().split()]
        assert reported and reported == list(range(height + 1, height + 1 + len(reported)))
        new_height = check_after_crash(path, reported)
        assert new_height >= reported[-1] >= height + 1
        height = new_height
