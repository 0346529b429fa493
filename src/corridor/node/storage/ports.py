"""The node's storage ports, the checks that define them, and crash recovery over them.

The block store is the write-ahead log of the state. Committing block h is two durable
transactions, in this order:

1. `BlockStore.append(block, commit, results)`: the block, its certificate, its results;
2. `StateStore.apply(h, writes, state_root)`: the block's state writes together with the
   new applied height and root, so a write is never applied twice.

A crash between them leaves the state one block behind the blocks; `recover` replays the
missing blocks at start. The state can never be ahead of the blocks unless the files were
damaged or mixed up, and that is `StorageCorrupt`.

Contract violations by the caller (a block that does not follow, results that do not match)
raise `ValueError`: they are bugs in the node, not bad input (STYLE 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from corridor.ledger import keys
from corridor.ledger.block import Block, BlockHeader, Commit
from corridor.ledger.results import TxResult
from corridor.ledger.rules.v1 import escrow_id_of
from corridor.ledger.state import MemoryState, Overlay, StateView
from corridor.ledger.tx import (
    Clawback,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    OpenAccount,
    Payment,
    SetHolder,
    SignedTransaction,
)

from .errors import StorageCorrupt

UNINITIALISED_ROOT = b""  # `StateStore.state_root()` of a store never initialised
ACCOUNT_TXS_LIMIT_MAX = 1_000  # one page of `BlockStore.account_txs`


class BlockStore(Protocol):
    """Committed blocks, their commit certificates and results, with lookup indexes.

    Height 0 is the genesis header, which the store is opened with: `header(0)` and
    `height_of(genesis hash)` answer for it, `block(0)`, `commit(0)`, `results(0)` are None.
    """

    def height(self) -> int:
        """The last stored block's height; 0 when only genesis."""
        ...

    def append(
        self,
        block: Block,
        commit: Commit,
        results: tuple[TxResult, ...],
        escrow_parties: Sequence[tuple[bytes, ...]] = (),
    ) -> None:
        """Stores the next block durably, in one transaction; ValueError if it does not follow
        (see `append_problems`), and then nothing is written. `escrow_parties`, per
        transaction (`escrow_parties`), are indexed for `account_txs` with `tx_addresses`;
        empty means none."""
        ...

    def block(self, height: int) -> Block | None: ...

    def header(self, height: int) -> BlockHeader | None: ...

    def commit(self, height: int) -> Commit | None:
        """The certificate that committed block `height`."""
        ...

    def results(self, height: int) -> tuple[TxResult, ...] | None: ...

    def height_of(self, block_hash: bytes) -> int | None: ...

    def locate_tx(self, tx_id: bytes) -> tuple[int, int] | None:
        """(height, index in block) of a committed transaction."""
        ...

    def account_txs(
        self, address: bytes, *, before: tuple[int, int] | None, limit: int
    ) -> list[tuple[int, int]]:
        """(height, index) of the transactions touching `address` (`tx_addresses`), newest
        first, strictly older than the cursor `before`; at most `limit` (1..ACCOUNT_TXS_LIMIT_MAX).
        """
        ...

    def close(self) -> None: ...


class StateStore(Protocol):
    """The committed state at one applied height, written atomically per block."""

    def applied_height(self) -> int:
        """The height of the last applied block: 0 for genesis, and for an empty store."""
        ...

    def state_root(self) -> bytes:
        """The root after `applied_height()`; UNINITIALISED_ROOT until `initialise`."""
        ...

    def load(self) -> MemoryState:
        """The whole committed state, freshly built (the caller owns it); empty until
        `initialise`."""
        ...

    def initialise(self, genesis_state: MemoryState, state_root: bytes) -> None:
        """Stores the genesis state as height 0; ValueError unless the store is empty
        (`state_root() == UNINITIALISED_ROOT`)."""
        ...

    def apply(self, height: int, writes: Overlay, state_root: bytes) -> None:
        """Applies one block's writes with its height and root, atomically; ValueError unless
        `height == applied_height() + 1` and the writes are keyed by their records' ids."""
        ...

    def close(self) -> None: ...


def append_problems(
    previous: BlockHeader, block: Block, commit: Commit, results: tuple[TxResult, ...]
) -> list[str]:
    """Everything wrong with appending `block` after `previous` (STYLE 5: all at once).

    Cheap checks only (no re-hashing of transactions): the node validated the block before
    consensus committed it; these catch the node handing the store the wrong things.
    """
    h = block.header
    problems = []
    if h.height != previous.height + 1:
        problems.append(f"block height {h.height} does not follow the stored {previous.height}")
    if h.chain_id != previous.chain_id:
        problems.append(f"block of chain {h.chain_id!r}, the store holds {previous.chain_id!r}")
    if h.previous_hash != previous.hash():
        problems.append(f"block {h.height}'s previous_hash is not the stored block's hash")
    if h.tx_count != len(block.txs):
        problems.append(f"header tx_count {h.tx_count} but the block has {len(block.txs)} txs")
    block_hash = block.hash()
    if commit.block_hash != block_hash:
        problems.append("the commit certificate is for another block hash")
    if commit.height != h.height:
        problems.append(f"the commit certificate is for height {commit.height}, not {h.height}")
    if len(results) != len(block.txs):
        problems.append(f"{len(results)} results for {len(block.txs)} transactions")
    else:
        bad = [
            i
            for i, (r, stx) in enumerate(zip(results, block.txs, strict=True))
            if r.tx_id != stx.tx_id
        ]
        if bad:
            problems.append(f"results {bad[:5]} do not belong to the transactions at that index")
    if len({stx.tx_id for stx in block.txs}) != len(block.txs):
        problems.append("the block repeats a transaction id")
    return problems


