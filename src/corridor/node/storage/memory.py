"""In-memory implementations of the storage ports: for tests, simulation and dev nodes.

They keep the same contracts as the SQLite store (same validation, same errors) and share
no mutable objects with their callers: records are immutable, dicts are copied.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from corridor.ledger.block import Block, BlockHeader, Commit
from corridor.ledger.results import TxResult
from corridor.ledger.state import MemoryState, Overlay

from .ports import UNINITIALISED_ROOT, append_problems, block_addresses, check_page, write_problems


class MemoryBlockStore:
    """A `BlockStore` in dicts and lists; opened with the genesis header (height 0)."""

    def __init__(self, genesis: BlockHeader) -> None:
        assert genesis.height == 0
        self._genesis = genesis
        self._blocks: list[Block] = []  # height h at index h - 1
        self._commits: list[Commit] = []
        self._results: list[tuple[TxResult, ...]] = []
        self._heights: dict[bytes, int] = {genesis.hash(): 0}
        self._tx_locations: dict[bytes, tuple[int, int]] = {}
        self._account_txs: dict[bytes, list[tuple[int, int]]] = {}  # ascending

    def __repr__(self) -> str:
        return f"MemoryBlockStore(height={self.height()})"

    def height(self) -> int:
        return len(self._blocks)

    def append(
        self,
        block: Block,
        commit: Commit,
        results: tuple[TxResult, ...],
        escrow_parties: Sequence[tuple[bytes, ...]] = (),
    ) -> None:
        previous = self.header(self.height())
        assert previous is not None
        problems = append_problems(previous, block, commit, results)
        problems += [
            f"transaction {stx.tx_id.hex()} is already stored at {self._tx_locations[stx.tx_id]}"
            for stx in block.txs
            if stx.tx_id in self._tx_locations
        ][:5]
        if problems:
            raise ValueError("cannot append: " + "; ".join(problems))
        indexed = block_addresses(block, escrow_parties)  # may refuse: before any write
        height = block.header.height
        self._blocks.append(block)
        self._commits.append(commit)
        self._results.append(tuple(results))
        self._heights[block.hash()] = height
        for index, stx in enumerate(block.txs):
            self._tx_locations[stx.tx_id] = (height, index)
        for index, address in indexed:
            self._account_txs.setdefault(address, []).append((height, index))
        stored = self.block(height)
        assert stored is not None and stored.hash() == commit.block_hash

    def block(self, height: int) -> Block | None:
        return self._blocks[height - 1] if 1 <= height <= len(self._blocks) else None

    def header(self, height: int) -> BlockHeader | None:
        if height == 0:
            return self._genesis
        block = self.block(height)
        return None if block is None else block.header

    def commit(self, height: int) -> Commit | None:
        return self._commits[height - 1] if 1 <= height <= len(self._commits) else None

    def results(self, height: int) -> tuple[TxResult, ...] | None:
        return self._results[height - 1] if 1 <= height <= len(self._results) else None

    def height_of(self, block_hash: bytes) -> int | None:
        return self._heights.get(block_hash)

    def locate_tx(self, tx_id: bytes) -> tuple[int, int] | None:
        return self._tx_locations.get(tx_id)

    def account_txs(
        self, address: bytes, *, before: tuple[int, int] | None, limit: int
    ) -> list[tuple[int, int]]:
        check_page(before, limit)
        entries = self._account_txs.get(address, [])
        end = len(entries) if before is None else bisect.bisect_left(entries, before)
        return entries[max(0, end - limit) : end][::-1]

    def close(self) -> None:
        pass


class MemoryStateStore:
    """A `StateStore` holding a `MemoryState` of its own."""

    def __init__(self) -> None:
        self._state = MemoryState()
        self._height = 0
        self._root = UNINITIALISED_ROOT

    def __repr__(self) -> str:
        return f"MemoryStateStore(applied_height={self._height})"

    def applied_height(self) -> int:
        return self._height

    def state_root(self) -> bytes:
        return self._root

    def load(self) -> MemoryState:
        return self._state.copy()

    def initialise(self, genesis_state: MemoryState, state_root: bytes) -> None:
        if self._root != UNINITIALISED_ROOT:
            raise ValueError(f"the state store is already initialised (height {self._height})")
        assert len(state_root) == 32
        self._state = genesis_state.copy()
        self._root = state_root

    def apply(self, height: int, writes: Overlay, state_root: bytes) -> None:
        problems = write_problems(writes)
        if self._root == UNINITIALISED_ROOT:
            problems.insert(0, "the state store is not initialised")
        elif height != self._height + 1:
            problems.insert(0, f"height {height} does not follow the applied {self._height}")
        if problems:
            raise ValueError("cannot apply: " + "; ".join(problems))
        assert len(state_root) == 32
        self._state.commit(writes)
        self._height, self._root = height, state_root

    def close(self) -> None:
        pass
