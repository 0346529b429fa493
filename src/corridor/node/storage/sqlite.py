"""The on-disk store: blocks (the write-ahead log) and the state in one SQLite file.

One class implements both ports over one connection and one file (`chain.db`), with a
separate transaction for each step of a commit (see `ports`). One file, not two: both steps
go through one SQLite WAL, whose order is the commit order, and one `meta` table says whose
chain it is. Durability:

- a block append commits with synchronous=FULL: the WAL is fsynced before `append` returns,
  so a committed block survives power loss;
- a state apply commits with synchronous=NORMAL (no fsync of its own). On power loss it may
  be lost, but only together with everything after it in the WAL, and the block it came
  from was fsynced before it was written: the state is then behind, never ahead, and
  `recover` replays. Each transaction is all-or-nothing (WAL frames carry checksums).
- `kill -9` loses neither, whatever the mode: the OS already holds the written pages.

Every blob carries a sha256 checksum verified on every read (SQLite has no page checksums),
and is decoded and checked against its row after reading (STYLE 6). The file is marked with
an application id and a `meta` table (schema version, chain id, genesis hash): anything else
is `StorageCorrupt`, never a bare `sqlite3.DatabaseError`.

At open, `PRAGMA quick_check` runs when the file is below QUICK_CHECK_BYTES_MAX: it reads
every page (measured ~1.3 s for 154 MiB here, ~0.5 s at the 64 MiB limit), and a chain grows
by gigabytes, so beyond that size it is skipped; damage then surfaces as StorageCorrupt when
the damaged page is read (SQLite's own checks, our checksums).

Checkpoints (copying the WAL's pages into the database file) run off the commit path: the
store's connection never checkpoints (wal_autocheckpoint off; SQLite's automatic checkpoint
ran inside the commit that crossed 1,000 pages, about half of an apply's time at 1M
accounts). After a commit that leaves the WAL past WAL_CHECKPOINT_PAGES, a background
thread runs a PASSIVE checkpoint on its own connection: it copies what it can without waiting
for or blocking anyone, while the owner goes on committing. If the WAL still grows past
WAL_RESTART_PAGES (readers holding old snapshots, or commits arriving faster than the
checkpoints finish), that thread runs a RESTART checkpoint, which makes the next commit wait
for it, so the WAL stays bounded. `close` runs a TRUNCATE checkpoint. A checkpoint is
SQLite's own crash-safe copy (a crash during one leaves the WAL authoritative), whichever
connection runs it: the durability above is unchanged.

One thread owns a store (sqlite3's default check_same_thread). Readers on other threads
should open their own connections (WAL lets them read while the owner writes).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from corridor.ledger.assets import Asset
from corridor.ledger.block import Block, BlockHeader, Commit
from corridor.ledger.codec import Reader, Writer, decode_all
from corridor.ledger.errors import DecodeError
from corridor.ledger.records import (
    Account,
    AssetCache,
    AssetInfo,
    Escrow,
    Offence,
    asset_sort_key,
)
from corridor.ledger.results import TxResult
from corridor.ledger.state import MemoryState, Overlay
from corridor.node.gc_policy import gc_paused

from .errors import StorageCorrupt
from .ports import (
    UNINITIALISED_ROOT,
    append_problems,
    block_addresses,
    check_page,
    write_problems,
)
from .sqlite_file import (
    APPLICATION_ID,
    COMMIT_WAIT_S,
    CORRUPTION_CODES,
    PAGE_CACHE_KIB,
    QUICK_CHECK_BYTES_MAX,
    SCHEMA_VERSION,
    WAL_CHECKPOINT_PAGES,
    WAL_FRAME_HEADER_BYTES,
    WAL_HEADER_BYTES,
    Checkpointer,
    create,
    uri,
)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in CORRUPTION_CODES


def _guarded(
    method: Callable[Concatenate[SqliteStore, P], R],
) -> Callable[Concatenate[SqliteStore, P], R]:
    """SQLite's own corruption errors become StorageCorrupt naming the file. Other errors
    (disk full, I/O error, locked) are not corruption and propagate as they are."""

    @wraps(method)
    def guarded(self: SqliteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise
            name = getattr(exc, "sqlite_errorname", "?")
            raise StorageCorrupt(f"{self.path}: SQLite reports {name}: {exc}") from exc

    return guarded


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _encode_results(results: tuple[TxResult, ...]) -> bytes:
    w = Writer().u32(len(results))
    for r in results:
        raw = r.encode()
        w.u32(len(raw)).raw(raw)
    return w.getvalue()


def _decode_results(data: bytes) -> tuple[TxResult, ...]:
    def read(r: Reader) -> tuple[TxResult, ...]:
        return tuple(TxResult.decode(r.fixed(r.u32())) for _ in range(r.u32()))

    return decode_all(data, read)


class SqliteStore:
    """`BlockStore` and `StateStore` over one SQLite file; creates it if it does not exist.

    `genesis` is the header of height 0: a file made for another chain id or genesis is
    refused with StorageCorrupt.
    """

    # corridor.bench.storage_bench sets NORMAL on an instance to measure what FULL costs.
    _append_synchronous = "FULL"

    def __init__(self, path: str | os.PathLike[str], *, genesis: BlockHeader) -> None:
        assert genesis.height == 0
        self.path = Path(path)
        self._genesis = genesis
        if not self.path.exists():
            create(self.path, genesis)
        self._db = sqlite3.connect(
            uri(self.path, "rw"), uri=True, isolation_level=None, timeout=COMMIT_WAIT_S
        )
        self._synchronous = ""
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise
        self._wal_path = self.path.with_name(self.path.name + "-wal")
        self._checkpointer: Checkpointer | None = Checkpointer(self.path)

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _corrupt(self, problem: str) -> StorageCorrupt:
        return StorageCorrupt(f"{self.path}: {problem}")

    @_guarded
    def _open(self) -> None:
        application_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        if application_id != APPLICATION_ID:
            raise self._corrupt(
                f"not a Corridor chain database (application id {application_id:#x}): "
                "an empty or truncated file, or another program's"
            )
        if self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise self._corrupt("cannot switch the database to WAL journal mode")
        self._db.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
        self._db.execute("PRAGMA wal_autocheckpoint = 0")  # see Checkpointer
        page_bytes = self._db.execute("PRAGMA page_size").fetchone()[0]
        # The WAL file is cut back to this size at the first commit after a checkpoint let it
        # restart, so its size shows the pages written since (see _transaction).
        self._wal_limit_bytes = WAL_HEADER_BYTES + WAL_CHECKPOINT_PAGES * (
            WAL_FRAME_HEADER_BYTES + page_bytes
        )
        self._db.execute(f"PRAGMA journal_size_limit = {self._wal_limit_bytes}")
        if self.path.stat().st_size < QUICK_CHECK_BYTES_MAX:
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise self._corrupt("SQLite quick_check failed: " + "; ".join(problems[:5]))
        meta = self._read_meta()
        self._check_meta(meta)
        top = self._db.execute("SELECT MAX(height), MIN(height) FROM blocks").fetchone()
        if top[0] is not None and top[1] != 1:
            raise self._corrupt(f"the blocks start at height {top[1]}, not 1")
        self._height: int = top[0] or 0
        header = self.header(self._height)
        assert header is not None
        self._top: BlockHeader = header
        self._applied: int = meta.get("applied_height", 0)
        self._root: bytes = meta.get("state_root", UNINITIALISED_ROOT)

    def _read_meta(self) -> dict[str, Any]:
        try:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError as exc:
            raise self._corrupt(f"no readable meta table ({exc})") from exc

    def _check_meta(self, meta: dict[str, Any]) -> None:
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise self._corrupt(
                f"schema version {meta.get('schema_version')!r}; this node reads "
                f"version {SCHEMA_VERSION}"
            )
        if meta.get("chain_id") != self._genesis.chain_id:
            raise self._corrupt(
                f"the database belongs to chain {meta.get('chain_id')!r}, "
                f"not {self._genesis.chain_id!r}"
            )
        if meta.get("genesis_hash") != self._genesis.hash():
            raise self._corrupt(
                f"the database was made from another genesis of chain {self._genesis.chain_id!r}"
            )
        applied, root = meta.get("applied_height", 0), meta.get("state_root", UNINITIALISED_ROOT)
        if not isinstance(applied, int) or applied < 0 or (applied > 0 and not root):
            raise self._corrupt(f"meta holds an impossible applied height {applied!r}")
        if not isinstance(root, bytes) or len(root) not in (0, 32):
            raise self._corrupt("meta holds a state root that is not 32 bytes")

    @contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[None]:
        checkpointer = self._checkpointer
        assert checkpointer is not None, f"{self!r} is closed"
        if checkpointer.error is not None:  # before writing: the WAL would grow unchecked
            raise checkpointer.error
        level = self._append_synchronous if durable else "NORMAL"
        if level != self._synchronous:
            self._db.execute(f"PRAGMA synchronous = {level}")
            self._synchronous = level
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        # One stat() per commit: is the WAL past its limit?
        try:
            wal_bytes = os.stat(self._wal_path).st_size
        except FileNotFoundError:  # another connection's close removed it
            return
        if wal_bytes > self._wal_limit_bytes:
            checkpointer.poke()

    # --- BlockStore ---------------------------------------------------------------------

    def height(self) -> int:
        return self._height

    @_guarded
    def append(
        self,
        block: Block,
        commit: Commit,
        results: tuple[TxResult, ...],
        escrow_parties: Sequence[tuple[bytes, ...]] = (),
    ) -> None:
        problems = append_problems(self._top, block, commit, results)
        if problems:
            raise ValueError("cannot append: " + "; ".join(problems))
        height = block.header.height
        header_blob, block_blob = block.header.encode(), block.encode()
        commit_blob, results_blob = commit.encode(), _encode_results(results)
        tx_rows = [(stx.tx_id, height, i) for i, stx in enumerate(block.txs)]
        account_rows = [
            (address, height, i) for i, address in block_addresses(block, escrow_parties)
        ]
        try:
            with self._transaction(durable=True):
                self._db.execute(
                    "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        height, block.hash(),
                        _sha256(header_blob), _sha256(commit_blob),
                        _sha256(results_blob), _sha256(block_blob),
                        header_blob, commit_blob, results_blob, block_blob,
                    ),
                )  # fmt: skip
                self._db.executemany("INSERT INTO tx_locations VALUES (?, ?, ?)", tx_rows)
                self._db.executemany("INSERT INTO account_txs VALUES (?, ?, ?)", account_rows)
                self._check_written(height, header_blob, block_blob, commit.block_hash)
        except sqlite3.IntegrityError as exc:
            raise ValueError(
                f"cannot append block {height}: {exc} (a transaction already stored?)"
            ) from None
        self._height, self._top = height, block.header

    def _check_written(
        self, height: int, header_blob: bytes, block_blob: bytes, block_hash: bytes
    ) -> None:
        """Reads the row back before committing it (STYLE 6): exact bytes, and a header
        that decodes to the hash the certificate signed."""
        row = self._db.execute(
            "SELECT header, block FROM blocks WHERE height = ?", (height,)
        ).fetchone()
        if row is None or row[0] != header_blob or row[1] != block_blob:
            raise self._corrupt(f"block {height} reads back different from what was written")
        if BlockHeader.decode(row[0]).hash() != block_hash:
            raise self._corrupt(f"block {height}'s stored header does not hash to its commit")

    def _blob(self, column: str, height: int) -> tuple[bytes, bytes] | None:
        """(block hash, blob) of one column of block `height`, its checksum verified."""
        row = self._db.execute(
            f"SELECT hash, {column}_sum, {column} FROM blocks WHERE height = ?", (height,)
        ).fetchone()
        if row is None:
            return None
        block_hash, checksum, blob = row
        if _sha256(blob) != checksum:
            raise self._corrupt(f"the {column} of block {height} fails its sha256 checksum")
        return block_hash, blob

    def _decode(self, decode: Callable[[bytes], T], blob: bytes, what: str) -> T:
        try:
            return decode(blob)
        except DecodeError as exc:
            raise self._corrupt(f"{what} does not decode: {exc}") from exc

    @_guarded
    def block(self, height: int) -> Block | None:
        found = self._blob("block", height)
        if found is None:
            return None
        block = self._decode(Block.decode, found[1], f"block {height}")
        if block.header.height != height or block.hash() != found[0]:
            raise self._corrupt(f"the block stored at height {height} is another block")
        return block

    @_guarded
    def header(self, height: int) -> BlockHeader | None:
        if height == 0:
            return self._genesis
        found = self._blob("header", height)
        if found is None:
            return None
        header = self._decode(BlockHeader.decode, found[1], f"header {height}")
        if header.height != height or header.hash() != found[0]:
            raise self._corrupt(f"the header stored at height {height} is another block's")
        return header

    @_guarded
    def commit(self, height: int) -> Commit | None:
        found = self._blob("certificate", height)
        if found is None:
            return None
        commit = self._decode(Commit.decode, found[1], f"the commit of block {height}")
        if commit.height != height or commit.block_hash != found[0]:
            raise self._corrupt(f"the commit stored at height {height} is for another block")
        return commit

    @_guarded
    def results(self, height: int) -> tuple[TxResult, ...] | None:
        found = self._blob("results", height)
        if found is None:
            return None
        return self._decode(_decode_results, found[1], f"the results of block {height}")

    @_guarded
    def height_of(self, block_hash: bytes) -> int | None:
        if block_hash == self._genesis.hash():
            return 0
        row = self._db.execute("SELECT height FROM blocks WHERE hash = ?", (block_hash,)).fetchone()
        return None if row is None else int(row[0])

    @_guarded
    def locate_tx(self, tx_id: bytes) -> tuple[int, int] | None:
        row = self._db.execute(
            "SELECT height, idx FROM tx_locations WHERE tx_id = ?", (tx_id,)
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    @_guarded
    def account_txs(
        self, address: bytes, *, before: tuple[int, int] | None, limit: int
    ) -> list[tuple[int, int]]:
        check_page(before, limit)
        if before is None:
            rows = self._db.execute(
                "SELECT height, idx FROM account_txs WHERE address = ? "
                "ORDER BY height DESC, idx DESC LIMIT ?",
                (address, limit),
            )
        else:
            rows = self._db.execute(
                "SELECT height, idx FROM account_txs WHERE address = ? AND (height, idx) < (?, ?) "
                "ORDER BY height DESC, idx DESC LIMIT ?",
                (address, before[0], before[1], limit),
            )
        return [(int(h), int(i)) for h, i in rows]

    def close(self) -> None:
        """Stops the checkpointer, checkpoints the whole WAL into the file, and closes.
        A second call does nothing."""
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is None:
            return
        try:
            checkpointer.stop()
            # Busy (a reader elsewhere) leaves the WAL as it is, which is safe.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()

    # --- StateStore ---------------------------------------------------------------------

    def applied_height(self) -> int:
        return self._applied

    def state_root(self) -> bytes:
        return self._root

    @_guarded
    def initialise(self, genesis_state: MemoryState, state_root: bytes) -> None:
        if self._root != UNINITIALISED_ROOT:
            raise ValueError(f"{self!r}: the state is already initialised")
        if state_root != self._genesis.state_root:
            raise ValueError("the genesis state root differs from the genesis header's")
        for table in ("accounts", "assets", "escrows", "offences"):
            if self._db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                raise self._corrupt(f"{table} rows are stored but no applied height")
        with self._transaction(durable=True):
            # In key order: SQLite then appends to its B-tree instead of splitting pages all
            # over it (10^6 genesis accounts: measured in docs/decisions/0005-node-hot-path.md).
            self._put_state(
                sorted(genesis_state.accounts.items()), genesis_state.assets.items(),
                genesis_state.escrows.items(), genesis_state.offences.items(),
            )  # fmt: skip
            self._set_applied(0, state_root)
        self._applied, self._root = 0, state_root

    @_guarded
    def apply(self, height: int, writes: Overlay, state_root: bytes) -> None:
        problems = write_problems(writes)
        if self._root == UNINITIALISED_ROOT:
            problems.insert(0, "the state is not initialised")
        elif height != self._applied + 1:
            problems.insert(0, f"height {height} does not follow the applied {self._applied}")
        elif height > self._height:
            problems.append(
                f"block {height} is not stored: append it first (the blocks are the state's log)"
            )
        else:
            header = self._top if height == self._height else self.header(height)
            assert header is not None
            if header.state_root != state_root:
                problems.append(f"state root differs from block {height}'s header")
        if problems:
            raise ValueError("cannot apply: " + "; ".join(problems))
        with self._transaction(durable=False):
            self._put_state(
                writes.accounts.items(),
                writes.assets.items(),
                ((eid, e) for eid, e in writes.escrows.items() if e is not None),
                writes.offences.items(),
            )
            self._db.executemany(
                "DELETE FROM escrows WHERE escrow_id = ?",
                [(eid,) for eid, e in writes.escrows.items() if e is None],
            )
            self._set_applied(height, state_root)
        self._applied, self._root = height, state_root

    def _put_state(
        self,
        accounts: Iterable[tuple[bytes, Account]],
        assets: Iterable[tuple[Asset, AssetInfo]],
        escrows: Iterable[tuple[bytes, Escrow]],
        offences: Iterable[tuple[bytes, Offence]],
    ) -> None:
        """Upserts records. Not read back here (10,000 rows a block): `load` decodes and
        checks every row, and the node compares the loaded state's tree root with
        `state_root()` at start, which covers every byte (STYLE 6)."""
        self._db.executemany(
            "INSERT INTO accounts VALUES (?, ?) "
            "ON CONFLICT (address) DO UPDATE SET record = excluded.record",
            [(address, acct.encode()) for address, acct in accounts],
        )
        self._db.executemany(
            "INSERT INTO assets VALUES (?, ?) "
            "ON CONFLICT (asset) DO UPDATE SET record = excluded.record",
            [(asset_sort_key(asset), info.encode()) for asset, info in assets],
        )
        self._db.executemany(
            "INSERT INTO escrows VALUES (?, ?) "
            "ON CONFLICT (escrow_id) DO UPDATE SET record = excluded.record",
            [(eid, escrow.encode()) for eid, escrow in escrows],
        )
        self._db.executemany(
            "INSERT INTO offences VALUES (?, ?)",  # recorded once (EVIDENCE_RECORDED)
            [(oid, offence.encode()) for oid, offence in offences],
        )

    def _set_applied(self, height: int, state_root: bytes) -> None:
        self._db.executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [("applied_height", height), ("state_root", state_root)],
        )

    @_guarded
    def load(self) -> MemoryState:
        with gc_paused():
            return self._load()

    def _load(self) -> MemoryState:
        state = MemoryState()
        assets: AssetCache = {}  # one Asset instance per asset, shared by all holdings

        def decode_account(record: bytes) -> Account:
            return Account.decode(record, assets)

        self._db.execute("BEGIN")  # one snapshot for all the tables
        try:
            state.accounts = {
                a.address: a for a in self._records("accounts", decode_account, lambda a: a.address)
            }
            state.assets = {
                i.asset: i
                for i in self._records(
                    "assets", AssetInfo.decode, lambda i: asset_sort_key(i.asset)
                )
            }
            state.escrows = {
                e.escrow_id: e
                for e in self._records("escrows", Escrow.decode, lambda e: e.escrow_id)
            }
            state.offences = {
                o.offence_id: o
                for o in self._records("offences", Offence.decode, lambda o: o.offence_id)
            }
        finally:
            self._db.execute("COMMIT")
        return state

    def _records(
        self, table: str, decode: Callable[[bytes], T], key_of: Callable[[T], bytes]
    ) -> Iterator[T]:
        """Every record of a state table, decoded and checked against its row's key."""
        key = b""
        try:
            for key, record in self._db.execute(f"SELECT * FROM {table}"):
                value = decode(record)
                if key_of(value) != key:
                    raise self._corrupt(f"the {table} row {key.hex()} holds another record")
                yield value
        except DecodeError as exc:
            raise self._corrupt(f"the {table} row {key.hex()} does not decode: {exc}") from exc