def write_problems(writes: Overlay) -> list[str]:
    """Writes keyed by something other than their record's id (a bug in the caller)."""
    problems = []
    if any(acct.address != address for address, acct in writes.accounts.items()):
        problems.append("an account write is keyed by another address")
    if any(info.asset != asset for asset, info in writes.assets.items()):
        problems.append("an asset write is keyed by another asset")
    if any(e is not None and e.escrow_id != eid for eid, e in writes.escrows.items()):
        problems.append("an escrow write is keyed by another escrow id")
    if any(o.offence_id != oid for oid, o in writes.offences.items()):
        problems.append("an offence write is keyed by another offence id")
    return problems


def tx_addresses(stx: SignedTransaction) -> tuple[bytes, ...]:
    """The accounts a transaction touches, as `account_txs` indexes them, each once: the
    source, every operation's source, payment and escrow destinations, the holder an issuer
    acts on, and the account an OpenAccount creates. (An escrow's finish or cancel touches
    its owner and destination too, but those are in the state: `escrow_parties`.)"""
    found = dict.fromkeys((stx.tx.source,))
    for op in stx.tx.operations:
        if op.source is not None:
            found[op.source] = None
        if isinstance(op, Payment | EscrowCreate):
            found[op.destination] = None
        elif isinstance(op, SetHolder | Clawback):
            found[op.holder] = None
        elif isinstance(op, OpenAccount):
            found[keys.address_of(op.public_key)] = None
    return tuple(found)


def escrow_parties(state: StateView, txs: Sequence[SignedTransaction]) -> list[tuple[bytes, ...]]:
    """Per transaction of a block about to be committed over `state`: the owner and the
    destination of every escrow it finishes or cancels, which the transaction itself does not
    name. An escrow is found in `state`, or made by an EscrowCreate earlier in the block."""
    made: dict[bytes, tuple[bytes, bytes]] = {}
    parties: list[tuple[bytes, ...]] = []
    for stx in txs:
        found: dict[bytes, None] = {}
        for index, op in enumerate(stx.tx.operations):
            if isinstance(op, EscrowCreate):
                made[escrow_id_of(stx.tx_id, index)] = (op.source or stx.tx.source, op.destination)
            elif isinstance(op, EscrowFinish | EscrowCancel):
                pair = made.get(op.escrow_id)
                if pair is None:
                    escrow = state.escrow(op.escrow_id)
                    if escrow is None:  # not in a committed block: it would not have applied
                        continue
                    pair = (escrow.owner, escrow.destination)
                found.update(dict.fromkeys(pair))
        parties.append(tuple(found))
    return parties


def block_addresses(
    block: Block, escrow_parties: Sequence[tuple[bytes, ...]]
) -> list[tuple[int, bytes]]:
    """(index in block, address) for `account_txs`: each transaction's `tx_addresses` and its
    `escrow_parties` entry (none when empty), each address once per transaction. ValueError
    when `escrow_parties` is given for another number of transactions (a caller's bug)."""
    if escrow_parties and len(escrow_parties) != len(block.txs):
        raise ValueError(
            f"cannot append: escrow parties for {len(escrow_parties)} of {len(block.txs)} txs"
        )
    rows = []
    for index, stx in enumerate(block.txs):
        extra = escrow_parties[index] if escrow_parties else ()
        for address in dict.fromkeys((*tx_addresses(stx), *extra)):
            rows.append((index, address))
    return rows


def check_page(before: tuple[int, int] | None, limit: int) -> None:
    if not 1 <= limit <= ACCOUNT_TXS_LIMIT_MAX:
        raise ValueError(f"limit must be 1..{ACCOUNT_TXS_LIMIT_MAX}, got {limit}")
    if before is not None and (before[0] < 1 or before[1] < 0):
        raise ValueError(f"cursor {before} is not a (height >= 1, index >= 0) pair")


def recover(
    blocks: BlockStore,
    state: StateStore,
    replay: Callable[[Block], tuple[Overlay, bytes]],
) -> int:
    """Brings the state up to the blocks after a crash; returns how many blocks it replayed.

    `replay` executes a block on the node's in-memory state (which the caller loaded from
    `state` first) and returns the block's writes and the state root after it. Every
    replayed root must equal the stored header's: anything else means the stores disagree.
    """
    where = f"recovery of {state!r} from {blocks!r}"
    applied, top = state.applied_height(), blocks.height()
    if state.state_root() == UNINITIALISED_ROOT:
        raise ValueError("initialise the state store with the genesis state before recovery")
    if applied > top:
        raise StorageCorrupt(
            f"{where}: the state is at height {applied} but the blocks end at {top}: the state is "
            "ahead of its write-ahead log (files restored from different backups?)",
        )
    header = blocks.header(applied)
    if header is None or header.state_root != state.state_root():
        raise StorageCorrupt(
            f"{where}: the stored state root differs from block {applied}'s header state root"
        )
    for height in range(applied + 1, top + 1):
        block = blocks.block(height)
        if block is None:
            raise StorageCorrupt(f"{where}: block {height} is missing below the top {top}")
        writes, root = replay(block)
        if root != block.header.state_root:
            raise StorageCorrupt(
                f"{where}: replaying block {height} gives state root {root.hex()}, its header says "
                f"{block.header.state_root.hex()}",
            )
        state.apply(height, writes, root)
    assert state.applied_height() == blocks.height() == top
    return top - applied
