"""The on-disk store's file (see sqlite.py for the durability design): its schema, its
atomic creation, and the background checkpointer that keeps the WAL bounded off the commit
path."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from corridor.ledger.block import BlockHeader

SCHEMA_VERSION = 2  # 2: blocks carry evidence, the state holds offences
APPLICATION_ID = 0x43524452  # "CRDR", in the SQLite file header
QUICK_CHECK_BYTES_MAX = 64 * 1024 * 1024
PAGE_CACHE_KIB = 64 * 1024  # SQLite's default 2 MiB re-reads B-tree pages on every apply
WAL_CHECKPOINT_PAGES = 16 * 1024  # a background PASSIVE checkpoint beyond this (64 MiB)
WAL_RESTART_PAGES = 4 * WAL_CHECKPOINT_PAGES  # beyond this, a RESTART that makes commits wait
COMMIT_WAIT_S = 60.0  # how long a commit waits for a RESTART checkpoint before failing
CHECKPOINT_WAIT_S = 10.0  # how long a RESTART checkpoint waits for the commit under way
assert WAL_RESTART_PAGES > WAL_CHECKPOINT_PAGES
assert COMMIT_WAIT_S > CHECKPOINT_WAIT_S
WAL_HEADER_BYTES, WAL_FRAME_HEADER_BYTES = 32, 24  # https://sqlite.org/fileformat.html
CORRUPTION_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes)

# Small columns first: SQLite walks a large blob's overflow pages to reach later columns.
SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID",
    """CREATE TABLE blocks (
        height INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        header_sum BLOB NOT NULL, certificate_sum BLOB NOT NULL,
        results_sum BLOB NOT NULL, block_sum BLOB NOT NULL,
        header BLOB NOT NULL, certificate BLOB NOT NULL,
        results BLOB NOT NULL, block BLOB NOT NULL)""",
    """CREATE TABLE tx_locations (
        tx_id BLOB PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE account_txs (
        address BLOB NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL,
        PRIMARY KEY (address, height, idx)) WITHOUT ROWID""",
    "CREATE TABLE accounts (address BLOB PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE assets (asset BLOB PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE escrows (escrow_id BLOB PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE offences (offence_id BLOB PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID",
)


def uri(path: Path, mode: str) -> str:
    return f"{path.resolve().as_uri()}?mode={mode}"


def create(path: Path, genesis: BlockHeader) -> None:
    """Builds an empty store beside `path` and renames it into place, so a crash while
    creating never leaves a half-made `path` that would look like a damaged chain."""
    tmp = path.with_name(path.name + ".creating")
    for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
    db = sqlite3.connect(uri(tmp, "rwc"), uri=True, isolation_level=None)
    try:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        assert db.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
        db.execute("PRAGMA synchronous = FULL")
        db.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA:
            db.execute(statement)
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("schema_version", SCHEMA_VERSION),
                ("chain_id", genesis.chain_id),
                ("genesis_hash", genesis.hash()),
            ],
        )
        db.execute("COMMIT")
    finally:
        db.close()  # the last connection: checkpoints the WAL into the file and removes it
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class Checkpointer:
    """A thread with its own connection that checkpoints the WAL when `poke`d.

    The store's thread pokes it after a commit that left the WAL past its limit; failures
    (disk full, I/O errors) are kept and raised on the store's thread at its next commit.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wake = threading.Event()
        self._stopping = False
        self.error: BaseException | None = None
        self.passive = self.restarts = 0  # counts, for tests and benchmarks
        self._thread = threading.Thread(
            target=self._run, name=f"checkpoint {path.name}", daemon=True
        )
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(
                uri(self._path, "rw"), uri=True, isolation_level=None, timeout=CHECKPOINT_WAIT_S
            )
        except BaseException as exc:
            self.error = exc
            return
        try:
            # A checkpoint fsyncs the WAL before copying and the file before the WAL may
            # restart, at any level but OFF: said here, not left to a compile-time default.
            db.execute("PRAGMA synchronous = FULL")
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                self._checkpoint(db)
        except BaseException as exc:
            self.error = exc
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        # (busy, pages in the WAL, pages copied): a reader's older snapshot, or a commit
        # arriving meanwhile, leaves pages behind; the WAL restarts from its start at the
        # first commit after every page was copied.
        _, wal_pages, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.passive += 1
        if wal_pages > WAL_RESTART_PAGES:
            # Waits for the commit under way, and holds back the next until done. If it
            # times out (busy), the next poke tries again.
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.restarts += 1 - busy
