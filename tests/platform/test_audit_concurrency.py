"""Concurrent audit appends (on SQLite and PostgreSQL): the head row lock serialises them, so
8 threads x 25 entries, each in its own unit of work, leave one unbroken chain of 200."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from corridor.platform import bootstrap
from corridor.platform.adapters.db import SqlUnitOfWork
from corridor.platform.adapters.tables_core import audit_head, audit_log
from corridor.platform.domain.audit import AuditEntry, verify_chain

THREADS = 8
EACH = 25


def test_concurrent_appends_form_one_chain(platform: bootstrap.Platform) -> None:
    engine, clock = platform.engine, platform.deps.clock
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                with SqlUnitOfWork(engine, clock) as uow:
                    uow.audit(actor_id=None, actor_kind="system", action="test.append",
                              object_type="worker", object_id=str(worker),
                              after={"worker": worker, "i": i})
                    uow.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
        head = conn.execute(sa.select(audit_head)).one()
    entries = [AuditEntry(**r._mapping) for r in rows]
    total = THREADS * EACH
    assert [e.seq for e in entries] == list(range(1, total + 1))
    assert verify_chain(entries) is None
    assert (head.seq, head.hash) == (total, entries[-1].hash)
    # Every worker's entries are all there, in its own order.
    for w in range(THREADS):
        mine = [e.after["i"] for e in entries if e.object_id == str(w) and e.after]
        assert mine == list(range(EACH))


def test_an_open_transaction_holds_the_chain_only_once_it_writes_its_entries(
    platform: bootstrap.Platform,
) -> None:
    """PostgreSQL: a transaction that has audited something but not yet committed does not
    hold the chain's head, so another transaction appends and commits meanwhile; the first
    then chains after it. (SQLite has one writer: the second would wait for the first.)"""
    engine, clock = platform.engine, platform.deps.clock
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer")

    def entry(uow: SqlUnitOfWork, who: str) -> None:
        uow.audit(actor_id=None, actor_kind="system", action="test.overlap",
                  object_type="worker", object_id=who)

    with SqlUnitOfWork(engine, clock) as first:
        entry(first, "first")  # recorded, not yet written: the head is not locked
        done = threading.Event()

        def second() -> None:
            with SqlUnitOfWork(engine, clock) as uow:
                entry(uow, "second")
                uow.commit()
            done.set()

        t = threading.Thread(target=second)
        t.start()
        t.join(timeout=60)  # not a timing: if the head were locked it would never finish
        assert done.is_set(), "the second append waited for the open transaction"
        first.commit()

    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
    entries = [AuditEntry(**r._mapping) for r in rows]
    assert [e.object_id for e in entries if e.action == "test.overlap"] == ["second", "first"]
    assert verify_chain(entries) is None


def test_entries_linked_by_the_database_verify_as_the_platform_hashes_them(
    platform: bootstrap.Platform,
) -> None:
    """Several entries in one transaction, with text JSON must escape (quotes, newlines,
    non-ASCII), nested values and nulls: on PostgreSQL the server links them
    (audit_sql.PG_APPEND), and the chain verifies with the platform's own hash."""
    engine, clock = platform.engine, platform.deps.clock
    odd = 'Zoë "quoted" \\ back\nslash € 日本'
    with SqlUnitOfWork(engine, clock) as uow:
        for i in range(5):
            uow.audit(actor_id=odd if i % 2 else None, actor_kind="system",
                      action="test.odd", object_type="thing", object_id=f"{odd}{i}",
                      before=None if i % 2 else {"name": odd, "n": [i, None, {"z": 1.5}]},
                      after={"ok": True, "nested": {"b": odd, "a": i}}, ip="::1")
        uow.commit()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
        head = conn.execute(sa.select(audit_head)).one()
    entries = [AuditEntry(**r._mapping) for r in rows]
    assert verify_chain(entries) is None
    mine = [e for e in entries if e.action == "test.odd"]
    assert [e.object_id for e in mine] == [f"{odd}{i}" for i in range(5)]
    assert mine[0].before == {"name": odd, "n": [0, None, {"z": 1.5}]} and mine[1].before is None
    assert (head.seq, head.hash) == (entries[-1].seq, entries[-1].hash)
