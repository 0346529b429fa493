"""The SQLite write gate: writers queue on it (threads and processes), readers never do,
and it is let go however a unit of work ends. On PostgreSQL there is no gate."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from corridor.platform import bootstrap
from corridor.platform.adapters import write_gate as write_gate_module
from corridor.platform.adapters.db import SqlUnitOfWork, make_engine, write_gate
from corridor.platform.adapters.system import SystemClock


def _append(uow: SqlUnitOfWork, i: int) -> None:
    uow.audit(actor_id=None, actor_kind="system", action="test.gate", object_type="t",
              object_id=str(i), after={"i": i})


def test_gate_only_on_sqlite(platform: bootstrap.Platform) -> None:
    gate = write_gate(platform.engine)
    assert (gate is not None) == platform.engine.url.get_backend_name().startswith("sqlite")
    if platform.engine.url.get_backend_name() != "sqlite":
        return
    clock = platform.deps.clock
    # A second writer waits at the gate until the first has committed; a reader does not.
    entered = threading.Event()
    with SqlUnitOfWork(platform.engine, clock) as first:
        _append(first, 1)

        def second() -> None:
            with SqlUnitOfWork(platform.engine, clock) as uow:
                entered.set()
                _append(uow, 2)
                uow.commit()

        assert gate._thread_lock.locked()  # the writer holds the gate for its transaction
        t = threading.Thread(target=second)
        t.start()
        assert not entered.wait(0.3)  # blocked behind `first`
        with SqlUnitOfWork(platform.engine, clock, read_only=True) as reader:
            assert reader.audit_head()[0] == 0  # readers pass, and see committed data only
        first.commit()
        t.join(timeout=30)
        assert not gate._thread_lock.locked()  # let go at commit, not at the end of `with`
    assert entered.is_set() and not t.is_alive()
    with SqlUnitOfWork(platform.engine, clock, read_only=True) as reader:
        assert reader.audit_head()[0] == 2


def test_gate_is_let_go_on_error_and_rollback(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    gate = write_gate(engine)
    assert gate is not None
    with pytest.raises(RuntimeError), SqlUnitOfWork(engine, SystemClock()):
        raise RuntimeError("boom")
    with SqlUnitOfWork(engine, SystemClock()):
        pass  # no commit: rolled back
    # Free again: this thread can take and give it back without waiting.
    gate.acquire()
    gate.release()
    engine.dispose()


def test_gate_waits_for_another_process_and_gives_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.db"
    engine = make_engine(f"sqlite:///{path}")
    gate = write_gate(engine)
    assert gate is not None
    lock = f"{path}-writers.lock"
    # Another process holds the gate's flock until we write to its stdin.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys\n"
         f"fd = os.open({lock!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('held', flush=True)\n"
         "sys.stdin.readline()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setattr(write_gate_module, "SQLITE_BUSY_S", 0.2)
        with pytest.raises(write_gate_module.sa.exc.OperationalError, match="database is locked"):
            gate.acquire()
        # The thread lock was given back when the flock wait failed.
        monkeypatch.setattr(write_gate_module, "SQLITE_BUSY_S", 30)
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
        gate.acquire()  # the holder ended: the gate is ours
        fd = os.open(lock, os.O_RDWR)
        with pytest.raises(BlockingIOError):  # and other processes' writers wait
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        gate.release()
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    finally:
        holder.kill()
        holder.communicate()  # reaps it and closes its pipes
        engine.dispose()


def test_in_memory_sqlite_has_a_thread_gate_and_no_lock_file(tmp_path: Path) -> None:
    engine = make_engine("sqlite://")
    gate = write_gate(engine)
    assert gate is not None
    gate.acquire()
    gate.release()
    assert list(tmp_path.iterdir()) == []
    engine.dispose()
