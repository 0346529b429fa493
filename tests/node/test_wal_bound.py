"""Sustained load with small WAL limits: the WAL stays bounded; a reader that holds an old
snapshot for a while forces the RESTART fallback; everything reads back after reopen."""
import sqlite3
import threading
import time
from pathlib import Path

import corridor.node.storage.sqlite as sq
import corridor.node.storage.sqlite_file as sq_file
from tests.node.test_storage import Chain, same_state


def test_wal_bounded_under_load(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sq, "WAL_CHECKPOINT_PAGES", 32)
    monkeypatch.setattr(sq_file, "WAL_RESTART_PAGES", 128)  # the checkpointer's
    monkeypatch.setattr(sq_file, "CHECKPOINT_WAIT_S", 0.5)
    path = tmp_path / "chain.db"
    node = Chain()
    store = sq.SqliteStore(path, genesis=node.genesis_header)
    store.initialise(node.genesis.state, node.genesis_header.state_root)
    page = 4096 + 24
    wal = Path(f"{path}-wal")
    sizes = []
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for i in range(150):
        if i == 20:  # an old snapshot: PASSIVE cannot pass it
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM blocks").fetchone()
            threading.Timer(1.0, lambda: reader.execute("COMMIT")).start()
        step = node.next(payments=30)
        store.append(step.block, step.commit, step.results)
        store.apply(step.height, step.writes, step.root)
        sizes.append(wal.stat().st_size // page)
    time.sleep(1.5)
    cp = store._checkpointer
    assert cp.error is None
    assert cp.restarts >= 1
    assert max(sizes[60:]) < 128 * 2
    store.close()
    store.close()  # twice: nothing
    assert not wal.exists() or wal.stat().st_size == 0
    reader.close()
    again = sq.SqliteStore(path, genesis=node.genesis_header)
    assert again.height() == 150 and again.applied_height() == 150
    assert same_state(again.load(), node.state)
    again.close()


def test_checkpoint_failure_stops_the_next_commit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sq, "WAL_CHECKPOINT_PAGES", 8)

    def broken(self, db):
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(sq_file.Checkpointer, "_checkpoint", broken)
    path = tmp_path / "chain.db"
    node = Chain()
    store = sq.SqliteStore(path, genesis=node.genesis_header)
    store.initialise(node.genesis.state, node.genesis_header.state_root)
    import pytest
    with pytest.raises(sqlite3.OperationalError, match="simulated"):
        for _ in range(50):
            step = node.next(payments=30)
            store.append(step.block, step.commit, step.results)
            time.sleep(0.05)
            store.apply(step.height, step.writes, step.root)
            time.sleep(0.05)
    height = store.height()
    store.close()
    again = sq.SqliteStore(path, genesis=node.genesis_header)
    assert again.height() == height
    again.close()
